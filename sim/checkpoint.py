"""Checkpoints: stop an episode and resume it with the same trajectory.

A checkpoint holds the team-step state (the same dict the LangGraph team graph carries
between steps), the environment snapshot, every agent's memory snapshot (through the
store's own snapshot, so it works for any backend), policy and perception state, the
comm channel's snapshot (pending messages, counters, rng) and the team memory.
It is a pickle: load only checkpoints you wrote.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from memsim.sim.team import TeamRuntime, TeamState

CHECKPOINT_VERSION = 1


def save_checkpoint(runtime: TeamRuntime, state: TeamState, path: str | Path | None = None,
                    meta: dict[str, Any] | None = None) -> bytes:
    """Serialise the episode at a step boundary; also write it to `path` if given.
    `meta` (e.g. scenario name and seed) is stored alongside, see `checkpoint_meta`."""
    payload: dict[str, Any] = {
        "version": CHECKPOINT_VERSION,
        "meta": dict(meta or {}),
        "state": dict(state),
        "env": runtime.env.snapshot(),
        "comm": runtime.comm.snapshot(),
        "shared": runtime.shared.snapshot() if runtime.shared is not None else None,
        "agents": {
            agent_id: {
                "policy": agent.policy,
                "perception": agent.perception,
                "pending_notes": agent.pending_notes,
                "memory": agent.memory.snapshot() if agent.memory is not None else None,
            }
            for agent_id, agent in runtime.agents.items()
        },
    }
    blob = pickle.dumps(payload)
    if path is not None:
        # Write then rename, so a crash mid-write never leaves a truncated checkpoint.
        tmp = Path(path).with_suffix(".tmp")
        tmp.write_bytes(blob)
        tmp.replace(path)
    return blob


def checkpoint_meta(blob: bytes | str | Path) -> dict[str, Any]:
    """The `meta` a checkpoint was saved with (plus its team step)."""
    payload = _load(blob)
    return {**payload.get("meta", {}), "step": payload["state"]["team_step"]}


def _load(blob: bytes | str | Path) -> dict[str, Any]:
    if not isinstance(blob, bytes):
        try:
            blob = Path(blob).read_bytes()
        except OSError as error:
            raise ValueError(f"checkpoint {str(blob)!r} cannot be read: {error}") from error
    try:
        payload = pickle.loads(blob)
    except Exception as error:
        raise ValueError(f"checkpoint is not a memsim checkpoint: {error}") from error
    if not isinstance(payload, dict) or payload.get("version") != CHECKPOINT_VERSION:
        raise ValueError("checkpoint version is not supported; "
                         f"expected {CHECKPOINT_VERSION}")
    return payload


def restore_checkpoint(runtime: TeamRuntime, blob: bytes | str | Path) -> TeamState:
    """Put a freshly built runtime (same scenario and seed) into the checkpointed state;
    returns the team state to continue from."""
    payload = _load(blob)
    if set(payload["agents"]) != set(runtime.agents):
        raise ValueError("checkpoint: its agents differ from this runtime's agents")
    runtime.env.restore(payload["env"])
    runtime.comm.restore(payload["comm"])
    if runtime.shared is not None and payload["shared"] is not None:
        runtime.shared.restore(payload["shared"])
    for agent_id, saved in payload["agents"].items():
        agent = runtime.agents[agent_id]
        agent.policy = saved["policy"]
        agent.perception = saved["perception"]
        agent.pending_notes = saved["pending_notes"]
        if agent.memory is not None and saved["memory"] is not None:
            agent.memory.restore(saved["memory"])
    return payload["state"]  # type: ignore[return-value]
