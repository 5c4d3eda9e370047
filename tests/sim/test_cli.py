"""Tests for the ``memsim`` CLI (sim/cli.py).

The episode runner (``sim.episode.run_episode``) is replaced by a stand-in that records its
arguments and returns a summary derived from them: these tests check the CLI's own work
(argument handling, validation before running, exit codes, progress callback, outputs), not
the simulation.
"""

from __future__ import annotations

import csv
import json
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from memsim.cli import main
from memsim.sim.families import CRAFTING_MILESTONES
from memsim.sim.output import EpisodeSummary, metrics_columns
from memsim.sim.scenario import SCENARIO_DIR, Scenario, policy_names

SCENARIO_TOML = """
name = "cli-test"
description = "two seeds"
version = 1
seeds = [3, 5]
max_steps = 40

[env]
family = "crafting"
width = 16
height = 16

[agents]
count = 2
"""


class FakeRunner:
    """Stands in for ``sim.episode.run_episode``; can fail on a chosen seed."""

    def __init__(self, fail_seed: int | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail_seed = fail_seed

    def __call__(
        self,
        scenario: Scenario,
        seed: int,
        out_dir: Path | None,
        progress: Callable[[int, int], None] | None = None,
        stores: Any = None,
    ) -> EpisodeSummary:
        self.calls.append(
            {"scenario": scenario, "seed": seed, "out_dir": out_dir, "progress": progress}
        )
        if seed == self.fail_seed:
            raise RuntimeError("world exploded")
        steps = scenario.max_steps // 2
        if progress is not None:
            for step in range(1, steps + 1):
                progress(step, scenario.max_steps)
        return EpisodeSummary(
            scenario=scenario.name,
            seed=seed,
            n_agents=scenario.agents.count,
            steps=steps,
            goal_reached=False,
            milestones={"collect_wood": seed},
            messages={"sent": 4, "delivered": 3},
            memory_nodes={a: 10 for a in scenario.agents.agent_ids()},
            wall_seconds=0.01,
            out_dir=str(out_dir),
        )


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> FakeRunner:
    fake = FakeRunner()
    module = types.ModuleType("memsim.sim.episode")
    module.run_episode = fake  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "memsim.sim.episode", module)
    monkeypatch.setenv("COLUMNS", "300")  # wide rich output: no wrapped table cells
    return fake


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "cli-test.toml"
    path.write_text(SCENARIO_TOML)
    return path


def read_metrics(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == metrics_columns(CRAFTING_MILESTONES)
        return list(reader)


# ----------------------------------------------------------------------------- help / list


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: memsim" in out and "run" in out and "list" in out


def test_run_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--seed", "--seeds", "--max-steps", "--agents", "--policy", "--memory",
                   "--out", "--executor", "--quiet"):
        assert option in out
    assert "networkx, falkordb, neo4j" in " ".join(out.split()) and "langgraph,direct" in out


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "required" in capsys.readouterr().err


def test_list_shows_every_shipped_scenario(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for path in SCENARIO_DIR.glob("*.toml"):
        assert path.stem in out
    assert "2 random agents" in out  # a description
    # every world task, with a Gymnasium id that really makes the env
    import gymnasium

    from memsim.sim.families import FAMILIES

    for family in FAMILIES.values():
        for task, gym_id in family.tasks().items():
            assert task in out and gym_id in out
            gymnasium.make(gym_id).close()
    assert "mystery_path" in out and "shell_game" in out


# ----------------------------------------------------------------------------- run: errors


def test_unknown_scenario_exits_2_before_running(
    runner: FakeRunner, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "no-such-scenario"]) == 2
    err = capsys.readouterr().err
    assert "no-such-scenario: no such scenario" in err and "default" in err
    assert runner.calls == []


def test_invalid_scenario_exits_2_naming_the_field(
    runner: FakeRunner, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(SCENARIO_TOML.replace("count = 2", 'count = 2\npolicy = "smart"'))
    out = tmp_path / "out"
    assert main(["run", str(bad), "--out", str(out)]) == 2
    err = " ".join(capsys.readouterr().err.split())  # undo rich's line wrapping
    allowed = ", ".join(sorted(policy_names()))
    assert f"bad.toml: agents.policy: 'smart' is not allowed; allowed: {allowed}" in err
    assert runner.calls == [] and not out.exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--agents", "0"], "--agents: must be >= 1"),
        (["--seed", "x"], "--seed: must be an integer"),
        (["--memory", "redis"], "memory.backend: 'redis' is not allowed; allowed: falkordb"),
        (["--executor", "ray"], "invalid choice: 'ray'"),
    ],
)
def test_bad_arguments_exit_2(
    runner: FakeRunner,
    scenario_file: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    expected: str,
) -> None:
    assert main(["run", str(scenario_file), *args]) == 2
    assert expected in capsys.readouterr().err
    assert runner.calls == []


