"""Replay a recorded episode from its trace: the recorded actions, no policy.

A trace (`trace-seed<N>.jsonl`) holds each step's decisions: per agent the action, its
reason, the memory notes it wrote and the nodes it retrieved, and per step the messages
sent. The replayer rebuilds the episode's world, channel and memories from the scenario
recorded next to it (`scenario.json` in the run directory) and the trace's seed, with a
stand-in policy (`TracePolicy`) that never decides: no model, endpoint or RL weights are
loaded. Each step then runs the agents' own perception and memory writes on the
re-simulated observations (the same node functions as a run: perceive, read inbox,
remember), hands the recorded decision (action, messages, memory notes) to the `decide`
node, and steps the environment and channel with it.

What is checked: every step's re-simulated outcome against the trace line (each agent's
`ok`, `env_reason` and `events`, the messages it read, each send's acceptance and id,
the team's rewards and unlocks). A difference is recorded in `divergences` (first one
shown on the frame); the replay goes on with the recorded actions.

What the memory panel shows: each agent's memory as the replay rebuilds it, which is
the run's memory: the same perception of the same world, the same messages delivered by
the same seeded channel, the same memory notes, and the retrieved nodes' use counts
bumped from the trace's `retrieved` ids. A trace written before messages and notes were
recorded (`legacy`) replays the world exactly, but its memories hold perception only.

A trace that starts at step S > 0 (a run resumed from a checkpoint into a directory
without the earlier steps) replays from the checkpoint it was resumed from
(`checkpoint-seed<N>-step<S>.pkl` beside it, which `run_episode` keeps, or the
directory's `checkpoint-seed<N>.pkl` if it is at step S); frames S..S+lines.

Going back restores the nearest earlier snapshot (a `sim.checkpoint` blob of the env,
every memory and the channel, kept every `snapshot_every` steps) and steps forward.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from memsim.agents.policy import AgentContext, Decision
from memsim.agents.step import decide, perceive, read_inbox, remember
from memsim.memory import Fact
from memsim.sim.checkpoint import checkpoint_meta, restore_checkpoint, save_checkpoint
from memsim.sim.episode import build_scenario_team, checkpoint_path, start_checkpoint_path
from memsim.sim.output import read_trace, to_jsonable
from memsim.sim.scenario import Scenario, ScenarioError, validate_scenario
from memsim.sim.team import StepRecord, TeamRuntime, TeamState, agent_input, env_step
from memsim.viz.frame import Frame, MessageLog, frame_from_runtime

_SEED = re.compile(r"trace-seed(\d+)\.jsonl$")
# Per-agent outcome fields compared with the trace (when the trace has them).
CHECKED_FIELDS: tuple[str, ...] = ("action", "ok", "env_reason", "events", "messages_read")


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


class TracePolicy:
    """The policy of a replayed agent: it retrieves nothing and never decides (the
    replayer hands the recorded decision to the `decide` node). `policy` is the name of
    the policy the run used, for display."""

    name = "replay"
    wants_text = False

    def __init__(self, policy: str = "") -> None:
        self.policy = policy

    def reset(self, agent_id: str, seed: int, action_names: tuple[str, ...]) -> None:
        """Nothing to reset."""

    def recall_query(self, context: AgentContext) -> None:
        return None

    def decide(self, context: AgentContext) -> Decision:
        raise RuntimeError("a replayed agent does not decide: its decisions are the trace's")


def _plain(value: Any) -> Any:
    """`value` as the trace's JSON holds it (for comparing with a trace line)."""
    return json.loads(json.dumps(value, default=to_jsonable))


def find_start_checkpoint(trace: Path, seed: int, step: int) -> Path:
    """The checkpoint a trace starting at `step` was resumed from (see module docstring);
    ValueError naming the file to put there if there is none."""
    directory = Path(trace).parent
    start = start_checkpoint_path(directory, seed, step)
    if start.is_file():
        return start
    latest = checkpoint_path(directory, seed)
    if latest.is_file():
        try:
            if checkpoint_meta(latest).get("step") == step:
                return latest
        except ValueError:
            pass
    raise ValueError(f"{trace}: the trace starts at step {step} (a resumed run); replay "
                     f"needs the checkpoint it was resumed from, {start.name} beside it "
                     "(copy the checkpoint the run was resumed with there)")


