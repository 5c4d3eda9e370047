"""Unit tests of the shared Cypher layer: the statements and parameters it produces for
FalkorDB and Neo4j. No server is needed (the Neo4j connection tests use the real driver
against a closed loopback port)."""

from __future__ import annotations

import re
import socket

import pytest

from memsim.memory.backends import cypher
from memsim.memory.backends.cypher import (
    FALKORDB,
    NEO4J,
    StoreUnavailableError,
    build_count,
    build_edges,
    build_get,
    build_neighbors,
    build_query,
    node_key,
)
from memsim.memory.backends.cypher_write import build_write, build_write_many
from memsim.memory.schema import (
    EDGE_TYPES,
    NODE_LABELS,
    LabelChangeError,
    MissingEndpointError,
    SchemaError,
)
from memsim.memory.store import EdgeRecord, NodeRecord, WriteBatch

HOSTILE = [
    "x'}) DETACH DELETE n //",
    'x"}) MATCH (m) DETACH DELETE m RETURN 1 //',
    "a` DETACH DELETE n //",
    'x") RETURN 1 UNION MATCH (n) RETURN n //',
    "\\'; CALL db.clear() //",
]


def _batch(value: str) -> WriteBatch:
    return WriteBatch(
        nodes=[NodeRecord(value, "Goal", {"name": value, "tags": [value, "b"]})],
        edges=[EdgeRecord(value, "NEXT", "other" + value, {"why": value})],
        delete_edges=[(value, "ABOUT", value)],
        delete_nodes=["gone" + value],
    )


def _all_strings(obj: object) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in _all_strings(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in _all_strings(v)]
    return []


@pytest.mark.parametrize("value", HOSTILE)
def test_data_never_reaches_query_text(value: str) -> None:
    statements = [
        build_write(_batch(value), "agent_0")[0],
        build_get("agent_0", [value]),
        build_query("agent_0", "Goal", {"name": value}, missing=["valid_to"]),
        build_neighbors("agent_0", value, "NEXT", "both"),
    ]
    for statement in statements:
        assert statement is not None
        assert value not in statement.text
        # ...but it is sent, as a parameter.
        assert any(value in s for s in _all_strings(statement.params))


@pytest.mark.parametrize("namespace", ["agent_0'}) DETACH DELETE n //", "team"])
def test_namespace_is_a_parameter(namespace: str) -> None:
    write, _ = build_write(_batch("a"), namespace)
    assert write is not None
    assert namespace not in write.text
    assert write.params["ns"] == namespace
    # Every MERGE / MATCH on a node goes by key or namespace, and keys embed the namespace.
    for row in write.params["n0"]:
        assert row["key"] == node_key(namespace, row["id"])


def test_namespace_rejects_control_characters() -> None:
    with pytest.raises(SchemaError, match="namespace"):
        # ("a\x1fb", "c") would share the key of ("a", "b\x1fc"): the separator is banned.
        build_write(_batch("a"), "a\x1fb")
    with pytest.raises(SchemaError, match="namespace"):
        build_write(_batch("a"), "")


@pytest.mark.parametrize(
    "batch, field",
    [
        (WriteBatch(nodes=[NodeRecord("a", "Goal) DETACH DELETE n //")]), "label"),
        (WriteBatch(nodes=[NodeRecord("a", "goal")]), "label"),
        (WriteBatch(nodes=[NodeRecord("a", "Goal"), NodeRecord("b", "Goal")],
                    edges=[EdgeRecord("a", "NEXT]->() DETACH DELETE n //", "b")]), "edge type"),
        (WriteBatch(delete_edges=[("a", "UNKNOWN", "b")]), "edge type"),
        (WriteBatch(nodes=[NodeRecord("a", "Goal", {"x') //": 1})]), "props key"),
    ],
)
def test_names_outside_the_whitelist_are_rejected(batch: WriteBatch, field: str) -> None:
    with pytest.raises(SchemaError, match=field):
        build_write(batch, "agent_0")


def test_reads_reject_unknown_labels_and_types() -> None:
    with pytest.raises(SchemaError, match="allowed labels"):
        build_query("ns", "Goal {x: 1}) DETACH DELETE n //")
    with pytest.raises(SchemaError, match="allowed labels"):
        build_count("ns", "Nope")
    with pytest.raises(SchemaError, match="allowed types"):
        build_edges("ns", "NOPE")
    with pytest.raises(SchemaError, match="allowed types"):
        build_neighbors("ns", "a", "NOPE")
    with pytest.raises(SchemaError, match=r"direction .* allowed"):
        build_neighbors("ns", "a", None, "sideways")  # type: ignore[arg-type]
    with pytest.raises(SchemaError, match="limit"):
        build_query("ns", limit=-1)
    with pytest.raises(SchemaError, match="missing"):
        build_query("ns", missing="valid_to")


