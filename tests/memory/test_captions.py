"""Node captions (`name`) the Cypher layer writes for graph browsers, on a real FalkorDB
server: every node gets one, the memory never sees a made one, its own name wins."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from memsim.memory.backends import open_store
from memsim.memory.backends.captions import caption, id_caption
from memsim.memory.backends.cypher import Statement
from memsim.memory.backends.cypher_store import CypherStore
from memsim.memory.store import NodeRecord, WriteBatch

pytestmark = pytest.mark.integration


@pytest.fixture
def store(falkordb_config: dict[str, Any]) -> Iterator[CypherStore]:
    opened = open_store("falkordb", f"t{uuid.uuid4().hex[:12]}-captions", **falkordb_config)
    assert isinstance(opened, CypherStore)
    yield opened
    opened.clear()
    opened.close()


def _raw(store: CypherStore) -> dict[str, tuple[Any, Any]]:
    """id -> (name, _caption) as stored on the server."""
    rows = store._read(Statement(
        "MATCH (n:MemNode {_ns: $ns}) RETURN n._id, n.name, n._caption", {"ns": store.namespace}))
    return {row[0]: (row[1], row[2]) for row in rows}


def test_caption_rules() -> None:
    assert caption("Event", {"action": "move_left", "outcome": "success"}) == "move_left ok"
    assert caption("Event", {"action": "do", "outcome": "failure"}) == "do failure"
    assert caption("Entity", {"kind": "iron", "x": 12, "y": 40}) == "iron 12,40"
    assert caption("Entity", {"kind": "iron"}) == "iron"
    assert caption("Place", {"x": 3, "y": 4}) is None  # its id says it: place 3,4
    assert id_caption("place:3,4") == "place 3,4"
    assert id_caption("chunk:7") == "chunk 7"


def test_every_node_gets_a_caption_the_memory_never_sees(store: CypherStore) -> None:
    store.write(WriteBatch(nodes=[
        NodeRecord("place:3,4", "Place", {"x": 3, "y": 4}),
        NodeRecord("ent:iron@3,4", "Entity", {"kind": "iron", "x": 3, "y": 4}),
        NodeRecord("ev:5:ab", "Event", {"action": "move_left", "outcome": "success"}),
        NodeRecord("goal:1:collect_diamond", "Goal", {"name": "collect_diamond"}),
    ]))
    assert _raw(store) == {
        "place:3,4": ("place 3,4", True),
        "ent:iron@3,4": ("iron 3,4", True),
        "ev:5:ab": ("move_left ok", True),
        "goal:1:collect_diamond": ("collect_diamond", None),
    }
    # Reads return the props as written: no made caption, no marker.
    assert store.get(["place:3,4"])[0].props == {"x": 3, "y": 4}
    assert store.get(["goal:1:collect_diamond"])[0].props == {"name": "collect_diamond"}
    assert all("name" not in n["props"] for n in store.snapshot()["nodes"]
               if n["label"] != "Goal")
    # Queries on `name` see only the memory's own names.
    assert store.query(where={"name": "place 3,4"}) == []
    assert [n.id for n in store.query(where={"name": "collect_diamond"})] == [
        "goal:1:collect_diamond"]
    assert [n.id for n in store.query(missing=["name"])] == [
        "ent:iron@3,4", "ev:5:ab", "place:3,4"]
    # A partial update keeps the caption; the memory's own name replaces it, and
    # removing that name brings a caption back.
    store.write(WriteBatch(nodes=[NodeRecord("ent:iron@3,4", "Entity", {"valid_to": 9})]))
    assert _raw(store)["ent:iron@3,4"] == ("iron 3,4", True)
    store.write(WriteBatch(nodes=[NodeRecord("place:3,4", "Place", {"name": "home"})]))
    assert _raw(store)["place:3,4"] == ("home", None)
    assert store.get(["place:3,4"])[0].props == {"x": 3, "y": 4, "name": "home"}
    store.write(WriteBatch(nodes=[NodeRecord("place:3,4", "Place", {"name": None})]))
    assert _raw(store)["place:3,4"] == ("place 3,4", True)
    assert store.get(["place:3,4"])[0].props == {"x": 3, "y": 4}
    # restore() writes captions too.
    snapshot = store.snapshot()
    store.restore(snapshot)
    assert store.snapshot() == snapshot
    assert all(name for name, _ in _raw(store).values())
