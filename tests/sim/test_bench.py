"""The benchmark harness: suite grids, override validation, resuming, execution backends,
failed cells, the report's statistics and plots, and the `bench` command."""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path
from typing import Any

import pytest

from memsim.sim.bench import (
    LEDGER_FILE,
    csv_columns,
    read_ledger,
    run_suite,
    summary_row,
)
from memsim.sim.bench_milestones import milestone_stats
from memsim.sim.bench_plots import PLOT_FILES
from memsim.sim.bench_report import REPORT_FILE, write_report
from memsim.sim.bench_stats import group_stats, read_results
from memsim.sim.cli import add_bench_parser, cmd_bench
from memsim.sim.output import EpisodeSummary
from memsim.sim.suite import SUITE_DIR, Suite, SuiteError, deep_merge, expand_suite, load_suite

# A small world and few steps: each cell is one short episode (~0.1 s).
TINY_SCENARIO = """
name = "tiny"
version = 1
max_steps = 25
[env]
family = "crafting"
width = 20
height = 20
zombies = false
skeletons = false
[agents]
count = 2
"""

TINY_SUITE = """
name = "tiny"
version = 1
{top}
scenarios = ["tiny.toml"]
agents = [1, 2]
seeds = {seeds}
max_steps = 20
[ablations]
full = {{}}
comm-off = {{ comm = {{ enabled = false }} }}
{extra}
"""


def write_suite(tmp_path: Path, seeds: int | str = 2, extra: str = "", top: str = "") -> Path:
    """The tiny suite; `extra` goes into (or after) its ablations table, `top` before it."""
    (tmp_path / "tiny.toml").write_text(TINY_SCENARIO)
    path = tmp_path / "suite.toml"
    path.write_text(TINY_SUITE.format(seeds=seeds, extra=extra, top=top))
    return path


def without_wall(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "wall_seconds"} for r in rows]


# --------------------------------------------------------------------------- grid


def test_deep_merge_merges_tables_and_replaces_values() -> None:
    base = {"memory": {"enabled": True, "backend": "networkx"}, "max_steps": 5}
    merged = deep_merge(base, {"memory": {"enabled": False}, "max_steps": 9})
    assert merged == {"memory": {"enabled": False, "backend": "networkx"}, "max_steps": 9}
    assert base["memory"]["enabled"] is True  # the input is not modified


def test_grid_expands_scenario_x_agents_x_ablation_x_seed(tmp_path: Path) -> None:
    suite, path = load_suite(write_suite(tmp_path, seeds=3))
    cells = expand_suite(suite, path)
    assert [(c.agents, c.ablation, c.seed) for c in cells] == [
        (n, a, s) for n in (1, 2) for a in ("full", "comm-off") for s in range(3)]
    for cell in cells:
        assert cell.config["agents"]["count"] == cell.agents
        assert cell.config["comm"]["enabled"] is (cell.ablation == "full")
        assert cell.config["max_steps"] == 20  # the suite's limit replaces the scenario's
        assert cell.config["run"]["executor"] == "direct"
        assert cell.config["seeds"] == [cell.seed]
        assert (cell.scenario, cell.family) == ("tiny", "crafting")
    # The configuration hash tells ablations apart but not seeds.
    assert len({c.config_hash for c in cells}) == 4
    assert len(expand_suite(suite, path, seeds=5)) == 2 * 2 * 5  # --seeds N overrides
    listed = expand_suite(suite, path, seeds=[100, 7])  # --seeds 100,7 (or 0-4,10 ...)
    assert sorted({c.seed for c in listed}) == [7, 100] and len(listed) == 8


