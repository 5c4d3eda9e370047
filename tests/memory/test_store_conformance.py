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
