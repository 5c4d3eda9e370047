"""The README's Neo4j Browser queries, run on FalkorDB through the shared Cypher layer
after a short crafting episode there: each answers with rows, and every node the memory
wrote has a caption (``name``). Neo4j's parser lints the same queries in
test_neo4j_lint.py."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from falkordb import FalkorDB
from readme_cypher import readme_queries

from memsim.memory import open_store
from memsim.memory.backends.cypher import Statement
from memsim.memory.backends.cypher_store import CypherStore
from memsim.sim.episode import run_episode
from memsim.sim.scenario import load_scenario
from memsim.sim.stores import MemoryStores

pytestmark = pytest.mark.integration

TOPICS = ("subgoals and their outcomes", "was told", "where iron is believed",
          "chunk summaries of one subgoal", "two agents both know")


def test_the_readme_has_the_five_queries() -> None:
    queries = readme_queries()
    assert len(queries) == 5
    for topic in TOPICS:
        assert any(topic in comment for comment in queries), (topic, list(queries))


def test_readme_queries_run_on_falkordb(falkordb_config: dict[str, Any]) -> None:
    graph = f"memsim_readme_{uuid.uuid4().hex[:10]}"
    config = {**falkordb_config, "graph": graph}
    scenario = load_scenario("default")
    memory = scenario.memory.model_copy(update={"backend": "falkordb", "config": config})
    scenario = scenario.model_copy(update={"memory": memory, "max_steps": 200})
    scenario = scenario.model_copy(update={"run": scenario.run.model_copy(
        update={"executor": "direct"})})
    stores = MemoryStores(memory)
    run_episode(scenario, 0, out_dir=None, stores=stores)
    prefix = f"default/{stores.run_id}/seed0"
    params = {"ns": f"{prefix}/agent_0", "other": f"{prefix}/agent_1"}
    store = open_store("falkordb", params["ns"], **config)
    assert isinstance(store, CypherStore)
    try:
        for comment, query in readme_queries().items():
            rows = store._read(Statement(query, params))
            assert rows, f"no rows for: {comment}\n{query}"
        # Every node has a caption for the browsers, the memory's or the layer's.
        uncaptioned = store._read(Statement(
            "MATCH (n:MemNode) WHERE n.name IS NULL RETURN count(n)"))
        assert uncaptioned == [[0]]
        assert store.namespaces()[params["ns"]] > 100
    finally:
        store.close()
        client = FalkorDB(host=falkordb_config.get("host"), port=falkordb_config.get("port")) \
            if "url" not in falkordb_config else FalkorDB.from_url(falkordb_config["url"])
        if graph in client.list_graphs():
            client.select_graph(graph).delete()
        client.connection.close()
