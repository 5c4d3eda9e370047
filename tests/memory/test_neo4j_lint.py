"""Every statement the Neo4j backend can send, linted by Neo4j's own Cypher parser and
semantic analysis (npm package @neo4j-cypher/language-support, pinned in
tests/cypher_lint/package-lock.json, installed by ``make cypher-lint``), without a server.

The statements are recorded by the Neo4j *statement recorder* (neo4j_recorder.py: the
shared Cypher layer with the Neo4j dialect, its statements run on FalkorDB; it is not a
Neo4j) while (1) the memory test suites run on it in a pytest subprocess (conformance,
agent memory, shared and working memory, recall) and (2) a short episode of each world
family runs on it (team graph on, a small node budget so forgetting deletes, memory kept
across two seeds in one of them). They are deduplicated by text and each is linted with
its recorded parameters declared, for Cypher 5 (Neo4j 5) and Cypher 25: zero errors,
zero deprecations, zero warnings. The README's Neo4j Browser queries are linted too.

Skips (with the reason) when node or the package is missing, unless
``MEMSIM_REQUIRE_CYPHER_LINT=1`` (.ci/run), which turns that into a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from falkordb import FalkorDB
from neo4j_recorder import RECORD_ENV, Neo4jStatementRecorder, StatementLog
from readme_cypher import readme_queries

from memsim.memory.backends.cypher import NEO4J
from memsim.memory.schema import EDGE_TYPES, NODE_LABELS
from memsim.sim.episode import run_episode
from memsim.sim.families import FAMILIES
from memsim.sim.scenario import load_scenario
from memsim.sim.stores import MemoryStores

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
LINT_DIR = REPO / "tests" / "cypher_lint"
PACKAGE = "@neo4j-cypher/language-support"
VERSIONS = ("CYPHER 5", "CYPHER 25")
REQUIRE_ENV = "MEMSIM_REQUIRE_CYPHER_LINT"
# The memory suites the recorder runs (their store_factory tests, on the recorder).
SUITES = ("test_store_conformance.py", "test_agent_memory.py", "test_shared_memory.py",
          "test_working_memory.py", "test_recall.py")
# One shipped scenario per world family, run for a few steps on the recorder.
EPISODES = {"crafting": "default", "navigation": "nav-ballet-relay",
            "manipulation": "manip-shell-game-relay"}
# Parts of statements that show each builder was exercised (cypher.py), so a suite that
# stops reaching one cannot make this test vacuous.
EXPECTED = {
    "schema": "CREATE CONSTRAINT memsim_memnode_key IF NOT EXISTS",
    "write nodes": "MERGE (n:MemNode:",
    "caption": "AS made",
    "label check": "WHERE clash = 0",
    "endpoint check": "WHERE found = size($ends)",
    "write edges": "MERGE (a)-[r:",
    "delete edges": "DELETE r",
    "delete nodes": "UNWIND $dn AS row",
    "restore": "DETACH DELETE old",
    "get": "UNWIND $keys AS k",
    "missing": "RETURN i ORDER BY i",
    "query where": "keys($where)",
    "query missing": "k IN $missing",
    "query limit": "LIMIT $limit",
    "neighbors in": "<-[r",
    "edges": "RETURN a._id AS src",
    "count": "count(n) AS c",
    "clear": "MATCH (n:MemNode {_ns: $ns})\nDETACH DELETE n",
    "namespaces": "count(n) AS nodes",
}
# Statements the linter must object to: it is working (its semantic analysis swallows
# its own exceptions) and would catch such a statement if the layer ever sent one.
CANARIES = [
    ("syntax error", "MATCH (n:MemNode {_ns: $ns) RETURN n", {"ns": "x"}, "error"),
    ("old-style subquery", "MATCH (n:MemNode) CALL { WITH n RETURN n._id AS i } RETURN i",
     {}, "deprecation"),
    ("deprecated function", "MATCH (n:MemNode) RETURN id(n)", {}, "deprecation"),
    ("undeclared parameter", "MATCH (n:MemNode {_ns: $ns}) RETURN n", {}, "error"),
    ("unknown function", "MATCH (n:MemNode) RETURN toJSON(n)", {}, "error"),
]


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _declared(value: Any) -> Any:
    """A parameter's value as declared to the linter: only its name matters there, so
    lists keep one item (a write's rows can be thousands)."""
    if isinstance(value, list):
        return [_declared(v) for v in value[:1]]
    if isinstance(value, dict):
        return {k: _declared(v) for k, v in value.items()}
    return value


def lint(statements: list[dict[str, Any]]) -> dict[str, Any]:
    """Run tests/cypher_lint/lint.mjs on `statements` ({text, parameters}), one node
    process per Cypher version, side by side. Neo4j's semantic analysis is slow in
    JavaScript: ~0.3 s of CPU per statement and version (a long write up to a few
    seconds), so ~2-4 minutes for all of them on 2 idle cores."""
    node = shutil.which("node")
    if node is None:
        _unavailable("Cypher lint: node is not installed (node 20+ and npm are needed)")
    if not (LINT_DIR / "node_modules" / PACKAGE / "package.json").is_file():
        _unavailable(f"Cypher lint: {PACKAGE} is not installed; run `make cypher-lint` "
                     "(npm ci --prefix tests/cypher_lint)")
    declared = [{"text": s["text"], "parameters": _declared(s["parameters"])}
                for s in statements]
    runs = []
    for version in VERSIONS:
        request = {"versions": [version], "statements": declared,
                   "labels": sorted(NODE_LABELS | {"MemNode"}),
                   "relationshipTypes": sorted(EDGE_TYPES)}
        proc = subprocess.Popen([str(node), str(LINT_DIR / "lint.mjs")], text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        runs.append((proc, json.dumps(request)))
    merged: dict[str, Any] = {"results": []}
    try:
        for proc, request in runs:
            out, err = proc.communicate(request, timeout=2400)
            assert proc.returncode == 0, err[-2000:]
            result = json.loads(out)
            merged["package"] = result["package"]
            merged["results"] += result["results"]
    finally:
        for proc, _ in runs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return merged


_BLOCK_END = "WITH DISTINCT true AS ok\n"  # between a write's per-label blocks (cypher.py)


def statement_form(text: str) -> str:
    """What a statement is up to the labels and relationship types its per-label blocks
    are about and how many such blocks it chains: a write of 10 node labels is 10 copies
    of one block. Statements of one form parse and analyse alike, so linting the shortest
    of each form covers them all (the long writes cost the linter seconds each)."""
    text = re.sub(r":MemNode:\w+", ":MemNode:L", text)
    text = re.sub(r"\[(\w*):\w+\]", r"[\1:R]", text)
    text = re.sub(r"\$([a-z]+)\d+\b", r"$\1#", text)
    blocks: list[str] = []
    for block in text.split(_BLOCK_END):
        if not blocks or blocks[-1] != block:
            blocks.append(block)
    return _BLOCK_END.join(blocks)


def one_per_form(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The shortest statement of each form (see `statement_form`), in first-seen order."""
    chosen: dict[str, dict[str, Any]] = {}
    for statement in statements:
        form = statement_form(statement["text"])
        if form not in chosen or len(statement["text"]) < len(chosen[form]["text"]):
            chosen[form] = statement
    return list(chosen.values())


def problems(statements: list[dict[str, Any]], result: dict[str, Any]) -> list[str]:
    """Every diagnostic, one line each: version, kind, message, and the statement."""
    out = []
    for item in result["results"]:
        for d in item["diagnostics"]:
            kind = "deprecation" if d["deprecated"] else d["severity"]
            text = statements[item["index"]]["text"]
            out.append(f"{item['version']} {kind} at {d['line']}:{d['column']}: "
                       f"{d['message']}\n    in: {text!r}")
    return out


@pytest.fixture(scope="module")
def falkordb_url(falkordb_config: dict[str, Any]) -> str:
    if "url" in falkordb_config:
        return str(falkordb_config["url"])
    return f"falkor://{falkordb_config['host']}:{falkordb_config['port']}"


def _record_suites(url: str, tmp: Path) -> StatementLog:
    """Run the memory suites on the recorder in a pytest subprocess; what it recorded."""
    out = tmp / "suites.jsonl"
    env = {**os.environ, RECORD_ENV: str(out), "MEMSIM_FALKORDB_URL": url}
    files = [str(REPO / "tests" / "memory" / name) for name in SUITES]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "neo4j-recorder",
         *files], cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert re.search(r"\d+ passed", done.stdout), done.stdout[-2000:]
    return StatementLog.load(out)


def _record_episodes(url: str) -> StatementLog:
    """A short episode of each world family on the recorder (two seeds for crafting, with
    memory kept across them); plus the one cross-namespace read (`memsim memory`)."""
    assert set(EPISODES) == set(FAMILIES), "every world family needs an episode here"
    log = StatementLog()
    graph = f"memsim_lint_{uuid.uuid4().hex[:10]}"

    def opener(backend: str, namespace: str, **options: Any) -> Neo4jStatementRecorder:
        options.pop("graph_registry", None)
        return Neo4jStatementRecorder(namespace, log=log, **options)

    try:
        for family, name in EPISODES.items():
            scenario = load_scenario(name)
            persist = family == "crafting"
            memory = scenario.memory.model_copy(update={
                "backend": "falkordb", "config": {"url": url, "graph": graph}, "shared": True,
                "node_budget": 64, "persist_across_episodes": persist})
            scenario = scenario.model_copy(update={"memory": memory, "max_steps": 40})
            stores = MemoryStores(memory, opener=opener)
            for seed in (0, 1) if persist else (0,):
                summary = run_episode(scenario, seed, out_dir=None, stores=stores)
                assert summary.steps > 0
        admin = opener("falkordb", "memsim-admin", url=url, graph=graph)
        assert admin.namespaces()
        admin.close()
    finally:
        client = FalkorDB.from_url(url)
        if graph in client.list_graphs():
            client.select_graph(graph).delete()
        client.connection.close()
    return log


@pytest.fixture(scope="module")
def recorded(falkordb_url: str, tmp_path_factory: pytest.TempPathFactory) -> StatementLog:
    """Every distinct statement the Neo4j backend sent in the suites and the episodes."""
    log = _record_suites(falkordb_url, tmp_path_factory.mktemp("neo4j-statements"))
    log.extend(_record_episodes(falkordb_url))
    for text in NEO4J.schema_statements():
        log.add(text, {})
    return log


def test_the_linter_reports_what_neo4j_would_reject() -> None:
    statements = [{"text": text, "parameters": params} for _, text, params, _ in CANARIES]
    result = lint(statements)
    assert result["package"].startswith(PACKAGE + "@")
    for version in VERSIONS:
        found = {item["index"]: item["diagnostics"] for item in result["results"]
                 if item["version"] == version}
        for index, (what, _, _, kind) in enumerate(CANARIES):
            kinds = {"deprecation" if d["deprecated"] else d["severity"] for d in found[index]}
            assert kind in kinds, (version, what, found[index])
    # The same check the real statements go through fails on them.
    assert len(problems(statements, result)) >= 2 * len(CANARIES)


@pytest.mark.slow  # records for ~1 minute, then lints for a few (see `lint`)
def test_every_neo4j_statement_passes_neo4j_lint(recorded: StatementLog) -> None:
    statements = [{"text": text, "parameters": params}
                  for text, params in recorded.statements.items()]
    texts = "\n".join(recorded.statements)
    missing = [what for what, part in EXPECTED.items() if part not in texts]
    assert not missing, f"no recorded statement exercised: {missing}"
    forms = one_per_form(statements)
    result = lint(forms)
    assert len(result["results"]) == len(forms) * len(VERSIONS)
    found = problems(forms, result)
    print(f"linted {len(forms)} statement forms ({len(statements)} distinct statements, "
          f"{recorded.sent} sent) with {result['package']} for {', '.join(VERSIONS)}: "
          f"{len(found)} diagnostics")
    assert not found, "\n".join(found[:20])


def test_one_statement_per_form_keeps_every_clause_form() -> None:
    block = ("UNWIND $n{i} AS row\nMERGE (n:MemNode:{label} {{_key: row.key}})\n"
             "SET n += row.props\n")
    write = _BLOCK_END.join(block.format(i=i, label=label)
                            for i, label in enumerate(["Agent", "Entity", "Place"]))
    short = block.format(i=0, label="Event")
    edge = "MATCH (a)-[r:SEES]->(b) RETURN r"
    other_edge = "MATCH (a)-[r:KNOWS]->(b) RETURN r"
    different = "MATCH (a)<-[r:SEES]-(b) RETURN r"  # another clause form: kept
    chosen = one_per_form([{"text": t} for t in (write, short, edge, other_edge, different)])
    assert [c["text"] for c in chosen] == [short, edge, different]


def test_readme_queries_pass_neo4j_lint() -> None:
    queries = readme_queries()
    assert len(queries) == 5
    params = {"ns": "s/r/seed0/agent_0", "other": "s/r/seed0/agent_1"}
    statements = [{"text": q, "parameters": params} for q in queries.values()]
    found = problems(statements, lint(statements))
    assert not found, "\n".join(found)