@pytest.mark.parametrize("name", sorted(cypher.RESERVED_PROPS))
def test_reserved_property_names_are_rejected(name: str) -> None:
    # A user prop `_ns` would move the node into another namespace: refuse it.
    with pytest.raises(SchemaError, match="reserved"):
        build_write(WriteBatch(nodes=[NodeRecord("a", "Goal", {name: "other"})]), "ns")
    with pytest.raises(SchemaError, match="reserved"):
        build_query("ns", where={name: "other"})


def test_non_finite_floats_are_rejected() -> None:
    with pytest.raises(SchemaError, match=r"props\.w must be a finite number"):
        build_write(WriteBatch(nodes=[NodeRecord("a", "Goal", {"w": float("nan")})]), "ns")


def test_write_groups_by_label_and_type_with_one_unwind_each() -> None:
    batch = WriteBatch(
        nodes=[
            NodeRecord("e1", "Event", {"t": 1}),
            NodeRecord("g1", "Goal"),
            NodeRecord("e2", "Event", {"t": 2}),
        ],
        edges=[
            EdgeRecord("g1", "HAS_EVENT", "e1"),
            EdgeRecord("e1", "NEXT", "e2"),
            EdgeRecord("g1", "HAS_EVENT", "e2"),
        ],
    )
    statement, required = build_write(batch, "ns")
    assert statement is not None and required == []
    text, params = statement.text, statement.params
    assert text.count("MERGE (n:MemNode:Event") == 1 and text.count("MERGE (n:MemNode:Goal") == 1
    assert text.count("MERGE (a)-[r:HAS_EVENT]->(b)") == 1 and text.count("[r:NEXT]") == 1
    # Groups are in sorted name order, rows in batch order.
    assert [r["id"] for r in params["n0"]] == ["e1", "e2"]
    assert [r["id"] for r in params["n1"]] == ["g1"]
    assert [(r["src"], r["dst"]) for r in params["e0"]] == [
        (node_key("ns", "g1"), node_key("ns", "e1")),
        (node_key("ns", "g1"), node_key("ns", "e2")),
    ]
    assert params["n0"][1]["props"] == {"t": 2}
    # Node upserts come before edge upserts; a single RETURN ends the one statement.
    assert text.index("MERGE (n:") < text.index("MERGE (a)-")
    assert text.count("RETURN") == 1 and text.rstrip().endswith("RETURN ok")


def test_write_order_is_upsert_nodes_edges_then_delete_edges_nodes() -> None:
    batch = WriteBatch(
        nodes=[NodeRecord("a", "Goal")],
        edges=[EdgeRecord("a", "NEXT", "b")],
        delete_edges=[("a", "ABOUT", "c")],
        delete_nodes=["d"],
    )
    statement, _ = build_write(batch, "ns")
    assert statement is not None
    positions = [
        statement.text.index(marker)
        for marker in ("MERGE (n:", "MERGE (a)-", "DELETE r", "DETACH DELETE n")
    ]
    assert positions == sorted(positions)
    assert statement.params["d0"] == [
        {"src": node_key("ns", "a"), "dst": node_key("ns", "c"), "ns": "ns"}
    ]
    assert statement.params["dn"] == [{"key": node_key("ns", "d"), "ns": "ns"}]


def test_write_many_is_one_statement_whose_rows_name_their_namespace() -> None:
    one = WriteBatch(nodes=[NodeRecord("a", "Goal")], edges=[EdgeRecord("a", "NEXT", "b")],
                     delete_nodes=["d"])
    two = WriteBatch(nodes=[NodeRecord("a", "Goal"), NodeRecord("e", "Event")],
                     delete_edges=[("a", "NEXT", "b")])
    statement = build_write_many([("agent_0", one), ("agent_1", two)])
    assert statement is not None
    text, params = statement.text, statement.params
    # The two batches share each section: one Goal MERGE, one NEXT MERGE, one delete each.
    assert text.count("MERGE (n:MemNode:Goal") == 1 and text.count("RETURN") == 1
    assert [(r["ns"], r["key"]) for r in params["n1"]] == [
        ("agent_0", node_key("agent_0", "a")), ("agent_1", node_key("agent_1", "a"))
    ]
    assert params["e0"][0]["src"] == node_key("agent_0", "a")
    assert params["d0"] == [{"src": node_key("agent_1", "a"), "dst": node_key("agent_1", "b"),
                             "ns": "agent_1"}]
    assert params["dn"] == [{"key": node_key("agent_0", "d"), "ns": "agent_0"}]
    # No label or endpoint checks (the caller checked against a mirror), no namespace
    # parameter: every row carries its own.
    assert "clash" not in text and "found" not in text and "$ns" not in text
    # Alone, a batch gives the statement build_write gives it without checks.
    alone = build_write_many([("agent_0", one)])
    assert alone is not None
    assert alone.text == build_write(one, "agent_0", checks=False)[0].text  # type: ignore[union-attr]


