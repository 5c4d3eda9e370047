"""`store_factory`: one fixture that opens GraphStores on every backend, so the same tests
run on networkx (always) and on FalkorDB / Neo4j when their config fixtures (in
tests/conftest.py) can provide a live server; otherwise those variants skip with a reason."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import networkx as nx
import pytest

from memsim.memory import GraphStore, open_store

StoreFactory = Callable[[str], GraphStore]


@pytest.fixture(params=["networkx", "falkordb", "neo4j"])
def store_factory(request: pytest.FixtureRequest) -> Iterator[StoreFactory]:
    """`factory(name) -> GraphStore` on the parametrised backend, each namespace prefixed
    with a per-test uuid; every store opened is cleared and closed at teardown."""
    backend: str = request.param
    if backend == "networkx":
        registry: dict[str, nx.MultiDiGraph] = {}
        config: dict[str, Any] = {"graph_registry": registry}
    else:
        fixture = f"{backend}_config"
        try:
            config = request.getfixturevalue(fixture)
        except pytest.FixtureLookupError:
            pytest.skip(f"{fixture} fixture not available")
    prefix = f"t{uuid.uuid4().hex[:12]}"
    opened: list[GraphStore] = []

    def factory(name: str) -> GraphStore:
        store = open_store(backend, f"{prefix}-{name}", **config)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        try:
            store.clear()
        except RuntimeError:  # already closed by the test
            reopened = open_store(backend, store.namespace, **config)
            reopened.clear()
            reopened.close()
            continue
        store.close()
