"""`CypherStore`: the `GraphStore` both server backends share, over the statements that
`cypher.py` builds. A backend subclass supplies its dialect and the runners (one write
statement per transaction; independent reads in as few round trips as the server
allows), so `read_many` and `snapshot` are one round trip on FalkorDB and one read
transaction on Neo4j.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, ClassVar

from memsim.memory.backends.captions import user_props
from memsim.memory.backends.cypher import (
    RESERVED_PROPS,
    CypherDialect,
    Statement,
    StoreUnavailableError,
    build_clear,
    build_count,
    build_edges,
    build_get,
    build_missing,
    build_namespaces,
    build_neighbors,
    build_query,
    check_namespace,
)
from memsim.memory.backends.cypher_write import build_write, build_write_many
from memsim.memory.schema import (
    NODE_LABELS,
    LabelChangeError,
    MissingEndpointError,
    SchemaError,
    snapshot_to_batch,
)
from memsim.memory.store import (
    Direction,
    EdgeRecord,
    NodeRecord,
    Props,
    StoreCapabilities,
    StoreShorthands,
    WriteBatch,
)

# Result rows -> records: the reserved properties and made captions stay on the server.


def _user_props(props: Mapping[str, Any] | None) -> Props:
    return user_props(props, RESERVED_PROPS)


def _node(node_id: str, labels: Sequence[str], props: Mapping[str, Any]) -> NodeRecord:
    schema_labels = [x for x in labels if x in NODE_LABELS]
    if len(schema_labels) != 1:
        raise SchemaError(f"node {node_id!r} has labels {list(labels)}; expected one schema label")
    return NodeRecord(node_id, schema_labels[0], _user_props(props))


_schema_lock = threading.Lock()
_schema_ready: set[Hashable] = set()

# The GraphStore read methods `read_many` batches.
READ_METHODS: tuple[str, ...] = ("get", "query", "neighbors", "edges", "count")
_ReadPlan = tuple[Statement | None, Callable[[list[list[Any]]], Any]]


class CypherStore(StoreShorthands, ABC):
    """`GraphStore` over Cypher. Subclasses supply a dialect and the two runners."""

    dialect: ClassVar[CypherDialect]
    # Both Cypher backends are servers, and this layer gives them `read_many`.
    capabilities: ClassVar[StoreCapabilities] = StoreCapabilities(
        remote=True, batched_reads=True
    )

    def __init__(self, namespace: str) -> None:
        self._namespace = check_namespace(namespace)
        self._closed = False

    # -- what a backend fills in

    @abstractmethod
    def _run_write(self, statement: Statement) -> list[list[Any]]:
        """Run one write statement in one transaction; return its rows."""

    @abstractmethod
    def _run_read(self, statements: Sequence[Statement]) -> list[list[list[Any]]]:
        """Run independent read statements, in as few round trips as the server allows
        (FalkorDB: one pipeline) and in one read transaction where the server has them."""

    @abstractmethod
    def _run_schema(self, text: str) -> None:
        """Run one index/constraint statement (may raise "already exists")."""

    @abstractmethod
    def _server_id(self) -> Hashable:
        """Identifies the server and graph/database, for once-per-process schema setup."""

    # -- shared machinery

    def _ensure_schema(self) -> None:
        """Create indexes and constraints once per process per server."""
        ident = (self.dialect.name, self._server_id())
        with _schema_lock:
            if ident in _schema_ready:
                return
            for text in self.dialect.schema_statements():
                try:
                    self._run_schema(text)
                except StoreUnavailableError:
                    raise
                except Exception as exc:
                    if not self.dialect.is_already_exists(str(exc)):
                        raise
            _schema_ready.add(ident)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"{type(self).__name__}({self._namespace!r}) is closed")

    def _read(self, statement: Statement) -> list[list[Any]]:
        self._check_open()
        return self._run_read([statement])[0]

    def _apply(self, batch: WriteBatch, *, replace: bool = False, checks: bool = True) -> None:
        self._check_open()
        statement, required = build_write(batch, self._namespace, replace=replace,
                                          checks=checks)
        if statement is None:
            return
        if not self._run_write(statement):
            self._raise_rejected(batch, required)

    def _raise_rejected(self, batch: WriteBatch, required: Sequence[str]) -> None:
        """The write's checks dropped it (nothing changed): read why, raise a clear error."""
        asked = {n.id: n.label for n in batch.nodes}
        for found in self.get(list(asked)):
            if found.label != asked[found.id]:
                raise LabelChangeError(
                    f"node.label for {found.id!r} is {asked[found.id]!r} but the node already "
                    f"has label {found.label!r}; a node's label cannot change (nothing written)"
                )
        missing = [r[0] for r in self._read(build_missing(self._namespace, required))]
        raise MissingEndpointError(
            f"edge endpoint(s) {missing or list(required)} do not exist in namespace "
            f"{self._namespace!r}; an edge needs both endpoints (nothing written)"
        )

    # -- GraphStore

    @property
    def namespace(self) -> str:
        return self._namespace

    def write(self, batch: WriteBatch) -> None:
        """Apply the batch atomically, in one statement and one round trip."""
        self._apply(batch)

    def write_checked(self, batch: WriteBatch) -> None:
        """Apply a batch already checked against an exact copy of this namespace (a read
        mirror's `check_write`): the statement leaves out its label and endpoint checks,
        about a third of its server time. Atomic only if that copy was exact."""
        self._apply(batch, checks=False)

    def write_together(self, writes: Sequence[tuple[CypherStore, WriteBatch]]) -> None:
        """Apply the batches of several stores of this store's server and graph, at most
        one per namespace, in one statement: one round trip, one transaction. Like
        `write_checked`, for batches checked against exact copies of their namespaces
        (read mirrors batching a team step's writes)."""
        self._check_open()
        for store, _ in writes:
            store._check_open()
            if type(store) is not type(self) or store._server_id() != self._server_id():
                raise ValueError(
                    f"write_together: store of namespace {store.namespace!r} is not on this "
                    f"store's server and graph ({self._server_id()!r}); it cannot share a "
                    "statement"
                )
        statement = build_write_many([(store.namespace, batch) for store, batch in writes])
        if statement is not None:
            self._run_write(statement)

    def get(self, node_ids: Sequence[str]) -> list[NodeRecord]:
        return self._one(self._plan_get(node_ids))

    def query(
        self,
        label: str | None = None,
        where: Mapping[str, Any] | None = None,
        *,
        missing: Sequence[str] = (),
        limit: int | None = None,
    ) -> list[NodeRecord]:
        return self._one(self._plan_query(label, where, missing=missing, limit=limit))

    def neighbors(
        self,
        node_id: str,
        edge_type: str | None = None,
        direction: Direction = "out",
    ) -> list[tuple[EdgeRecord, NodeRecord]]:
        return self._one(self._plan_neighbors(node_id, edge_type, direction))

    def edges(self, edge_type: str | None = None) -> list[EdgeRecord]:
        return self._one(self._plan_edges(edge_type))

    def count(self, label: str | None = None) -> int:
        return self._one(self._plan_count(label))

    def read_many(self, calls: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Any]:
        """Several independent reads at once: each call is a read method's name (one of
        `READ_METHODS`) and its keyword arguments; returns what each method would return,
        in order. One `_run_read`: a single pipelined round trip on FalkorDB, one read
        transaction on Neo4j. The reads see no writes of each other (there are none)."""
        self._check_open()
        plans = [self._plan(i, call) for i, call in enumerate(calls)]
        statements = [p[0] for p in plans if p[0] is not None]
        rows = iter(self._run_read(statements) if statements else ())
        return [decode(next(rows) if stmt is not None else []) for stmt, decode in plans]

    # -- read plans: a statement (None when nothing needs asking) and its decoder

    def _plan(self, index: int, call: tuple[str, Mapping[str, Any]]) -> _ReadPlan:
        try:
            name, kwargs = call
        except (TypeError, ValueError):
            raise SchemaError(
                f"calls[{index}] must be a (method, kwargs) pair, got {call!r}"
            ) from None
        if name not in READ_METHODS:
            raise SchemaError(
                f"calls[{index}] method {name!r} is not allowed; allowed: {list(READ_METHODS)}"
            )
        if not isinstance(kwargs, Mapping):
            raise SchemaError(f"calls[{index}] kwargs must be a mapping, got {kwargs!r}")
        try:
            return getattr(self, f"_plan_{name}")(**kwargs)
        except TypeError as exc:  # wrong argument names: say which call
            raise SchemaError(f"calls[{index}] ({name}): {exc}") from None

    def _one(self, plan: _ReadPlan) -> Any:
        statement, decode = plan
        return decode([] if statement is None else self._read(statement))

    def _plan_get(self, node_ids: Sequence[str]) -> _ReadPlan:
        if isinstance(node_ids, str):
            raise SchemaError(f"node_ids must be a list of ids, got the string {node_ids!r}")
        if not node_ids:
            return None, lambda rows: []
        asked = list(node_ids)

        def decode(rows: list[list[Any]]) -> list[NodeRecord]:
            found = {row[0]: _node(row[0], row[1], row[2]) for row in rows}
            return [found[i] for i in asked if i in found]

        return build_get(self._namespace, asked), decode

    def _plan_query(
        self,
        label: str | None = None,
        where: Mapping[str, Any] | None = None,
        *,
        missing: Sequence[str] = (),
        limit: int | None = None,
    ) -> _ReadPlan:
        statement = build_query(self._namespace, label, where, missing, limit)
        return statement, lambda rows: [_node(*row) for row in rows]

    def _plan_neighbors(
        self, node_id: str, edge_type: str | None = None, direction: Direction = "out"
    ) -> _ReadPlan:
        def decode(rows: list[list[Any]]) -> list[tuple[EdgeRecord, NodeRecord]]:
            return [
                (EdgeRecord(src, typ, dst, _user_props(rprops)), _node(oid, labels, props))
                for src, typ, dst, rprops, oid, labels, props in rows
            ]

        return build_neighbors(self._namespace, node_id, edge_type, direction), decode

    def _plan_edges(self, edge_type: str | None = None) -> _ReadPlan:
        def decode(rows: list[list[Any]]) -> list[EdgeRecord]:
            return [
                EdgeRecord(src, typ, dst, _user_props(props)) for src, typ, dst, props in rows
            ]

        return build_edges(self._namespace, edge_type), decode

    def _plan_count(self, label: str | None = None) -> _ReadPlan:
        return build_count(self._namespace, label), lambda rows: int(rows[0][0])

    def snapshot(self) -> dict[str, Any]:
        """`{"namespace", "nodes": [{id, label, props}], "edges": [{src, type, dst, props}]}`,
        the same shape as the networkx backend's, so snapshots move between backends."""
        self._check_open()
        node_rows, edge_rows = self._run_read(
            [build_query(self._namespace), build_edges(self._namespace)]
        )
        return {
            "namespace": self._namespace,
            "nodes": [
                {"id": n.id, "label": n.label, "props": n.props}
                for n in (_node(*row) for row in node_rows)
            ],
            "edges": [
                {"src": s, "type": t, "dst": d, "props": _user_props(p)} for s, t, d, p in edge_rows
            ],
        }

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Replace the namespace's contents, in one statement (clear + write)."""
        self._apply(snapshot_to_batch(snapshot), replace=True)

    def namespaces(self) -> dict[str, int]:
        """Every namespace on this server's graph / database, not only this store's, with
        its node count: names and counts only (to list runs' memories)."""
        return {str(ns): int(count) for ns, count in self._read(build_namespaces())}

    def clear(self) -> None:
        self._check_open()
        self._run_write(build_clear(self._namespace))

    def close(self) -> None:
        self._closed = True
