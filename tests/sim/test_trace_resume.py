"""The trace is written through, and resuming continues it instead of overwriting it.

Regression tests of the reliability pass: a run killed at step N kept only the lines its
buffer had flushed (97 of 100), and `--resume` into the same `--out` replaced the trace
with the resumed steps alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from test_run_end_to_end import SCENARIO  # seed 3, 50 steps, a checkpoint every 20

from memsim.cli import main
from memsim.sim.output import TraceWriter, read_trace

# Runs the scenario and SIGKILLs itself after step 30 has been traced (no cleanup at all).
KILLED_RUN = """
import os, signal, sys
from pathlib import Path
from memsim.sim.episode import run_episode
from memsim.sim.scenario import load_scenario

def watch(runtime, state, record):
    if state["team_step"] == 30:
        os.kill(os.getpid(), signal.SIGKILL)

run_episode(load_scenario(sys.argv[1]), 3, Path(sys.argv[2]), watch=watch)
"""


def killed_run(tmp_path: Path) -> tuple[Path, Path]:
    scenario = tmp_path / "killed.toml"
    scenario.write_text(SCENARIO.format(executor="direct"))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-c", KILLED_RUN, str(scenario), str(out)],
                          capture_output=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    return scenario, out


def test_a_killed_run_leaves_every_finished_step_on_disk_and_resumes_into_the_same_out(
        tmp_path: Path) -> None:
    scenario, out = killed_run(tmp_path)
    trace = out / "trace-seed3.jsonl"
    before = trace.read_bytes()
    assert [line["step"] for line in read_trace(trace)] == list(range(30))
    # Resume from the checkpoint at step 20 into the same directory: steps 0-19 are kept
    # byte for byte, 20-29 are written again (identically) and the run goes on to 50.
    assert main(["run", str(scenario), "--seed", "3", "--resume",
                 str(out / "checkpoint-seed3.pkl"), "--out", str(out), "--quiet"]) == 0
    after = trace.read_bytes()
    assert [line["step"] for line in read_trace(trace)] == list(range(50))
    assert after.startswith(before)  # the resumed steps are the ones the killed run wrote
    # ... and the whole trace is the one an uninterrupted run writes.
    fresh = tmp_path / "fresh"
    assert main(["run", str(scenario), "--out", str(fresh), "--quiet"]) == 0
    assert (fresh / "trace-seed3.jsonl").read_bytes() == after
    assert (out / "metrics.csv").read_text().count("\n") == 2  # header + the resumed seed


def test_resuming_a_trace_cuts_a_torn_last_line_and_later_steps(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    with TraceWriter(path) as trace:
        for step in range(5):
            trace.write_step(step, {"agent_0": {"action": "noop"}})
    whole = path.read_bytes()
    with path.open("ab") as file:
        file.write(b'{"step": 5, "agents": {"agen')  # killed mid-line
    with TraceWriter(path, resume_from=3) as trace:
        assert trace.lines == 3
        trace.write_step(3, {"agent_0": {"action": "noop"}})
    assert [r["step"] for r in read_trace(path)] == [0, 1, 2, 3]
    assert whole.startswith(path.read_bytes())
    with TraceWriter(tmp_path / "new.jsonl", resume_from=7) as trace:  # no file: a new one
        trace.write_step(7, {})
    assert [r["step"] for r in read_trace(tmp_path / "new.jsonl")] == [7]


def test_each_step_is_on_disk_as_soon_as_it_is_written(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    trace = TraceWriter(path)
    trace.write_step(0, {"agent_0": {"action": "noop"}})
    assert [r["step"] for r in read_trace(path)] == [0]  # before close
    trace.sync()
    trace.close()
    assert os.path.getsize(path) > 0