def test_a_bad_override_fails_before_anything_runs_naming_file_and_field(
        tmp_path: Path) -> None:
    path = write_suite(tmp_path, extra="typo = { memory = { enabeld = false } }\n"
                                        "lossy = { comm = { loss_prob = 2.0 } }\n"
                                        "keep = { memory = { persist_across_episodes = true } }")
    with pytest.raises(SuiteError) as info:
        run_suite(path, out_dir=tmp_path / "out", progress=False)
    text = str(info.value)
    assert str(path) in text
    assert "ablations.typo" in text and "memory.enabeld: unknown key" in text
    assert "allowed:" in text and "enabled" in text
    assert "ablations.lossy" in text and "comm.loss_prob" in text
    # Memory carried between episodes would make a cell depend on the cells before it.
    assert "ablations.keep (tiny): memory.persist_across_episodes must be false" in text
    assert not (tmp_path / "out" / LEDGER_FILE).exists()


@pytest.mark.parametrize(("top", "extra", "expected"), [
    ("", "[baseline]\nablation = \"nope\"", "baseline.ablation: 'nope' is not an ablation"),
    ("", "[baseline]\ngrid = 3", "baseline.grid: unknown key; allowed: agents, ablation"),
    ("grid = 3", "", "grid: unknown key; allowed: name, description"),
    ("seeds_list = [1]", "", "seeds_list: unknown key"),
    ("", "many = { agents = { count = 3 } }", "ablations.many: agents.count is set by"),
    ("", "Bad_Name = {}", "ablations: name 'Bad_Name' must match"),
    ("", "flat = 3", "ablations.flat: Input should be a valid dictionary"),
])
def test_invalid_suite_files_name_the_field(tmp_path: Path, top: str, extra: str,
                                            expected: str) -> None:
    path = write_suite(tmp_path, extra=extra, top=top)
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    assert str(info.value).startswith(str(path))
    assert expected in str(info.value)


def test_unknown_suite_name_lists_the_shipped_ones() -> None:
    with pytest.raises(SuiteError, match=r"no such suite; available: .*coop-diamond"):
        load_suite("no-such-suite")


@pytest.mark.parametrize("name", sorted(p.stem for p in SUITE_DIR.glob("*.toml")))
def test_every_shipped_suite_loads_and_expands(name: str) -> None:
    suite, path = load_suite(name)
    cells = expand_suite(suite, path)
    assert cells and {c.ablation for c in cells} == set(suite.ablations)


def test_shipped_coop_diamond_suite_is_valid() -> None:
    suite, path = load_suite("coop-diamond")
    cells = expand_suite(suite, path)
    assert len(cells) == 3 * 5 * 30
    assert {c.agents for c in cells} == {1, 2, 6}
    assert {c.ablation for c in cells} == {"full", "memory-off", "comm-off", "shared-memory",
                                           "loss-30"}
    by_ablation = {c.ablation: c.config for c in cells if c.agents == 6 and c.seed == 0}
    assert by_ablation["memory-off"]["memory"]["enabled"] is False
    assert by_ablation["shared-memory"]["memory"]["shared"] is True
    assert by_ablation["loss-30"]["comm"]["loss_prob"] == 0.3
    assert suite.reference is not None and set(suite.reference.fewer_steps_percent) == {"2", "6"}


# --------------------------------------------------------------------------- running


