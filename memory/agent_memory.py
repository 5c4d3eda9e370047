"""`AgentMemory`: one agent's hierarchical knowledge graph over any `GraphStore`.

Data model (node ids are local to the agent's namespace):

- episodic: `Goal` -HAS_SUBGOAL-> `Subgoal` -HAS_CHUNK-> `Chunk` -HAS_EVENT-> `Event`;
  goals, subgoals, chunks and events are each chained in time order by NEXT. A chunk is
  consolidated (a summary text plus counts on the Chunk node) after `chunk_size` events
  or when its subgoal / goal ends, so retrieval reads summaries before events.
- semantic: entity instances `ent:<kind>@x,y` (or `ent:<entity_id>` for movers)
  -LOCATED_AT-> `Place` -PART_OF-> `Region`; entity kinds `kind:<name>`; `Recipe`
  -REQUIRES/PRODUCES/NEEDS_NEARBY-> kinds; `Agent` -HOLDS-> kinds; `Message` -TOLD_BY->
  `Agent`. Facts carry `valid_from` / `valid_to`, `provenance` and `confidence`; a fact
  that stops being true gets `valid_to` (it is not deleted).
- the agent's own `Agent` node holds the cursor (current goal / subgoal / chunk, recent
  failure chunks, recent hearsay), so the state lives in the store and snapshots with it.

Every `write` makes exactly one `store.write(batch)` call (plus batched reads); it is
idempotent, so replaying the same facts at the same step changes nothing. Independent
reads go together through `read_many` where the store has it (the Cypher backends), and
prefetch hints from the last commit guess the dependent ones, so on FalkorDB a steady
agent-step (write + retrieve) is three round trips: read + write, read.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from memsim.memory.facts import Fact, check_name
from memsim.memory.recall import (
    EventRecord,
    GoalRecord,
    HolderRecord,
    NeedRecord,
    PlaceRecord,
    Recall,
    RecipeRecord,
    ReportRecord,
    RetrievalQuery,
    SummaryRecord,
)
from memsim.memory.schema import SchemaError, check_node
from memsim.memory.store import BatchedReads, EdgeRecord, GraphStore, NodeRecord, WriteBatch

PAYLOAD_FORMAT = "memsim.memory/1"
_RECENT_FAILS = 8
_RECENT_TOLD = 32
_USE_FLUSH = 256  # pending use-count bumps that force a flush into the next write
# Agent-node properties that point at the current episodic path.
_CURSOR = (
    "current_goal",
    "current_subgoal",
    "current_chunk",
    "last_chunk",
    "last_goal",
    "last_subgoal",
)
# Base importance by node kind (0..1); higher survives eviction longer.
_IMPORTANCE = {
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
}
# Bookkeeping props that stay local (not exported to teammates).
_LOCAL_PROPS = ("uses", "importance", "last_step")


class PayloadTooLarge(SchemaError):
    """An export/merge payload exceeds the configured node or byte limit."""


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


class ExportSelector(BaseModel):
    """Which semantic subgraph `AgentMemory.export` sends.

    `kinds`: located entity instances of these kinds; `recipes`: all known recipes;
    `holders`: agent ids whose holdings to include (`"self"` means this agent);
    `include_closed`: also send facts that are no longer valid.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kinds: tuple[str, ...] = ()
    recipes: bool = False
    holders: tuple[str, ...] = ()
    include_closed: bool = False
    max_per_kind: int = Field(default=64, ge=1, le=4096)


def _digest(fact: Fact) -> str:
    """A stable short hash of a fact: event / message ids, so replays are idempotent."""
    return hashlib.blake2b(fact.model_dump_json().encode(), digest_size=6).hexdigest()


def _agent(name: str) -> str:
    return f"agent:{name}"


def _kind(name: str) -> str:
    return f"kind:{name}"


def _place(x: int, y: int) -> str:
    return f"place:{x},{y}"


def _read_many(store: GraphStore, calls: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Any]:
    """Independent reads, each a `GraphStore` read method's name and keyword arguments.
    Stores that batch reads (`read_many`, the Cypher backends: one round trip) take them
    all at once; others get one call after another."""
    if store.capabilities.batched_reads:
        return cast(BatchedReads, store).read_many(calls)
    return [getattr(store, name)(**kwargs) for name, kwargs in calls]


def _edges_at(node_id: str, edge_type: str, direction: str) -> dict[str, Any]:
    """Keyword arguments of a `neighbors` read."""
    return {"node_id": node_id, "edge_type": edge_type, "direction": direction}


class _Tx:
    """The pending batch of one memory operation, with a read-through overlay so later
    facts in the same call see earlier ones. Reads go to the store (batched in `load`)."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self.view: dict[str, dict[str, Any] | None] = {}
        self.labels: dict[str, str] = {}
        self.nodes: dict[str, dict[str, Any]] = {}
        self.edges: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.delete_edges: list[tuple[str, str, str]] = []
        self.delete_nodes: list[str] = []
        self.created: set[str] = set()
        self.holds: dict[str, dict[str, dict[str, Any]]] = {}
        self.digests: dict[int, str] = {}  # id(fact) -> _digest(fact), facts live for the call

    def digest(self, fact: Fact) -> str:
        found = self.digests.get(id(fact))
        if found is None:
            found = self.digests[id(fact)] = _digest(fact)
        return found

    def load(self, ids: Iterable[str], holders: Iterable[str] = ()) -> None:
        """Read these nodes, and these agents' HOLDS edges, in one batched read."""
        want = [i for i in dict.fromkeys(ids) if i not in self.view]
        agents = [a for a in dict.fromkeys(holders) if a not in self.holds]
        if not want and not agents:
            return
        calls = [("get", {"node_ids": want})] if want else []
        calls += [("neighbors", _edges_at(a, "HOLDS", "out")) for a in agents]
        results = _read_many(self.store, calls)
        for agent_node, held in zip(agents, results[len(results) - len(agents) :], strict=True):
            # nothing is created before the first load, so these are the stored holdings
            self.holds[agent_node] = {e.dst: dict(e.props) for e, _ in held}
        if not want:
            return
        found = {r.id: r for r in results[0]}
        for node_id in want:
            rec = found.get(node_id)
            # records are fresh copies, so the overlay may own their props dicts
            self.view[node_id] = None if rec is None else rec.props
            if rec is not None:
                self.labels[node_id] = rec.label

    def node(self, node_id: str | None) -> dict[str, Any] | None:
        if node_id is None:
            return None
        if node_id not in self.view:
            self.load([node_id])
        return self.view[node_id]

    def put(self, node_id: str, label: str, props: Mapping[str, Any]) -> None:
        """Upsert only the properties that change (keeps repeated writes no-ops)."""
        current = self.node(node_id)
        if current is None:
            current = {}
            self.view[node_id] = current
            self.labels[node_id] = label
            self.created.add(node_id)
            self.nodes[node_id] = {}
        delta: dict[str, Any] = {}
        for key, value in props.items():
            if value is None:
                if key in current:
                    delta[key] = None
            elif key not in current or current[key] != value:
                delta[key] = value
        if not delta and node_id not in self.created:
            return
        self.nodes.setdefault(node_id, {}).update(delta)
        for k, v in delta.items():
            if v is None:
                current.pop(k, None)
            else:
                current[k] = v

    def edge(self, src: str, etype: str, dst: str, props: Mapping[str, Any] | None = None) -> None:
        self.edges.setdefault((src, etype, dst), {}).update(props or {})

    def holdings(self, agent_node: str) -> dict[str, dict[str, Any]]:
        """kind node id -> HOLDS edge props for one agent (read once per call)."""
        if agent_node not in self.holds:
            self.holds[agent_node] = (
                {e.dst: dict(e.props) for e, _ in self.store.neighbors(agent_node, "HOLDS", "out")}
                if agent_node not in self.created
                else {}
            )
        return self.holds[agent_node]

    def batch(self) -> WriteBatch:
        deleted = set(self.delete_nodes)
        return WriteBatch(
            nodes=[NodeRecord(i, self.labels[i], p) for i, p in self.nodes.items()],
            edges=[
                EdgeRecord(s, t, d, p)
                for (s, t, d), p in self.edges.items()
                if s not in deleted and d not in deleted
            ],
            delete_edges=self.delete_edges,
            delete_nodes=self.delete_nodes,
        )


