"""Opening the memory stores of a run: one form of the memory settings (the scenario's
`MemoryConfig`) from the scenario file to `open_store`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from memsim.memory import AgentMemory, GraphStore, open_store
from memsim.sim.scenario import MemoryConfig


@dataclass
class MemoryStores:
    """Opens the memory stores of a run's episodes, by namespace.

    Embedded (networkx) graphs live in process memory, in `graphs`: one opener shared by
    the episodes of a run carries memory from one episode to the next when the scenario
    says so (``persist_across_episodes``); otherwise each store is cleared when opened."""

    config: MemoryConfig
    graphs: dict[str, Any] = field(default_factory=dict)
    # The server graph's epoch marker (FalkorDB) when memory persists across episodes: a
    # later episode's store checks it, so a server restarted between episodes is "memory
    # lost", not a silently empty memory.
    epoch: str | None = None

    def open(self, namespace: str) -> GraphStore:
        options: dict[str, Any] = dict(self.config.config)
        if self.config.backend == "networkx":
            options["graph_registry"] = self.graphs
        if self.config.persist_across_episodes and self.epoch is not None:
            options["epoch"] = self.epoch
        store = open_store(self.config.backend, namespace, **options)
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
