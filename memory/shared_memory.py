"""`SharedMemory`: the team graph, a separate namespace that agents publish to.

Isolation is structural: the team graph lives in its own store namespace, and an agent's
private memory lives in another, so nothing in this class can reach a private graph.
Everything published keeps `told_by:<agent>` provenance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from memsim.memory.agent_memory import AgentMemory
from memsim.memory.facts import Fact, check_name
from memsim.memory.recall import Recall, RetrievalQuery
from memsim.memory.sharing import ExportSelector
from memsim.memory.store import GraphStore

TEAM_AGENT_ID = "team"


class SharedMemory:
    """The team's knowledge graph over `team_store` (its own namespace).

    Several agents may hold a `SharedMemory` on the same team namespace, so node counts
    are read from the store rather than cached (`sole_writer=False`).
    """

    def __init__(
        self, team_store: GraphStore, *, node_budget: int | None = 50_000, **memory_config: Any
    ) -> None:
        self.store = team_store
        self.memory = AgentMemory(
            team_store, TEAM_AGENT_ID, node_budget=node_budget, sole_writer=False, **memory_config
        )

    @property
    def namespace(self) -> str:
        return self.store.namespace

    def publish(
        self,
        agent_id: str,
        facts_or_payload: Iterable[Fact | Mapping[str, Any]] | Mapping[str, Any],
        step: int,
    ) -> int:
        """Write an agent's facts (re-stamped `told_by:<agent_id>` unless already hearsay)
        or an `AgentMemory.export` payload into the team graph; returns facts written."""
        check_name(agent_id, "agent_id")
        if isinstance(facts_or_payload, Mapping):
            return self.memory.merge(facts_or_payload, step, sender=agent_id)
        facts = [
            (f if isinstance(f, Fact) else Fact.model_validate(f)).told_by(agent_id)
            for f in facts_or_payload
        ]
        self.memory.write(facts, step)
        return len(facts)

    def retrieve(self, query: RetrievalQuery | Mapping[str, Any], budget: int = 16) -> Recall:
        """Read the team graph (same query language as `AgentMemory.retrieve`)."""
        return self.memory.retrieve(query, budget)

    def export(self, selector: ExportSelector | Mapping[str, Any]) -> dict[str, Any]:
        """A payload of the team graph, for `AgentMemory.merge(payload, step, sender="team")`."""
        return self.memory.export(selector)

    def snapshot(self) -> dict[str, Any]:
        """Checkpoint of the team graph."""
        return self.memory.snapshot()

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Restore the team graph from `snapshot()`."""
        self.memory.restore(snapshot)
