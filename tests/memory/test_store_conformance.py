"""The GraphStore conformance suite: every backend must pass it (see conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from memsim.memory import (
    EdgeRecord,
    GraphStore,
    NodeRecord,
    SchemaError,
    StoreCapabilities,
    WriteBatch,
)
from memsim.memory.backends.cypher_store import CypherStore

StoreFactory = Callable[[str], GraphStore]


def _ids(records: list[NodeRecord]) -> list[str]:
    return [r.id for r in records]


@pytest.fixture
def store(store_factory: StoreFactory) -> GraphStore:
    return store_factory("main")


@pytest.fixture
def filled(store: GraphStore) -> GraphStore:
    store.write(
        WriteBatch(
            nodes=[
                NodeRecord("t2", "Entity", {"kind": "tree", "x": 2, "valid_to": 9}),
                NodeRecord("t1", "Entity", {"kind": "tree", "x": 1}),
                NodeRecord("s1", "Entity", {"kind": "stone", "x": 1}),
                NodeRecord("p1", "Place", {"x": 1, "y": 1}),
                NodeRecord("p2", "Place", {"x": 2, "y": 1}),
                NodeRecord("a", "Agent", {"name": "a", "flag": True}),
            ],
            edges=[
                EdgeRecord("t1", "LOCATED_AT", "p1", {"valid_from": 3}),
                EdgeRecord("t2", "LOCATED_AT", "p2"),
                EdgeRecord("s1", "LOCATED_AT", "p1"),
                EdgeRecord("t1", "SEEN_BY", "a", {"step": 3}),
            ],
        )
    )
    return store


def test_store_satisfies_protocol(store: GraphStore) -> None:
    assert isinstance(store, GraphStore)
    assert store.namespace.endswith("-main")


def test_capabilities_are_declared_and_true(filled: GraphStore) -> None:
    caps = filled.capabilities
    assert isinstance(caps, StoreCapabilities)
    assert caps.remote == isinstance(filled, CypherStore)
    assert caps.batched_reads == hasattr(filled, "read_many")
    if caps.batched_reads:  # read_many answers like the single reads
        calls = [("get", {"node_ids": ["t1", "zz"]}), ("count", {"label": "Place"})]
        assert filled.read_many(calls) == [filled.get(["t1", "zz"]), 2]  # type: ignore[attr-defined]


def test_upsert_merges_properties_and_none_removes(store: GraphStore) -> None:
    store.upsert_nodes([NodeRecord("n", "Goal", {"name": "g", "status": "active", "tags": ["a"]})])
    store.upsert_nodes([NodeRecord("n", "Goal", {"status": "done", "tags": None, "score": 1.5})])
    [node] = store.get(["n"])
    assert node == NodeRecord("n", "Goal", {"name": "g", "status": "done", "score": 1.5})
    assert store.count() == 1


def test_edge_upsert_merges_and_is_unique_per_type(filled: GraphStore) -> None:
    filled.upsert_edges([EdgeRecord("t1", "LOCATED_AT", "p1", {"valid_to": 5})])
    located = [e for e in filled.edges("LOCATED_AT") if e.src == "t1"]
    assert located == [EdgeRecord("t1", "LOCATED_AT", "p1", {"valid_from": 3, "valid_to": 5})]
    filled.upsert_edges([EdgeRecord("t1", "LOCATED_AT", "p1", {"valid_from": None})])
    located = [e for e in filled.edges("LOCATED_AT") if e.src == "t1"]
    assert located[0].props == {"valid_to": 5}


def test_get_keeps_asked_order_and_skips_missing(filled: GraphStore) -> None:
    assert _ids(filled.get(["p2", "nope", "a", "t1"])) == ["p2", "a", "t1"]


def test_query_where_missing_limit_and_order(filled: GraphStore) -> None:
    assert _ids(filled.query("Entity")) == ["s1", "t1", "t2"]
    assert _ids(filled.query("Entity", {"kind": "tree"})) == ["t1", "t2"]
    assert _ids(filled.query("Entity", {"kind": "tree"}, missing=["valid_to"])) == ["t1"]
    assert _ids(filled.query("Entity", {"x": 1})) == ["s1", "t1"]
    assert _ids(filled.query("Entity", {"x": 1, "kind": "stone"})) == ["s1"]
    assert _ids(filled.query("Entity", limit=2)) == ["s1", "t1"]
    assert _ids(filled.query(None, {"x": 1})) == ["p1", "s1", "t1"]
    assert filled.query("Recipe") == []
    # Booleans are not numbers: True must not match 1.
    assert _ids(filled.query("Agent", {"flag": True})) == ["a"]
    assert filled.query("Agent", {"flag": 1}) == []


def test_query_sees_updates_and_deletes(filled: GraphStore) -> None:
    filled.upsert_nodes([NodeRecord("t1", "Entity", {"kind": "stone"})])
    assert _ids(filled.query("Entity", {"kind": "tree"})) == ["t2"]
    assert _ids(filled.query("Entity", {"kind": "stone"})) == ["s1", "t1"]
    filled.delete(["s1"])
    assert _ids(filled.query("Entity", {"kind": "stone"})) == ["t1"]


def test_neighbors_directions_and_types(filled: GraphStore) -> None:
    out = filled.neighbors("t1")
    assert [(e.type, n.id) for e, n in out] == [("LOCATED_AT", "p1"), ("SEEN_BY", "a")]
    assert out[0][0] == EdgeRecord("t1", "LOCATED_AT", "p1", {"valid_from": 3})
    inbound = filled.neighbors("p1", "LOCATED_AT", "in")
    assert [(e.src, n.id) for e, n in inbound] == [("s1", "s1"), ("t1", "t1")]
    assert filled.neighbors("p1", direction="out") == []
    both = filled.neighbors("t1", direction="both")
    assert [(e.type, n.id) for e, n in both] == [("LOCATED_AT", "p1"), ("SEEN_BY", "a")]
    assert [n.id for _, n in filled.neighbors("t1", "SEEN_BY")] == ["a"]
    assert filled.neighbors("missing") == []


def test_edges_ordered_and_filtered(filled: GraphStore) -> None:
    keys = [(e.src, e.type, e.dst) for e in filled.edges()]
    assert keys == sorted(keys) and len(keys) == 4
    assert [e.src for e in filled.edges("SEEN_BY")] == ["t1"]


def test_delete_removes_node_and_its_edges(filled: GraphStore) -> None:
    filled.delete(["p1", "never-there"])
    assert filled.get(["p1"]) == []
    assert {(e.src, e.dst) for e in filled.edges()} == {("t2", "p2"), ("t1", "a")}
    assert filled.neighbors("t1", "LOCATED_AT") == []


def test_batch_delete_edges(filled: GraphStore) -> None:
    filled.write(WriteBatch(delete_edges=[("t1", "SEEN_BY", "a"), ("t1", "NEXT", "a")]))
    assert filled.edges("SEEN_BY") == []
    assert filled.count() == 6


def test_count(filled: GraphStore) -> None:
    assert filled.count() == 6
    assert filled.count("Entity") == 3
    assert filled.count("Recipe") == 0


def test_snapshot_restore_round_trip(filled: GraphStore) -> None:
    snap = filled.snapshot()
    json.dumps(snap)  # JSON-serialisable
    filled.upsert_nodes([NodeRecord("extra", "Region", {"rx": 1})])
    filled.delete(["t1"])
    filled.restore(snap)
    assert filled.snapshot() == snap
    assert _ids(filled.query("Entity", {"kind": "tree"})) == ["t1", "t2"]  # indexes rebuilt


def test_clear_and_isolation_between_namespaces(store_factory: StoreFactory) -> None:
    a, b = store_factory("a"), store_factory("b")
    a.upsert_nodes([NodeRecord("x", "Goal", {"name": "a"})])
    b.upsert_nodes([NodeRecord("x", "Goal", {"name": "b"}), NodeRecord("y", "Goal")])
    assert a.get(["x"])[0].props == {"name": "a"}
    assert a.get(["y"]) == [] and a.count() == 1
    assert _ids(a.query("Goal")) == ["x"]
    # an edge to a node that exists only in the other namespace is a missing endpoint
    with pytest.raises(SchemaError):
        a.upsert_edges([EdgeRecord("x", "NEXT", "y")])
    a.clear()
    assert a.count() == 0 and b.count() == 2


def test_same_namespace_shares_data(store_factory: StoreFactory) -> None:
    first, second = store_factory("team"), store_factory("team")
    first.upsert_nodes([NodeRecord("g", "Goal", {"name": "shared"})])
    assert second.get(["g"])[0].props == {"name": "shared"}


@pytest.mark.parametrize(
    "bad",
    [
        WriteBatch(nodes=[NodeRecord("ok", "Goal"), NodeRecord("bad", "Gaol")]),
        WriteBatch(nodes=[NodeRecord("ok", "Goal")], edges=[EdgeRecord("ok", "NEXT", "ghost")]),
        WriteBatch(nodes=[NodeRecord("ok", "Goal")], edges=[EdgeRecord("ok", "NEXTT", "ok")]),
        WriteBatch(nodes=[NodeRecord("ok", "Goal", {"v": {"nested": 1}})]),
    ],
    ids=["bad-label", "missing-endpoint", "bad-edge-type", "bad-prop-type"],
)
def test_bad_batch_changes_nothing(filled: GraphStore, bad: WriteBatch) -> None:
    before = filled.snapshot()
    with pytest.raises(SchemaError):
        filled.write(bad)
    assert filled.snapshot() == before


def test_errors_name_the_field_and_allowed_values(store: GraphStore) -> None:
    with pytest.raises(SchemaError, match=r"label 'Gaol'.*allowed labels.*'Goal'"):
        store.upsert_nodes([NodeRecord("n", "Gaol")])
    with pytest.raises(SchemaError, match=r"props\.when.*allowed: str, int, float, bool"):
        store.upsert_nodes([NodeRecord("n", "Goal", {"when": {"a": 1}})])
    with pytest.raises(SchemaError, match=r"props\.text is 5000 characters; max 4096"):
        store.upsert_nodes([NodeRecord("n", "Goal", {"text": "x" * 5000})])
    with pytest.raises(SchemaError, match=r"props\.tags has 300 items; max 256"):
        store.upsert_nodes([NodeRecord("n", "Goal", {"tags": ["a"] * 300})])
    with pytest.raises(SchemaError, match=r"props\.mixed must be a list of one scalar type"):
        store.upsert_nodes([NodeRecord("n", "Goal", {"mixed": [1, "a"]})])
    with pytest.raises(SchemaError, match=r"edge type 'LIKES'.*allowed types"):
        store.neighbors("n", "LIKES")
    with pytest.raises(SchemaError, match=r"label 'Nope'.*allowed labels"):
        store.query("Nope")
    assert store.count() == 0


def test_label_cannot_change(store: GraphStore) -> None:
    store.upsert_nodes([NodeRecord("n", "Goal")])
    with pytest.raises(SchemaError):
        store.upsert_nodes([NodeRecord("n", "Subgoal")])
    assert store.get(["n"])[0].label == "Goal"


def test_closed_store_refuses_use(store_factory: StoreFactory) -> None:
    store = store_factory("closing")
    store.close()
    with pytest.raises(RuntimeError):
        store.count()


def test_structure_has_every_node_label_chosen_props_and_edge(filled: GraphStore) -> None:
    shape = filled.structure(props=("kind", "x"))
    assert {n: label for n, (label, _) in shape.nodes.items()} == {
        "t1": "Entity", "t2": "Entity", "s1": "Entity", "p1": "Place", "p2": "Place",
        "a": "Agent"}
    assert dict(shape.nodes["t2"][1]) == {"kind": "tree", "x": 2}  # valid_to not asked
    assert dict(shape.nodes["a"][1]) == {}
    assert sorted(shape.edges) == sorted((e.src, e.type, e.dst) for e in filled.edges())
    full = filled.structure()
    assert all(set(props) <= set(r.props) for r in filled.query()
               for props in [full.nodes[r.id][1]])


def test_revision_changes_with_every_write_when_tracked(filled: GraphStore) -> None:
    before = filled.revision
    if before is None:  # the server backends do not track it; readers then always re-read
        assert isinstance(filled, CypherStore)
        return
    filled.upsert_nodes([NodeRecord("extra", "Region", {"rx": 1})])
    after_write = filled.revision
    filled.structure()
    assert filled.revision == after_write != before  # reads do not count
    filled.clear()
    assert filled.revision != after_write


# Found by the reliability fuzzing pass on FalkorDB: such ids were stored but `get()` could
# not find them again (each upsert added a node), NUL broke the query and integers beyond
# 64 bits were clamped. Every backend now refuses them up front, naming the field.
@pytest.mark.parametrize("bad_id", ["a\x01b", "ab\r\n", "ab\n", "ab ", "ab\t", "a\x00b"])
def test_ids_a_server_could_not_find_again_are_refused(store: GraphStore, bad_id: str) -> None:
    with pytest.raises(SchemaError, match=r"node\.id"):
        store.upsert_nodes([NodeRecord(bad_id, "Entity")])
    assert store.count() == 0


@pytest.mark.parametrize("value, problem", [
    ("a\x00b", "NUL"), (["t", "a\x00"], "NUL"), (2**63, "64-bit"), (-(2**63) - 1, "64-bit"),
    ([1, 2**64], "64-bit"),
])
def test_nul_and_out_of_range_integers_are_refused(store: GraphStore, value: object,
                                                   problem: str) -> None:
    with pytest.raises(SchemaError, match=rf"props\.v.*{problem}"):
        store.upsert_nodes([NodeRecord("n", "Entity", {"v": value})])
    assert store.count() == 0


def test_tabs_newlines_and_int64_limits_round_trip(store: GraphStore) -> None:
    node = NodeRecord("a\tb\nc", "Entity", {"text": "x\ny\tz", "lo": -(2**63), "hi": 2**63 - 1})
    for _ in range(3):
        store.upsert_nodes([node])
    assert store.count() == 1 and store.get([node.id]) == [node]
