"""The `GraphStore` conformance suite: what every memory backend must do, as plain checks
that any store can run (the built-in backends run it in memsim's tests; a store from
outside memsim runs it through `memsim.testing.check_store`).

Each check takes ``open_store(name) -> GraphStore``, a factory that opens a store on a
namespace derived from `name` (the same name twice: the same namespace; different names:
isolated namespaces) and raises `AssertionError` saying what the store did wrong.
`check_store` runs them all, each on namespaces of its own, and clears and closes every
store it opened.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from memsim.memory.schema import SchemaError
from memsim.memory.store import EdgeRecord, GraphStore, NodeRecord, StoreCapabilities, WriteBatch

StoreFactory = Callable[[str], GraphStore]
Check = Callable[[StoreFactory], None]


@contextmanager
def raises(error: type[Exception], match: str = "") -> Iterator[None]:
    """Like `pytest.raises` (the suite needs no pytest): the block must raise `error`
    with a message that `re.search`es `match`."""
    try:
        yield
    except error as exc:
        if match and not re.search(match, str(exc)):
            raise AssertionError(f"{type(exc).__name__} raised, but its message {str(exc)!r} "
                                 f"does not match {match!r}") from exc
        return
    raise AssertionError(f"{error.__name__} not raised" + (f" (expected {match!r})"
                                                            if match else ""))


def _ids(records: list[NodeRecord]) -> list[str]:
    return [r.id for r in records]


def filled_store(open_store: StoreFactory) -> GraphStore:
    """A store holding the suite's small fixture graph: trees, a stone, places, an agent."""
    store = open_store("main")
    store.write(WriteBatch(
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
    ))
    return store


def check_protocol(open_store: StoreFactory) -> None:
    """The store is a `GraphStore` bound to the namespace it was opened on."""
    store = open_store("main")
    assert isinstance(store, GraphStore), f"{type(store).__name__} is not a GraphStore"
    assert store.namespace.endswith("main"), store.namespace


def check_capabilities(open_store: StoreFactory) -> None:
    """`capabilities` is a `StoreCapabilities`; a store that says `batched_reads` has a
    `read_many` answering like the single reads."""
    filled = filled_store(open_store)
    caps = filled.capabilities
    assert isinstance(caps, StoreCapabilities)
    assert caps.batched_reads == hasattr(filled, "read_many")
    if caps.batched_reads:
        calls = [("get", {"node_ids": ["t1", "zz"]}), ("count", {"label": "Place"})]
        assert filled.read_many(calls) == [filled.get(["t1", "zz"]), 2]  # type: ignore[attr-defined]


def check_upsert_merges_properties(open_store: StoreFactory) -> None:
    """Upserting a node merges its properties; a None value removes one."""
    store = open_store("main")
    store.upsert_nodes([NodeRecord("n", "Goal", {"name": "g", "status": "active", "tags": ["a"]})])
    store.upsert_nodes([NodeRecord("n", "Goal", {"status": "done", "tags": None, "score": 1.5})])
    [node] = store.get(["n"])
    assert node == NodeRecord("n", "Goal", {"name": "g", "status": "done", "score": 1.5}), node
    assert store.count() == 1


def check_edge_upsert(open_store: StoreFactory) -> None:
    """Edges merge properties too, and there is at most one edge of a type per pair."""
    filled = filled_store(open_store)
    filled.upsert_edges([EdgeRecord("t1", "LOCATED_AT", "p1", {"valid_to": 5})])
    located = [e for e in filled.edges("LOCATED_AT") if e.src == "t1"]
    assert located == [EdgeRecord("t1", "LOCATED_AT", "p1", {"valid_from": 3, "valid_to": 5})]
    filled.upsert_edges([EdgeRecord("t1", "LOCATED_AT", "p1", {"valid_from": None})])
    located = [e for e in filled.edges("LOCATED_AT") if e.src == "t1"]
    assert located[0].props == {"valid_to": 5}


def check_get(open_store: StoreFactory) -> None:
    """`get` answers in the order asked and skips ids it does not have."""
    filled = filled_store(open_store)
    assert _ids(filled.get(["p2", "nope", "a", "t1"])) == ["p2", "a", "t1"]


