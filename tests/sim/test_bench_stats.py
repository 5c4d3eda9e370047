"""The benchmark's statistics (censoring, seeded bootstrap intervals, IQM, paired
comparisons, verdicts), the seeds syntax, and the error bars the plots draw."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from scipy import stats as sps

from memsim.sim.bench_milestones import MilestoneStats, phase_comparisons, phase_ends
from memsim.sim.bench_plots import (
    Bars,
    error_bar_extents,
    milestone_lines,
    paired_points,
    plot_paired,
    plot_steps,
    plot_success,
    steps_bars,
    success_bars,
)
from memsim.sim.bench_stats import (
    BETTER,
    MIN_INTERVAL_N,
    NO_DIFFERENCE,
    TOO_FEW,
    WORSE,
    Estimate,
    GroupStats,
    PairedComparison,
    censored_steps,
    group_stats,
    iqm,
    iqm_interval,
    mean_interval,
    milestone_steps,
    paired_comparisons,
    paired_difference,
    ratio_of_means,
    verdict,
)
from memsim.sim.cli import add_bench_parser
from memsim.sim.suite import Suite, SuiteError, format_seeds, load_suite, parse_seeds

# --------------------------------------------------------------------------- censoring


def row(seed: int, steps: int, reached: bool, ablation: str = "full", agents: int = 1,
        limit: Any = 100, **extra: Any) -> dict[str, Any]:
    return {"scenario": "s", "family": "crafting", "agents": agents, "ablation": ablation,
            "seed": seed, "status": "ok", "steps": steps, "goal_reached": reached,
            "max_steps": limit, "messages_sent": 0, "messages_delivered": 0, **extra}


def test_a_failed_episode_counts_as_the_step_limit() -> None:
    assert censored_steps(row(0, 40, True)) == 40
    # Ended early without the goal (every agent died): still the limit, not its 60 steps.
    assert censored_steps(row(0, 60, False)) == 100
    # As read back from results.csv: text.
    assert censored_steps(row(0, "60", "False", limit="100")) == 100
    assert censored_steps(row(0, "40", "True", limit="100")) == 40


def test_a_row_without_its_step_limit_is_refused_not_guessed() -> None:
    with pytest.raises(ValueError, match="has no max_steps"):
        censored_steps(row(3, 60, False, limit=""))


def test_a_milestone_not_reached_counts_as_the_limit() -> None:
    r = row(0, 100, False, steps_to_collect_wood=7, steps_to_collect_diamond="")
    assert milestone_steps(r, "steps_to_collect_wood") == 7
    assert milestone_steps(r, "steps_to_collect_diamond") == 100


def test_group_means_include_failures_and_the_iqm_trims_them() -> None:
    rows = [row(s, n, True) for s, n in enumerate([10, 20, 30])] + [row(3, 25, False)]
    (s,) = group_stats(rows)
    assert (s.successes, s.episodes) == (3, 4)
    assert s.steps is not None and s.steps.value == pytest.approx((10 + 20 + 30 + 100) / 4)
    assert s.steps_median == pytest.approx(25.0)  # of 10, 20, 30, 100
    assert s.steps_iqm is not None and s.steps_iqm.value == pytest.approx(25.0)  # 20, 30
    assert s.max_steps == 100


# --------------------------------------------------------------------------- estimators


def test_iqm_is_the_mean_of_the_middle_half() -> None:
    assert iqm([1, 2, 3, 4, 5, 6, 7, 8]) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
    assert iqm([8, 1, 7, 2, 6, 3, 5, 4]) == pytest.approx(4.5)  # order does not matter
    assert iqm([1, 2, 3, 4, 1000, 2000, 3, 2]) == pytest.approx(3.0)  # 2, 3, 3, 4
    # rliable's aggregate IQM is scipy's 25% trimmed mean over all values.
    values = np.random.default_rng(5).exponential(100, size=30)
    assert iqm(values) == pytest.approx(sps.trim_mean(values, 0.25))


def test_bootstrap_intervals_are_seeded_and_reproducible() -> None:
    values = list(np.random.default_rng(1).exponential(300, size=30))
    first, again = mean_interval(values), mean_interval(values)
    assert first == again  # the same numbers on every run: reports are byte for byte
    assert first.low < first.value < first.high  # type: ignore[operator]
    assert mean_interval(values, seed=7) != first  # the seed is what fixes them
    # The interval is scipy's BCa bootstrap, fixed seed 0, 9,999 resamples.
    direct = sps.bootstrap((values,), np.mean, rng=np.random.default_rng(0))
    assert (first.low, first.high) == pytest.approx(tuple(direct.confidence_interval))
    # Skewed data: the interval is not symmetric about the mean.
    assert first.high - first.value != pytest.approx(first.value - first.low, rel=0.05)


def test_degenerate_and_single_samples() -> None:
    assert mean_interval([5] * 6) == Estimate(5, 5, 5, 6)  # no NaN from BCa
    assert mean_interval([7]) == Estimate(7, None, None, 1)  # one value: no interval
    # Below MIN_INTERVAL_N values a bootstrap has too few distinct resamples: no interval,
    # so no verdict, however consistent the differences.
    assert MIN_INTERVAL_N == 5
    assert mean_interval([1, 2, 3, 4]) == Estimate(2.5, None, None, 4)
    assert verdict(paired_difference([9, 8, 9, 8], [3, 2, 3, 2])) == TOO_FEW
    assert verdict(paired_difference([9, 8, 9, 8, 9], [3, 2, 3, 2, 3])) == WORSE
    with pytest.raises(ValueError):
        mean_interval([])
    with pytest.raises(ValueError, match="differ in length"):
        paired_difference([1, 2], [1])


def test_a_consistent_paired_difference_excludes_zero() -> None:
    rng = np.random.default_rng(3)
    reference = list(rng.uniform(100, 2000, size=30))  # worlds differ a lot between seeds
    slower = [r + 50 + rng.normal(0, 10) for r in reference]  # ~50 more on every seed
    diff = paired_difference(slower, reference)
    assert diff.n == 30 and 45 < diff.value < 55
    assert diff.low > 0  # type: ignore[operator]
    assert verdict(diff) == WORSE
    assert verdict(paired_difference(reference, slower)) == BETTER
    # Paired, the ratio of means excludes 1; compared unpaired, the spread between worlds
    # hides the same effect.
    paired = ratio_of_means(slower, reference)
    unpaired = ratio_of_means(slower, reference, paired=False)
    assert paired.low > 1  # type: ignore[operator]
    assert unpaired.low < 1 < unpaired.high  # type: ignore[operator]


def test_a_difference_that_goes_both_ways_is_not_significant() -> None:
    rng = np.random.default_rng(4)
    reference = list(rng.uniform(100, 2000, size=30))
    noisy = [r + d for r, d in zip(reference, rng.normal(0, 200, size=30), strict=True)]
    diff = paired_difference(noisy, reference)
    assert diff.low < 0 < diff.high  # type: ignore[operator]
    assert verdict(diff) == NO_DIFFERENCE
    assert verdict(paired_difference(reference, reference)) == NO_DIFFERENCE  # [0, 0]
    # For success a positive difference is better.
    up = Estimate(0.3, 0.1, 0.5, 30)
    assert (verdict(up), verdict(up, higher_is_better=True)) == (WORSE, BETTER)


def test_ratio_of_means_and_the_stratified_iqm() -> None:
    ratio = ratio_of_means([10, 20, 30, 40, 50], [5, 10, 15, 20, 25])
    assert (ratio.value, ratio.low, ratio.high) == pytest.approx((2, 2, 2))
    assert not ratio_of_means([10, 20, 30], [5, 10, 15]).has_interval
    # Stratified: seeds are resampled within each stratum, so every resample keeps four
    # zeros and four tens and its IQM is 5. Pooled, resamples would vary.
    strat = iqm_interval([[0, 0, 0, 0], [10, 10, 10, 10]])
    assert (strat.value, strat.low, strat.high, strat.n) == (5, 5, 5, 8)
    pooled = iqm_interval([[0, 0, 0, 0, 10, 10, 10, 10]])
    assert pooled.low < 5 < pooled.high  # type: ignore[operator]


def test_paired_comparisons_pair_by_seed_within_scenario_and_team_size() -> None:
    base = [100, 400, 900, 250, 600]
    rows = [row(s, n, True) for s, n in enumerate(base)]
    rows += [row(s, n + 30, True, "slow") for s, n in enumerate(base)]
    rows += [row(s, n, True, "same") for s, n in enumerate(base)]
    # Seed 5 ran only in "lossy", seed 4 missing there; seed 2 failed (the limit, 1000).
    lossy = {0: 90, 1: 390, 2: None, 3: 260, 5: 300}
    rows += [row(s, n or 700, n is not None, "lossy", limit=1000) for s, n in lossy.items()]
    rows += [row(0, 5, True, "slow", agents=2)]  # another team size: not paired with these
    found = {(c.agents, c.ablation): c for c in paired_comparisons(rows, "full")}
    assert set(found) == {(1, "slow"), (1, "same"), (1, "lossy")}
    slow, same, lossy_c = found[1, "slow"], found[1, "same"], found[1, "lossy"]
    assert (slow.pairs, slow.left_out, slow.verdict) == (5, 0, WORSE)
    assert slow.difference is not None and slow.difference.value == pytest.approx(30)
    assert same.verdict == NO_DIFFERENCE and same.success_verdict == NO_DIFFERENCE
    assert (lossy_c.pairs, lossy_c.left_out) == (4, 2)  # seeds 0-3; 4 and 5 left out
    # Seed 2 counts as 1000 (its limit), not its 700 steps: differences -10, -10, +100, +10.
    assert lossy_c.difference is not None
    assert lossy_c.difference.value == pytest.approx((-10 - 10 + 100 + 10) / 4)
    assert lossy_c.success_difference is not None
    assert lossy_c.success_difference.value == pytest.approx(-0.25)


def test_phases_end_when_every_earlier_milestone_is_reached_and_add_up_to_the_steps() -> None:
    columns = ["steps_to_a", "steps_to_b", "steps_to_c"]
    # b before a: phase "b" ends when both are in (30); c never reached: the limit (100).
    r = row(0, 100, False, steps_to_a=30, steps_to_b=12, steps_to_c="")
    assert phase_ends(r, columns) == [30.0, 30.0, 100.0, 100.0]
    assert phase_ends(row(0, 80, True, steps_to_a=5, steps_to_b=9, steps_to_c=70),
                      columns) == [5.0, 9.0, 70.0, 80.0]


def test_phase_comparisons_say_where_an_ablation_loses_its_steps() -> None:
    rows = []
    for seed, (a, b, end) in enumerate([(5, 20, 60), (8, 30, 90), (4, 25, 70), (6, 22, 65),
                                        (9, 40, 99), (7, 28, 80)]):
        rows.append(row(seed, end, True, steps_to_a=a, steps_to_b=b))
        # the ablation reaches a and b as fast, then needs 15-25 more steps to the goal
        rows.append(row(seed, end + 15 + 2 * seed, True, "slow", steps_to_a=a, steps_to_b=b))
    (found,) = phase_comparisons(rows, "full")
    phases = dict(found.phases)
    assert list(phases) == ["a", "b", "goal"] and found.pairs == 6
    assert phases["a"].value == 0 and phases["b"].value == 0
    assert phases["goal"].value == pytest.approx(20) and verdict(phases["goal"]) == WORSE
    (total,) = paired_comparisons(rows, "full")
    assert total.difference is not None
    assert sum(e.value for e in phases.values()) == pytest.approx(total.difference.value)


def test_fewer_steps_than_one_agent_is_paired_when_seeds_are_shared() -> None:
    steps = [100, 200, 300, 400, 500]
    one = [row(s, n, True) for s, n in enumerate(steps)]
    one_off = [row(s, n, True, "memory-off") for s, n in enumerate(steps)]
    two = [row(s, n // 2, True, agents=2) for s, n in enumerate(steps)]
    other = [row(s + 10, 50, True, agents=3) for s in range(5)]  # no seed in common
    stats = {(s.agents, s.ablation): s for s in group_stats(one + one_off + two + other)}
    paired, unpaired = stats[2, "full"], stats[3, "full"]
    assert paired.fewer_steps is not None
    assert paired.fewer_steps.value == pytest.approx(50)
    assert (paired.fewer_steps.low, paired.fewer_steps.high) == pytest.approx((50, 50))
    assert (paired.fewer_pairs, paired.faster_seeds_pct) == (5, 100)
    assert unpaired.fewer_pairs == 0 and unpaired.faster_seeds_pct is None
    assert unpaired.fewer_steps is not None
    assert unpaired.fewer_steps.value == pytest.approx(100 * (1 - 50 / 300))
    # The baseline's own team size is left to the paired ablation comparisons.
    assert stats[1, "full"].fewer_steps is None and stats[1, "memory-off"].fewer_steps is None


# --------------------------------------------------------------------------- seeds


@pytest.mark.parametrize(("text", "seeds"), [
    ("30", list(range(30))), ("1", [0]), ("100-129", list(range(100, 130))),
    ("3,5,8", [3, 5, 8]), ("0-4,10", [0, 1, 2, 3, 4, 10]), ("7-7", [7]),
    (" 2 - 4 , 9 ", [2, 3, 4, 9]),
])
def test_seeds_syntax(text: str, seeds: list[int]) -> None:
    assert parse_seeds(text) == seeds
    assert parse_seeds(format_seeds(seeds)) == seeds  # the report's seed lists read back


@pytest.mark.parametrize(("text", "message"), [
    ("", "no seeds given"), ("0", "a seed count must be in 1.."),
    ("5-3", "range '5-3' goes down; write 3-5"), ("-1", "'-1' in '-1' is not a seed"),
    ("1,,2", "'' in '1,,2' is not a seed"), ("a-b", "is not a seed or a range"),
    ("0-4,3", "seeds repeat in '0-4,3': 3"), ("0-999999999", "more than 100,000 seeds"),
])
def test_bad_seeds_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_seeds(text)


def test_the_seeds_option_and_the_suite_field_take_the_same_syntax(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="memsim")
    add_bench_parser(parser.add_subparsers(dest="command"))
    assert parser.parse_args(["bench", "x", "--seeds", "0-4,10"]).seeds == [0, 1, 2, 3, 4, 10]
    assert parser.parse_args(["bench", "x", "--seeds", "3"]).seeds == [0, 1, 2]
    with pytest.raises(SystemExit):
        parser.parse_args(["bench", "x", "--seeds", "5-3"])
    assert "argument --seeds: range '5-3' goes down" in capsys.readouterr().err
    base = {"name": "s", "version": 1, "scenarios": ["x"]}
    assert Suite.model_validate({**base, "seeds": "100-102"}).seed_list() == [100, 101, 102]
    assert Suite.model_validate({**base, "seeds": [4, 2]}).seed_list() == [4, 2]
    assert Suite.model_validate({**base, "seeds": 2}).seed_list() == [0, 1]
    path = tmp_path / "bad.toml"
    path.write_text('name = "s"\nversion = 1\nscenarios = ["x"]\nseeds = "3,x"\n')
    with pytest.raises(SuiteError, match=r"seeds: 'x' in '3,x' is not a seed"):
        load_suite(path)


# --------------------------------------------------------------------------- plots


def test_error_bars_are_clipped_to_what_the_quantity_allows() -> None:
    below, above = error_bar_extents([5, 0.9, 3], [-3, 0.7, None], [10, 1.2, None],
                                     floor=0, ceiling=1)
    assert below == pytest.approx([5, 0.2, 0])  # drawn down to 0, not -3
    assert above == pytest.approx([0, 0.1, 0])  # the first high (10) is above the ceiling 1
    # A difference may be negative: no floor.
    assert error_bar_extents([-2], [-5], [1], floor=None) == ([3], [3])


def group(ablation: str, agents: int, iqm_est: Estimate, rate: float = 0.9,
          ci: tuple[float, float] = (0.7, 1.0)) -> GroupStats:
    return GroupStats(
        scenario="s", family="crafting", agents=agents, ablation=ablation, episodes=30,
        failed=0, successes=round(30 * rate), success_rate=rate, success_ci=ci,
        max_steps=100, steps=iqm_est, steps_median=iqm_est.value, steps_iqm=iqm_est,
        seeds=tuple(range(30)), messages_per_step=None, delivered_per_step=None)


def test_no_bar_is_drawn_below_zero_or_a_rate_above_100() -> None:
    # Intervals reaching below 0 (or above 1) as a t interval on skewed data would.
    stats = [group("full", 1, Estimate(20, -15, 60, 30), rate=0.95, ci=(-0.1, 1.2)),
             group("memory-off", 1, Estimate(40, 10, 70, 30)),
             group("full", 2, Estimate(5, -30, 9, 30))]
    ablations, series = steps_bars(stats, "s")
    assert ablations == ["full", "memory-off"]
    assert [b.label for b in series] == ["1 agent", "2 agents"]
    assert min(min(b.bottoms) for b in series) == 0
    assert series[0].bottoms[0] == 0 and series[0].tops[0] == 60
    _, rates = success_bars(stats, "s")
    assert min(min(b.bottoms) for b in rates) >= 0
    assert max(max(b.tops) for b in rates) <= 100
    milestones = {1: [MilestoneStats("collect_wood", 30, 30, Estimate(3, -1, 8, 30))]}
    _, lines = milestone_lines(milestones)
    assert lines[0].bottoms == [0]


def test_paired_points_keep_negative_differences_and_label_n() -> None:
    c = PairedComparison("s", 2, "comm-off", "full", 28, 4, Estimate(-40, -90, -5, 28),
                         Estimate(0.9, 0.8, 0.99, 28), Estimate(0, 0, 0, 28))
    labels, points = paired_points([c])
    assert labels == ["comm-off (n=28)"]
    assert points == Bars("mean difference", [0], [-40], [50], [35])


def caption(path: Path) -> str:
    with Image.open(path) as image:
        return image.text["Title"] + " | " + image.text["Description"]


def test_plots_say_n_and_what_the_bars_are(tmp_path: Path) -> None:
    stats = [group(a, n, Estimate(20 + n, 10, 40, 30)) for n in (1, 2, 6)
             for a in ("full", "memory-off", "comm-off", "shared-memory", "loss-30")]
    # Many scenarios: small multiples, at most three panels a row.
    many = [GroupStats(**{**s.__dict__, "scenario": f"task-{i}"}) for i in range(4)
            for s in stats]
    text = caption(plot_steps(many, tmp_path / "steps.png"))
    assert "95% stratified-bootstrap CI of the IQM" in text and "n = 30 seeds" in text
    assert "clipped at 0" in text and "lower bound" in text
    with Image.open(tmp_path / "steps.png") as image:
        assert image.size[0] < 2000  # three panels wide, not four
    text = caption(plot_success(stats, tmp_path / "success.png"))
    assert "Wilson" in text and "n = 30 episodes per group" in text
    comparisons = [PairedComparison("s", 2, "memory-off", "full", 30, 0,
                                    Estimate(12, 3, 20, 30), None, None)]
    text = caption(plot_paired(comparisons, tmp_path / "paired.png"))
    assert "n = 30 pairs" in text and "95% bootstrap CI" in text and "full" in text


def test_error_bars_never_have_a_negative_length() -> None:
    # error_bar_extents never returns a negative length, whatever the interval.
    below, above = error_bar_extents([1.0], [2.0], [0.5])  # an interval not around the value
    assert below == [0.0] and above == [0.0]
    assert all(math.isfinite(v) for v in below + above)