class Replayer:
    """Steps a replay of a traced episode to any frame in `start`..`length` (frame N is
    the world after N team steps)."""

    def __init__(self, trace: str | Path, *, scenario: Scenario | None = None,
                 seed: int | None = None, snapshot_every: int = 50, log_keep: int = 60) -> None:
        if snapshot_every < 1:
            raise ValueError(f"snapshot_every must be >= 1, got {snapshot_every}")
        self.trace_path = Path(trace)
        if not self.trace_path.is_file():
            raise ValueError(f"trace {str(trace)!r}: no such file")
        self.lines = list(read_trace(self.trace_path))
        first = self.lines[0].get("step") if self.lines else 0
        if not isinstance(first, int) or first < 0:
            raise ValueError(f"{self.trace_path}: line 1 has step {first!r}, expected a "
                             "step number")
        for i, line in enumerate(self.lines):
            if line.get("step") != first + i:
                raise ValueError(f"{self.trace_path}: line {i + 1} has step "
                                 f"{line.get('step')!r}, expected {first + i} (a trace of one "
                                 "episode, its steps in order)")
        self.start = first
        self.scenario = scenario or trace_scenario(self.trace_path)
        self.seed = trace_seed(self.trace_path) if seed is None else seed
        self.snapshot_every = snapshot_every
        self._record: StepRecord | None = None
        self.runtime: TeamRuntime
        self.runtime, self.state = build_scenario_team(
            self.scenario, self.seed, self._on_step, render_mode="rgb_array",
            policy_factory=lambda agent_id, policy: TracePolicy(policy))
        try:
            if first > 0:
                self._restore_start(find_start_checkpoint(self.trace_path, self.seed, first))
        except BaseException:
            self.runtime.close()
            raise
        self.legacy = any("message" not in sent for line in self.lines
                          for sent in line.get("comm", {}).get("sent", []))
        self.log = MessageLog(log_keep)
        self.snapshots: dict[int, bytes] = {first: self._snapshot()}
        self.divergences: dict[int, str] = {}  # trace step -> what differed
        self._missing: list[str] = []  # this step's live agents without a trace record

    def _restore_start(self, path: Path) -> None:
        meta = checkpoint_meta(path)
        if (meta.get("scenario"), meta.get("seed")) != (self.scenario.name, self.seed):
            raise ValueError(f"{path}: a checkpoint of scenario {meta.get('scenario')!r} "
                             f"seed {meta.get('seed')}, not {self.scenario.name!r} seed "
                             f"{self.seed}")
        self.state = restore_checkpoint(self.runtime, path)
        for agent in self.runtime.agents.values():  # the checkpoint holds the run's policies
            agent.policy = TracePolicy(getattr(agent.policy, "name", ""))

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
        """The last frame number: the trace's first step plus its line count."""
        return self.start + len(self.lines)

    @property
    def memory_note(self) -> str:
        """What the memory panel shows in this replay, when it is not the run's memory."""
        if self.legacy:
            return ("an older trace without messages and memory notes: memories show "
                    "perception only")
        return ""

    # -- stepping -------------------------------------------------------------------------

    def forward(self) -> bool:
        """Replay one more trace line; False at the end of the trace or episode."""
        if self.step >= self.length or self.state.get("done"):
            return False
        line = self.lines[self.step - self.start]
        self._record = None
        self.state = self._play(line)
        record = self._record
        assert record is not None
        self._check(line, record)
        self.log.add_step(self.step, self.state.get("inboxes", {}), record.sent)
        if self.step % self.snapshot_every == 0 and self.step not in self.snapshots:
            self.snapshots[self.step] = self._snapshot()
        return True

    def _play(self, line: Mapping[str, Any]) -> TeamState:
        """One team step with the line's decisions: each live agent perceives, reads its
        inbox and remembers as in the run, then the recorded decision is acted."""
        state = self.state
        traced = line.get("agents", {})
        sent = line.get("comm", {}).get("sent", [])
        decisions: dict[str, dict[str, Any]] = {}
        for agent_id in state["live"]:
            agent = self.runtime.agents[agent_id]
            current: dict[str, Any] = dict(agent_input(state, agent_id))
            for node in (perceive, read_inbox, remember):
                current.update({k: v for k, v in node(agent, current).items()  # type: ignore[arg-type]
                                if k != "visited"})
            record = traced.get(agent_id)
            if record is None:
                self._missing.append(f"{agent_id}: live in the replay, not in the trace "
                                     "(it does nothing)")
                names = self.runtime.env.action_names
                record = {"action_id": names.index("noop") if "noop" in names else 0}
            retrieved = [str(i) for i in record.get("retrieved", [])]
            if agent.memory is not None and retrieved:
                # The run's retrieval bumped these nodes' use counts (they steer
                # forgetting); AgentMemory keeps them pending until its next write.
                agent.memory._pending_uses.update(retrieved)
            current["recall"] = None
            decision = Decision(
                action=self._action_id(record),
                messages=[s["message"] for s in sent
                          if s.get("from") == agent_id and "message" in s],
                memory_notes=[Fact.model_validate(n) for n in record.get("notes", [])],
                reason=str(record.get("reason", "")),
            )
            out = decide(agent, current, decision)  # type: ignore[arg-type]
            decisions[agent_id] = {**out["decisions"][agent_id], "retrieved": retrieved}
        return env_step(self.runtime, {**state, "decisions": decisions})

    def _action_id(self, record: Mapping[str, Any]) -> int:
        names = self.runtime.env.action_names
        action_id = record.get("action_id")
        if isinstance(action_id, int) and 0 <= action_id < len(names):
            return action_id
        name = record.get("action")
        if name in names:
            return names.index(name)
        raise ValueError(f"{self.trace_path}: action {name!r} (id {action_id!r}) is not an "
                         f"action of this world; allowed: {', '.join(names)}")

    def _check(self, line: Mapping[str, Any], record: StepRecord) -> None:
        """Compare the replayed step with the trace line (fields the line has)."""
        step = int(line["step"])
        traced, replayed = line.get("agents", {}), _plain(record.agents)
        diffs, self._missing = self._missing, []
        for agent in sorted(set(traced) | set(replayed)):
            t, r = traced.get(agent), replayed.get(agent)
            if t is None or r is None:
                if r is None:
                    diffs.append(f"{agent}: in the trace, done in the replay")
                continue
            for key in CHECKED_FIELDS:
                if key == "messages_read" and self.legacy:
                    continue  # an older trace's messages are not re-sent: none are read
                if key in t and t[key] != r.get(key):
                    diffs.append(f"{agent} {key}: trace {t[key]!r}, replay {r.get(key)!r}")
        team = line.get("team", {})
        if "unlocked" in team and team["unlocked"] != _plain(record.unlocked):
            diffs.append(f"unlocked: trace {team['unlocked']!r}, replay "
                         f"{_plain(record.unlocked)!r}")
        if not self.legacy:
            traced_sent = [(s.get("from"), s.get("accepted"), s.get("msg_id"))
                           for s in line.get("comm", {}).get("sent", [])]
            replayed_sent = [(s["from"], s["accepted"], s["msg_id"]) for s in record.sent]
            if traced_sent != replayed_sent:
                diffs.append(f"sent: trace {traced_sent}, replay {replayed_sent}")
        if diffs:
            self.divergences[step] = "; ".join(diffs)

    def goto(self, target: int) -> int:
        """Replay to frame `target` (clamped to start..length); backwards restores the
        nearest earlier snapshot first. Returns the frame reached."""
        target = min(max(int(target), self.start), self.length)
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
        decisions = self.lines[step - 1 - self.start].get("agents", {}) \
            if step > self.start else {}
        diverged = [s for s in self.divergences if s < step]
        note = (f"replay diverges from the trace at step {min(diverged)}: "
                f"{self.divergences[min(diverged)]}") if diverged else ""
        frame = frame_from_runtime(self.runtime, self.state, decisions, self.log, note)
        frame.memory_note = self.memory_note
        return frame

    def close(self) -> None:
        self.runtime.close()