def check_query(open_store: StoreFactory) -> None:
    """`query` by label, equal properties, missing properties and limit, ordered by id;
    booleans are not numbers."""
    filled = filled_store(open_store)
    assert _ids(filled.query("Entity")) == ["s1", "t1", "t2"]
    assert _ids(filled.query("Entity", {"kind": "tree"})) == ["t1", "t2"]
    assert _ids(filled.query("Entity", {"kind": "tree"}, missing=["valid_to"])) == ["t1"]
    assert _ids(filled.query("Entity", {"x": 1})) == ["s1", "t1"]
    assert _ids(filled.query("Entity", {"x": 1, "kind": "stone"})) == ["s1"]
    assert _ids(filled.query("Entity", limit=2)) == ["s1", "t1"]
    assert _ids(filled.query(None, {"x": 1})) == ["p1", "s1", "t1"]
    assert filled.query("Recipe") == []
    assert _ids(filled.query("Agent", {"flag": True})) == ["a"]
    assert filled.query("Agent", {"flag": 1}) == [], "True must not match 1"


def check_query_sees_writes(open_store: StoreFactory) -> None:
    """Queries see updates and deletes at once (any index is kept up to date)."""
    filled = filled_store(open_store)
    filled.upsert_nodes([NodeRecord("t1", "Entity", {"kind": "stone"})])
    assert _ids(filled.query("Entity", {"kind": "tree"})) == ["t2"]
    assert _ids(filled.query("Entity", {"kind": "stone"})) == ["s1", "t1"]
    filled.delete(["s1"])
    assert _ids(filled.query("Entity", {"kind": "stone"})) == ["t1"]


def check_neighbors(open_store: StoreFactory) -> None:
    """`neighbors` by direction and edge type, ordered by (type, node id)."""
    filled = filled_store(open_store)
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


def check_edges(open_store: StoreFactory) -> None:
    """`edges` are ordered by (src, type, dst) and filter by type."""
    filled = filled_store(open_store)
    keys = [(e.src, e.type, e.dst) for e in filled.edges()]
    assert keys == sorted(keys) and len(keys) == 4, keys
    assert [e.src for e in filled.edges("SEEN_BY")] == ["t1"]


def check_delete(open_store: StoreFactory) -> None:
    """Deleting a node removes its edges; unknown ids are ignored."""
    filled = filled_store(open_store)
    filled.delete(["p1", "never-there"])
    assert filled.get(["p1"]) == []
    assert {(e.src, e.dst) for e in filled.edges()} == {("t2", "p2"), ("t1", "a")}
    assert filled.neighbors("t1", "LOCATED_AT") == []


def check_batch_delete_edges(open_store: StoreFactory) -> None:
    """A batch deletes edges by (src, type, dst); missing ones are ignored."""
    filled = filled_store(open_store)
    filled.write(WriteBatch(delete_edges=[("t1", "SEEN_BY", "a"), ("t1", "NEXT", "a")]))
    assert filled.edges("SEEN_BY") == []
    assert filled.count() == 6


def check_count(open_store: StoreFactory) -> None:
    """`count` in all and by label."""
    filled = filled_store(open_store)
    assert filled.count() == 6
    assert filled.count("Entity") == 3
    assert filled.count("Recipe") == 0


def check_snapshot_restore(open_store: StoreFactory) -> None:
    """A snapshot is JSON and restores the namespace exactly (indexes included)."""
    filled = filled_store(open_store)
    snap = filled.snapshot()
    json.dumps(snap)
    filled.upsert_nodes([NodeRecord("extra", "Region", {"rx": 1})])
    filled.delete(["t1"])
    filled.restore(snap)
    assert filled.snapshot() == snap
    assert _ids(filled.query("Entity", {"kind": "tree"})) == ["t1", "t2"]


