"""Runs keep their memory: each run's namespaces carry its run id, so two runs of the same
scenario and seed on one FalkorDB server both keep their graphs; ``memsim memory`` lists,
shows and deletes one run's memory and nothing else; a scenario can reuse a run id."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from falkordb import FalkorDB

from memsim.cli import main
from memsim.memory import open_store
from memsim.sim.episode import episode_namespace
from memsim.sim.scenario import MemoryConfig, load_scenario
from memsim.sim.stores import MemoryStores, new_run_id, run_namespace

SCENARIO = """
name = "keep-memory"
version = 1
seeds = [0]
max_steps = 25
[env]
family = "crafting"
width = 24
height = 24
[agents]
count = 2
[memory]
backend = "falkordb"
shared = true
{extra}
[memory.config]
graph = "{graph}"
[run]
executor = "direct"
"""


def _url(config: dict[str, Any]) -> str:
    return str(config["url"]) if "url" in config else f"falkor://{config['host']}:{config['port']}"


@pytest.fixture
def server(falkordb_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[tuple[str, str]]:
    """(url, graph): the session's FalkorDB server, a graph of this test's own."""
    url, graph = _url(falkordb_config), f"memsim_runs_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("MEMSIM_FALKORDB_URL", url)
    yield url, graph
    client = FalkorDB.from_url(url)
    if graph in client.list_graphs():
        client.select_graph(graph).delete()
    client.connection.close()


def _scenario(tmp_path: Path, graph: str, extra: str = "") -> Path:
    path = tmp_path / "keep-memory.toml"
    path.write_text(SCENARIO.format(graph=graph, extra=extra))
    return path


def _run(scenario: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["run", str(scenario), "--quiet", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    run_id = json.loads((out / "memory.json").read_text())["run_id"]
    assert f"run id {run_id}" in printed
    return str(run_id)


def _namespaces(url: str, graph: str) -> dict[str, int]:
    store = open_store("falkordb", "memsim-test-admin", url=url, graph=graph)
    try:
        return store.namespaces()  # type: ignore[attr-defined, no-any-return]
    finally:
        store.close()


def _memory(args: list[str], graph: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["memory", *args, "--config", f"graph={graph}"])
    return code, capsys.readouterr().out


@pytest.mark.integration
def test_two_runs_of_one_scenario_and_seed_keep_both_graphs(
        server: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url, graph = server
    scenario = _scenario(tmp_path, graph)
    first = _run(scenario, tmp_path / "one", capsys)
    after_first = _namespaces(url, graph)
    second = _run(scenario, tmp_path / "two", capsys)
    assert first != second
    found = _namespaces(url, graph)
    for run_id in (first, second):
        for part in ("seed0/agent_0", "seed0/agent_1", "seed0/team"):
            assert found.get(f"keep-memory/{run_id}/{part}", 0) > 0, (run_id, part, found)
    # The second run left the first one's graph exactly as it was ...
    assert {ns: n for ns, n in found.items() if first in ns} == after_first
    # ... and took the same steps: the namespace never enters the trace.
    trace = "trace-seed0.jsonl"
    assert (tmp_path / "one" / trace).read_bytes() == (tmp_path / "two" / trace).read_bytes()

    # memsim memory list / show / delete: one run's memory, and nothing else.
    code, listed = _memory(["list"], graph, capsys)
    assert code == 0 and first in listed and second in listed
    code, shown = _memory(["show", first], graph, capsys)
    assert code == 0 and f"keep-memory/{first}/seed0/agent_0" in shown
    assert f"STARTS WITH 'keep-memory/{first}/'" in shown
    code, dry = _memory(["delete", first], graph, capsys)
    assert code == 0 and "would delete" in dry and _namespaces(url, graph) == found
    code, done = _memory(["delete", f"keep-memory/{first}", "--yes"], graph, capsys)
    assert code == 0 and "deleted run" in done
    assert _namespaces(url, graph) == {ns: n for ns, n in found.items() if second in ns}
    code, _ = _memory(["show", first], graph, capsys)
    assert code == 2  # gone


@pytest.mark.integration
def test_a_scenario_reuses_a_run_id_on_purpose(
        server: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url, graph = server
    scenario = _scenario(tmp_path, graph, 'run_id = "study"\npersist_across_episodes = true')
    assert _run(scenario, tmp_path / "one", capsys) == "study"
    before = _namespaces(url, graph)["keep-memory/study/agent_0"]
    assert _run(scenario, tmp_path / "two", capsys) == "study"
    # Memory persists: the second run starts from the first one's graph (it grows, or at
    # least keeps what it knew) under the same namespace; no other namespace appears.
    found = _namespaces(url, graph)
    assert set(found) == {"keep-memory/study/agent_0", "keep-memory/study/agent_1",
                          "keep-memory/study/team"}
    assert found["keep-memory/study/agent_0"] >= before


def test_namespaces_carry_the_run_id() -> None:
    run_id = new_run_id()
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", run_id)
    assert new_run_id() != run_id
    scenario = load_scenario("default")
    assert episode_namespace(scenario, 3, run_id) == f"default/{run_id}/seed3"
    persist = scenario.model_copy(update={"memory": MemoryConfig(persist_across_episodes=True)})
    assert episode_namespace(persist, 3, run_id) == f"default/{run_id}"
    assert run_namespace("x", "r", None) == "x/r"
    # A run's opener has one run id; each new opener (a new run, a bench cell) a new one.
    assert MemoryStores(MemoryConfig()).run_id != MemoryStores(MemoryConfig()).run_id
    assert MemoryStores(MemoryConfig(run_id="mine")).run_id == "mine"


def test_an_embedded_run_records_its_run_id(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO.format(graph="unused", extra="").replace(
        'backend = "falkordb"', 'backend = "networkx"').replace(
        '[memory.config]\ngraph = "unused"\n', ""))
    assert main(["run", str(path), "--quiet", "--out", str(tmp_path / "o")]) == 0
    record = json.loads((tmp_path / "o" / "memory.json").read_text())
    assert record["backend"] == "networkx"
    assert record["namespace"] == f"keep-memory/{record['run_id']}"
    assert "run id" not in capsys.readouterr().out  # nothing kept to point at


def test_runs_are_the_first_two_parts_of_a_namespace() -> None:
    from memsim.sim.memory_cli import group_runs, match_run

    runs = group_runs({"a/r1/seed0/agent_0": 3, "a/r1/seed0/team": 1, "a/r2/agent_0": 5,
                       "b/r1/seed1/agent_0": 2})
    assert runs == {"a/r1": {"a/r1/seed0/agent_0": 3, "a/r1/seed0/team": 1},
                    "a/r2": {"a/r2/agent_0": 5}, "b/r1": {"b/r1/seed1/agent_0": 2}}
    assert match_run(runs, "r2") == ["a/r2"]
    assert match_run(runs, "r1") == ["a/r1", "b/r1"]  # ambiguous: the CLI asks for a/r1
    assert match_run(runs, "b/r1") == ["b/r1"]
    assert match_run(runs, "nope") == []


def test_memory_command_without_a_server_says_how_to_connect(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("MEMSIM_NEO4J_URI", raising=False)
    assert main(["memory", "list", "--memory", "neo4j"]) == 1
    assert "MEMSIM_NEO4J_URI" in capsys.readouterr().err
