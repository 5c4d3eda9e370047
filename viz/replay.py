"""Replay a recorded episode: re-run it deterministically and step forward and back.

A trace (`trace-seed<N>.jsonl`) holds decisions, not world state, so the replayer
rebuilds the episode from the scenario recorded next to it (`scenario.json` in the run
directory) and the trace's seed, and steps it forward with the same node functions.
Going back restores the nearest earlier snapshot (a `sim.checkpoint` blob of the env,
every memory, the channel and the policies, kept every `snapshot_every` steps) and steps
forward from there. Each replayed step's actions are checked against the trace line;
a mismatch is recorded in `divergences` and shown on the frame.
"""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path
from typing import Any

from memsim.sim.checkpoint import restore_checkpoint, save_checkpoint
from memsim.sim.episode import build_scenario_team, make_executor
from memsim.sim.output import read_trace
from memsim.sim.scenario import Scenario, ScenarioError, validate_scenario
from memsim.sim.team import StepRecord
from memsim.viz.frame import Frame, MessageLog, frame_from_runtime

_SEED = re.compile(r"trace-seed(\d+)\.jsonl$")


def trace_seed(trace: Path) -> int:
    """The seed in a trace file's name (``trace-seed<N>.jsonl``)."""
    match = _SEED.search(Path(trace).name)
    if match is None:
        raise ValueError(f"trace {str(trace)!r}: the file name must be trace-seed<N>.jsonl "
                         "(the seed is read from it)")
    return int(match.group(1))


def trace_scenario(trace: Path) -> Scenario:
    """The scenario a trace was run with: ``scenario.json`` in the trace's directory."""
    path = Path(trace).parent / "scenario.json"
    if not path.is_file():
        raise ValueError(f"{path}: not found; replay needs the scenario.json that "
                         "`memsim run` writes next to the trace")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: invalid JSON: {exc}") from None
    try:
        return validate_scenario(data, source=str(path))
    except ScenarioError as exc:
        raise ValueError(str(exc)) from None


class Replayer:
    """Steps a re-run of a traced episode to any step in 0..len(trace)."""

    def __init__(self, trace: str | Path, *, scenario: Scenario | None = None,
                 seed: int | None = None, snapshot_every: int = 50, log_keep: int = 60) -> None:
        if snapshot_every < 1:
            raise ValueError(f"snapshot_every must be >= 1, got {snapshot_every}")
        self.trace_path = Path(trace)
        if not self.trace_path.is_file():
            raise ValueError(f"trace {str(trace)!r}: no such file")
        self.lines = list(read_trace(self.trace_path))
        for i, line in enumerate(self.lines):
            if line.get("step") != i:
                raise ValueError(f"{self.trace_path}: line {i + 1} has step "
                                 f"{line.get('step')!r}, expected {i} (a trace of one episode)")
        self.scenario = scenario or trace_scenario(self.trace_path)
        self.seed = trace_seed(self.trace_path) if seed is None else seed
        self.snapshot_every = snapshot_every
        self._record: StepRecord | None = None
        self.runtime, self.state = build_scenario_team(self.scenario, self.seed, self._on_step,
                                                       render_mode="rgb_array")
        self.executor = make_executor("direct", self.runtime)
        self.log = MessageLog(log_keep)
        self.snapshots: dict[int, bytes] = {0: self._snapshot()}
        self.divergences: dict[int, str] = {}  # trace step -> what differed

    def _on_step(self, record: StepRecord) -> None:
        self._record = record

    def _snapshot(self) -> bytes:
        # Compressed: a 6-agent snapshot is ~1 MB of mostly repeated graph keys.
        return zlib.compress(save_checkpoint(self.runtime, self.state), 1)

    @property
    def step(self) -> int:
        """Team steps replayed so far (the frame number)."""
        return int(self.state["team_step"])

    @property
    def length(self) -> int:
        """The last frame number: the trace's line count."""
        return len(self.lines)

    def forward(self) -> bool:
        """Replay one more trace line; False at the end of the trace or episode."""
        if self.step >= self.length or self.state.get("done"):
            return False
        line = self.lines[self.step]
        self.state = self.executor.step(self.state)
        record = self._record
        assert record is not None
        self._check(line, record)
        self.log.add_step(self.step, self.state.get("inboxes", {}), record.sent)
        if self.step % self.snapshot_every == 0 and self.step not in self.snapshots:
            self.snapshots[self.step] = self._snapshot()
        return True

    def _check(self, line: dict[str, Any], record: StepRecord) -> None:
        traced = {a: r.get("action") for a, r in line.get("agents", {}).items()}
        replayed = {a: r.get("action") for a, r in record.agents.items()}
        if traced != replayed:
            diffs = [f"{a}: trace {traced.get(a)!r}, replay {replayed.get(a)!r}"
                     for a in sorted(set(traced) | set(replayed)) if traced.get(a) !=
                     replayed.get(a)]
            self.divergences[record.step] = "; ".join(diffs)

    def goto(self, target: int) -> int:
        """Replay to frame `target` (clamped to 0..length); backwards restores the nearest
        earlier snapshot first. Returns the frame reached."""
        target = min(max(int(target), 0), self.length)
        if target < self.step:
            base = max(s for s in self.snapshots if s <= target)
            self.state = restore_checkpoint(self.runtime, zlib.decompress(self.snapshots[base]))
            self.log.rewind(base)
        while self.step < target and self.forward():
            pass
        return self.step

    def frame(self) -> Frame:
        """The frame at the current step, with the trace line's decision records."""
        step = self.step
        decisions = self.lines[step - 1].get("agents", {}) if step else {}
        diverged = [s for s in self.divergences if s < step]
        note = (f"replay diverges from the trace at step {min(diverged)}: "
                f"{self.divergences[min(diverged)]}") if diverged else ""
        return frame_from_runtime(self.runtime, self.state, decisions, self.log, note)

    def close(self) -> None:
        self.executor.close()
        self.runtime.close()
