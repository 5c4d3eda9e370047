"""Capacity-bounded forgetting: `ForgetPolicy`, the base importance of each node kind, and
`evict`, which picks the nodes a batch deletes to get back under budget."""

from __future__ import annotations

import math
from dataclasses import dataclass

from memsim.memory.schema import SchemaError
from memsim.memory.store import GraphStore
from memsim.memory.transaction import Tx

# Base importance by node kind (0..1), stored on each node; higher survives eviction longer.
IMPORTANCE = {
    "Agent": 1.0,
    "Recipe": 0.9,
    "kind": 0.9,
    "Goal": 0.6,
    "Subgoal": 0.5,
    "Chunk": 0.4,
    "station": 0.7,
    "Entity": 0.5,
    "Region": 0.3,
    "Message": 0.3,
    "Place": 0.2,
    "Event": 0.1,
    "Event!": 0.3,
    "Claim": 0.6,
    "Commitment": 0.6,
    "Avoid": 0.4,
}


@dataclass(frozen=True, slots=True)
class ForgetPolicy:
    """Capacity-bounded eviction: when over `node_budget`, evict down to
    `low_water * node_budget`. Closed facts and old events go first (tier 0), then places,
    regions, messages, chunk summaries and located entities (tier 1), then semantic
    knowledge (tier 2); within a tier the lowest score goes first, where
    score = w_importance * importance + w_recency * last_step / step + w_uses * log1p(uses).
    """

    node_budget: int
    low_water: float = 0.8
    w_importance: float = 1.0
    w_recency: float = 1.0
    w_uses: float = 0.5

    def __post_init__(self) -> None:
        if not isinstance(self.node_budget, int) or self.node_budget < 1:
            raise SchemaError(f"node_budget must be an int >= 1, got {self.node_budget!r}")
        if not 0.0 < self.low_water <= 1.0:
            raise SchemaError(f"low_water must be in (0, 1], got {self.low_water!r}")


def evict(
    tx: Tx, store: GraphStore, self_id: str, policy: ForgetPolicy, projected: int, step: int
) -> int:
    """Add to `tx.delete_nodes` the lowest-scored nodes that bring `projected` (the node
    count once `tx` is written) down to the low-water mark; returns how many.

    Never evicted: the agent's own node, its goal path (goal, subgoal, current chunk and
    that chunk's events), and every node the batch writes or links."""
    if projected <= policy.node_budget:
        return 0
    target = min(projected, int(policy.node_budget * policy.low_water))
    excess = projected - target
    if excess <= 0:
        return 0
    me = tx.node(self_id) or {}
    current_chunk = me.get("current_chunk")
    protected = {
        self_id,
        me.get("current_goal"),
        me.get("current_subgoal"),
        current_chunk,
        *tx.nodes,
    }
    # endpoints of edges this batch writes must survive it, or the edge would be lost
    for src, _, dst in tx.edges:
        protected.update((src, dst))
    scored: list[tuple[int, float, str]] = []
    horizon = max(step, 1)
    for rec in store.query():
        if rec.id in protected:
            continue
        p = rec.props
        if rec.label == "Event" and p.get("chunk") == current_chunk:
            continue
        if rec.label == "Event" or (
                rec.label in ("Entity", "Claim", "Commitment") and "valid_to" in p) or (
                rec.label == "Avoid" and p.get("until", 0) < step):
            tier = 0
        elif rec.label in ("Recipe", "Agent") or (
            rec.label == "Entity" and not p.get("instance")
        ):
            tier = 2
        else:
            tier = 1
        score = (
            policy.w_importance * p.get("importance", 0.5)
            + policy.w_recency * p.get("last_step", 0) / horizon
            + policy.w_uses * math.log1p(p.get("uses", 0))
        )
        scored.append((tier, score, rec.id))
    scored.sort()
    victims = [node_id for _, _, node_id in scored[:excess]]
    tx.delete_nodes.extend(victims)
    return len(victims)
