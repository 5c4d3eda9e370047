"""``memsim memory list | show | delete``: the runs' memories kept on a server backend.

Every run writes its agents' memories under its own namespaces,
``<scenario>/<run id>/seed<N>/<agent>`` (``<scenario>/<run id>/<agent>`` when memory persists
across episodes; ``.../team`` for a team graph), so a run is the first two parts of a
namespace. These commands list the runs on a FalkorDB graph or a Neo4j database, show
one run's namespaces (and how to open them), and delete one run's memory and nothing else.
The embedded networkx backend keeps memory in the run's process only: nothing to list.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from memsim.memory import open_store

SERVER_BACKENDS = ("falkordb", "neo4j")
# The namespace the command's own store is bound to; it reads names and counts only.
_ADMIN_NAMESPACE = "memsim-admin"
_PLAIN: dict[str, Any] = {"highlight": False, "markup": False, "soft_wrap": True}


def run_key(namespace: str) -> str:
    """The run a namespace belongs to: its first two parts, ``<scenario>/<run id>``."""
    return "/".join(namespace.split("/")[:2])


def group_runs(namespaces: Mapping[str, int]) -> dict[str, dict[str, int]]:
    """``{run: {namespace: nodes}}``, runs and namespaces sorted."""
    runs: dict[str, dict[str, int]] = {}
    for namespace in sorted(namespaces):
        runs.setdefault(run_key(namespace), {})[namespace] = namespaces[namespace]
    return runs


def match_run(runs: Mapping[str, Any], run: str) -> list[str]:
    """The runs `run` names: ``<scenario>/<run id>`` exactly, or a bare run id."""
    if run in runs:
        return [run]
    return [key for key in runs if key.split("/")[1:2] == [run]]


def _config_item(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"must be KEY=VALUE, got {text!r}")
    return key, int(value) if value.isdigit() else value


def add_memory_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``memsim memory list | show RUN | delete RUN [--yes]``."""
    memory = sub.add_parser(
        "memory",
        help="list, show or delete the runs' memories on a FalkorDB / Neo4j server",
        description="Each run keeps its memory under <scenario>/<run id>/...; list the runs "
        "on a server, show one run's namespaces, or delete one run's memory (only its own). "
        "Connection: MEMSIM_FALKORDB_URL or MEMSIM_NEO4J_URI/USER/PASSWORD/DATABASE, or "
        "--config KEY=VALUE as in a scenario's [memory] config.",
    )
    memory.add_argument("action", choices=("list", "show", "delete"))
    memory.add_argument("run", nargs="?", metavar="RUN",
                        help="list: only this scenario's runs; show / delete: a run id "
                        "(as `memsim run` printed it) or <scenario>/<run id>")
    memory.add_argument("--memory", choices=SERVER_BACKENDS, default="falkordb",
                        help="the server backend (default falkordb)")
    memory.add_argument("--config", type=_config_item, action="append", default=[],
                        metavar="KEY=VALUE",
                        help="a connection setting (url=, graph=, uri=, database=, ...)")
    memory.add_argument("--yes", action="store_true", help="delete: do it (default: only "
                        "say what would be deleted)")
    return memory


def cmd_memory(args: argparse.Namespace) -> int:
    """Run ``memsim memory``; 0 on success, 1 on a server error, 2 on a bad run name."""
    console, err = Console(), Console(stderr=True)
    config = dict(args.config)
    try:
        store = open_store(args.memory, _ADMIN_NAMESPACE, **config)
    except (ValueError, TypeError, ConnectionError) as exc:
        err.print(f"error: cannot open the {args.memory} memory server: {exc}",
                  **_PLAIN)
        return 1
    try:
        runs = group_runs(store.namespaces())  # type: ignore[attr-defined]
        if args.action == "list":
            return _list(console, runs, args.run)
        found = match_run(runs, args.run or "")
        if len(found) != 1:
            what = "no run" if not found else f"{len(found)} runs ({', '.join(found)})"
            err.print(f"error: {what} matches {args.run!r} on {args.memory}; `memsim memory "
                      "list` shows the runs", **_PLAIN)
            return 2
        run = found[0]
        if args.action == "show":
            return _show(console, run, runs[run], args.memory)
        return _delete(console, run, runs[run], args, config)
    finally:
        store.close()


def _list(console: Console, runs: Mapping[str, Mapping[str, int]], scenario: str | None) -> int:
    table = Table(title="memsim memories (newest run ids sort last)")
    for column in ("scenario", "run id", "namespaces", "nodes"):
        table.add_column(column)
    for run, namespaces in runs.items():
        name, _, run_id = run.partition("/")
        if scenario is None or name == scenario:
            table.add_row(escape(name), escape(run_id), str(len(namespaces)),
                          str(sum(namespaces.values())))
    console.print(table)
    return 0


def _show(console: Console, run: str, namespaces: Mapping[str, int], backend: str) -> int:
    table = Table(title=f"run {escape(run)}")
    table.add_column("namespace")
    table.add_column("nodes")
    for namespace, nodes in namespaces.items():
        table.add_row(escape(namespace), str(nodes))
    console.print(table)
    first = next(iter(namespaces))
    console.print(
        f"open it in {'Neo4j Browser' if backend == 'neo4j' else 'FalkorDB Browser'}:\n"
        f"  MATCH (n:MemNode) WHERE n._ns STARTS WITH '{run}/' "
        "OPTIONAL MATCH (n)-[r]->(m) RETURN n, r, m LIMIT 300\n"
        f"or in Python:\n  memsim.memory.open_store({backend!r}, {first!r})",
        **_PLAIN)
    return 0


def _delete(console: Console, run: str, namespaces: Mapping[str, int],
            args: argparse.Namespace, config: dict[str, Any]) -> int:
    total = sum(namespaces.values())
    if not args.yes:
        console.print(f"would delete run {run}: {len(namespaces)} namespaces, {total} nodes "
                      "(pass --yes to delete)", **_PLAIN)
        return 0
    for namespace in namespaces:
        store = open_store(args.memory, namespace, **config)
        try:
            store.clear()
        finally:
            store.close()
    console.print(f"deleted run {run}: {len(namespaces)} namespaces, {total} nodes",
                  **_PLAIN)
    return 0
