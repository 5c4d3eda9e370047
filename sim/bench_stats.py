"""The benchmark's statistics: censored steps, seeded bootstrap intervals, the IQM and
paired comparisons, per cell group of a suite's results rows.

A *group* is one scenario x team size x ablation over its seeds. Rows are results rows as
:mod:`sim.bench` writes them (typed) or as read back from ``results.csv`` (text): both
give the same numbers.

- **Failures count.** An episode that missed the goal counts as its step limit (the row's
  ``max_steps``): :func:`censored_steps`. That is a lower bound for a failed episode, so a
  mean over censored steps is a lower bound too. A milestone not reached counts the same
  way (:mod:`sim.bench_milestones` also gives the fraction that reached it).
- **Intervals** are 95% bootstrap intervals from :func:`scipy.stats.bootstrap` with a fixed
  seed (:data:`BOOTSTRAP_SEED`), so a report is reproducible byte for byte: BCa for means,
  differences and ratios; percentile for the interquartile mean, resampling seeds within
  each scenario (the stratified bootstrap of rliable, Agarwal et al. 2021). Success rates
  have a Wilson score interval.
- **Paired comparisons**: cells share seeds, so an ablation is compared with the reference
  ablation seed by seed (:func:`paired_comparisons`); the verdict depends only on whether
  the 95% interval of the difference excludes zero (:func:`verdict`).
"""

from __future__ import annotations

import csv
import statistics
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats as sps

CONFIDENCE = 0.95
N_RESAMPLES = 9999
MIN_INTERVAL_N = 5
"""Fewer values than this get no bootstrap interval (and so no verdict): with 3 or 4 seeds
a bootstrap has a handful of distinct resamples and its interval is far too narrow."""
BOOTSTRAP_SEED = 0
"""Every bootstrap starts from this seed: a group's interval does not depend on the other
groups of the report, and rerunning the report gives the same numbers."""

Row = Mapping[str, Any]
GroupKey = tuple[str, int, str]  # (scenario, agents, ablation)

WORSE, BETTER, NO_DIFFERENCE, TOO_FEW = ("worse", "better", "no significant difference",
                                         "too few pairs")


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95% interval over ``n`` values (``None`` bounds when ``n``
    is below :data:`MIN_INTERVAL_N`)."""

    value: float
    low: float | None
    high: float | None
    n: int

    @property
    def has_interval(self) -> bool:
        """Whether there is an interval (at least two values)."""
        return self.low is not None and self.high is not None

    def transformed(self, fn: Callable[[float], float], decreasing: bool = False) -> Estimate:
        """The estimate through a monotone function (its bounds swap when it decreases)."""
        if not self.has_interval:
            return Estimate(fn(self.value), None, None, self.n)
        low, high = fn(self.low), fn(self.high)  # type: ignore[arg-type]
        return Estimate(fn(self.value), *((high, low) if decreasing else (low, high)), self.n)


# --------------------------------------------------------------------------- rows


def num(value: Any) -> float | None:
    """A number from a typed row or a CSV cell (empty: ``None``)."""
    if value is None or value == "":
        return None
    return float(value)


def flag(value: Any) -> bool:
    """A boolean from a typed row or a CSV cell."""
    return value is True or str(value).lower() == "true"


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a ``results.csv`` (values as text; every function here accepts that)."""
    with Path(path).open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def step_limit(row: Row) -> float:
    """The row's ``max_steps``; a row without one is refused rather than guessed."""
    limit = num(row.get("max_steps"))
    if limit is None:
        raise ValueError(f"results row {row.get('scenario')}/{row.get('agents')}/"
                         f"{row.get('ablation')}/seed {row.get('seed')} has no max_steps: "
                         "rerun `memsim bench` into the same directory to rewrite results.csv")
    return limit


def censored_steps(row: Row) -> float:
    """Steps to the goal with a failure counted at the limit: ``steps`` when the goal was
    reached, else ``max_steps`` (a lower bound: the episode needed at least that many)."""
    return float(row["steps"]) if flag(row["goal_reached"]) else step_limit(row)


