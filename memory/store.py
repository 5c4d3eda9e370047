"""The `GraphStore` protocol: the small property-graph API every memory backend provides.

A store instance is bound to exactly one *namespace* (an agent's private graph, or the
team graph). It cannot read or write nodes of another namespace: isolation lives here,
in the store layer, not in callers' good manners. Backends: `networkx` (embedded
default), `falkordb` and `neo4j` (both through the shared Cypher layer).

Node identity is `(namespace, id)`. Labels and relationship types come from the
whitelist in `memory.schema`; property values are scalars (str, int, float, bool) or
flat lists of scalars. `None` as a property value means "remove this property".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

PropValue = str | int | float | bool | list[str] | list[int] | list[float] | list[bool] | None
Props = dict[str, Any]
Direction = Literal["out", "in", "both"]


class MemoryLostError(RuntimeError):
    """A server store's graph is gone (the server restarted without it, or was flushed)
    since the store opened it: continuing would act on an empty memory, so the run stops."""


# Records are read-only by convention, not `frozen`: a frozen dataclass's __init__ sets
# each field through object.__setattr__ (4x the cost), and a step builds hundreds of them.
@dataclass(slots=True)
class NodeRecord:
    """One node: a stable id within the namespace, one label, and properties (read-only)."""

    id: str
    label: str
    props: Props = field(default_factory=dict)


@dataclass(slots=True)
class EdgeRecord:
    """One directed, typed relationship. At most one edge of a type between two nodes
    (read-only, as `NodeRecord`)."""

    src: str
    type: str
    dst: str
    props: Props = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GraphStructure:
    """The shape of a whole namespace for drawing it: every node's label and a chosen few
    properties, and every edge as ``(src, type, dst)``. Read-only: the property dicts
    may be the store's own (embedded backend) and are valid until the next write."""

    nodes: dict[str, tuple[str, Mapping[str, Any]]]  # id -> (label, chosen props)
    edges: list[tuple[str, str, str]]


@dataclass(frozen=True, slots=True)
class StoreCapabilities:
    """What a backend declares about itself, so generic code never checks its type.

    `remote`: every call is a round trip to a server, so reading a few ids speculatively
    in a round trip already being made pays off (in process a lazy read is cheaper).
    `batched_reads`: the store has `read_many` (`BatchedReads`): several independent
    reads in one round trip.
    """

    remote: bool
    batched_reads: bool


class BatchedReads(Protocol):
    """The optional read batching of stores whose capabilities say `batched_reads`."""

    def read_many(self, calls: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Any]:
        """Each call is a read method's name and its keyword arguments; returns what each
        method would return, in order, in one round trip."""
        ...


@dataclass(slots=True)
class WriteBatch:
    """Everything one agent-step writes, applied atomically in one store round trip.

    Upserts merge properties into existing nodes/edges (`SET n += props`); a `None`
    value removes that property. Edges whose endpoints are missing are an error.
    Order of application: node upserts, edge upserts, edge deletes, node deletes.
    """

    nodes: list[NodeRecord] = field(default_factory=list)
    edges: list[EdgeRecord] = field(default_factory=list)
    delete_edges: list[tuple[str, str, str]] = field(default_factory=list)  # (src, type, dst)
    delete_nodes: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.nodes or self.edges or self.delete_edges or self.delete_nodes)


class StoreShorthands:
    """`upsert_nodes`, `upsert_edges` and `delete` as one-part batches through `write`:
    backends inherit these so every write path goes through the same validated batch."""

    def write(self, batch: WriteBatch) -> None:  # pragma: no cover - provided by backends
        raise NotImplementedError

    def upsert_nodes(self, nodes: Sequence[NodeRecord]) -> None:
        """Shorthand for `write(WriteBatch(nodes=...))`."""
        self.write(WriteBatch(nodes=list(nodes)))

    def upsert_edges(self, edges: Sequence[EdgeRecord]) -> None:
        """Shorthand for `write(WriteBatch(edges=...))`."""
        self.write(WriteBatch(edges=list(edges)))

    def delete(self, node_ids: Sequence[str]) -> None:
        """Delete nodes and every edge touching them; missing ids are ignored."""
        self.write(WriteBatch(delete_nodes=list(node_ids)))

    # Reads every backend has; a backend may override them with a faster path.
    revision: int | None = None

    def structure(self, props: Sequence[str] = ()) -> GraphStructure:
        """The whole namespace's nodes (label + the `props` asked for) and edge triples."""
        nodes = {r.id: (r.label, {k: r.props[k] for k in props if k in r.props})
                 for r in self.query()}  # type: ignore[attr-defined]
        edges = [(e.src, e.type, e.dst) for e in self.edges()]  # type: ignore[attr-defined]
        return GraphStructure(nodes, edges)


@runtime_checkable
class GraphStore(Protocol):
    """A namespaced property-graph store. All methods see only `self.namespace`."""

    @property
    def namespace(self) -> str: ...

    @property
    def capabilities(self) -> StoreCapabilities:
        """What this backend can do (see `StoreCapabilities`)."""

    def write(self, batch: WriteBatch) -> None:
        """Apply the batch atomically (one transaction / round trip)."""

    def upsert_nodes(self, nodes: Sequence[NodeRecord]) -> None:
        """Shorthand for `write(WriteBatch(nodes=...))`."""

    def upsert_edges(self, edges: Sequence[EdgeRecord]) -> None:
        """Shorthand for `write(WriteBatch(edges=...))`."""

    def delete(self, node_ids: Sequence[str]) -> None:
        """Delete nodes and every edge touching them. Missing ids are ignored."""

    def get(self, node_ids: Sequence[str]) -> list[NodeRecord]:
        """The nodes with these ids that exist, in the order asked."""

    def query(
        self,
        label: str | None = None,
        where: Mapping[str, Any] | None = None,
        *,
        missing: Sequence[str] = (),
        limit: int | None = None,
    ) -> list[NodeRecord]:
        """Nodes with this label (any if None) whose props equal every `where` item and
        lack every property named in `missing` (e.g. `missing=["valid_to"]` for facts
        still valid). Ordered by id so results are deterministic across backends."""

    def neighbors(
        self,
        node_id: str,
        edge_type: str | None = None,
        direction: Direction = "out",
    ) -> list[tuple[EdgeRecord, NodeRecord]]:
        """Edges of `node_id` (optionally of one type) with the node at the other end,
        ordered by (edge type, other node id)."""

    def edges(self, edge_type: str | None = None) -> list[EdgeRecord]:
        """All edges in the namespace (optionally of one type), ordered by (src, type, dst)."""

    def count(self, label: str | None = None) -> int:
        """Number of nodes (of one label, or all)."""

    @property
    def revision(self) -> int | None:
        """A number that changes whenever the namespace changes (None: not tracked), so a
        reader such as the viewer can skip re-reading an unchanged graph."""

    def structure(self, props: Sequence[str] = ()) -> GraphStructure:
        """The whole namespace's nodes (label + the `props` asked for) and edge triples,
        for drawing; cheaper than `query()` + `edges()` where the backend allows."""

    def snapshot(self) -> dict[str, Any]:
        """A JSON-serialisable copy of the whole namespace."""

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Replace the namespace's contents with a snapshot."""

    def clear(self) -> None:
        """Delete everything in the namespace (and nothing outside it)."""

    def close(self) -> None:
        """Release connections. The store must not be used afterwards."""