def check_namespaces_isolated(open_store: StoreFactory) -> None:
    """Stores on different namespaces share nothing, not even edge endpoints; `clear`
    empties one namespace only."""
    a, b = open_store("a"), open_store("b")
    a.upsert_nodes([NodeRecord("x", "Goal", {"name": "a"})])
    b.upsert_nodes([NodeRecord("x", "Goal", {"name": "b"}), NodeRecord("y", "Goal")])
    assert a.get(["x"])[0].props == {"name": "a"}
    assert a.get(["y"]) == [] and a.count() == 1
    assert _ids(a.query("Goal")) == ["x"]
    with raises(SchemaError):  # an endpoint only in the other namespace is missing
        a.upsert_edges([EdgeRecord("x", "NEXT", "y")])
    a.clear()
    assert a.count() == 0 and b.count() == 2


def check_same_namespace_shared(open_store: StoreFactory) -> None:
    """Two stores on one namespace see the same graph (a team graph needs that)."""
    first, second = open_store("team"), open_store("team")
    first.upsert_nodes([NodeRecord("g", "Goal", {"name": "shared"})])
    assert second.get(["g"])[0].props == {"name": "shared"}


BAD_BATCHES: dict[str, WriteBatch] = {
    "bad-label": WriteBatch(nodes=[NodeRecord("ok", "Goal"), NodeRecord("bad", "Gaol")]),
    "missing-endpoint": WriteBatch(nodes=[NodeRecord("ok", "Goal")],
                                   edges=[EdgeRecord("ok", "NEXT", "ghost")]),
    "bad-edge-type": WriteBatch(nodes=[NodeRecord("ok", "Goal")],
                                edges=[EdgeRecord("ok", "NEXTT", "ok")]),
    "bad-prop-type": WriteBatch(nodes=[NodeRecord("ok", "Goal", {"v": {"nested": 1}})]),
}


def check_bad_batch_changes_nothing(open_store: StoreFactory) -> None:
    """A batch with anything invalid raises `SchemaError` and writes none of it."""
    filled = filled_store(open_store)
    before = filled.snapshot()
    for name, bad in BAD_BATCHES.items():
        with raises(SchemaError):
            filled.write(bad)
        assert filled.snapshot() == before, f"{name}: part of a refused batch was written"


def check_errors_name_the_field(open_store: StoreFactory) -> None:
    """Schema errors name the field and the allowed values (see `memory.schema`)."""
    store = open_store("main")
    with raises(SchemaError, match=r"label 'Gaol'.*allowed labels.*'Goal'"):
        store.upsert_nodes([NodeRecord("n", "Gaol")])
    with raises(SchemaError, match=r"props\.when.*allowed: str, int, float, bool"):
        store.upsert_nodes([NodeRecord("n", "Goal", {"when": {"a": 1}})])
    with raises(SchemaError, match=r"props\.text is 5000 characters; max 4096"):
        store.upsert_nodes([NodeRecord("n", "Goal", {"text": "x" * 5000})])
    with raises(SchemaError, match=r"props\.tags has 300 items; max 256"):
        store.upsert_nodes([NodeRecord("n", "Goal", {"tags": ["a"] * 300})])
    with raises(SchemaError, match=r"props\.mixed must be a list of one scalar type"):
        store.upsert_nodes([NodeRecord("n", "Goal", {"mixed": [1, "a"]})])
    with raises(SchemaError, match=r"edge type 'LIKES'.*allowed types"):
        store.neighbors("n", "LIKES")
    with raises(SchemaError, match=r"label 'Nope'.*allowed labels"):
        store.query("Nope")
    assert store.count() == 0


def check_label_cannot_change(open_store: StoreFactory) -> None:
    """A node keeps its label."""
    store = open_store("main")
    store.upsert_nodes([NodeRecord("n", "Goal")])
    with raises(SchemaError):
        store.upsert_nodes([NodeRecord("n", "Subgoal")])
    assert store.get(["n"])[0].label == "Goal"


def check_closed_store_refuses_use(open_store: StoreFactory) -> None:
    """A closed store raises `RuntimeError` instead of answering."""
    store = open_store("closing")
    store.close()
    with raises(RuntimeError):
        store.count()


def check_structure(open_store: StoreFactory) -> None:
    """`structure` has every node's label and the asked properties, and every edge."""
    filled = filled_store(open_store)
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