class _Reader:
    """Per-retrieval read cache: gathers node reads into as few `store.get` calls as
    possible (each is a round trip on a server backend)."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self.recs: dict[str, NodeRecord | None] = {}

    def fetch(self, ids: Iterable[str]) -> None:
        want = [i for i in dict.fromkeys(ids) if i not in self.recs]
        if want:
            self.fill(want, self.store.get(want))

    def fill(self, asked: Sequence[str], found: Iterable[NodeRecord]) -> None:
        """Record the answer of a `get(asked)` made elsewhere (absent ids are None)."""
        by_id = {r.id: r for r in found}
        for node_id in asked:
            self.recs[node_id] = by_id.get(node_id)

    def many(self, ids: Sequence[str]) -> list[NodeRecord]:
        self.fetch(ids)
        return [r for r in (self.recs[i] for i in ids) if r is not None]


class _SpatialIndex:
    """In-process index of currently valid located entities: kind -> block -> {id: (x, y)}.

    Kept by a sole-writer memory from its own writes (rebuilt from the store on open,
    restore and new episode), so `nearest` needs no store round trip per block."""

    def __init__(self, block: int) -> None:
        self.block = block
        self.kinds: dict[str, dict[tuple[int, int], dict[str, tuple[int, int]]]] = {}
        self.where: dict[str, tuple[str, tuple[int, int]]] = {}
        # per-kind block bounds; never shrunk on removal (only limits the ring search)
        self.bounds: dict[str, list[int]] = {}
        self.cells: dict[tuple[int, int], dict[str, tuple[int, int]]] = {}

    def add(self, node_id: str, kind: str, x: int, y: int) -> None:
        self.remove(node_id)
        key = (x // self.block, y // self.block)
        self.kinds.setdefault(kind, {}).setdefault(key, {})[node_id] = (x, y)
        self.where[node_id] = (kind, key)
        self.cells.setdefault(key, {})[node_id] = (x, y)
        b = self.bounds.setdefault(kind, [key[0], key[0], key[1], key[1]])
        b[:] = min(b[0], key[0]), max(b[1], key[0]), min(b[2], key[1]), max(b[3], key[1])

    def remove(self, node_id: str) -> None:
        found = self.where.pop(node_id, None)
        if found is None:
            return
        kind, key = found
        blocks = self.kinds[kind]
        del blocks[key][node_id]
        if not blocks[key]:
            del blocks[key]
        del self.cells[key][node_id]
        if not self.cells[key]:
            del self.cells[key]

    def position(self, node_id: str) -> tuple[int, int] | None:
        """The cell of a valid located entity, or None if the index does not hold it."""
        found = self.where.get(node_id)
        return None if found is None else self.cells[found[1]][node_id]

    def sync(self, node_id: str, props: Mapping[str, Any] | None) -> None:
        """Mirror one Entity node's current state (None = deleted)."""
        if props is None or not props.get("instance") or "valid_to" in props:
            self.remove(node_id)
            return
        x, y = props["x"], props["y"]
        found = self.where.get(node_id)
        # most syncs are re-sightings of something already indexed at the same cell
        if found is None or self.cells[found[1]][node_id] != (x, y):
            self.add(node_id, props["kind"], x, y)

    def within(self, x0: int, y0: int, x1: int, y1: int) -> list[str]:
        """Ids of valid located entities inside the rectangle (corners inclusive)."""
        b = self.block
        out = []
        for bx in range(x0 // b, x1 // b + 1):
            for by in range(y0 // b, y1 // b + 1):
                for nid, (x, y) in self.cells.get((bx, by), {}).items():
                    if x0 <= x <= x1 and y0 <= y <= y1:
                        out.append(nid)
        return sorted(out)

    def nearest(self, kind: str, x0: int, y0: int, k: int) -> list[tuple[int, int, int, str]]:
        """Up to k (distance, y, x, id), Manhattan distance, ties by (y, x, id): ring search
        over blocks, stopping once no farther ring can beat the k-th best."""
        blocks = self.kinds.get(kind)
        if not blocks:
            return []
        found: list[tuple[int, int, int, str]] = []
        if len(blocks) <= 16:  # few blocks hold this kind: visit them all
            for members in blocks.values():
                found.extend(
                    (abs(x - x0) + abs(y - y0), y, x, nid) for nid, (x, y) in members.items()
                )
            found.sort()
            return found[:k]
        size = self.block
        bx0, by0 = x0 // size, y0 // size
        b = self.bounds[kind]
        max_ring = max(bx0 - b[0], b[1] - bx0, by0 - b[2], b[3] - by0)
        ox, oy = x0 - bx0 * size, y0 - by0 * size
        edge = min(ox + 1, size - ox, oy + 1, size - oy)
        for ring in range(max_ring + 1):
            if len(found) >= k and found[k - 1][0] < edge + (ring - 1) * size:
                break
            for bx in range(bx0 - ring, bx0 + ring + 1):
                step = 1 if abs(bx - bx0) == ring else 2 * ring  # only the ring's border
                for by in range(by0 - ring, by0 + ring + 1, max(step, 1)):
                    members = blocks.get((bx, by))
                    if members:
                        found.extend(
                            (abs(x - x0) + abs(y - y0), y, x, nid)
                            for nid, (x, y) in members.items()
                        )
            found.sort()
        return found[:k]


class AgentMemory:
    """Hierarchical knowledge-graph memory of one agent (see module docstring).

    `sole_writer=True` (the default, right for a private namespace) lets the memory keep
    its node count locally; set it False when several writers share the namespace.
    """

    def __init__(
        self,
        store: GraphStore,
        agent_id: str,
        *,
        node_budget: int | None = 10_000,
        chunk_size: int = 16,
        region_size: int = 8,
        forget_policy: ForgetPolicy | None = None,
        max_payload_nodes: int = 512,
        max_payload_bytes: int = 256_000,
        sole_writer: bool = True,
        prefetch: bool | None = None,
    ) -> None:
        check_name(agent_id, "agent_id")
        if not isinstance(chunk_size, int) or not 1 <= chunk_size <= 256:
            # 256: a chunk lists its failed events in one property (the schema's list cap)
            raise SchemaError(f"chunk_size must be an int in [1, 256], got {chunk_size!r}")
        if not isinstance(region_size, int) or region_size < 1:
            raise SchemaError(f"region_size must be an int >= 1, got {region_size!r}")
        if forget_policy is None and node_budget is not None:
            forget_policy = ForgetPolicy(node_budget=node_budget)
        if forget_policy is not None and forget_policy.node_budget < chunk_size + 16:
            raise SchemaError(
                f"node_budget {forget_policy.node_budget} must be >= chunk_size + 16 "
                f"({chunk_size + 16}) so the current goal path always fits"
            )
        self.store = store
        self.agent_id = agent_id
        self.chunk_size = chunk_size
        self.region_size = region_size
        self.forget_policy = forget_policy
        self.max_payload_nodes = max_payload_nodes
        self.max_payload_bytes = max_payload_bytes
        self.sole_writer = sole_writer
        # Speculative batched reads pay off on server backends (round trips), not in process.
        self.prefetch = store.capabilities.remote if prefetch is None else prefetch
        self.self_id = _agent(agent_id)
        self._pending_uses: Counter[str] = Counter()
        # Prefetch hints from the last commit: they only choose what to read early (in
        # the same round trip); what memory uses is always what the store returns.
        self._hint: dict[str, Any] = {}  # own Agent node's props
        self._hint_next: list[str] = []  # ids the next write's event will look at
        self._hint_fails: dict[str, list[str]] = {}  # recent failure chunk -> failed events
        if not store.get([self.self_id]):
            store.upsert_nodes(
                [NodeRecord(self.self_id, "Agent", self._agent_props(agent_id, True))]
            )
        self._count = store.count()
        self._base = self._read_base()
        self._spatial: _SpatialIndex | None = None
        self._reindex()

    def _reindex(self) -> None:
        """Rebuild the in-process spatial index (sole writers only)."""
        if not self.sole_writer:
            return
        self._spatial = _SpatialIndex(max(2, self.region_size // 2))
        for rec in self.store.query("Entity", {"instance": True}, missing=["valid_to"]):
            self._spatial.add(rec.id, rec.props["kind"], rec.props["x"], rec.props["y"])

    def _read_base(self) -> int:
        me = self.store.get([self.self_id])
        return me[0].props.get("step_base", 0) if me else 0

    # -- helpers ----------------------------------------------------------------------

    @staticmethod
    def _agent_props(name: str, is_self: bool) -> dict[str, Any]:
        return {
            "name": name,
            "is_self": is_self,
            "importance": 1.0,
            "uses": 0,
            "last_step": 0,
            "recent_fails": [],
            "recent_told": [],
        }

    def _time(self, fact: Fact, step: int) -> int:
        """Global time of a fact: `step` is already global; `observed_step` is episode-local."""
        return step if fact.observed_step is None else self._base + fact.observed_step

    def _region(self, x: int, y: int) -> tuple[int, int]:
        return x // self.region_size, y // self.region_size

    def _node_count(self) -> int:
        return self._count if self.sole_writer else self.store.count()

    def _ensure_agent(self, tx: _Tx, name: str, step: int) -> str:
        node_id = _agent(name)
        if tx.node(node_id) is None:
            tx.put(node_id, "Agent", {**self._agent_props(name, False), "last_step": step})
        return node_id

    def _ensure_kind(self, tx: _Tx, name: str, category: str, step: int) -> str:
        node_id = _kind(name)
        if tx.node(node_id) is None:
            tx.put(
                node_id,
                "Entity",
                {
                    "kind": name,
                    "category": category,
                    "instance": False,
                    "importance": _IMPORTANCE["kind"],
                    "uses": 0,
                    "last_step": step,
                },
            )
        return node_id

    def _ensure_place(self, tx: _Tx, x: int, y: int, step: int) -> str:
        pid = _place(x, y)
        rx, ry = self._region(x, y)
        if tx.node(pid) is None:
            tx.put(
                pid,
                "Place",
                {
                    "x": x,
                    "y": y,
                    "region": f"{rx},{ry}",
                    "last_step": step,
                    "importance": _IMPORTANCE["Place"],
                    "uses": 0,
                },
            )
            rid = f"region:{rx},{ry}"
            if tx.node(rid) is None:
                tx.put(
                    rid,
                    "Region",
                    {
                        "rx": rx,
                        "ry": ry,
                        "size": self.region_size,
                        "last_step": step,
                        "importance": _IMPORTANCE["Region"],
                        "uses": 0,
                    },
                )
                me = tx.node(self.self_id) or {}
                bounds = {
                    "rx_min": min(rx, me.get("rx_min", rx)),
                    "rx_max": max(rx, me.get("rx_max", rx)),
                    "ry_min": min(ry, me.get("ry_min", ry)),
                    "ry_max": max(ry, me.get("ry_max", ry)),
                }
                tx.put(self.self_id, "Agent", bounds)
            tx.edge(pid, "PART_OF", rid)
        return pid

    @staticmethod
    def _stale(existing: Mapping[str, Any], t: int, fact: Fact) -> bool:
        """True if local knowledge is fresher: newer step wins; own observation beats
        hearsay at the same step."""
        local_t = existing.get("last_step", existing.get("valid_from", -1))
        if t < local_t:
            return True
        return t == local_t and fact.teller is not None and existing.get("provenance") == "observed"

    def _note_told(self, tx: _Tx, node_id: str) -> None:
        told = [i for i in (tx.node(self.self_id) or {}).get("recent_told", []) if i != node_id]
        tx.put(self.self_id, "Agent", {"recent_told": [node_id, *told][:_RECENT_TOLD]})

    def _source_edge(self, tx: _Tx, node_id: str, fact: Fact, step: int) -> None:
        if fact.teller is None:
            tx.edge(node_id, "SEEN_BY", self.self_id, {"step": step})
        else:
            tx.edge(node_id, "TOLD_BY", self._ensure_agent(tx, fact.teller, step), {"step": step})
            self._note_told(tx, node_id)

    # -- write ------------------------------------------------------------------------

    def write(self, facts: Iterable[Fact | Mapping[str, Any]], step: int) -> None:
        """Record facts observed (or heard) at episode step `step`, in one store write.

        Memory keeps a global clock across episodes (`step_base` + step; see `new_episode`);
        returned records report global steps, which equal episode steps in episode one."""
        if not isinstance(step, int) or step < 0:
            raise SchemaError(f"step must be a non-negative int, got {step!r}")
        step += self._base
        parsed = [f if isinstance(f, Fact) else Fact.model_validate(f) for f in facts]
        tx = _Tx(self.store)
        # The cursor ids seen at the last commit are only a prefetch hint (so one read
        # covers them); the truth is the agent node loaded in the same read.
        hint = [self._hint.get(k) for k in _CURSOR if self._hint.get(k)]
        tx.load(
            [self.self_id, *hint, *self._hint_next, *self._predict_ids(tx, parsed, step)],
            holders=[_agent(f.subject) for f in parsed if f.kind == "holds"],
        )
        for fact in parsed:
            if fact.kind != "surveyed":
                self._apply(tx, fact, step)
        # Surveys go last: they close what the rest of this write did not report seen.
        surveys = [f for f in parsed if f.kind == "surveyed"]
        if surveys:
            seen = {self._inst_id(f) for f in parsed if f.kind == "seen_at"}
            for fact in surveys:
                self._surveyed(tx, fact, step, seen)
        me = tx.node(self.self_id) or {}
        if step > me.get("last_step", 0):
            tx.put(self.self_id, "Agent", {"last_step": step})
        self._commit(tx, step)

    def _predict_ids(self, tx: _Tx, facts: Sequence[Fact], step: int) -> list[str]:
        """Ids the facts will read, so one `get` covers them. In-process stores skip the
        speculative ones (places, regions, kinds: needed only for new things), since
        there a lazy read is cheaper than a wasted one."""
        ids: list[str] = []
        full = self.prefetch
        for f in facts:
            if full and f.place is not None and not self._resighting(f):
                x, y = f.place
                rx, ry = self._region(x, y)
                ids += [_place(x, y), f"region:{rx},{ry}"]
            if f.kind in ("seen_at", "gone_from"):
                ids.append(self._inst_id(f))
                if full:
                    ids.append(_kind(f.subject))
            elif f.kind == "holds":
                ids += [_agent(f.subject), _kind(f.object or "")]
            elif f.kind == "recipe":
                ids += [f"recipe:{f.subject}", _kind(f.object or "")]
                ids += [_kind(k) for k in (*f.requires, *f.nearby)]
            elif f.kind == "event":
                ids.append(f"ev:{self._time(f, step)}:{tx.digest(f)}")
            elif f.kind == "report":
                ids += [f"msg:{self._time(f, step)}:{tx.digest(f)}", _agent(f.subject)]
            if f.teller is not None:
                ids.append(_agent(f.teller))
        return ids

    def _resighting(self, fact: Fact) -> bool:
        """A `seen_at` of something the spatial index holds as valid at that very cell:
        `_seen_at` then only touches the instance, so its place, region and kind need no
        speculative read."""
        return (
            fact.kind == "seen_at"
            and self._spatial is not None
            and fact.place is not None
            and self._spatial.position(self._inst_id(fact)) == tuple(fact.place)
        )

    @staticmethod
    def _inst_id(fact: Fact) -> str:
        if fact.entity_id is not None:
            return f"ent:{fact.entity_id}"
        x, y = fact.place or (0, 0)
        return f"ent:{fact.subject}@{x},{y}"

    def _apply(self, tx: _Tx, fact: Fact, step: int) -> None:
        # every kind has a handler named after it: _seen_at, _gone_from, _holds, ...
        handler = getattr(self, f"_{fact.kind}")
        handler(tx, fact, step)

    def _seen_at(self, tx: _Tx, f: Fact, step: int) -> None:
        t = self._time(f, step)
        assert f.place is not None
        x, y = f.place
        iid = self._inst_id(f)
        inst = tx.node(iid)
        if inst is not None and self._stale(inst, t, f):
            return
        if inst is not None and "valid_to" not in inst and (inst["x"], inst["y"]) == (x, y):
            update: dict[str, Any] = {"last_step": max(t, inst.get("last_step", t))}
            if f.teller is None and inst.get("provenance") != "observed":
                update.update(provenance=f.provenance, confidence=f.confidence)
            tx.put(iid, "Entity", update)
            return
        pid = self._ensure_place(tx, x, y, t)
        category = f.category or (inst or {}).get("category") or "other"
        kid = self._ensure_kind(tx, f.subject, category, t)
        if inst is None or "valid_to" in inst:  # a new valid instance of this kind
            tx.put(kid, "Entity", {"n_valid": (tx.node(kid) or {}).get("n_valid", 0) + 1})
        if inst is not None and "valid_to" not in inst:  # a mover left its old place
            old = _place(inst["x"], inst["y"])
            if tx.node(old) is not None:
                tx.edge(iid, "LOCATED_AT", old, {"valid_to": t})
        rx, ry = self._region(x, y)
        importance = _IMPORTANCE["station" if category == "station" else "Entity"]
        tx.put(
            iid,
            "Entity",
            {
                "kind": f.subject,
                "category": category,
                "instance": True,
                "x": x,
                "y": y,
                "region": f"{rx},{ry}",
                "kind_region": f"{f.subject}@{rx},{ry}",
                "valid_from": t,
                "valid_to": None,
                "closed_by": None,
                "provenance": f.provenance,
                "confidence": f.confidence,
                "last_step": t,
                "importance": importance,
                "uses": (inst or {}).get("uses", 0),
            },
        )
        tx.edge(
            iid,
            "LOCATED_AT",
            pid,
            {
                "valid_from": t,
                "valid_to": None,
                "provenance": f.provenance,
                "confidence": f.confidence,
            },
        )
        self._source_edge(tx, iid, f, t)

    def _gone_from(self, tx: _Tx, f: Fact, step: int) -> None:
        t = self._time(f, step)
        assert f.place is not None
        iid = self._inst_id(f)
        inst = tx.node(iid)
        if inst is None or "valid_to" in inst or (inst["x"], inst["y"]) != tuple(f.place):
            return
        if self._stale(inst, t, f):
            return
        self._close(tx, iid, inst, t, f)

    def _close(self, tx: _Tx, iid: str, inst: Mapping[str, Any], t: int, f: Fact) -> None:
        """Close a located entity's validity at `t` (the node and its history stay)."""
        tx.put(iid, "Entity", {"valid_to": t, "last_step": t, "closed_by": f.provenance})
        kid = _kind(inst["kind"])
        kind_node = tx.node(kid)
        if kind_node is not None and kind_node.get("n_valid", 0) > 0:
            tx.put(kid, "Entity", {"n_valid": kind_node["n_valid"] - 1})
        pid = _place(inst["x"], inst["y"])
        if tx.node(pid) is not None:
            tx.edge(iid, "LOCATED_AT", pid, {"valid_to": t})
        if f.teller is not None:
            self._note_told(tx, iid)

    def _surveyed(self, tx: _Tx, f: Fact, step: int, seen: set[str]) -> None:
        """Negative evidence: every valid located entity inside the surveyed rectangle that
        this same write did not report as seen is gone (a cut tree, a cow that walked)."""
        t = self._time(f, step)
        assert f.place is not None and f.extent is not None
        x0, y0 = f.place
        x1, y1 = x0 + f.extent[0] - 1, y0 + f.extent[1] - 1
        if self._spatial is not None:
            candidates = [i for i in self._spatial.within(x0, y0, x1, y1) if i not in seen]
            tx.load(candidates)
        else:
            candidates = []
            size = self.region_size
            for rx in range(x0 // size, x1 // size + 1):
                for ry in range(y0 // size, y1 // size + 1):
                    for rec in self.store.query(
                        "Entity", {"region": f"{rx},{ry}", "instance": True}, missing=["valid_to"]
                    ):
                        if rec.id in seen:
                            continue
                        candidates.append(rec.id)
                        if rec.id not in tx.view:
                            tx.view[rec.id], tx.labels[rec.id] = rec.props, rec.label
        for iid in candidates:
            inst = tx.node(iid)
            if inst is None or "valid_to" in inst or not inst.get("instance"):
                continue
            if not (x0 <= inst["x"] <= x1 and y0 <= inst["y"] <= y1):
                continue
            if not self._stale(inst, t, f):
                self._close(tx, iid, inst, t, f)

    def _holds(self, tx: _Tx, f: Fact, step: int) -> None:
        t = self._time(f, step)
        assert f.object is not None and f.count is not None
        aid = self._ensure_agent(tx, f.subject, t)
        kid = self._ensure_kind(tx, f.object, f.category or "item", t)
        held = tx.holdings(aid)
        edge = held.get(kid)
        valid = edge is not None and "valid_to" not in edge
        if edge is not None and self._stale(edge, t, f):
            return
        if valid and edge is not None and edge.get("count") == f.count:
            props: dict[str, Any] = {"last_step": max(t, edge.get("last_step", t))}
            if f.teller is None and edge.get("provenance") != "observed":
                props.update(provenance=f.provenance, confidence=f.confidence)
        elif f.count == 0:
            if not valid:
                return
            props = {"count": 0, "valid_to": t, "last_step": t, "provenance": f.provenance}
        else:
            props = {
                "count": f.count,
                "valid_from": t,
                "valid_to": None,
                "last_step": t,
                "provenance": f.provenance,
                "confidence": f.confidence,
            }
        merged = {**(edge or {}), **props}
        merged = {k: v for k, v in merged.items() if v is not None}
        if merged == edge:
            return
        held[kid] = merged
        tx.edge(aid, "HOLDS", kid, props)

    def _recipe(self, tx: _Tx, f: Fact, step: int) -> None:
        t = self._time(f, step)
        assert f.object is not None
        rid = f"recipe:{f.subject}"
        old = tx.node(rid)
        items = sorted(f.requires)
        props: dict[str, Any] = {
            "name": f.subject,
            "produces": f.object,
            "count": f.count or 1,
            "requires_items": items,
            "requires_counts": [f.requires[i] for i in items],
            "nearby": sorted(f.nearby),
        }
        if old is not None:
            if self._stale(old, t, f):
                return
            if all(old.get(k) == v for k, v in props.items()):
                if f.teller is None and old.get("provenance") != "observed":
                    tx.put(rid, "Recipe", {"provenance": f.provenance, "confidence": f.confidence})
                return
            for item in old.get("requires_items", []):
                if item not in f.requires:
                    tx.delete_edges.append((rid, "REQUIRES", _kind(item)))
            for station in old.get("nearby", []):
                if station not in f.nearby:
                    tx.delete_edges.append((rid, "NEEDS_NEARBY", _kind(station)))
            if old.get("produces") != f.object:
                tx.delete_edges.append((rid, "PRODUCES", _kind(old["produces"])))
        tx.put(
            rid,
            "Recipe",
            {
                **props,
                "valid_from": t,
                "last_step": t,
                "provenance": f.provenance,
                "confidence": f.confidence,
                "importance": _IMPORTANCE["Recipe"],
                "uses": (old or {}).get("uses", 0),
            },
        )
        tx.edge(
            rid, "PRODUCES", self._ensure_kind(tx, f.object, "item", t), {"count": f.count or 1}
        )
        for item in items:
            tx.edge(
                rid, "REQUIRES", self._ensure_kind(tx, item, "item", t), {"count": f.requires[item]}
            )
        for station in f.nearby:
            tx.edge(rid, "NEEDS_NEARBY", self._ensure_kind(tx, station, "station", t))
        self._source_edge(tx, rid, f, t)

    # episodic hierarchy

    def _current_goal(self, tx: _Tx, step: int) -> str:
        me = tx.node(self.self_id) or {}
        gid = me.get("current_goal")
        if gid is not None and tx.node(gid) is not None:
            return gid
        return self._open_goal(tx, "idle", step, "observed", 1.0, implicit=True)

    def _open_goal(
        self,
        tx: _Tx,
        name: str,
        t: int,
        provenance: str,
        confidence: float,
        *,
        implicit: bool = False,
    ) -> str:
        me = tx.node(self.self_id) or {}
        gid = f"goal:{t}:{name}"
        tx.put(
            gid,
            "Goal",
            {
                "name": name,
                "status": "active",
                "implicit": implicit,
                "valid_from": t,
                "provenance": provenance,
                "confidence": confidence,
                "last_step": t,
                "importance": _IMPORTANCE["Goal"],
                "uses": 0,
            },
        )
        prev = me.get("last_goal")
        if prev is not None and prev != gid and tx.node(prev) is not None:
            tx.edge(prev, "NEXT", gid)
        tx.put(self.self_id, "Agent", {"current_goal": gid, "last_goal": gid})
        return gid

    def _current_chunk(self, tx: _Tx, step: int) -> str:
        me = tx.node(self.self_id) or {}
        cid = me.get("current_chunk")
        chunk = tx.node(cid)
        if cid is not None and chunk is not None and not chunk.get("consolidated"):
            return cid
        parent = me.get("current_subgoal")
        if parent is None or tx.node(parent) is None:
            parent = self._current_goal(tx, step)
        me = tx.node(self.self_id) or {}
        seq = me.get("chunk_seq", 0) + 1
        cid = f"chunk:{seq}"
        tx.put(
            cid,
            "Chunk",
            {
                "seq": seq,
                "step_from": step,
                "step_to": step,
                "n_events": 0,
                "n_success": 0,
                "n_failure": 0,
                "reward_sum": 0.0,
                "actions": [],
                "action_counts": [],
                "consolidated": False,
                "valid_from": step,
                "last_step": step,
                "importance": _IMPORTANCE["Chunk"],
                "uses": 0,
            },
        )
        tx.edge(parent, "HAS_CHUNK", cid)
        prev = me.get("last_chunk")
        if prev is not None and tx.node(prev) is not None:
            tx.edge(prev, "NEXT", cid)
        tx.put(self.self_id, "Agent", {"current_chunk": cid, "last_chunk": cid, "chunk_seq": seq})
        return cid

    def _consolidate_chunk(self, tx: _Tx, cid: str | None) -> str | None:
        chunk = tx.node(cid)
        if cid is None or chunk is None or chunk.get("consolidated"):
            return None
        acts = ", ".join(
            f"{a} x{n}"
            for a, n in zip(chunk.get("actions", []), chunk.get("action_counts", []), strict=True)
        )
        summary = (
            f"{acts or 'no actions'}; {chunk.get('n_success', 0)} ok, "
            f"{chunk.get('n_failure', 0)} failed; reward {chunk.get('reward_sum', 0.0):g}"
        )
        tx.put(
            cid,
            "Chunk",
            {
                "consolidated": True,
                "summary": summary,
                "valid_to": chunk.get("step_to", chunk.get("step_from", 0)),
            },
        )
        me = tx.node(self.self_id) or {}
        if me.get("current_chunk") == cid:
            tx.put(self.self_id, "Agent", {"current_chunk": None})
        return summary

    def _event(self, tx: _Tx, f: Fact, step: int) -> None:
        t = self._time(f, step)
        eid = f"ev:{t}:{tx.digest(f)}"
        if tx.node(eid) is not None:
            return
        cid = self._current_chunk(tx, t)
        chunk = tx.node(cid) or {}
        failed = f.outcome == "failure"
        props: dict[str, Any] = {
            "action": f.subject,
            "outcome": f.outcome,
            "reward": f.reward or 0.0,
            "step": t,
            "valid_from": t,
            "provenance": f.provenance,
            "confidence": f.confidence,
            "chunk": cid,
            "last_step": t,
            "uses": 0,
            "importance": _IMPORTANCE["Event!" if failed or f.reward else "Event"],
        }
        if f.object is not None:
            props["target"] = f.object
        if f.place is not None:
            props["x"], props["y"] = f.place
        if f.text is not None:
            props["text"] = f.text
        tx.put(eid, "Event", props)
        tx.edge(cid, "HAS_EVENT", eid)
        last = chunk.get("last_event")
        if last is not None and tx.node(last) is not None:
            tx.edge(last, "NEXT", eid)
        actions = list(chunk.get("actions", []))
        counts = list(chunk.get("action_counts", []))
        if f.subject in actions:
            counts[actions.index(f.subject)] += 1
        else:
            actions.append(f.subject)
            counts.append(1)
        n = chunk.get("n_events", 0) + 1
        tx.put(
            cid,
            "Chunk",
            {
                "n_events": n,
                "step_to": max(t, chunk.get("step_to", t)),
                "last_event": eid,
                "n_success": chunk.get("n_success", 0) + (not failed),
                "n_failure": chunk.get("n_failure", 0) + failed,
                # the chunk's summary names its failed events, so recall opens only those
                "failed_events": [*chunk.get("failed_events", []), eid]
                if failed
                else chunk.get("failed_events", []),
                "reward_sum": chunk.get("reward_sum", 0.0) + (f.reward or 0.0),
                "actions": actions,
                "action_counts": counts,
                "last_step": t,
            },
        )
        if f.object is not None:
            tx.edge(eid, "ABOUT", self._ensure_kind(tx, f.object, f.category or "other", t))
        if failed:
            fails = [c for c in (tx.node(self.self_id) or {}).get("recent_fails", []) if c != cid]
            tx.put(self.self_id, "Agent", {"recent_fails": [cid, *fails][:_RECENT_FAILS]})
        if n >= self.chunk_size:
            self._consolidate_chunk(tx, cid)

    def _end_subgoal(self, tx: _Tx, t: int, status: str) -> None:
        me = tx.node(self.self_id) or {}
        self._consolidate_chunk(tx, me.get("current_chunk"))
        sid = me.get("current_subgoal")
        if sid is not None and tx.node(sid) is not None:
            tx.put(sid, "Subgoal", {"status": status, "valid_to": t, "last_step": t})
        tx.put(self.self_id, "Agent", {"current_subgoal": None})

    def _end_goal(self, tx: _Tx, t: int, status: str) -> None:
        self._end_subgoal(tx, t, status)
        gid = (tx.node(self.self_id) or {}).get("current_goal")
        if gid is not None and tx.node(gid) is not None:
            tx.put(gid, "Goal", {"status": status, "valid_to": t, "last_step": t})
        tx.put(self.self_id, "Agent", {"current_goal": None})

    def _goal(self, tx: _Tx, f: Fact, step: int) -> None:
        t = self._time(f, step)
        gid = (tx.node(self.self_id) or {}).get("current_goal")
        current = tx.node(gid)
        same = current is not None and current.get("name") == f.subject
        if f.status == "set":
            if same:
                return
            if current is not None:
                self._end_goal(tx, t, "replaced")
            self._open_goal(tx, f.subject, t, f.provenance, f.confidence)
        elif same:  # completing/failing a goal that is not current is a no-op
            self._end_goal(tx, t, f.status or "completed")

    def _subgoal(self, tx: _Tx, f: Fact, step: int) -> None:
        t = self._time(f, step)
        sid = (tx.node(self.self_id) or {}).get("current_subgoal")
        current = tx.node(sid)
        same = sid is not None and current is not None and current.get("name") == f.subject
        if f.status != "set":
            if same:
                self._end_subgoal(tx, t, f.status or "completed")
            return
        if same and sid is not None:
            tx.put(sid, "Subgoal", {"needs": list(f.needs)})
            return
        if current is not None:
            self._end_subgoal(tx, t, "replaced")
        else:
            self._consolidate_chunk(tx, (tx.node(self.self_id) or {}).get("current_chunk"))
        gid = self._current_goal(tx, t)
        new = f"sub:{t}:{f.subject}"
        tx.put(
            new,
            "Subgoal",
            {
                "name": f.subject,
                "status": "active",
                "needs": list(f.needs),
                "valid_from": t,
                "provenance": f.provenance,
                "confidence": f.confidence,
                "last_step": t,
                "importance": _IMPORTANCE["Subgoal"],
                "uses": 0,
            },
        )
        tx.edge(gid, "HAS_SUBGOAL", new)
        prev = (tx.node(self.self_id) or {}).get("last_subgoal")
        if prev is not None and prev != new and tx.node(prev) is not None:
            tx.edge(prev, "NEXT", new)
        tx.put(self.self_id, "Agent", {"current_subgoal": new, "last_subgoal": new})

    def _report(self, tx: _Tx, f: Fact, step: int) -> None:
        t = self._time(f, step)
        mid = f"msg:{t}:{tx.digest(f)}"
        if tx.node(mid) is not None:
            return
        sender = self._ensure_agent(tx, f.subject, t)
        provenance = f.provenance if f.teller is not None else f"told_by:{f.subject}"
        props: dict[str, Any] = {
            "sender": f.subject,
            "text": f.text or "",
            "step": t,
            "provenance": provenance,
            "confidence": f.confidence,
            "valid_from": t,
            "last_step": t,
            "importance": _IMPORTANCE["Message"],
            "uses": 0,
        }
        if f.object is not None:
            props["about"] = f.object
        tx.put(mid, "Message", props)
        tx.edge(mid, "TOLD_BY", sender, {"step": t})
        self._note_told(tx, mid)

    # -- commit, consolidation, forgetting ----------------------------------------------

    def _commit(
        self, tx: _Tx, step: int, policy: ForgetPolicy | None = None, *, flush: bool = False
    ) -> int:
        """Evict if over budget and write: one store.write. Use counts bumped by retrieval
        are written in batches (when `flush`, when evicting - the only reader of them -
        or once `_USE_FLUSH` nodes are pending), not on every step."""
        policy = policy or self.forget_policy
        over = policy is not None and self._node_count() + len(tx.created) > policy.node_budget
        flushing = flush or over or len(self._pending_uses) >= _USE_FLUSH
        if flushing:
            tx.load(self._pending_uses)
            for node_id, n in self._pending_uses.items():
                props = tx.node(node_id)
                if props is not None:
                    tx.put(node_id, tx.labels[node_id], {"uses": props.get("uses", 0) + n})
        evicted = self._evict(tx, step, policy)
        self.store.write(tx.batch())
        if flushing:
            self._pending_uses.clear()
        self._count += len(tx.created) - len(tx.delete_nodes)
        self._keep_hints(tx)
        if self._spatial is not None:
            for node_id in tx.nodes:
                if tx.labels.get(node_id) == "Entity":
                    self._spatial.sync(node_id, tx.view.get(node_id))
            for node_id in tx.delete_nodes:
                self._spatial.remove(node_id)
        return evicted

    def _keep_hints(self, tx: _Tx) -> None:
        """Remember, as prefetch hints, what the next write and retrieve will likely read."""
        me = tx.view.get(self.self_id) or {}
        self._hint = dict(me)
        chunk = tx.view.get(me.get("current_chunk") or "") or {}
        # an event reads its chunk's last event (NEXT edge) or opens the next chunk
        nxt = [chunk.get("last_event"), f"chunk:{me.get('chunk_seq', 0) + 1}"]
        self._hint_next = [i for i in nxt if i]
        fails: dict[str, list[str]] = {}
        for cid in me.get("recent_fails", []):
            props = tx.view.get(cid)
            known = props.get("failed_events") if props else self._hint_fails.get(cid)
            if known is not None:
                fails[cid] = list(known)
        self._hint_fails = fails

    def _evict(self, tx: _Tx, step: int, policy: ForgetPolicy | None) -> int:
        if policy is None:
            return 0
        projected = self._node_count() + len(tx.created)
        if projected <= policy.node_budget:
            return 0
        target = min(projected, int(policy.node_budget * policy.low_water))
        excess = projected - target
        if excess <= 0:
            return 0
        me = tx.node(self.self_id) or {}
        current_chunk = me.get("current_chunk")
        protected = {
            self.self_id,
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
        for rec in self.store.query():
            if rec.id in protected:
                continue
            p = rec.props
            if rec.label == "Event" and p.get("chunk") == current_chunk:
                continue
            if rec.label == "Event" or (rec.label == "Entity" and "valid_to" in p):
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

    def consolidate(self) -> str | None:
        """Summarise the open chunk now (and evict if over budget); one store write.
        Returns the chunk summary, or None if no chunk was open."""
        tx = _Tx(self.store)
        me = tx.node(self.self_id) or {}
        summary = self._consolidate_chunk(tx, me.get("current_chunk"))
        self._commit(tx, me.get("last_step", 0), flush=True)
        return summary

    def forget(self, policy: ForgetPolicy | None = None) -> int:
        """Write pending use counts, then evict down to the policy's low-water mark if over
        budget; returns the number of nodes evicted.
        The goal path (goal, subgoal, current chunk and its events) and the agent's own
        node are never evicted."""
        tx = _Tx(self.store)
        me = tx.node(self.self_id) or {}
        return self._commit(tx, me.get("last_step", 0), policy, flush=True)

    def __len__(self) -> int:
        return self._node_count()

    # -- retrieval --------------------------------------------------------------------

    def retrieve(self, query: RetrievalQuery | Mapping[str, Any], budget: int = 16) -> Recall:
        """Goal-conditioned, index-backed recall; at most `budget` items (round-robin
        across parts). Returned nodes get their use count bumped at the next write."""
        if not isinstance(query, RetrievalQuery):
            query = RetrievalQuery.model_validate(query)
        if not isinstance(budget, int) or budget < 0:
            raise SchemaError(f"budget must be a non-negative int, got {budget!r}")
        recall = Recall()
        reader = _Reader(self.store)
        hits: dict[tuple[str, int], list[tuple[int, int, int, str]]] = {}
        if self._spatial is not None and query.position is not None:
            x0, y0 = query.position
            for kind, k in [
                *((n, 1) for n in query.needs),
                *((n, query.per_kind) for n in query.nearest),
            ]:
                hits[(kind, k)] = self._spatial.nearest(kind, x0, y0, k)
        items = list(dict.fromkeys((*query.needs, *query.who_holds)))
        # One batched read (one round trip on a server) for: the agent node, what the last
        # commit's hint says it points at, every located entity the spatial index picks,
        # and the holders and recipes asked about.
        guess = self._pointed(self._hint, query, self._hint_fails) if self.prefetch else []
        first = list(
            dict.fromkeys(
                [self.self_id, *guess, *(h[3] for found in hits.values() for h in found)]
            )
        )
        got = _read_many(
            self.store,
            [
                ("get", {"node_ids": first}),
                *(("neighbors", _edges_at(_kind(i), "HOLDS", "in")) for i in items),
                *(("neighbors", _edges_at(_kind(i), "PRODUCES", "in")) for i in query.needs),
            ],
        )
        reader.fill(first, got[0])
        me_rec = reader.recs[self.self_id]
        me = me_rec.props if me_rec is not None else {}
        # The hint is checked here: a second read only for what it missed.
        reader.fetch(self._pointed(me, query))
        path_ids = [i for i in (me.get("current_goal"), me.get("current_subgoal")) if i]
        for rec in reader.many(path_ids):
            p = rec.props
            record = GoalRecord(
                rec.id,
                rec.label.lower(),
                p.get("name", ""),
                p.get("status", ""),
                p.get("valid_from", 0),
                tuple(p.get("needs", ())),
            )
            if rec.label == "Goal":
                recall.goal = record
            else:
                recall.subgoal = record
        held_rows, recipe_rows = got[1 : 1 + len(items)], got[1 + len(items) :]
        holders = {i: self._holders(i, rows) for i, rows in zip(items, held_rows, strict=True)}
        recipes = dict(zip(query.needs, recipe_rows, strict=True))
        for item in query.needs:
            recall.needs.append(
                NeedRecord(
                    item=item,
                    recipes=tuple(self._recipes(recipes[item])),
                    sources=tuple(self._nearest(item, query.position, 1, me, hits, reader)),
                    holders=tuple(holders[item]),
                )
            )
        for kind in query.nearest:
            recall.nearest.extend(
                self._nearest(kind, query.position, query.per_kind, me, hits, reader)
            )
        for item in query.who_holds:
            recall.holders.extend(holders[item])
        if query.recent_failures:
            recall.failures = self._failures(me, query.recent_failures, reader)
        if query.teammate_reports:
            recall.reports = self._reports(me, query.teammate_reports, reader)
        if query.recent_summaries:
            recall.summaries = self._summaries(me, query.recent_summaries)
        recall.cap(budget)
        self._pending_uses.update(recall.node_ids())
        return recall

    @staticmethod
    def _pointed(
        me: Mapping[str, Any], query: RetrievalQuery, fails: Mapping[str, list[str]] | None = None
    ) -> list[str]:
        """Ids a retrieval reads through the agent node `me`: goal path, the failure chunks
        that can hold the failures asked for (each lists >= 1), teammate reports; with
        `fails` (chunk -> failed events), also those chunks' events."""
        out = [i for i in (me.get("current_goal"), me.get("current_subgoal")) if i]
        chunks = me.get("recent_fails", [])[: query.recent_failures]
        out += chunks
        out += me.get("recent_told", [])[: query.teammate_reports]
        if fails is not None:
            total = 0
            for cid in chunks:
                if total >= query.recent_failures or cid not in fails:
                    break
                out += fails[cid]
                total += len(fails[cid])
        return out

    @staticmethod
    def _recipes(rows: list[tuple[EdgeRecord, NodeRecord]]) -> list[RecipeRecord]:
        """Recipe records from a kind node's incoming PRODUCES edges."""
        out = []
        for _, rec in rows:
            p = rec.props
            out.append(
                RecipeRecord(
                    rec.id,
                    p["name"],
                    p["produces"],
                    p.get("count", 1),
                    dict(
                        zip(p.get("requires_items", []), p.get("requires_counts", []), strict=True)
                    ),
                    tuple(p.get("nearby", [])),
                    p.get("provenance", "observed"),
                    p.get("valid_from", 0),
                )
            )
        return out

    @staticmethod
    def _holders(item: str, rows: list[tuple[EdgeRecord, NodeRecord]]) -> list[HolderRecord]:
        """Current holders of `item` from its kind node's incoming HOLDS edges."""
        out = []
        for edge, agent in rows:
            e = edge.props
            if "valid_to" in e or e.get("count", 0) <= 0:
                continue
            out.append(
                HolderRecord(
                    agent.id,
                    agent.props.get("name", agent.id),
                    item,
                    e["count"],
                    e.get("provenance", "observed"),
                    e.get("valid_from", 0),
                )
            )
        return out

    def _nearest(
        self,
        kind: str,
        position: tuple[int, int] | None,
        k: int,
        me: Mapping[str, Any],
        hits: Mapping[tuple[str, int], list[tuple[int, int, int, str]]],
        reader: _Reader,
    ) -> list[PlaceRecord]:
        """Ring search over the region grid outwards from the agent's region; stops once
        the k-th best distance cannot be beaten by any farther ring (Manhattan metric)."""
        if position is None:
            return []
        if self._spatial is not None:
            found_hits = hits.get((kind, k))
            if found_hits is None:
                found_hits = self._spatial.nearest(kind, position[0], position[1], k)
            by_id = {r.id: r.props for r in reader.many([h[3] for h in found_hits])}
            return [
                PlaceRecord(
                    nid,
                    kind,
                    x,
                    y,
                    d,
                    by_id[nid].get("provenance", "observed"),
                    by_id[nid].get("confidence", 1.0),
                    by_id[nid].get("valid_from", 0),
                )
                for d, y, x, nid in found_hits
                if nid in by_id
            ]
        if "rx_min" not in me:
            return []
        kind_node = self.store.get([_kind(kind)])
        n_valid = kind_node[0].props.get("n_valid", 0) if kind_node else 0
        if n_valid <= 0:  # an upper bound (eviction never decrements), so 0 is exact
            return []
        x0, y0 = position
        rx0, ry0 = self._region(x0, y0)
        size = self.region_size
        max_ring = max(
            abs(rx0 - me["rx_min"]),
            abs(me["rx_max"] - rx0),
            abs(ry0 - me["ry_min"]),
            abs(me["ry_max"] - ry0),
        )
        found: list[tuple[int, int, int, str, dict[str, Any]]] = []

        def take(records: list[NodeRecord]) -> None:
            for rec in records:
                p = rec.props
                found.append((abs(p["x"] - x0) + abs(p["y"] - y0), p["y"], p["x"], rec.id, p))

        if n_valid <= (2 * max_ring + 1) ** 2:
            # Few known instances: one index lookup beats visiting many regions.
            take(self.store.query("Entity", {"kind": kind, "instance": True}, missing=["valid_to"]))
            found.sort(key=lambda r: r[:4])
        else:
            ox, oy = x0 - rx0 * size, y0 - ry0 * size
            # Closest any cell of ring r can be: distance to the edge of rings < r.
            edge = min(ox + 1, size - ox, oy + 1, size - oy)
            for ring in range(max_ring + 1):
                if len(found) >= k and found[k - 1][0] < edge + (ring - 1) * size:
                    break
                for rx in range(max(rx0 - ring, me["rx_min"]), min(rx0 + ring, me["rx_max"]) + 1):
                    for ry in range(
                        max(ry0 - ring, me["ry_min"]), min(ry0 + ring, me["ry_max"]) + 1
                    ):
                        if max(abs(rx - rx0), abs(ry - ry0)) == ring:
                            take(
                                self.store.query(
                                    "Entity",
                                    {"kind_region": f"{kind}@{rx},{ry}"},
                                    missing=["valid_to"],
                                )
                            )
                found.sort(key=lambda r: r[:4])
        return [
            PlaceRecord(
                nid,
                kind,
                x,
                y,
                d,
                p.get("provenance", "observed"),
                p.get("confidence", 1.0),
                p.get("valid_from", 0),
            )
            for d, y, x, nid, p in found[:k]
        ]

    def _failures(self, me: Mapping[str, Any], n: int, reader: _Reader) -> list[EventRecord]:
        # Summaries first: only chunks whose counts show failures are opened.
        out: list[EventRecord] = []
        fails = me.get("recent_fails", [])
        # Read the failed events of as many chunks as can hold n of them, in one read.
        want: list[str] = []
        for cid in fails:
            chunk_rec = reader.recs.get(cid)
            if len(want) >= n or chunk_rec is None:
                break
            if chunk_rec.props.get("n_failure", 0) > 0:
                want += chunk_rec.props.get("failed_events", [])
        reader.fetch(want)
        for i, cid in enumerate(fails):
            if len(out) >= n:  # chunks are newest first and do not overlap in time
                break
            if cid not in reader.recs:  # eviction left too few: open the rest at once
                reader.fetch(fails[i:])
            chunk = reader.recs[cid]
            if chunk is None or chunk.props.get("n_failure", 0) <= 0:
                continue
            events = reader.many(chunk.props.get("failed_events", []))
            events.sort(key=lambda ev: (-ev.props.get("step", 0), ev.id))
            for ev in events:
                p = ev.props
                out.append(
                    EventRecord(
                        ev.id,
                        p["action"],
                        p["outcome"],
                        p.get("reward", 0.0),
                        p.get("target"),
                        p.get("step", 0),
                        chunk.id,
                    )
                )
        out.sort(key=lambda e: (-e.step, e.node_id))
        return out[:n]

    def _reports(self, me: Mapping[str, Any], n: int, reader: _Reader) -> list[ReportRecord]:
        out: list[ReportRecord] = []
        for rec in reader.many(me.get("recent_told", [])[:n]):
            p = rec.props
            if rec.label == "Message":
                summary = f"{p.get('sender')} says: {p.get('text', '')}"
            elif rec.label == "Entity":
                state = "gone from" if "valid_to" in p else "at"
                summary = f"{p.get('kind')} {state} ({p.get('x')},{p.get('y')})"
            elif rec.label == "Agent":
                summary = f"{p.get('name')} inventory updated"
            else:
                summary = f"{rec.label} {p.get('name', rec.id)}"
            provenance = p.get("closed_by") or p.get("provenance") or "told_by:?"
            out.append(
                ReportRecord(
                    rec.id,
                    rec.label,
                    summary,
                    provenance,
                    p.get("last_step", p.get("valid_from", 0)),
                )
            )
        return out

    def _summaries(self, me: Mapping[str, Any], n: int) -> list[SummaryRecord]:
        out: list[SummaryRecord] = []
        cid = me.get("last_chunk")
        while cid is not None and len(out) < n:
            got = self.store.get([cid])
            if not got:
                break
            p = got[0].props
            if p.get("consolidated"):
                out.append(
                    SummaryRecord(
                        cid, p.get("step_from", 0), p.get("step_to", 0), p.get("summary", "")
                    )
                )
            prev = self.store.neighbors(cid, "NEXT", "in")
            cid = prev[0][1].id if prev else None
        return out

    # -- sharing ----------------------------------------------------------------------

    def export(self, selector: ExportSelector | Mapping[str, Any]) -> dict[str, Any]:
        """A JSON-serialisable payload of the selected semantic subgraph, for a teammate."""
        if not isinstance(selector, ExportSelector):
            selector = ExportSelector.model_validate(selector)
        store = self.store
        nodes: dict[str, NodeRecord] = {}
        edges: list[EdgeRecord] = []
        missing = () if selector.include_closed else ("valid_to",)
        for kind in selector.kinds:
            for rec in store.query(
                "Entity",
                {"kind": kind, "instance": True},
                missing=missing,
                limit=selector.max_per_kind,
            ):
                nodes[rec.id] = rec
        if selector.recipes:
            for rec in store.query("Recipe"):
                nodes[rec.id] = rec
                for edge, other in store.neighbors(rec.id, direction="out"):
                    if edge.type in ("REQUIRES", "PRODUCES", "NEEDS_NEARBY"):
                        nodes[other.id] = other
                        edges.append(edge)
        for holder in selector.holders:
            aid = self.self_id if holder == "self" else _agent(holder)
            got = store.get([aid])
            if not got:
                continue
            nodes[aid] = got[0]
            for edge, other in store.neighbors(aid, "HOLDS", "out"):
                if selector.include_closed or "valid_to" not in edge.props:
                    nodes[other.id] = other
                    edges.append(edge)
        me = store.get([self.self_id])
        payload = {
            "format": PAYLOAD_FORMAT,
            "source": self.agent_id,
            "step": me[0].props.get("last_step", 0) if me else 0,
            "step_base": self._base,
            "nodes": [
                {"id": r.id, "label": r.label, "props": self._public_props(r)}
                for r in nodes.values()
            ],
            "edges": [
                {
                    "src": e.src,
                    "type": e.type,
                    "dst": e.dst,
                    "props": {k: v for k, v in e.props.items() if k not in _LOCAL_PROPS},
                }
                for e in edges
            ],
        }
        self._check_size(payload)
        return payload

    def _public_props(self, rec: NodeRecord) -> dict[str, Any]:
        if rec.label == "Agent":  # never leak the cursor / bookkeeping of an Agent node
            return {"name": rec.props.get("name", rec.id[6:])}
        return {k: v for k, v in rec.props.items() if k not in _LOCAL_PROPS}

    def _check_size(self, payload: Mapping[str, Any]) -> None:
        n_nodes = len(payload.get("nodes", ()))
        if n_nodes > self.max_payload_nodes:
            raise PayloadTooLarge(
                f"payload.nodes has {n_nodes} nodes; max {self.max_payload_nodes} "
                "(max_payload_nodes)"
            )
        size = len(json.dumps(payload, separators=(",", ":")))
        if size > self.max_payload_bytes:
            raise PayloadTooLarge(
                f"payload is {size} bytes; max {self.max_payload_bytes} (max_payload_bytes)"
            )

    def merge(self, payload: Mapping[str, Any], step: int, sender: str) -> int:
        """Write a teammate's `export` payload as `told_by:<sender>` facts (one store write).
        Fresher local knowledge wins; own observation beats hearsay at the same step.
        Returns the number of facts derived from the payload."""
        if not isinstance(payload, Mapping) or payload.get("format") != PAYLOAD_FORMAT:
            raise SchemaError(f"payload.format must be {PAYLOAD_FORMAT!r}")
        for key in ("nodes", "edges"):
            if not isinstance(payload.get(key), list):
                raise SchemaError(f"payload.{key} must be a list")
        self._check_size(payload)
        facts = payload_to_facts(payload, sender)
        self.write(facts, step)
        return len(facts)

    # -- checkpoints, inspection, episodes ---------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """An exact, JSON-serialisable checkpoint of this memory."""
        return {
            "agent_id": self.agent_id,
            "store": self.store.snapshot(),
            "pending_uses": dict(sorted(self._pending_uses.items())),
        }

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Replace the memory's contents with a `snapshot()`."""
        if snapshot.get("agent_id") != self.agent_id:
            raise SchemaError(
                f"snapshot.agent_id is {snapshot.get('agent_id')!r}; this memory belongs to "
                f"{self.agent_id!r}"
            )
        self.store.restore(snapshot["store"])
        self._pending_uses = Counter(snapshot.get("pending_uses", {}))
        self._count = self.store.count()
        self._base = self._read_base()
        self._reindex()

    def to_json(self, path: str | Path) -> None:
        """Write `snapshot()` as JSON."""
        Path(path).write_text(json.dumps(self.snapshot(), indent=1, sort_keys=True))

    def to_graph(self) -> nx.MultiDiGraph:
        """The memory as a networkx graph (lists flattened to JSON strings)."""
        snap = self.store.snapshot()
        g = nx.MultiDiGraph(agent=self.agent_id)

        def flat(props: Mapping[str, Any]) -> dict[str, Any]:
            return {k: json.dumps(v) if isinstance(v, list) else v for k, v in props.items()}

        for n in snap["nodes"]:
            # attributes go in via update: a property may be named like a parameter ("self")
            g.add_node(n["id"])
            g.nodes[n["id"]].update(flat(n["props"]), label=n["label"])
        for e in snap["edges"]:
            g.add_edge(e["src"], e["dst"], key=e["type"])
            g.edges[e["src"], e["dst"], e["type"]].update(flat(e["props"]), type=e["type"])
        return g

    def to_graphml(self, path: str | Path) -> None:
        """Write the memory as GraphML (networkx's writer) for Gephi / yEd / inspection."""
        nx.write_graphml(self.to_graph(), str(path))

    def new_episode(self, world_id: str | None = None) -> None:
        """Start a new episode: keep recipes, kinds and agents; end the goal path; reset
        holdings; drop map facts (places, regions, located entities) unless `world_id`
        equals the previous episode's world. One store write."""
        tx = _Tx(self.store)
        me = tx.node(self.self_id) or {}
        t = me.get("last_step", 0)
        if me.get("current_goal") is not None:
            self._end_goal(tx, t, "interrupted")
        same_world = world_id is not None and world_id == me.get("world_id")
        if not same_world:
            doomed = [r.id for label in ("Place", "Region") for r in self.store.query(label)]
            doomed += [r.id for r in self.store.query("Entity", {"instance": True})]
            tx.delete_nodes.extend(d for d in doomed if d not in tx.nodes)
            for rec in self.store.query("Entity", {"instance": False}):
                if rec.props.get("n_valid"):
                    tx.put(rec.id, "Entity", {"n_valid": 0})
            for key in ("rx_min", "rx_max", "ry_min", "ry_max"):
                tx.put(self.self_id, "Agent", {key: None})
        for edge in self.store.edges("HOLDS"):
            tx.delete_edges.append((edge.src, edge.type, edge.dst))
        tx.put(
            self.self_id,
            "Agent",
            {
                "world_id": world_id,
                "episode": me.get("episode", 0) + 1,
                "step_base": t + 1,
                "last_step": t + 1,
                "recent_fails": [],
                "recent_told": [],
                "current_chunk": None,
            },
        )
        self.store.write(tx.batch())
        self._count = self.store.count()
        self._base = t + 1
        self._reindex()


def payload_to_facts(payload: Mapping[str, Any], sender: str) -> list[Fact]:
    """Interpret an `export` payload as hearsay facts from `sender`.

    Located entities become `seen_at` (+ `gone_from` when closed), recipes become `recipe`
    facts, HOLDS edges become `holds`; places, regions and kind nodes are implied."""
    provenance = f"told_by:{sender}"
    base = payload.get("step_base", 0)
    if not isinstance(base, int) or base < 0:
        raise SchemaError(f"payload.step_base must be a non-negative int, got {base!r}")

    def local(step: Any) -> int | None:
        # Payload steps are the sender's global clock; facts carry episode-local steps.
        return None if step is None else max(0, int(step) - base)

    nodes: dict[str, Mapping[str, Any]] = {}
    for raw in payload["nodes"]:
        try:
            rec = NodeRecord(raw["id"], raw["label"], dict(raw.get("props") or {}))
        except (KeyError, TypeError) as exc:
            raise SchemaError(f"payload.nodes items need id, label, props: {exc!r}") from exc
        check_node(rec)
        nodes[rec.id] = {"label": rec.label, **rec.props}
    out_edges: dict[str, list[Mapping[str, Any]]] = {}
    for raw in payload["edges"]:
        if not isinstance(raw, Mapping) or not {"src", "type", "dst"} <= raw.keys():
            raise SchemaError("payload.edges items need src, type, dst, props")
        out_edges.setdefault(raw["src"], []).append(raw)
    facts: list[Fact] = []
    for node_id, p in nodes.items():
        label = p["label"]
        if label == "Entity" and p.get("instance"):
            place = (p["x"], p["y"])
            entity_id = None
            if node_id != f"ent:{p['kind']}@{place[0]},{place[1]}":
                entity_id = node_id.removeprefix("ent:")
            common = {
                "subject": p["kind"],
                "place": place,
                "entity_id": entity_id,
                "provenance": provenance,
                "confidence": p.get("confidence", 1.0),
            }
            cat = p.get("category")
            facts.append(
                Fact(
                    kind="seen_at", category=cat, observed_step=local(p.get("valid_from")), **common
                )
            )
            if "valid_to" in p:
                facts.append(Fact(kind="gone_from", observed_step=local(p["valid_to"]), **common))
        elif label == "Recipe":
            facts.append(
                Fact(
                    kind="recipe",
                    subject=p["name"],
                    object=p["produces"],
                    count=p.get("count", 1),
                    requires=dict(
                        zip(p.get("requires_items", []), p.get("requires_counts", []), strict=True)
                    ),
                    nearby=tuple(p.get("nearby", [])),
                    provenance=provenance,
                    confidence=p.get("confidence", 1.0),
                    observed_step=local(p.get("valid_from")),
                )
            )
        elif label == "Agent":
            for edge in out_edges.get(node_id, []):
                kind_node = nodes.get(edge["dst"], {})
                e = edge.get("props") or {}
                if edge["type"] != "HOLDS" or "kind" not in kind_node:
                    continue
                facts.append(
                    Fact(
                        kind="holds",
                        subject=p.get("name", node_id.removeprefix("agent:")),
                        object=kind_node["kind"],
                        count=0 if "valid_to" in e else e.get("count", 0),
                        provenance=provenance,
                        confidence=e.get("confidence", 1.0),
                        observed_step=local(e.get("valid_to", e.get("valid_from"))),
                    )
                )
    return facts