def test_write_many_refuses_a_namespace_twice_and_checks_each_batch() -> None:
    batch = WriteBatch(nodes=[NodeRecord("a", "Goal")])
    with pytest.raises(ValueError, match="namespace 'agent_0' twice"):
        build_write_many([("agent_0", batch), ("agent_0", batch)])
    with pytest.raises(SchemaError):
        build_write_many([("agent_0", WriteBatch(nodes=[NodeRecord("a", "Nope")]))])
    assert build_write_many([("agent_0", WriteBatch()), ("agent_1", WriteBatch())]) is None


def test_endpoint_check_only_for_endpoints_the_batch_does_not_create() -> None:
    batch = WriteBatch(
        nodes=[NodeRecord("new", "Event")],
        edges=[EdgeRecord("old", "NEXT", "new"), EdgeRecord("new", "NEXT", "older")],
    )
    statement, required = build_write(batch, "ns")
    assert statement is not None
    assert required == ["old", "older"]
    assert statement.params["ends"] == [node_key("ns", "old"), node_key("ns", "older")]
    assert "WHERE found = size($ends)" in statement.text
    # The checks run before any write clause, so a failed check writes nothing.
    first_write = statement.text.index("MERGE")
    assert statement.text.index("WHERE found") < first_write
    assert statement.text.index("WHERE clash = 0") < first_write

    only_new, required = build_write(WriteBatch(nodes=[NodeRecord("x", "Goal")]), "ns")
    assert only_new is not None and required == [] and "ends" not in only_new.params


def test_a_write_checked_elsewhere_leaves_out_the_label_and_endpoint_checks() -> None:
    """`checks=False` (a read mirror checked the batch) drops only the two check
    sections: the same upserts, the same parameters for them."""
    batch = WriteBatch(
        nodes=[NodeRecord("new", "Event", {"step": 1}), NodeRecord("g", "Goal")],
        edges=[EdgeRecord("old", "NEXT", "new")],
    )
    checked, required = build_write(batch, "ns")
    unchecked, required_too = build_write(batch, "ns", checks=False)
    assert checked is not None and unchecked is not None
    assert required == required_too == ["old"]
    assert "clash" not in unchecked.text and "$ends" not in unchecked.text
    assert "ends" not in unchecked.params
    assert unchecked.text == checked.text[checked.text.index("UNWIND $n0 AS row\nMERGE"):]
    assert {k: v for k, v in checked.params.items() if k != "ends"} == unchecked.params


def test_repeated_ids_are_merged_and_label_conflicts_rejected() -> None:
    batch = WriteBatch(
        nodes=[
            NodeRecord("a", "Goal", {"x": 1, "y": 1}),
            NodeRecord("a", "Goal", {"y": 2, "z": None}),
        ],
        edges=[EdgeRecord("a", "NEXT", "a", {"w": 1}), EdgeRecord("a", "NEXT", "a", {"v": 2})],
        delete_nodes=["q", "q"],
    )
    statement, _ = build_write(batch, "ns")
    assert statement is not None
    assert statement.params["n0"] == [
        {"key": node_key("ns", "a"), "ns": "ns", "id": "a", "label": "Goal",
         "props": {"x": 1, "y": 2, "z": None}, "caption": None, "fallback": "a"}
    ]
    assert [r["props"] for r in statement.params["e0"]] == [{"w": 1, "v": 2}]
    assert statement.params["dn"] == [{"key": node_key("ns", "q"), "ns": "ns"}]
    with pytest.raises(LabelChangeError, match="label cannot change"):
        build_write(WriteBatch(nodes=[NodeRecord("a", "Goal"), NodeRecord("a", "Event")]), "ns")


def test_empty_batch_sends_nothing_but_replace_clears() -> None:
    assert build_write(WriteBatch(), "ns") == (None, [])
    statement, _ = build_write(WriteBatch(), "ns", replace=True)
    assert statement is not None and "DETACH DELETE old" in statement.text


def test_replace_requires_every_endpoint_in_the_batch() -> None:
    batch = WriteBatch(nodes=[NodeRecord("a", "Goal")], edges=[EdgeRecord("a", "NEXT", "b")])
    with pytest.raises(MissingEndpointError, match="'b'"):
        build_write(batch, "ns", replace=True)