def milestone_steps(row: Row, column: str) -> float:
    """Steps to first reach a milestone (``steps_to_<m>``), the limit when never reached."""
    reached = num(row.get(column))
    return reached if reached is not None else step_limit(row)


def ok_rows(rows: Iterable[Row]) -> list[Row]:
    """The episodes (cells that raised an error are not episodes)."""
    return [r for r in rows if r["status"] == "ok"]


def by_group(rows: Iterable[Row]) -> dict[GroupKey, list[Row]]:
    """Rows by ``(scenario, agents, ablation)``, groups in the order they first appear."""
    groups: dict[GroupKey, list[Row]] = {}
    for row in rows:
        groups.setdefault((row["scenario"], int(row["agents"]), row["ablation"]), []).append(row)
    return groups


# --------------------------------------------------------------------------- estimators


def iqm(values: Sequence[float] | np.ndarray) -> float:
    """The interquartile mean: the mean of the middle 50% (a 25% trimmed mean, as rliable)."""
    return float(sps.trim_mean(np.asarray(values, dtype=float), 0.25, axis=None))


def _bootstrap(samples: Sequence[Sequence[float]], statistic: Callable[..., Any],
               paired: bool = False, method: str = "BCa", seed: int = BOOTSTRAP_SEED
               ) -> tuple[float | None, float | None]:
    """The 95% interval of ``statistic(*samples, axis=...)`` from ``scipy.stats.bootstrap``
    (``None`` bounds with fewer than :data:`MIN_INTERVAL_N` values in all, or a sample of
    fewer than two, paired samples counting once). ``paired`` resamples the
    samples' positions together; otherwise each sample (stratum) is resampled on its own.
    BCa on a degenerate bootstrap distribution (every resample equal) falls back to the
    percentile interval of the same resamples."""
    data = tuple(np.asarray(s, dtype=float) for s in samples)
    total = len(data[0]) if paired else sum(len(s) for s in data)
    if total < MIN_INTERVAL_N or any(len(s) < 2 for s in data):
        return None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate-data warnings: handled below
        result = sps.bootstrap(data, statistic, n_resamples=N_RESAMPLES, paired=paired,
                               vectorized=True, confidence_level=CONFIDENCE, method=method,
                               rng=np.random.default_rng(seed))
        low, high = result.confidence_interval
        if not (np.isfinite(low) and np.isfinite(high)):
            result = sps.bootstrap(data, statistic, n_resamples=N_RESAMPLES, paired=paired,
                                   vectorized=True, confidence_level=CONFIDENCE,
                                   method="percentile", bootstrap_result=result,
                                   rng=np.random.default_rng(seed))
            low, high = result.confidence_interval
    return float(low), float(high)


def _mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis)


def mean_interval(values: Sequence[float], seed: int = BOOTSTRAP_SEED) -> Estimate:
    """The mean with its 95% BCa bootstrap interval."""
    if not values:
        raise ValueError("mean_interval needs at least one value")
    return Estimate(statistics.fmean(values), *_bootstrap([values], _mean, seed=seed),
                    len(values))


def _stratified(strata: Sequence[Sequence[float]], reduce: Callable[..., Any], seed: int
                ) -> Estimate:
    """``reduce`` over all values of all strata, with a 95% stratified bootstrap interval:
    values are resampled within each stratum (percentile method, as rliable)."""
    strata = [s for s in strata if len(s)]
    if not strata:
        raise ValueError("a stratified estimate needs at least one value")

    def statistic(*xs: np.ndarray, axis: int = -1) -> np.ndarray:
        return reduce(np.concatenate(xs, axis=axis), axis=axis)

    value = float(reduce(np.concatenate([np.asarray(s, float) for s in strata]), axis=-1))
    low, high = _bootstrap(strata, statistic, method="percentile", seed=seed)
    return Estimate(value, low, high, sum(len(s) for s in strata))