def check_revision(open_store: StoreFactory) -> None:
    """A store that tracks `revision` changes it with every write and never on a read
    (None: not tracked, readers always re-read)."""
    filled = filled_store(open_store)
    before = filled.revision
    if before is None:
        return
    filled.upsert_nodes([NodeRecord("extra", "Region", {"rx": 1})])
    after_write = filled.revision
    filled.structure()
    assert filled.revision == after_write != before
    filled.clear()
    assert filled.revision != after_write


BAD_IDS: tuple[str, ...] = ("a\x01b", "ab\r\n", "ab\n", "ab ", "ab\t", "a\x00b")


def check_unfindable_ids_refused(open_store: StoreFactory) -> None:
    """Ids a server could not find again (control characters, trailing whitespace) are
    refused up front, naming the field."""
    store = open_store("main")
    for bad_id in BAD_IDS:
        with raises(SchemaError, match=r"node\.id"):
            store.upsert_nodes([NodeRecord(bad_id, "Entity")])
    assert store.count() == 0


BAD_VALUES: tuple[tuple[object, str], ...] = (
    ("a\x00b", "NUL"), (["t", "a\x00"], "NUL"), (2**63, "64-bit"), (-(2**63) - 1, "64-bit"),
    ([1, 2**64], "64-bit"),
)


def check_nul_and_big_integers_refused(open_store: StoreFactory) -> None:
    """NUL characters and integers beyond 64 bits are refused, naming the property."""
    store = open_store("main")
    for value, problem in BAD_VALUES:
        with raises(SchemaError, match=rf"props\.v.*{problem}"):
            store.upsert_nodes([NodeRecord("n", "Entity", {"v": value})])
    assert store.count() == 0


def check_whitespace_and_int64_round_trip(open_store: StoreFactory) -> None:
    """Tabs and newlines inside ids and text, and the int64 limits, come back unchanged;
    upserting the same node again does not add one."""
    store = open_store("main")
    node = NodeRecord("a\tb\nc", "Entity", {"text": "x\ny\tz", "lo": -(2**63), "hi": 2**63 - 1})
    for _ in range(3):
        store.upsert_nodes([node])
    assert store.count() == 1 and store.get([node.id]) == [node]


STORE_CHECKS: dict[str, Check] = {
    fn.__name__.removeprefix("check_"): fn for fn in (
        check_protocol, check_capabilities, check_upsert_merges_properties, check_edge_upsert,
        check_get, check_query, check_query_sees_writes, check_neighbors, check_edges,
        check_delete, check_batch_delete_edges, check_count, check_snapshot_restore,
        check_namespaces_isolated, check_same_namespace_shared, check_bad_batch_changes_nothing,
        check_errors_name_the_field, check_label_cannot_change, check_closed_store_refuses_use,
        check_structure, check_revision, check_unfindable_ids_refused,
        check_nul_and_big_integers_refused, check_whitespace_and_int64_round_trip,
    )
}
"""Every check of the suite, by name."""


def run_check(name: str, open_store: Callable[[str], GraphStore]) -> None:
    """Run one check on fresh namespaces (``conformance-<name>-<random>-<n>``) of
    `open_store(namespace)`; every store it opened is cleared and closed afterwards."""
    prefix = f"conformance-{name}-{uuid.uuid4().hex[:8]}"
    opened: list[GraphStore] = []

    def factory(suffix: str) -> GraphStore:
        store = open_store(f"{prefix}-{suffix}")
        opened.append(store)
        return store

    try:
        STORE_CHECKS[name](factory)
    except AssertionError as exc:
        raise AssertionError(f"store conformance check {name!r} failed: {exc}") from exc
    finally:
        for store in opened:
            try:
                store.clear()
                store.close()
            except RuntimeError:  # closed by the check itself
                pass


def check_store(open_store: Callable[[str], GraphStore]) -> None:
    """Run the whole conformance suite on a store class or factory: `open_store(namespace)`
    opens a store on `namespace` (e.g. the class itself, or ``lambda ns: MyStore(ns,
    url=...)``). Raises `AssertionError` naming the first check that fails."""
    for name in STORE_CHECKS:
        run_check(name, open_store)
