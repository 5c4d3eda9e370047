"""Node captions for graph browsers (Neo4j Browser, FalkorDB Browser), made by the Cypher
layer at write time so the memory's writers stay unaware of them (see ``cypher.py``).

A browser shows a node's ``name``. Agents, goals, subgoals and recipes have one of their
own; every other node gets one made here from its label, id and props, marked with
``_caption = true`` on the server and dropped again when the node is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CAPTION_PROP = "name"  # shown on nodes by Neo4j Browser and FalkorDB Browser
MADE_CAPTION = "_caption"  # true: `name` is the layer's caption, not the memory's


def caption(label: str, props: Mapping[str, Any]) -> str | None:
    """The caption a node gets from these props, or None if they do not say enough
    (a partial update: the node keeps the caption it has)."""
    if label == "Event" and isinstance(props.get("action"), str):
        outcome = props.get("outcome")
        return f"{props['action']} {'ok' if outcome == 'success' else outcome or ''}".rstrip()
    if isinstance(props.get("kind"), str):
        x, y = props.get("x"), props.get("y")
        where = f" {x},{y}" if isinstance(x, int) and isinstance(y, int) else ""
        return f"{props['kind']}{where}"
    return None


def id_caption(node_id: str) -> str:
    """The caption of a node whose props never said more: its id, prefix as a word
    (``place:3,4`` -> ``place 3,4``, ``chunk:7`` -> ``chunk 7``)."""
    return node_id.replace(":", " ", 1)


def user_props(props: Mapping[str, Any] | None, reserved: frozenset[str]) -> dict[str, Any]:
    """A node's or edge's props as read from the server, as the memory wrote them: without
    the `reserved` properties, and without a caption the Cypher layer made."""
    props = props or {}
    made = props.get(MADE_CAPTION) is True
    return {k: v for k, v in props.items()
            if k not in reserved and not (made and k == CAPTION_PROP)}