def _trim_mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return sps.trim_mean(x, 0.25, axis=axis)


def iqm_interval(strata: Sequence[Sequence[float]], seed: int = BOOTSTRAP_SEED) -> Estimate:
    """The IQM over the values of all strata (scenarios; one stratum for one group) with a
    95% stratified bootstrap interval (seeds resampled within each stratum)."""
    return _stratified(strata, _trim_mean, seed)


def stratified_mean_interval(strata: Sequence[Sequence[float]], seed: int = BOOTSTRAP_SEED
                             ) -> Estimate:
    """The mean over the values of all strata with a 95% stratified bootstrap interval."""
    return _stratified(strata, _mean, seed)


def paired_difference(values: Sequence[float], reference: Sequence[float],
                      seed: int = BOOTSTRAP_SEED) -> Estimate:
    """Mean of ``values[i] - reference[i]`` (pairs: the same seed) with its 95% BCa
    bootstrap interval over the pairs."""
    if len(values) != len(reference):
        raise ValueError(f"paired samples differ in length: {len(values)} != {len(reference)}")
    return mean_interval([a - b for a, b in zip(values, reference, strict=True)], seed)


def ratio_of_means(values: Sequence[float], reference: Sequence[float], paired: bool = True,
                   seed: int = BOOTSTRAP_SEED) -> Estimate:
    """``mean(values) / mean(reference)`` with its 95% BCa bootstrap interval: pairs are
    resampled together when ``paired``, else each sample on its own."""
    if not values or not reference:
        raise ValueError("ratio_of_means needs values in both samples")

    def statistic(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.mean(a, axis=axis) / np.mean(b, axis=axis)

    value = statistics.fmean(values) / statistics.fmean(reference)
    return Estimate(value, *_bootstrap([values, reference], statistic, paired=paired, seed=seed),
                    min(len(values), len(reference)) if paired else len(values))


def wilson_interval(successes: int, n: int, confidence: float = CONFIDENCE
                    ) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (sound at 0/n and n/n)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in 0..{n}, got {successes}")
    ci = sps.binomtest(successes, n).proportion_ci(confidence, method="wilson")
    return max(0.0, float(ci.low)), min(1.0, float(ci.high))


def verdict(difference: Estimate | None, higher_is_better: bool = False) -> str:
    """"worse" / "better" when the 95% interval of a difference excludes zero, else "no
    significant difference" (or "too few pairs" without an interval). For steps a positive
    difference is worse; for success (``higher_is_better``) it is better."""
    if difference is None or not difference.has_interval:
        return TOO_FEW
    if difference.low > 0:  # type: ignore[operator]
        return BETTER if higher_is_better else WORSE
    if difference.high < 0:  # type: ignore[operator]
        return WORSE if higher_is_better else BETTER
    return NO_DIFFERENCE


# --------------------------------------------------------------------------- groups


@dataclass(frozen=True)
class GroupStats:
    """One cell group's figures; steps count a failure at the step limit (censored)."""

    scenario: str
    family: str
    agents: int
    ablation: str
    episodes: int  # cells that ran to the end (cells that raised are not episodes)
    failed: int  # cells that raised
    successes: int
    success_rate: float | None
    success_ci: tuple[float, float] | None  # Wilson
    max_steps: float | None  # the step limit failures count as
    steps: Estimate | None  # mean censored steps, BCa bootstrap interval
    steps_median: float | None
    steps_iqm: Estimate | None  # IQM of censored steps, stratified bootstrap interval
    seeds: tuple[int, ...]
    messages_per_step: float | None  # sent (attempted) per team step
    delivered_per_step: float | None
    fewer_steps: Estimate | None = None  # % fewer censored steps than the baseline group
    # (other team sizes only)
    fewer_pairs: int = 0  # seeds paired with the baseline (0: an unpaired comparison)
    faster_seeds_pct: float | None = None  # shared seeds on which this group was faster

    @property
    def group(self) -> GroupKey:
        """``(scenario, agents, ablation)``."""
        return (self.scenario, self.agents, self.ablation)


def _seed_map(rows: Iterable[Row]) -> dict[int, Row]:
    return {int(r["seed"]): r for r in rows}


def paired_rows(rows: Sequence[Row], reference: Sequence[Row]
                ) -> tuple[list[tuple[Row, Row]], int]:
    """The episodes of two groups paired by seed (seeds in both only, in seed order) and
    the number of episodes left out (their seed is in one group only)."""
    mine, theirs = _seed_map(rows), _seed_map(reference)
    shared = sorted(mine.keys() & theirs.keys())
    return [(mine[s], theirs[s]) for s in shared], len(mine) + len(theirs) - 2 * len(shared)


def _per_step(rows: Sequence[Row], column: str) -> list[float]:
    return [float(r[column]) / float(r["steps"]) for r in rows
            if num(r.get("steps")) and num(r.get(column)) is not None]


def _vs_baseline(ok: Sequence[Row], base: Sequence[Row]
                 ) -> tuple[Estimate | None, int, float | None]:
    """% fewer censored steps than the baseline group (``100 (1 - ratio of means)``): paired
    by seed over the shared seeds when there are at least two, else unpaired; the number of
    pairs (0 when unpaired) and the share of shared seeds on which ``ok`` was faster."""
    if not ok or not base:
        return None, 0, None
    pairs, _ = paired_rows(ok, base)
    faster = (100 * sum(censored_steps(a) < censored_steps(b) for a, b in pairs) / len(pairs)
              if pairs else None)
    if len(pairs) >= 2:
        ratio = ratio_of_means([censored_steps(a) for a, _ in pairs],
                               [censored_steps(b) for _, b in pairs])
    else:
        ratio = ratio_of_means([censored_steps(r) for r in ok], [censored_steps(r) for r in base],
                               paired=False)
    fewer = ratio.transformed(lambda r: 100 * (1 - r), decreasing=True)
    return fewer, len(pairs) if len(pairs) >= 2 else 0, faster


def group_stats(rows: Iterable[Row], baseline_agents: int | None = 1,
                baseline_ablation: str | None = None) -> list[GroupStats]:
    """Statistics per group, in the order groups first appear in ``rows``.

    The baseline of "fewer steps" is the group ``(scenario, baseline_agents,
    baseline_ablation)`` (default ablation: the first seen); ``baseline_agents=None`` turns
    the comparison off.
    """
    groups = by_group(rows)
    if baseline_ablation is None and groups:
        baseline_ablation = next(iter(groups))[2]
    stats = []
    for (scenario, agents, ablation), members in groups.items():
        ok = ok_rows(members)
        steps = [censored_steps(r) for r in ok]
        successes = sum(flag(r["goal_reached"]) for r in ok)
        base = groups.get((scenario, baseline_agents or 0, baseline_ablation or ""))
        # Groups of the baseline's own team size: see the paired ablation comparisons.
        same_size = agents == baseline_agents
        fewer, pairs, faster = (None, 0, None) if base is None or same_size else _vs_baseline(
            ok, ok_rows(base))
        sent, delivered = _per_step(ok, "messages_sent"), _per_step(ok, "messages_delivered")
        stats.append(GroupStats(
            scenario=scenario, family=str(members[0].get("family", "")), agents=agents,
            ablation=ablation, episodes=len(ok), failed=len(members) - len(ok),
            successes=successes,
            success_rate=successes / len(ok) if ok else None,
            success_ci=wilson_interval(successes, len(ok)) if ok else None,
            max_steps=max(step_limit(r) for r in ok) if ok else None,
            steps=mean_interval(steps) if steps else None,
            steps_median=statistics.median(steps) if steps else None,
            steps_iqm=iqm_interval([steps]) if steps else None,
            seeds=tuple(sorted(int(r["seed"]) for r in ok)),
            messages_per_step=statistics.fmean(sent) if sent else None,
            delivered_per_step=statistics.fmean(delivered) if delivered else None,
            fewer_steps=fewer, fewer_pairs=pairs, faster_seeds_pct=faster,
        ))
    return stats


# --------------------------------------------------------------------------- paired ablations


@dataclass(frozen=True)
class PairedComparison:
    """An ablation against the reference ablation, same scenario and team size, paired by
    seed. Differences are ablation − reference; steps are censored at the limit."""

    scenario: str
    agents: int
    ablation: str
    reference: str
    pairs: int  # seeds in both groups
    left_out: int  # episodes whose seed is in one group only
    difference: Estimate | None  # mean paired difference in steps
    ratio: Estimate | None  # mean steps / the reference's mean steps (the same seeds)
    success_difference: Estimate | None  # mean paired difference in reached (0/1)

    @property
    def verdict(self) -> str:
        """From the steps difference: more steps is worse."""
        return verdict(self.difference)

    @property
    def success_verdict(self) -> str:
        """From the success difference: more successes is better."""
        return verdict(self.success_difference, higher_is_better=True)


def against_reference(rows: Iterable[Row], reference: str
                      ) -> Iterator[tuple[GroupKey, list[Row], list[Row]]]:
    """Every other ablation's group with the ``reference`` group of its scenario and team
    size: ``(key, its rows, the reference's rows)``, in the order groups first appear."""
    groups = by_group(rows)
    for (scenario, agents, ablation), members in groups.items():
        base = groups.get((scenario, agents, reference))
        if ablation != reference and base is not None:
            yield (scenario, agents, ablation), members, base


def paired_comparisons(rows: Iterable[Row], reference: str) -> list[PairedComparison]:
    """Every other ablation against ``reference`` within its scenario and team size, paired
    by seed (in the order groups first appear)."""
    result = []
    for (scenario, agents, ablation), members, base in against_reference(rows, reference):
        pairs, left_out = paired_rows(ok_rows(members), ok_rows(base))
        steps = ([censored_steps(a) for a, _ in pairs], [censored_steps(b) for _, b in pairs])
        hits = ([float(flag(a["goal_reached"])) for a, _ in pairs],
                [float(flag(b["goal_reached"])) for _, b in pairs])
        result.append(PairedComparison(
            scenario=scenario, agents=agents, ablation=ablation, reference=reference,
            pairs=len(pairs), left_out=left_out,
            difference=paired_difference(*steps) if pairs else None,
            ratio=ratio_of_means(*steps) if pairs else None,
            success_difference=paired_difference(*hits) if pairs else None,
        ))
    return result


# --------------------------------------------------------------------------- across scenarios


@dataclass(frozen=True)
class AggregateStats:
    """One team size and ablation over every scenario that has it, seeds resampled within
    each scenario (stratified bootstrap)."""

    agents: int
    ablation: str
    scenarios: int
    success: Estimate  # success rate over all episodes
    steps_iqm: Estimate  # IQM of censored steps / max_steps (0..1, comparable across tasks)


def aggregate_stats(rows: Iterable[Row]) -> list[AggregateStats]:
    """Per team size and ablation, over scenarios (in the order they first appear)."""
    strata: dict[tuple[int, str], list[list[Row]]] = {}
    for (_, agents, ablation), members in by_group(rows).items():
        ok = ok_rows(members)
        if ok:
            strata.setdefault((agents, ablation), []).append(ok)
    return [AggregateStats(
        agents=agents, ablation=ablation, scenarios=len(groups),
        success=stratified_mean_interval([[float(flag(r["goal_reached"])) for r in g]
                                          for g in groups]),
        steps_iqm=iqm_interval([[censored_steps(r) / step_limit(r) for r in g]
                                for g in groups]),
    ) for (agents, ablation), groups in strata.items()]
