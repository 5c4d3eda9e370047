"""The read mirror's own rules, without a server: an embedded store stands in for the
server here (the FalkorDB tests run the same store against a real one)."""

from __future__ import annotations

from typing import Any

import networkx as nx
import pytest

from memsim.memory.backends.mirrored import MirroredStore
from memsim.memory.backends.networkx_store import NetworkxStore
from memsim.memory.store import NodeRecord, WriteBatch


class FlakyServer(NetworkxStore):
    """An embedded store whose snapshot or write fails while `down` is set."""

    down = False

    def snapshot(self) -> dict[str, Any]:
        if self.down:
            raise ConnectionError("server down")
        return super().snapshot()

    def write(self, batch: WriteBatch) -> None:
        if self.down:
            raise ConnectionError("server down")
        super().write(batch)


@pytest.fixture
def server_graphs() -> dict[str, nx.MultiDiGraph]:
    return {}


def _server(graphs: dict[str, nx.MultiDiGraph]) -> FlakyServer:
    return FlakyServer("agent_0", graph_registry=graphs)


def test_a_failed_open_leaves_no_empty_mirror_behind(server_graphs: dict[str, Any]) -> None:
    server = _server(server_graphs)
    server.upsert_nodes([NodeRecord("n", "Entity", {"kind": "tree"})])
    server.down = True
    with pytest.raises(ConnectionError):
        MirroredStore(server)
    server.down = False
    mirror = MirroredStore(server)
    assert [r.id for r in mirror.get(["n"])] == ["n"]
    mirror.close()


def test_a_write_the_server_cannot_take_raises_and_changes_nothing(
        server_graphs: dict[str, Any]) -> None:
    server = _server(server_graphs)
    mirror = MirroredStore(server)
    mirror.upsert_nodes([NodeRecord("a", "Entity", {"kind": "tree"})])
    server.down = True
    with pytest.raises(ConnectionError):
        mirror.upsert_nodes([NodeRecord("b", "Entity", {"kind": "stone"})])
    assert mirror.get(["b"]) == [] and mirror.count() == 1
    server.down = False
    mirror.close()


def test_reads_come_from_the_mirror_and_the_last_close_drops_it(
        server_graphs: dict[str, Any]) -> None:
    server = _server(server_graphs)
    mirror = MirroredStore(server)
    mirror.upsert_nodes([NodeRecord("a", "Entity", {"kind": "tree"})])
    # A write behind the mirror's back (another process) is not seen while it is open ...
    _server(server_graphs).upsert_nodes([NodeRecord("b", "Entity", {"kind": "stone"})])
    assert mirror.get(["b"]) == [] and server.get(["b"]) != []
    mirror.close()
    # ... and a mirror opened after the last one closed loads the server afresh.
    again = MirroredStore(_server(server_graphs))
    assert {r.id for r in again.query("Entity")} == {"a", "b"}
    again.close()