def test_rerun_skips_finished_cells_and_a_partial_file_runs_only_the_rest(
        tmp_path: Path) -> None:
    path = write_suite(tmp_path)
    out = tmp_path / "out"
    first = run_suite(path, out_dir=out, progress=False, report=False)
    assert (first.ran, first.skipped, first.failed) == (8, 0, [])
    # Cells run seed by seed across all groups, so a partial run covers every group alike.
    ran_seeds = [json.loads(line)["seed"] for line in (out / LEDGER_FILE).open()]
    assert ran_seeds == [0, 0, 0, 0, 1, 1, 1, 1]
    assert [r["seed"] for r in first.rows] == [0, 1] * 4  # the table is in grid order
    assert {r["max_steps"] for r in first.rows} == {20}  # the suite's step limit
    again = run_suite(path, out_dir=out, progress=False, report=False)
    assert (again.ran, again.skipped) == (0, 8)
    assert again.rows == first.rows
    # A run killed after 3 cells, in the middle of writing the 4th line.
    ledger = out / LEDGER_FILE
    lines = ledger.read_text().splitlines(keepends=True)
    ledger.write_text("".join(lines[:3]) + lines[3][: len(lines[3]) // 2])
    resumed = run_suite(path, out_dir=out, progress=False, report=False)
    assert (resumed.ran, resumed.skipped) == (5, 3)
    assert without_wall(resumed.rows) == without_wall(first.rows)
    # The torn line is ended and skipped; every cell has exactly one complete row.
    assert len(read_ledger(ledger)) == 8
    assert sum(1 for line in ledger.read_text().splitlines() if _parses(line)) == 8


def _parses(line: str) -> bool:
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return False
    return True


def test_rows_of_a_ledger_from_before_the_max_steps_column_get_it_from_their_cell(
        tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the bench extra (matplotlib) draws the plots")
    path = write_suite(tmp_path, seeds=1)
    out = tmp_path / "out"
    run_suite(path, out_dir=out, progress=False, report=False)
    ledger = out / LEDGER_FILE
    old = [{k: v for k, v in json.loads(line).items() if k != "max_steps"}
           for line in ledger.read_text().splitlines()]
    ledger.write_text("".join(json.dumps(r) + "\n" for r in old))
    result = run_suite(path, out_dir=out, progress=False)
    assert (result.ran, result.skipped) == (0, 4)
    assert {r["max_steps"] for r in result.rows} == {20}
    assert {r["max_steps"] for r in read_results(out / "results.csv")} == {"20"}


def test_changed_ablation_contents_rerun_their_cells(tmp_path: Path) -> None:
    path = write_suite(tmp_path)
    out = tmp_path / "out"
    run_suite(path, out_dir=out, progress=False, report=False)
    path.write_text(path.read_text().replace("enabled = false", "loss_prob = 0.5"))
    result = run_suite(path, out_dir=out, progress=False, report=False)
    assert (result.ran, result.skipped) == (4, 4)  # only the comm-off cells changed


@pytest.mark.slow  # the FalkorDB client retries before giving up (~4 s)
def test_a_failing_cell_is_recorded_reported_and_retried(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the bench extra (matplotlib) draws the plots")
    # A FalkorDB memory on a closed port really fails to connect when the episode starts.
    extra = ('offline = { memory = { backend = "falkordb", '
             'config = { url = "falkor://127.0.0.1:1" } } }')
    path = write_suite(tmp_path, seeds=1, extra=extra)
    path.write_text(path.read_text().replace("agents = [1, 2]", "agents = [1]"))
    out = tmp_path / "out"
    result = run_suite(path, out_dir=out, progress=False)
    assert [r["ablation"] for r in result.failed] == ["offline"]
    assert "unreachable" in result.failed[0]["error"]
    assert [r["status"] for r in result.rows] == ["ok", "ok", "failed"]
    report = (out / REPORT_FILE).read_text()
    assert "## Failed cells (1)" in report and "unreachable" in report
    assert "failed" in (out / "results.csv").read_text()
    # Failed cells are retried on the next run; finished ones are not.
    again = run_suite(path, out_dir=out, progress=False, report=False)
    assert (again.ran, again.skipped) == (1, 2)


@pytest.mark.slow
def test_processes_give_the_same_rows_as_serial(tmp_path: Path) -> None:
    path = write_suite(tmp_path, seeds=1)
    serial = run_suite(path, out_dir=tmp_path / "serial", progress=False, report=False)
    pooled = run_suite(path, workers=2, out_dir=tmp_path / "pool", progress=False,
                       report=False)
    assert pooled.ran == 4
    assert without_wall(pooled.rows) == without_wall(serial.rows)


@pytest.mark.integration
@pytest.mark.slow
def test_serial_processes_and_ray_give_identical_rows(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    path = write_suite(tmp_path, seeds=1)
    serial = run_suite(path, out_dir=tmp_path / "serial", progress=False, report=False)
    pooled = run_suite(path, workers=2, out_dir=tmp_path / "pool", progress=False,
                       report=False)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = run_suite(path, ray_address="local", out_dir=tmp_path / "ray",
                           progress=False, report=False)
        assert ray.is_initialized()  # run_suite leaves a Ray instance it did not start
    finally:
        ray.shutdown()
    assert serial.ran == pooled.ran == on_ray.ran == 4
    assert without_wall(serial.rows) == without_wall(pooled.rows) == without_wall(on_ray.rows)
    assert any(r["messages_sent"] for r in serial.rows)  # the rows carry real episodes


def test_bench_command_runs_a_suite_and_reports_bad_ones(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib", reason="the bench extra (matplotlib) draws the plots")
    parser = argparse.ArgumentParser(prog="memsim")
    add_bench_parser(parser.add_subparsers(dest="command"))
    out = tmp_path / "out"
    args = parser.parse_args(["bench", str(write_suite(tmp_path)), "--seeds", "1",
                              "--workers", "1", "--out", str(out), "--quiet"])
    assert cmd_bench(args) == 0
    assert len(read_results(out / "results.csv")) == 4  # --seeds 1: 2 agents x 2 ablations
    assert "4 cells ran, 0 already done" in capsys.readouterr().out
    # A list of seeds: seed 0 is done, seed 3 runs (2 agents x 2 ablations).
    args = parser.parse_args(["bench", str(write_suite(tmp_path)), "--seeds", "0,3",
                              "--workers", "1", "--out", str(out), "--quiet"])
    assert cmd_bench(args) == 0
    assert "4 cells ran, 4 already done" in capsys.readouterr().out
    assert sorted({int(r["seed"]) for r in read_results(out / "results.csv")}) == [0, 3]
    bad = write_suite(tmp_path, extra="x = { comm = { enabled = 3 } }")
    assert cmd_bench(parser.parse_args(["bench", str(bad), "--out", str(out)])) == 2
    assert "ablations.x" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["bench", "coop-diamond", "--workers", "0"])


def test_bench_without_matplotlib_says_what_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else find_spec(name, *a))
    parser = argparse.ArgumentParser(prog="memsim")
    add_bench_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["bench", str(write_suite(tmp_path)), "--out", str(tmp_path)])
    assert cmd_bench(args) == 2
    assert "pip install 'memsim[bench]'" in capsys.readouterr().err
    assert not (tmp_path / LEDGER_FILE).exists()


def test_each_family_gets_its_own_milestone_columns() -> None:
    nav = EpisodeSummary(scenario="n", seed=0, n_agents=1, steps=30, goal_reached=True,
                         milestones={"success": 30})
    craft = EpisodeSummary(scenario="c", seed=0, n_agents=1, steps=90, goal_reached=False,
                           milestones={"collect_wood": 4, "eat_cow": 50})
    cell = {"suite": "x", "agents": 1, "ablation": "full", "seed": 0, "config_hash": "h",
            "config": {"max_steps": 90}}
    nav_row = summary_row({**cell, "scenario": "n", "family": "navigation"}, nav)
    craft_row = summary_row({**cell, "scenario": "c", "family": "crafting"}, craft)
    assert nav_row["steps_to_success"] == 30 and "steps_to_collect_wood" not in nav_row
    assert (craft_row["steps_to_collect_wood"], craft_row["steps_to_eat_cow"]) == (4, 50)
    assert craft_row["steps_to_collect_diamond"] == ""  # a milestone not reached: empty
    assert craft_row["max_steps"] == 90  # the limit a failure counts as, in every row
    columns = csv_columns([nav_row, craft_row])
    # the families' milestones in their order, then other achievements
    assert columns.index("steps_to_success") < columns.index("steps_to_collect_wood")
    assert columns.index("steps_to_collect_diamond") < columns.index("steps_to_eat_cow")
    assert columns[-2:] == ["error", "config_hash"]


def test_llm_usage_becomes_columns_summed_over_agents() -> None:
    summary = EpisodeSummary(scenario="s", seed=0, n_agents=2, steps=10, goal_reached=False)
    cell = {"suite": "x", "scenario": "s", "family": "crafting", "agents": 2,
            "ablation": "full", "seed": 0, "config_hash": "h", "config": {"max_steps": 10}}
    assert summary_row(cell, summary)["llm_calls"] == 0  # scripted agents: no model usage
    summary.usage = {"agent_0": {"calls": 10, "prompt_tokens": 900},
                     "agent_1": {"calls": 9, "prompt_tokens": 700}}
    row = summary_row(cell, summary)
    assert (row["llm_calls"], row["llm_prompt_tokens"]) == (19, 1600)


# --------------------------------------------------------------------------- report


def synthetic_rows() -> list[dict[str, Any]]:
    """Five seeds per group: 1 agent (all reach the goal), 2 agents (4 of 5: the last runs
    to the limit, 1000), 2 agents without comm (slower on every seed), plus a cell that
    raised."""
    rows = []
    one = [100, 120, 80, 110, 90]
    two = [40, 60, 50, 70, 1000]
    slow = [90, 100, 95, 120, 1000]
    for agents, ablation, steps in ((1, "full", one), (2, "full", two), (2, "comm-off", slow)):
        for seed, n in enumerate(steps):
            reached = n < 1000
            rows.append({
                "suite": "syn", "scenario": "syn", "family": "crafting", "agents": agents,
                "ablation": ablation, "seed": seed, "status": "ok", "steps": n,
                "goal_reached": reached, "max_steps": 1000, "steps_to_collect_wood": 5 + seed,
                "steps_to_collect_diamond": n if reached else "",
                "messages_sent": 2 * n, "messages_delivered": n, "messages_rejected": 0,
                "memory_nodes": 100, "wall_seconds": 0.1, "error": "", "config_hash": "h",
            })
    rows.append({"suite": "syn", "scenario": "syn", "family": "crafting", "agents": 2,
                 "ablation": "full", "seed": 5, "status": "failed", "max_steps": 1000,
                 "error": "RuntimeError: boom", "config_hash": "h"})
    return rows


def syn_suite() -> Suite:
    return Suite.model_validate({
        "name": "syn", "version": 1, "scenarios": ["syn"], "agents": [1, 2], "seeds": 5,
        "ablations": {"full": {}, "comm-off": {"comm": {"enabled": False}}},
        "reference": {"source": "DAMCS", "fewer_steps_percent": {"2": 63.0}}})


def test_group_statistics_count_failures_at_the_step_limit() -> None:
    stats = {(s.agents, s.ablation): s for s in group_stats(synthetic_rows())}
    one, two = stats[1, "full"], stats[2, "full"]
    assert (one.successes, one.episodes, one.failed) == (5, 5, 0)
    assert (two.successes, two.episodes, two.failed) == (4, 5, 1)
    assert one.steps is not None and one.steps.value == pytest.approx(100.0)
    # The missed goal counts as 1000 steps, not left out (the old mean was 55).
    assert two.steps is not None and two.steps.value == pytest.approx((40 + 60 + 50 + 70
                                                                       + 1000) / 5)
    assert two.steps_median == pytest.approx(60.0)
    assert two.steps_iqm is not None and two.steps_iqm.value == pytest.approx(60.0)  # 50-70
    assert two.steps_iqm.low is not None and two.steps_iqm.low <= 60 <= two.steps_iqm.high
    # Wilson interval for 4/5, written out independently.
    z, p, n = 1.959963984540054, 0.8, 5
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n * n)) / (1 + z**2 / n)
    assert two.success_ci == pytest.approx((centre - half, centre + half))
    # Fewer steps than 1 agent, paired over the 5 shared seeds: 1 - 244 / 100.
    assert two.fewer_steps is not None and two.fewer_pairs == 5
    assert two.fewer_steps.value == pytest.approx(100 * (1 - 244 / 100))
    assert two.faster_seeds_pct == pytest.approx(80.0)  # 4 of 5 seeds shorter than 1 agent
    assert one.fewer_steps is None
    assert two.messages_per_step == pytest.approx(2.0)
    assert two.delivered_per_step == pytest.approx(1.0)
    means = {m.milestone: m for m in milestone_stats(synthetic_rows(), "full")["syn"][2]}
    assert means["collect_diamond"].steps.value == pytest.approx(244.0)  # censored too
    assert (means["collect_diamond"].reached, means["collect_diamond"].episodes) == (4, 5)
    assert means["collect_wood"].steps.value == pytest.approx(statistics.fmean(range(5, 10)))


def test_report_has_group_paired_and_team_size_tables_and_plots(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the bench extra (matplotlib) draws the plots")
    rows = synthetic_rows()
    files = write_report(syn_suite(), rows, tmp_path)
    assert {f.name for f in files} == {REPORT_FILE, *PLOT_FILES.values()}
    for name in PLOT_FILES.values():
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (tmp_path / REPORT_FILE).read_text()
    stats = {(s.agents, s.ablation): s for s in group_stats(rows)}
    one = stats[1, "full"].steps
    assert one is not None and one.low is not None and one.high is not None
    assert "## syn, 1 agent" in report and "## syn, 2 agents" in report
    # No decimals once a number of the interval reaches 100; intervals are [low, high].
    assert (f"| full | 5 | 100% (57-100%) | 100 [{one.low:.0f}, {one.high:.0f}] | 100 |"
            in report)
    assert "| full | 5 | 80% (38-96%) | 244 [" in report
    # The paired table: comm-off against full on the same five seeds.
    assert "Paired with `full` on the same seeds (ablation − full):" in report
    assert ("| ablation | pairs | Δ steps [95% CI] | steps ratio [95% CI] | verdict (steps) | "
            "Δ success [95% CI] | verdict (success) |") in report
    # Differences 50, 40, 45, 50 and 0 (both runs failed: 1000 each): slower on every seed
    # it finished, so the interval excludes zero.
    assert "| comm-off | 5 | +37.0 [" in report
    (line,) = [x for x in report.splitlines() if x.startswith("| comm-off | 5 | +37.0")]
    assert "| worse | +0 pp [+0, +0] | no significant difference |" in line
    # Team size, the reference figures, how to read it, failed cells, plots.
    assert "## Team size: fewer steps than 1 agent (full)" in report
    assert "| syn | 2 | full | −144% [" in report and "| 5 paired seeds | 80% |" in report
    assert "DAMCS reports 63% fewer" in report
    assert "## How to read this" in report and "lower bound" in report
    assert "| syn | collect_diamond | 100 [" in report and "(4/5) |" in report
    assert "| syn | 2 | full | 5 | RuntimeError: boom |" in report
    assert "![paired_differences](paired_differences.png)" in report
    # Reproducible byte for byte (seeded bootstrap).
    write_report(syn_suite(), rows, tmp_path / "again")
    assert (tmp_path / "again" / REPORT_FILE).read_text() == report


def test_report_from_a_results_csv_equals_the_report_from_rows(tmp_path: Path) -> None:
    from memsim.sim.bench import write_results

    rows = synthetic_rows()
    write_results(rows, tmp_path)
    assert "max_steps" in (tmp_path / "results.csv").read_text().splitlines()[0].split(",")
    from_csv = group_stats(read_results(tmp_path / "results.csv"))
    assert from_csv == group_stats(rows)
