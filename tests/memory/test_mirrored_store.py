"""The read mirror's own rules, without a server: an embedded store stands in for the
server here (the FalkorDB tests run the same store against a real one)."""

from __future__ import annotations

from typing import Any

import networkx as nx
import pytest

from memsim.memory.backends.cypher import StoreUnavailableError
from memsim.memory.backends.mirrored import MirroredStore, batched_writes
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


class GroupingServer(FlakyServer):
    """One embedded "server" for every namespace, that records which namespaces each
    `write_together` call sends."""

    sent: list[list[str]]

    def _server_id(self) -> str:
        return "one-server"

    def write_together(self, writes: list[tuple[NetworkxStore, WriteBatch]]) -> None:
        if self.down:
            raise ConnectionError("server down")
        self.sent.append([store.namespace for store, _ in writes])
        for store, batch in writes:
            store.write(batch)


def _tree(node_id: str) -> list[NodeRecord]:
    return [NodeRecord(node_id, "Entity", {"kind": "tree"})]


def test_batched_writes_reach_the_mirror_at_once_and_the_server_when_the_block_ends(
        server_graphs: dict[str, Any]) -> None:
    server = _server(server_graphs)
    mirror = MirroredStore(server)
    with batched_writes():
        mirror.upsert_nodes(_tree("a"))
        assert [r.id for r in mirror.get(["a"])] == ["a"] and server.get(["a"]) == []
        with batched_writes():  # nested: only the outermost block sends
            mirror.upsert_nodes(_tree("b"))
        assert server.get(["b"]) == []
    assert {r.id for r in server.query("Entity")} == {"a", "b"}
    mirror.upsert_nodes(_tree("c"))  # outside a block: written through, as before
    assert server.get(["c"]) != []
    mirror.close()


def test_a_block_sends_one_statement_per_run_of_distinct_namespaces(
        server_graphs: dict[str, Any]) -> None:
    sent: list[list[str]] = []
    servers = {ns: GroupingServer(ns, graph_registry=server_graphs) for ns in "abc"}
    for server in servers.values():
        server.sent = sent
    a, b, c = (MirroredStore(servers[ns]) for ns in "abc")
    with batched_writes():
        a.upsert_nodes(_tree("x"))
        b.upsert_nodes(_tree("x"))
        a.write(WriteBatch(delete_nodes=["x"]))  # a second write of `a`: after the first, in order
        c.upsert_nodes(_tree("y"))
    assert sent == [["a", "b"], ["a", "c"]]
    assert servers["a"].get(["x"]) == [] and servers["b"].get(["x"]) != []
    assert servers["c"].get(["y"]) != []
    for store in (a, b, c):
        store.close()


def test_a_batched_send_that_fails_raises_and_the_mirror_refuses_use_until_reopened(
        server_graphs: dict[str, Any]) -> None:
    server = _server(server_graphs)
    mirror = MirroredStore(server)
    with pytest.raises(ConnectionError), batched_writes():
        mirror.upsert_nodes(_tree("a"))
        server.down = True
    server.down = False
    # The mirror holds "a" and the server does not: every use raises, none answers wrong.
    with pytest.raises(StoreUnavailableError, match="did not reach the server"):
        mirror.get(["a"])
    with pytest.raises(StoreUnavailableError, match="did not reach the server"):
        mirror.upsert_nodes(_tree("b"))
    for read in (mirror.count, mirror.edges, mirror.structure, mirror.snapshot):
        with pytest.raises(StoreUnavailableError, match="did not reach the server"):
            read()
    mirror.close()
    again = MirroredStore(_server(server_graphs))  # the last close dropped the mirror
    assert again.get(["a"]) == []
    again.close()


def test_closing_a_store_inside_a_block_sends_its_writes_first(
        server_graphs: dict[str, Any]) -> None:
    mirror = MirroredStore(_server(server_graphs))
    with batched_writes():
        mirror.upsert_nodes(_tree("a"))
        mirror.close()
        assert _server(server_graphs).get(["a"]) != []
