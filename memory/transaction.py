"""Read and write batching between a memory and its store.

- `Tx`: the pending write batch of one memory operation, with a read-through overlay so
  later facts in the same call see earlier ones;
- `Reader`: the read cache of one retrieval;
- `read_many`: independent reads in one round trip where the store can;
- `Hints`: what the last commit saw, used to guess what the next call will read.

On a server backend every store call is a round trip, so the aim throughout is to read
what a call needs in as few `get` / `read_many` calls as possible.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from memsim.memory import ids
from memsim.memory.facts import Fact
from memsim.memory.store import (
    BatchedReads,
    EdgeRecord,
    GraphStore,
    NodeRecord,
    WriteBatch,
)

# Agent-node properties that point at the current episodic path.
CURSOR = (
    "current_goal",
    "current_subgoal",
    "current_chunk",
    "last_chunk",
    "last_goal",
    "last_subgoal",
)


def read_many(store: GraphStore, calls: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Any]:
    """Independent reads, each a `GraphStore` read method's name and keyword arguments:
    one `read_many` round trip where the store batches reads, else one call after another."""
    if store.capabilities.batched_reads:
        return cast(BatchedReads, store).read_many(calls)
    return [getattr(store, name)(**kwargs) for name, kwargs in calls]


def edges_at(node_id: str, edge_type: str, direction: str) -> dict[str, Any]:
    """Keyword arguments of a `neighbors` read."""
    return {"node_id": node_id, "edge_type": edge_type, "direction": direction}


class Tx:
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
        self.digests: dict[int, str] = {}  # id(fact) -> digest(fact), facts live for the call

    def digest(self, fact: Fact) -> str:
        found = self.digests.get(id(fact))
        if found is None:
            found = self.digests[id(fact)] = ids.digest(fact)
        return found

    def load(self, node_ids: Iterable[str], holders: Iterable[str] = ()) -> None:
        """Read these nodes, and these agents' HOLDS edges, in one batched read."""
        want = [i for i in dict.fromkeys(node_ids) if i not in self.view]
        agents = [a for a in dict.fromkeys(holders) if a not in self.holds]
        if not want and not agents:
            return
        calls = [("get", {"node_ids": want})] if want else []
        calls += [("neighbors", edges_at(a, "HOLDS", "out")) for a in agents]
        results = read_many(self.store, calls)
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

    def know(self, rec: NodeRecord) -> None:
        """Take a record read elsewhere into the overlay, unless it already has the node."""
        if rec.id not in self.view:
            self.view[rec.id], self.labels[rec.id] = rec.props, rec.label

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


class Reader:
    """Per-retrieval read cache: gathers node reads into as few `store.get` calls as
    possible (each is a round trip on a server backend). A retrieval only reads what it
    gets, so where the store offers `get_shared` (in process: no copy) that is used;
    `read_method` is its name, for `read_many`."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self.recs: dict[str, NodeRecord | None] = {}
        self.read_method = "get_shared" if hasattr(store, "get_shared") else "get"

    def fetch(self, node_ids: Iterable[str]) -> None:
        want = [i for i in dict.fromkeys(node_ids) if i not in self.recs]
        if want:
            self.fill(want, getattr(self.store, self.read_method)(want))

    def fill(self, asked: Sequence[str], found: Iterable[NodeRecord]) -> None:
        """Record the answer of a `get(asked)` made elsewhere (absent ids are None)."""
        by_id = {r.id: r for r in found}
        for node_id in asked:
            self.recs[node_id] = by_id.get(node_id)

    def many(self, node_ids: Sequence[str]) -> list[NodeRecord]:
        self.fetch(node_ids)
        return [r for r in (self.recs[i] for i in node_ids) if r is not None]


class Hints:
    """Prefetch hints kept from the last commit. They only choose what to read early (in
    a round trip being made anyway); what memory uses is always what the store returns,
    so a stale hint costs a read, never a wrong answer."""

    def __init__(self) -> None:
        self.me: dict[str, Any] = {}  # own Agent node's props
        self.next: list[str] = []  # ids the next write's event will look at
        self.fails: dict[str, list[str]] = {}  # recent failure chunk -> failed events

    def cursor(self) -> list[str]:
        """The episodic path the agent node pointed at."""
        return [self.me[k] for k in CURSOR if self.me.get(k)]

    def keep(self, tx: Tx, self_id: str) -> None:
        """Remember what the next write and retrieve will likely read."""
        me = tx.view.get(self_id) or {}
        self.me = dict(me)
        chunk = tx.view.get(me.get("current_chunk") or "") or {}
        # an event reads its chunk's last event (NEXT edge) or opens the next chunk
        nxt = [chunk.get("last_event"), ids.chunk(me.get("chunk_seq", 0) + 1)]
        self.next = [i for i in nxt if i]
        fails: dict[str, list[str]] = {}
        for cid in me.get("recent_fails", []):
            props = tx.view.get(cid)
            known = props.get("failed_events") if props else self.fails.get(cid)
            if known is not None:
                fails[cid] = list(known)
        self.fails = fails
