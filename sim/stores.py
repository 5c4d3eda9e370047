"""Opening the memory stores of a run: one form of the memory settings (the scenario's
`MemoryConfig`) from the scenario file to `open_store`.

Runs keep their memory: each run has a run id (`new_run_id`: UTC time and a random
suffix, or the scenario's ``[memory] run_id`` to reuse one on purpose) that is part of
every namespace it opens (`run_namespace`), so the only namespaces a run ever clears are
its own, and a second run of the same scenario and seed on the same server leaves the
first one's graph alone. ``memsim memory`` (sim/memory_cli.py) lists and deletes them.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from memsim.memory import AgentMemory, GraphStore, open_store
from memsim.memory.backends.mirrored import MirroredStore
from memsim.sim.scenario import MemoryConfig


def new_run_id() -> str:
    """A fresh run id: ``<UTC time>-<6 hex>``, e.g. ``20250301T120000Z-3fa9c1`` (sorts by
    time; the suffix keeps runs started in the same second apart)."""
    return f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def run_namespace(scenario: str, run_id: str, seed: int | None) -> str:
    """The namespace prefix of one episode's memories: ``<scenario>/<run id>/seed<N>``, or
    ``<scenario>/<run id>`` when memory persists across the run's episodes (seed None).
    Agents' namespaces add ``/<agent>``, the team graph ``/team``."""
    base = f"{scenario}/{run_id}"
    return base if seed is None else f"{base}/seed{seed}"


@dataclass
class MemoryStores:
    """Opens the memory stores of a run's episodes, by namespace.

    Embedded (networkx) graphs live in process memory, in `graphs`: one opener shared by
    the episodes of a run carries memory from one episode to the next when the scenario
    says so (``persist_across_episodes``); otherwise each store is cleared when opened
    (only this run's namespaces: `run_id` is part of each, see the module docstring)."""

    config: MemoryConfig
    graphs: dict[str, Any] = field(default_factory=dict)
    # The server graph's epoch marker (FalkorDB) when memory persists across episodes: a
    # later episode's store checks it, so a server restarted between episodes is "memory
    # lost", not a silently empty memory.
    epoch: str | None = None
    # This run's id: the scenario's `[memory] run_id`, else a new one.
    run_id: str = ""
    # How a store is opened: `open_store(backend, namespace, **options)`.
    opener: Callable[..., GraphStore] = open_store

    def __post_init__(self) -> None:
        self.run_id = self.run_id or self.config.run_id or new_run_id()

    def open(self, namespace: str) -> GraphStore:
        options: dict[str, Any] = dict(self.config.config)
        if self.config.backend == "networkx":
            options["graph_registry"] = self.graphs
        if self.config.persist_across_episodes and self.epoch is not None:
            options["epoch"] = self.epoch
        store = self.opener(self.config.backend, namespace, **options)
        if self.config.mirror and store.capabilities.remote:
            store = MirroredStore(store)
        if self.config.persist_across_episodes:
            self.epoch = getattr(store, "epoch", None)
        if not self.config.persist_across_episodes:
            store.clear()
        return store

    def memory(self, namespace: str, agent_id: str, world_id: str) -> AgentMemory:
        """An agent memory in `namespace`: fresh, or carried over from an earlier episode."""
        memory = AgentMemory(self.open(namespace), agent_id,
                             node_budget=self.config.node_budget,
                             chunk_size=self.config.chunk_size)
        if self.config.persist_across_episodes:
            memory.new_episode(world_id=world_id)
        return memory

    def record(self, out_dir: Path, scenario: str) -> Path:
        """Write ``memory.json`` to a run's output directory: the backend, the run id and
        the namespace prefix (what ``memsim memory show|delete`` take)."""
        path = Path(out_dir) / "memory.json"
        path.write_text(json.dumps({
            "backend": self.config.backend,
            "run_id": self.run_id,
            "namespace": run_namespace(scenario, self.run_id, None),
            "persist_across_episodes": self.config.persist_across_episodes,
        }, indent=2) + "\n")
        return path