def test_tuples_are_sent_as_lists() -> None:
    statement, _ = build_write(WriteBatch(nodes=[NodeRecord("a", "Goal", {"l": (1, 2)})]), "ns")
    assert statement is not None and statement.params["n0"][0]["props"] == {"l": [1, 2]}


def test_query_statement_filters_and_orders() -> None:
    plain = build_query("ns", "Event")
    assert "WHERE" not in plain.text and "LIMIT" not in plain.text
    assert plain.text.startswith("MATCH (n:Event {_ns: $ns})")
    full = build_query("ns", None, {"kind": "tree", "n": 2}, missing=["valid_to"], limit=5)
    assert full.text.startswith("MATCH (n:MemNode {_ns: $ns})")
    assert full.params == {
        "ns": "ns", "where": {"kind": "tree", "n": 2}, "missing": ["valid_to"], "limit": 5
    }
    assert "ORDER BY id" in full.text and full.text.endswith("LIMIT $limit")


@pytest.mark.parametrize(
    "direction, pattern",
    [("out", r"\)-\[r:NEXT\]->\(n"), ("in", r"\)<-\[r:NEXT\]-\(n"), ("both", r"\)-\[r:NEXT\]-\(n")],
)
def test_neighbors_direction(direction: str, pattern: str) -> None:
    statement = build_neighbors("ns", "a", "NEXT", direction)  # type: ignore[arg-type]
    assert re.search(pattern, statement.text)
    assert statement.params == {"ns": "ns", "key": node_key("ns", "a")}
    assert "ORDER BY type, id, src" in statement.text


def test_every_read_filters_on_the_namespace() -> None:
    for statement in (
        build_get("ns", ["a"]),
        build_query("ns"),
        build_neighbors("ns", "a"),
        build_edges("ns"),
        build_count("ns"),
        build_count("ns", "Goal"),
    ):
        assert "_ns: $ns" in statement.text and statement.params["ns"] == "ns"


def test_dialect_schema_statements() -> None:
    neo = NEO4J.schema_statements()
    falkor = FALKORDB.schema_statements()
    # Both index the key and the namespace, and every schema label by namespace.
    for statements in (neo, falkor):
        assert len(statements) == len(NODE_LABELS) + 2
        for label in NODE_LABELS:
            assert any(f"(n:{label})" in s and "n._ns" in s for s in statements)
    # Neo4j: idempotent, named, and a Community-Edition-compatible single-property
    # uniqueness constraint on the composite key.
    assert all("IF NOT EXISTS" in s for s in neo)
    assert "CREATE CONSTRAINT memsim_memnode_key IF NOT EXISTS FOR (n:MemNode) " \
        "REQUIRE n._key IS UNIQUE" in neo
    assert sum("CONSTRAINT" in s for s in neo) == 1
    # FalkorDB rejects IF NOT EXISTS; "already indexed" counts as success.
    assert not any("IF NOT EXISTS" in s or "CONSTRAINT" in s for s in falkor)
    assert "CREATE INDEX FOR (n:MemNode) ON (n._key)" in falkor
    assert FALKORDB.is_already_exists("Attribute '_key' is already indexed")
    assert not FALKORDB.is_already_exists("errMsg: Invalid input")


def test_whitelists_are_identifier_shaped() -> None:
    # The layer interpolates these names; they must never need quoting.
    for name in NODE_LABELS | EDGE_TYPES:
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name)


# -- Neo4jStore configuration and errors (real driver, no server) ------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_neo4j_without_uri_names_the_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    from memsim.memory.backends.neo4j_store import Neo4jStore

    monkeypatch.delenv("MEMSIM_NEO4J_URI", raising=False)
    with pytest.raises(ValueError, match="MEMSIM_NEO4J_URI"):
        Neo4jStore("agent_0")
    with pytest.raises(ValueError, match="allowed schemes"):
        Neo4jStore("agent_0", uri="http://localhost:7474")


def test_neo4j_unreachable_names_uri_and_env_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    from memsim.memory.backends import open_store

    monkeypatch.delenv("MEMSIM_NEO4J_URI", raising=False)
    uri = f"bolt://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("MEMSIM_NEO4J_URI", uri)
    monkeypatch.setenv("MEMSIM_NEO4J_PASSWORD", "secret")
    with pytest.raises(StoreUnavailableError) as info:
        open_store("neo4j", "agent_0", connection_timeout=1.0)
    message = str(info.value)
    assert uri in message and "MEMSIM_NEO4J_URI" in message and "MEMSIM_NEO4J_PASSWORD" in message
