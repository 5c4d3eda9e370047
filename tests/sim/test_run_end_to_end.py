"""`memsim run` for real: outputs on disk, checkpoints, and resuming from one."""

from __future__ import annotations

from pathlib import Path

from memsim.cli import main
from memsim.sim.episode import StopEpisode, run_episode
from memsim.sim.output import read_trace
from memsim.sim.scenario import load_scenario
from memsim.sim.team import StepRecord, TeamRuntime, TeamState

SCENARIO = """
name = "e2e"
version = 1
seeds = [3]
max_steps = 50
[env]
family = "crafting"
width = 48
height = 48
zombies = false
skeletons = false
[agents]
count = 2
policy = "scripted"
[memory]
backend = "networkx"
[run]
executor = "{executor}"
checkpoint_every = 20
trace_observations = true
"""


def write_scenario(tmp_path: Path, executor: str = "langgraph") -> Path:
    path = tmp_path / "e2e.toml"
    path.write_text(SCENARIO.format(executor=executor))
    return path


def test_run_writes_trace_metrics_and_checkpoints(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["run", str(write_scenario(tmp_path)), "--out", str(out), "--quiet"]) == 0
    trace = list(read_trace(out / "trace-seed3.jsonl"))
    assert [line["step"] for line in trace] == list(range(50))
    first = trace[0]["agents"]["agent_0"]
    assert {"action", "ok", "reason", "retrieved", "messages_read", "observation"} <= set(first)
    assert "You are agent_0" in first["observation"]
    assert (out / "metrics.csv").read_text().count("\n") == 2  # header + one episode
    assert (out / "checkpoint-seed3.pkl").is_file()


def test_resume_continues_with_the_same_steps(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path)
    out, again = tmp_path / "out", tmp_path / "again"
    assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == 0
    checkpoint = out / "checkpoint-seed3.pkl"  # the last one: step 40
    code = main(["run", str(scenario), "--seed", "3", "--resume", str(checkpoint),
                 "--out", str(again), "--quiet"])
    assert code == 0
    original = {line["step"]: line for line in read_trace(out / "trace-seed3.jsonl")}
    resumed = list(read_trace(again / "trace-seed3.jsonl"))
    assert [line["step"] for line in resumed] == list(range(40, 50))
    for line in resumed:
        assert line["agents"] == original[line["step"]]["agents"]


def test_graph_command_prints_the_team_graph(capsys) -> None:
    assert main(["graph"]) == 0
    text = capsys.readouterr().out
    for node in ("perceive", "read_inbox", "remember", "recall", "decide", "env_step"):
        assert node in text
    assert "agent_step --> env_step" in text  # the join after the fan-out
    assert "recall --> decide" in text  # the chain each agent_step runs


def test_resume_refuses_a_checkpoint_of_another_seed(tmp_path: Path, capsys) -> None:
    scenario = write_scenario(tmp_path, executor="direct")
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == 0
    code = main(["run", str(scenario), "--seed", "4", "--resume",
                 str(out / "checkpoint-seed3.pkl"), "--out", str(tmp_path / "x"), "--quiet"])
    assert code == 1
    assert "seed 3, not 'e2e' seed 4" in capsys.readouterr().err
    assert main(["run", str(scenario), "--resume", str(out / "missing.pkl"), "--seed", "3",
                 "--quiet"]) == 2


def test_a_watcher_sees_every_step_and_can_stop_the_episode(tmp_path: Path) -> None:
    scenario = load_scenario(write_scenario(tmp_path, "direct"))
    seen: list[tuple[int, int | None]] = []

    def watch(runtime: TeamRuntime, state: TeamState, record: StepRecord | None) -> None:
        assert runtime.env.render() is not None  # render_mode reached the env
        seen.append((state["team_step"], None if record is None else record.step))
        if state["team_step"] == 7:
            raise StopEpisode

    summary = run_episode(scenario, 3, tmp_path / "out", watch=watch, render_mode="rgb_array")
    assert seen == [(0, None), *((s, s - 1) for s in range(1, 8))]
    assert summary.steps == 7 and not summary.goal_reached
    assert len(list(read_trace(tmp_path / "out" / "trace-seed3.jsonl"))) == 7
    # Unwatched, the same seed runs on to the step limit with the same first 7 steps.
    full = run_episode(scenario, 3, tmp_path / "full")
    first = [r["agents"] for r in read_trace(tmp_path / "full" / "trace-seed3.jsonl")][:7]
    assert first == [r["agents"] for r in read_trace(tmp_path / "out" / "trace-seed3.jsonl")]
    assert full.steps == 50
