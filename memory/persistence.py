"""A memory on disk and in other tools: checkpoints (snapshot / restore, JSON) and the
graph as networkx / GraphML for inspection."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import networkx as nx

from memsim.memory.schema import SchemaError
from memsim.memory.store import GraphStore


def snapshot(agent_id: str, store: GraphStore, pending_uses: Mapping[str, int],
             pending_seen: Mapping[str, int]) -> dict[str, Any]:
    """An exact, JSON-serialisable checkpoint: the store plus the use counts and the
    re-sighting steps not yet written to it."""
    return {
        "agent_id": agent_id,
        "store": store.snapshot(),
        "pending_uses": dict(sorted(pending_uses.items())),
        "pending_seen": dict(sorted(pending_seen.items())),
    }


def check_owner(snapshot: Mapping[str, Any], agent_id: str) -> None:
    """A checkpoint restores only into the memory of the agent it was taken from."""
    if snapshot.get("agent_id") != agent_id:
        raise SchemaError(
            f"snapshot.agent_id is {snapshot.get('agent_id')!r}; this memory belongs to "
            f"{agent_id!r}"
        )


def write_json(path: str | Path, snapshot: Mapping[str, Any]) -> None:
    Path(path).write_text(json.dumps(snapshot, indent=1, sort_keys=True))


def to_graph(store: GraphStore, agent_id: str) -> nx.MultiDiGraph:
    """The store's graph as networkx (lists flattened to JSON strings)."""
    snap = store.snapshot()
    g = nx.MultiDiGraph(agent=agent_id)

    def flat(props: Mapping[str, Any]) -> dict[str, Any]:
        return {k: json.dumps(v) if isinstance(v, list) else v for k, v in props.items()}

    for n in snap["nodes"]:
        # attributes go in via update: a property may be named like a parameter ("self")
        g.add_node(n["id"])
        g.nodes[n["id"]].update(flat(n["props"]), label=n["label"])
    for e in snap["edges"]:
        g.add_edge(e["src"], e["dst"], key=e["type"])
        g.edges[e["src"], e["dst"], e["type"]].update(flat(e["props"]), type=e["type"])
    return g


def write_graphml(path: str | Path, store: GraphStore, agent_id: str) -> None:
    """GraphML (networkx's writer) for Gephi / yEd / inspection."""
    nx.write_graphml(to_graph(store, agent_id), str(path))
