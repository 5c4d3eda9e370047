"""`store_factory`: one fixture that opens GraphStores on every backend, so the same tests
run on networkx (always) and on FalkorDB / Neo4j when their config fixtures (in
tests/conftest.py) can provide a live server; otherwise those variants skip with a reason.

With ``MEMSIM_RECORD_NEO4J_STATEMENTS=<file>`` (set by test_neo4j_lint.py for the pytest
run it starts) they also run on the Neo4j statement recorder, which records what the
Neo4j backend would send (running it on FalkorDB) and appends it to that file."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from neo4j_recorder import RECORD_ENV, Neo4jStatementRecorder, StatementLog

from memsim.memory import GraphStore, open_store
from memsim.memory.backends.mirrored import MirroredStore

StoreFactory = Callable[[str], GraphStore]
_RECORD_TO = os.environ.get(RECORD_ENV)
# "falkordb-mirrored": FalkorDB behind the in-process read mirror a run uses by default
_BACKENDS = ["networkx", "falkordb", "falkordb-mirrored", "neo4j"] + (
    ["neo4j-recorder"] if _RECORD_TO else [])


@pytest.fixture(scope="session")
def neo4j_statement_log() -> Iterator[StatementLog]:
    """What the recorder variants recorded, appended to the file at the session's end."""
    log = StatementLog()
    yield log
    if _RECORD_TO:
        log.save(Path(_RECORD_TO))


def _open(backend: str, namespace: str, config: dict[str, Any],
          log: StatementLog | None) -> GraphStore:
    if backend == "neo4j-recorder":
        assert log is not None
        return Neo4jStatementRecorder(namespace, log=log, **config)
    if backend == "falkordb-mirrored":
        return MirroredStore(open_store("falkordb", namespace, **config))
    return open_store(backend, namespace, **config)


@pytest.fixture(params=_BACKENDS)
def store_factory(request: pytest.FixtureRequest) -> Iterator[StoreFactory]:
    """`factory(name) -> GraphStore` on the parametrised backend, each namespace prefixed
    with a per-test uuid; every store opened is cleared and closed at teardown."""
    backend: str = request.param
    log = None
    if backend == "networkx":
        registry: dict[str, nx.MultiDiGraph] = {}
        config: dict[str, Any] = {"graph_registry": registry}
    elif backend in ("neo4j-recorder", "falkordb-mirrored"):  # both run on FalkorDB
        config = request.getfixturevalue("falkordb_config")
        if backend == "neo4j-recorder":  # not Neo4j: records its statements
            log = request.getfixturevalue("neo4j_statement_log")
    else:
        fixture = f"{backend}_config"
        try:
            config = request.getfixturevalue(fixture)
        except pytest.FixtureLookupError:
            pytest.skip(f"{fixture} fixture not available")
    prefix = f"t{uuid.uuid4().hex[:12]}"
    opened: list[GraphStore] = []

    def factory(name: str) -> GraphStore:
        store = _open(backend, f"{prefix}-{name}", config, log)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        try:
            store.clear()
        except RuntimeError:  # already closed by the test
            reopened = _open(backend, store.namespace, config, log)
            reopened.clear()
            reopened.close()
            continue
        store.close()
