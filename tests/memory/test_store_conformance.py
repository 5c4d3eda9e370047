"""The GraphStore conformance suite (`memsim.memory.conformance`, which outside stores run
through `memsim.testing.check_store`): every backend must pass it (see conftest.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from memsim.memory import GraphStore, NodeRecord
from memsim.memory.backends.cypher_store import CypherStore
from memsim.memory.conformance import STORE_CHECKS, filled_store, raises

StoreFactory = Callable[[str], GraphStore]


@pytest.mark.parametrize("check", list(STORE_CHECKS))
def test_store_conformance(store_factory: StoreFactory, check: str) -> None:
    STORE_CHECKS[check](store_factory)


# What the built-in backends say of themselves beyond the suite.

def test_remote_capability_is_the_server_backends(store_factory: StoreFactory) -> None:
    filled = filled_store(store_factory)
    assert filled.capabilities.remote == isinstance(filled, CypherStore)


def test_only_server_backends_leave_revision_untracked(store_factory: StoreFactory) -> None:
    filled = filled_store(store_factory)
    assert (filled.revision is None) == isinstance(filled, CypherStore)


def test_the_suite_reports_a_store_that_breaks_the_contract() -> None:
    from memsim.memory.backends.networkx_store import NetworkxStore
    from memsim.testing import check_store

    class Forgetful(NetworkxStore):
        """Drops properties set to None instead of removing them (a plausible bug)."""

        def get(self, node_ids):  # type: ignore[no-untyped-def]
            return [NodeRecord(n.id, n.label, {**n.props, "extra": 1})
                    for n in super().get(node_ids)]

    with raises(AssertionError, match="store conformance check 'upsert_merges_properties'"):
        check_store(Forgetful)
    check_store(NetworkxStore)  # the real one passes


def test_networkx_indexes_a_property_once_queried_and_keeps_it_current() -> None:
    """Only queried (label, key) pairs are indexed; the index is built from the nodes
    already there and follows every later update and delete."""
    from memsim.memory.backends.networkx_store import NetworkxStore

    store = NetworkxStore("index-test", graph_registry={})
    store.upsert_nodes([NodeRecord("a", "Entity", {"kind": "tree", "note": "x"}),
                        NodeRecord("b", "Entity", {"kind": "stone"})])
    assert store._g.graph["by_prop"] == {}  # nothing queried yet: nothing indexed
    assert [r.id for r in store.query("Entity", {"kind": "tree"})] == ["a"]
    store.upsert_nodes([NodeRecord("b", "Entity", {"kind": "tree"}),
                        NodeRecord("c", "Entity", {"kind": "tree"}),
                        NodeRecord("a", "Entity", {"kind": None})])
    assert [r.id for r in store.query("Entity", {"kind": "tree"})] == ["b", "c"]
    store.delete(["c"])
    assert [r.id for r in store.query("Entity", {"kind": "tree"})] == ["b"]
    assert [r.id for r in store.query("Entity", {"note": "x"})] == ["a"]  # built late
    assert {key for _, key, _ in store._g.graph["by_prop"]} == {"kind", "note"}


def test_networkx_get_shared_reads_without_copying() -> None:
    from memsim.memory.backends.networkx_store import NetworkxStore

    store = NetworkxStore("shared-read-test", graph_registry={})
    store.upsert_nodes([NodeRecord("a", "Entity", {"kind": "tree", "seen": [1, 2]})])
    [shared] = store.get_shared(["missing", "a"])
    assert shared == store.get(["a"])[0]
    assert shared.props is store._g.nodes["a"]["props"]  # the stored dict itself
    assert store.get(["a"])[0].props is not shared.props  # `get` still copies
