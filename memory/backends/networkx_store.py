"""The embedded default backend: one `networkx.MultiDiGraph` per namespace, in process.

Namespaces live in a registry (a plain dict namespace -> graph). Two stores opened on the
same namespace and registry share one graph (that is what a team graph needs); stores on
different namespaces share nothing. Each graph carries secondary indexes in its `.graph`
attribute dict so they are shared too:

- by label: label -> set of node ids;
- by property value: (label, key, typed value) -> set of node ids, for string and boolean
  properties, so `query(label, where=...)` costs O(smallest matching set), not O(nodes).

Edges are keyed by their type, which enforces "at most one edge of a type between two
nodes".
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, MutableMapping, Sequence
from typing import Any, ClassVar

import networkx as nx

from memsim.memory.schema import (
    LabelChangeError,
    MissingEndpointError,
    SchemaError,
    check_batch,
    check_edge_type,
    check_id,
    check_label,
    snapshot_to_batch,
)
from memsim.memory.store import (
    Direction,
    EdgeRecord,
    GraphStructure,
    NodeRecord,
    Props,
    StoreCapabilities,
    StoreShorthands,
    WriteBatch,
)

GraphRegistry = MutableMapping[str, nx.MultiDiGraph]

# Process-wide default registry: stores opened without an explicit registry share it.
_DEFAULT_REGISTRY: dict[str, nx.MultiDiGraph] = {}

_DIRECTIONS = ("out", "in", "both")


def _index_key(value: Any) -> Hashable | None:
    """A hashable, type-aware index key for a property value (None: not indexed).

    Only strings and booleans are indexed: they are what memory looks nodes up by (kind,
    region key, flags). Numbers (steps, counts, scores) change on most writes, so indexing
    them would cost more than it saves; `where` on a number filters the label's nodes.
    Booleans get their own key because `True == 1` in Python but not in Cypher.
    """
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, str):
        return ("s", value)
    return None


def _same_value(a: Any, b: Any) -> bool:
    if type(a) is type(b) and type(a) is not list:
        return a == b
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, list | tuple) or isinstance(b, list | tuple):
        return False
    return a == b


def _copy_props(props: Mapping[str, Any], has_lists: bool = True) -> Props:
    # Lists are copied so callers can never mutate stored state through a record.
    out = dict(props)
    if not has_lists:
        return out
    for key, value in out.items():
        if type(value) is list:
            out[key] = value.copy()
    return out


def _node_record(node_id: str, data: Mapping[str, Any]) -> NodeRecord:
    """A fresh record of one stored node (`data`: its networkx attribute dict)."""
    return NodeRecord(node_id, data["label"], _copy_props(data["props"], data["lists"]))


def _normalise(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


class NetworkxStore(StoreShorthands):
    """`GraphStore` over an in-process networkx graph (see module docstring)."""

    capabilities: ClassVar[StoreCapabilities] = StoreCapabilities(
        remote=False, batched_reads=False
    )

    def __init__(self, namespace: str, *, graph_registry: GraphRegistry | None = None) -> None:
        check_id(namespace, "namespace")
        registry = _DEFAULT_REGISTRY if graph_registry is None else graph_registry
        graph = registry.get(namespace)
        if graph is None:
            graph = nx.MultiDiGraph()
            registry[namespace] = graph
        graph.graph.setdefault("by_label", {})
        graph.graph.setdefault("by_prop", {})
        graph.graph.setdefault("indexed", {})  # label -> the property keys by_prop holds
        self._namespace = namespace
        self._g: nx.MultiDiGraph = graph
        self._closed = False
        graph.graph.setdefault("revision", 0)

    # -- plumbing ---------------------------------------------------------------------

    @property
    def namespace(self) -> str:
        return self._namespace

    def _graph(self) -> nx.MultiDiGraph:
        if self._closed:
            raise RuntimeError(f"store for namespace {self._namespace!r} is closed")
        return self._g

    def _index_add(self, node_id: str, label: str, props: Mapping[str, Any]) -> None:
        keys = self._g.graph["indexed"].get(label)
        if not keys:
            return
        by_prop: dict[tuple[str, str, Hashable], set[str]] = self._g.graph["by_prop"]
        for key in keys:
            if key in props:
                ikey = _index_key(props[key])
                if ikey is not None:
                    by_prop.setdefault((label, key, ikey), set()).add(node_id)

    def _index_remove(self, node_id: str, label: str, props: Mapping[str, Any]) -> None:
        keys = self._g.graph["indexed"].get(label)
        if not keys:
            return
        by_prop: dict[tuple[str, str, Hashable], set[str]] = self._g.graph["by_prop"]
        for key in keys:
            if key not in props:
                continue
            ikey = _index_key(props[key])
            if ikey is None:
                continue
            bucket = by_prop.get((label, key, ikey))
            if bucket is not None:
                bucket.discard(node_id)
                if not bucket:
                    del by_prop[(label, key, ikey)]

    def _ensure_index(self, label: str, key: str) -> None:
        """Index (label, key) from now on, starting from the nodes there are. Only the
        keys some query has looked up are indexed: a write maintains those alone."""
        indexed: dict[str, set[str]] = self._g.graph["indexed"]
        keys = indexed.setdefault(label, set())
        if key in keys:
            return
        keys.add(key)
        node_data = self._g._node
        for node_id in self._g.graph["by_label"].get(label, ()):
            props = node_data[node_id]["props"]
            if key in props:
                self._index_add(node_id, label, {key: props[key]})

    # -- writes -----------------------------------------------------------------------

    @property
    def revision(self) -> int:  # type: ignore[override]
        """Counts the writes applied to this namespace (shared by every store on it)."""
        return int(self._g.graph["revision"])

    def structure(self, props: Sequence[str] = ()) -> GraphStructure:
        """Zero-copy: the property dicts are the graph's own (read-only, valid until the
        next write), so drawing a 2,000-node memory does not copy every property."""
        g = self._graph()
        # networkx's own dicts (_node, _adj): walking its view objects costs ~5x more.
        node_data = g._node
        if props:
            nodes = {n: (d["label"], {k: d["props"][k] for k in props if k in d["props"]})
                     for n, d in node_data.items()}
        else:
            nodes = {n: (d["label"], d["props"]) for n, d in node_data.items()}
        edges = [(u, key, v) for u, targets in g._adj.items() for v, keys in targets.items()
                 for key in keys]
        return GraphStructure(nodes, edges)

    def write(self, batch: WriteBatch) -> None:
        """Validate the whole batch, then apply it (nothing applies if anything is bad)."""
        self.check_write(batch)
        self.apply_checked(batch)

    def check_write(self, batch: WriteBatch) -> None:
        """Raise what `write(batch)` would raise (`SchemaError`; `LabelChangeError`,
        `MissingEndpointError`), changing nothing."""
        g = self._graph()
        check_batch(batch)
        # Endpoint and label checks need the state the batch itself creates. (networkx's
        # own dicts: its view objects cost several times more in this hot path.)
        node_data = g._node
        labels: dict[str, str] = {}
        for node in batch.nodes:
            known = node_data.get(node.id)
            existing = known["label"] if known is not None else labels.get(node.id)
            if existing is not None and existing != node.label:
                raise LabelChangeError(
                    f"node.label for {node.id!r} is {node.label!r} but the node already has "
                    f"label {existing!r}; a node's label cannot change"
                )
            labels[node.id] = node.label
        for edge in batch.edges:
            for end, field in ((edge.src, "edge.src"), (edge.dst, "edge.dst")):
                if end not in node_data and end not in labels:
                    raise MissingEndpointError(
                        f"{field} {end!r} does not exist; an edge needs both endpoints "
                        f"(edge {edge.src}-{edge.type}->{edge.dst})"
                    )

    def apply_checked(self, batch: WriteBatch) -> None:
        """Apply a batch that `check_write` accepted against the graph as it is now."""
        g = self._graph()
        for node in batch.nodes:
            self._upsert_node(node)
        for edge in batch.edges:
            self._upsert_edge(edge)
        for src, edge_type, dst in batch.delete_edges:
            if g.has_edge(src, dst, key=edge_type):
                g.remove_edge(src, dst, key=edge_type)
        for node_id in batch.delete_nodes:
            self._delete_node(node_id)
        if batch:
            g.graph["revision"] += 1

    def _upsert_node(self, node: NodeRecord) -> None:
        g = self._g
        if node.id not in g:
            props = {k: _normalise(v) for k, v in node.props.items() if v is not None}
            has_lists = any(type(v) is list for v in props.values())
            g.add_node(node.id, label=node.label, props=props, lists=has_lists)
            self._g.graph["by_label"].setdefault(node.label, set()).add(node.id)
            self._index_add(node.id, node.label, props)
            return
        data = g._node[node.id]
        stored: dict[str, Any] = data["props"]
        changed = {k: v for k, v in node.props.items() if k in stored or v is not None}
        if not changed:
            return
        if self._g.graph["indexed"].get(node.label):
            self._index_remove(node.id, node.label, {k: stored[k] for k in changed if k in stored})
        new: dict[str, Any] = {}
        for key, value in changed.items():
            if value is None:
                stored.pop(key, None)
            else:
                stored[key] = new[key] = _normalise(value)
        # a conservative flag: once a node had a list prop its records copy lists
        data["lists"] = data["lists"] or any(type(v) is list for v in new.values())
        self._index_add(node.id, node.label, new)

    def _upsert_edge(self, edge: EdgeRecord) -> None:
        g = self._g
        found = g._adj[edge.src].get(edge.dst, {}).get(edge.type)
        if found is not None:
            stored = found["props"]
        else:
            stored = {}
            g.add_edge(edge.src, edge.dst, key=edge.type, props=stored)
        for key, value in edge.props.items():
            if value is None:
                stored.pop(key, None)
            else:
                stored[key] = _normalise(value)

    def _delete_node(self, node_id: str) -> None:
        g = self._g
        if node_id not in g:
            return
        data = g.nodes[node_id]
        self._index_remove(node_id, data["label"], data["props"])
        bucket = g.graph["by_label"].get(data["label"])
        if bucket is not None:
            bucket.discard(node_id)
        g.remove_node(node_id)  # removes its edges too

    # -- reads ------------------------------------------------------------------------

    def get(self, node_ids: Sequence[str]) -> list[NodeRecord]:
        """The nodes with these ids that exist, in the order asked."""
        nodes = self._graph()._node  # the node dict itself: Graph.__contains__ is a call
        return [_node_record(n, data) for n in node_ids if (data := nodes.get(n)) is not None]

    def get_shared(self, node_ids: Sequence[str]) -> list[NodeRecord]:
        """`get` without copying: each record's props are the stored dict itself, to be
        read, never changed, and only until the next write (a retrieval's reads)."""
        nodes = self._graph()._node
        return [NodeRecord(n, data["label"], data["props"]) for n in node_ids
                if (data := nodes.get(n)) is not None]

    def query(
        self,
        label: str | None = None,
        where: Mapping[str, Any] | None = None,
        *,
        missing: Sequence[str] = (),
        limit: int | None = None,
    ) -> list[NodeRecord]:
        """Nodes matching label / where / missing, ordered by id (see `GraphStore`)."""
        g = self._graph()
        if label is not None:
            check_label(label)
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise SchemaError(f"limit must be a non-negative int or None, got {limit!r}")
        where = dict(where or {})
        candidates: set[str] | None = None
        used_key: str | None = None
        if label is not None:
            by_prop = g.graph["by_prop"]
            for key, value in where.items():
                ikey = _index_key(value)
                if ikey is None:
                    continue
                self._ensure_index(label, key)
                bucket = by_prop.get((label, key, ikey), set())
                if candidates is None or len(bucket) < len(candidates):
                    candidates, used_key = bucket, key
            if candidates is None:
                candidates = g.graph["by_label"].get(label, set())
        # Buckets are per label, and the bucket used already guarantees its own key.
        checks = [(k, v) for k, v in where.items() if k != used_key]
        check_label_each = candidates is None and label is not None
        node_data = g._node  # the raw node dict: NodeView lookups dominate tight loops
        out: list[NodeRecord] = []
        for node_id in sorted(node_data if candidates is None else candidates):
            data = node_data[node_id]
            if check_label_each and data["label"] != label:
                continue
            props = data["props"]
            if checks and not all(k in props and _same_value(props[k], v) for k, v in checks):
                continue
            if missing and any(k in props for k in missing):
                continue
            out.append(_node_record(node_id, data))
            if limit is not None and len(out) >= limit:
                break
        return out

    def neighbors(
        self,
        node_id: str,
        edge_type: str | None = None,
        direction: Direction = "out",
    ) -> list[tuple[EdgeRecord, NodeRecord]]:
        """Edges of `node_id` with the node at the other end, ordered by (type, other id)."""
        g = self._graph()
        if edge_type is not None:
            check_edge_type(edge_type)
        if direction not in _DIRECTIONS:
            raise SchemaError(f"direction {direction!r} is not allowed; allowed: {_DIRECTIONS}")
        if node_id not in g:
            return []
        found: list[tuple[str, str, EdgeRecord]] = []
        if direction in ("out", "both"):
            for _, dst, key, data in g.out_edges(node_id, keys=True, data=True):
                if edge_type is None or key == edge_type:
                    found.append(
                        (key, dst, EdgeRecord(node_id, key, dst, _copy_props(data["props"])))
                    )
        if direction in ("in", "both"):
            for src, _, key, data in g.in_edges(node_id, keys=True, data=True):
                if (edge_type is None or key == edge_type) and not (
                    direction == "both" and src == node_id
                ):
                    found.append(
                        (key, src, EdgeRecord(src, key, node_id, _copy_props(data["props"])))
                    )
        found.sort(key=lambda t: (t[0], t[1], t[2].src))
        return [(edge, _node_record(other, g._node[other])) for _, other, edge in found]

    def edges(self, edge_type: str | None = None) -> list[EdgeRecord]:
        """All edges (optionally of one type), ordered by (src, type, dst)."""
        g = self._graph()
        if edge_type is not None:
            check_edge_type(edge_type)
        out = [
            EdgeRecord(src, key, dst, _copy_props(data["props"]))
            for src, dst, key, data in g.edges(keys=True, data=True)
            if edge_type is None or key == edge_type
        ]
        out.sort(key=lambda e: (e.src, e.type, e.dst))
        return out

    def count(self, label: str | None = None) -> int:
        """Number of nodes (of one label, or all)."""
        g = self._graph()
        if label is None:
            return g.number_of_nodes()
        check_label(label)
        return len(g.graph["by_label"].get(label, ()))

    # -- whole-namespace operations ---------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """A JSON-serialisable copy: {"namespace", "nodes": [...], "edges": [...]}."""
        g = self._graph()
        nodes = [
            {"id": n, "label": g.nodes[n]["label"], "props": _copy_props(g.nodes[n]["props"])}
            for n in sorted(g.nodes)
        ]
        edges = [
            {"src": e.src, "type": e.type, "dst": e.dst, "props": e.props} for e in self.edges()
        ]
        return {"namespace": self._namespace, "nodes": nodes, "edges": edges}

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Replace this namespace's contents with `snapshot` (validated first)."""
        self._graph()
        batch = snapshot_to_batch(snapshot)
        check_batch(batch)
        known = {n.id for n in batch.nodes}
        for edge in batch.edges:
            if edge.src not in known or edge.dst not in known:
                raise SchemaError(
                    f"snapshot edge {edge.src}-{edge.type}->{edge.dst} has a missing endpoint"
                )
        self.clear()
        self.write(batch)

    def clear(self) -> None:
        """Delete everything in this namespace (other namespaces are untouched)."""
        g = self._graph()
        revision = g.graph.get("revision", 0)
        g.clear()  # also empties g.graph, so the indexes are re-created below
        g.graph["by_label"] = {}
        g.graph["by_prop"] = {}
        g.graph["indexed"] = {}
        g.graph["revision"] = revision + 1

    def close(self) -> None:
        """Detach from the graph; the data stays in the registry for other stores."""
        self._closed = True