def test_override_that_breaks_the_scenario_exits_2(
    runner: FakeRunner, scenario_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(scenario_file), "--agents", "65"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "cli-test (overrides): agents.count" in err
    assert runner.calls == []


def test_missing_runner_exits_1(
    monkeypatch: pytest.MonkeyPatch, scenario_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "memsim.sim.episode", None)  # import fails
    assert main(["run", str(scenario_file), "--quiet"]) == 1
    assert "episode runner is not available" in capsys.readouterr().err


def test_failing_episode_exits_1_and_keeps_earlier_rows(
    monkeypatch: pytest.MonkeyPatch,
    scenario_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake = FakeRunner(fail_seed=5)
    module = types.ModuleType("memsim.sim.episode")
    module.run_episode = fake  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "memsim.sim.episode", module)
    out = tmp_path / "out"
    assert main(["run", str(scenario_file), "--out", str(out), "--quiet"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "cli-test seed 5 failed: RuntimeError: world exploded" in err
    assert [row["seed"] for row in read_metrics(out / "metrics.csv")] == ["3"]


# ----------------------------------------------------------------------------- run: success


def test_run_every_seed_writes_metrics_and_summary(
    runner: FakeRunner, scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["run", str(scenario_file), "--out", str(out)]) == 0
    assert [c["seed"] for c in runner.calls] == [3, 5]
    assert all(c["out_dir"] == out and callable(c["progress"]) for c in runner.calls)
    rows = read_metrics(out / "metrics.csv")
    assert [(r["scenario"], r["seed"], r["steps"]) for r in rows] == [
        ("cli-test", "3", "20"),
        ("cli-test", "5", "20"),
    ]
    assert rows[1]["steps_to_collect_wood"] == "5" and rows[1]["memory_nodes"] == "20"
    resolved = json.loads((out / "scenario.json").read_text())
    assert resolved["name"] == "cli-test" and resolved["seeds"] == [3, 5]
    stdout = capsys.readouterr().out
    assert "cli-test seed 3" in stdout and "20/20" in stdout  # progress bar, completed
    assert "mean ± 95% CI" in stdout  # summary over 2 seeds
    assert f"results: {out}" in stdout


def test_overrides_reach_the_runner(
    runner: FakeRunner, scenario_file: Path, tmp_path: Path
) -> None:
    argv = ["run", str(scenario_file), "--out", str(tmp_path / "o"), "--seed", "7"]
    argv += ["--agents", "3", "--memory", "falkordb", "--executor", "direct"]
    assert main(argv) == 0
    (call,) = runner.calls
    scenario = call["scenario"]
    assert call["seed"] == 7 and scenario.seeds == [7]
    assert scenario.agents.count == 3
    assert scenario.memory.backend == "falkordb" and scenario.run.executor == "direct"
    (row,) = read_metrics(tmp_path / "o" / "metrics.csv")
    assert (row["seed"], row["agents"]) == ("7", "3")


def test_quiet_runs_without_progress_or_table(
    runner: FakeRunner, scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(scenario_file), "--out", str(tmp_path / "q"), "--quiet"]) == 0
    assert [c["progress"] for c in runner.calls] == [None, None]
    stdout = capsys.readouterr().out
    assert "mean ± 95% CI" not in stdout and "results:" in stdout


def test_default_out_dir_is_runs_name_timestamp(
    runner: FakeRunner,
    scenario_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(scenario_file), "--quiet"]) == 0
    assert main(["run", str(scenario_file), "--quiet"]) == 0
    runs = sorted((tmp_path / "runs" / "cli-test").iterdir())
    # two runs, possibly in the same second: two distinct directories
    assert len(runs) == 2
    assert all((d / "metrics.csv").is_file() for d in runs)
    assert runs[0].name.endswith("Z") and runs[0].name[:8].isdigit()
    assert runner.calls[0]["out_dir"] == Path("runs") / "cli-test" / runs[0].name


def test_run_by_bare_name_uses_the_shipped_scenario(runner: FakeRunner, tmp_path: Path) -> None:
    assert main(["run", "damcs-diamond-6", "--seed", "0", "--out", str(tmp_path), "--quiet"]) == 0
    (call,) = runner.calls
    assert call["scenario"].name == "damcs-diamond-6" and call["scenario"].agents.count == 6


def test_an_llm_scenario_without_an_endpoint_fails_with_the_fix_named(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for var in ("MEMSIM_LLM_BASE_URL", "MEMSIM_LLM_API_KEY", "OPENAI_BASE_URL",
                "OPENAI_API_KEY", "MEMSIM_LLM_MODEL", "OPENAI_MODEL"):
        monkeypatch.delenv(var, raising=False)
    assert main(["run", "llm-2", "--out", str(tmp_path), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "base_url is not set" in err and "[llm] table, MEMSIM_LLM_BASE_URL" in err
