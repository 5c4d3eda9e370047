"""Node ids of an agent's memory graph (local to the store namespace).

One place builds them, so writers, prefetch guesses and readers always agree on an id.
"""

from __future__ import annotations

import hashlib

from memsim.memory.facts import Fact


def agent(name: str) -> str:
    return f"agent:{name}"


def kind(name: str) -> str:
    return f"kind:{name}"


def place(x: int, y: int) -> str:
    return f"place:{x},{y}"


def region(rx: int, ry: int) -> str:
    return f"region:{rx},{ry}"


def region_of(x: int, y: int, size: int) -> tuple[int, int]:
    """The region grid cell (rx, ry) that holds cell (x, y)."""
    return x // size, y // size


def recipe(name: str) -> str:
    return f"recipe:{name}"


def instance(fact: Fact) -> str:
    """A located entity: `ent:<entity_id>` for movers, else `ent:<kind>@x,y`."""
    if fact.entity_id is not None:
        return f"ent:{fact.entity_id}"
    x, y = fact.place or (0, 0)
    return f"ent:{fact.subject}@{x},{y}"


def event(t: int, digest: str) -> str:
    return f"ev:{t}:{digest}"


def message(t: int, digest: str) -> str:
    return f"msg:{t}:{digest}"


def goal(t: int, name: str) -> str:
    return f"goal:{t}:{name}"


def subgoal(t: int, name: str) -> str:
    return f"sub:{t}:{name}"


def chunk(seq: int) -> str:
    return f"chunk:{seq}"


def claim(kind: str, x: int, y: int) -> str:
    return f"claim:{kind}@{x},{y}"


def commitment(direction: str, item: str, agent: str) -> str:
    return f"commit:{direction}:{item}:{agent}"


def avoid(x: int, y: int) -> str:
    return f"avoid:{x},{y}"


def digest(fact: Fact) -> str:
    """A stable short hash of a fact: event / message ids, so replays are idempotent."""
    return hashlib.blake2b(fact.model_dump_json().encode(), digest_size=6).hexdigest()
