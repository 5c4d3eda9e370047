"""Working memory: what an agent is doing with others, and what it has set aside.

- `Claim` (`claim:<kind>@x,y`) -CLAIMED_BY-> `Agent`, -LOCATED_AT-> `Place`: who goes for
  a target, the agent's own claims and its teammates'; a released or completed claim is
  closed (`valid_to`), not deleted.
- `Commitment` (`commit:<give|receive>:<item>:<agent>`) -WITH-> `Agent`: an item promised
  to or by a teammate, open until a step.
- `Avoid` (`avoid:x,y`) -LOCATED_AT-> `Place`: a target set aside until a step (the agent
  got stuck on it, or it is unreachable).

The agent's own node lists the open ones (`claims`, `commitments`, `avoids`), so recall
reads all of them in one batched `get`. The trail (last positions) and explored regions
are written by the episodic and semantic layers; `frontier` below reads the latter.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from memsim.memory import ids
from memsim.memory.facts import Fact
from memsim.memory.forgetting import IMPORTANCE
from memsim.memory.recall import (
    AvoidRecord,
    ClaimRecord,
    CommitmentRecord,
    RegionRecord,
    TeammateRecord,
)
from memsim.memory.semantic import SemanticWriter, ensure_agent, stale
from memsim.memory.store import NodeRecord
from memsim.memory.transaction import Tx

_MAX_OPEN = 32  # open claims / commitments / avoids an agent node lists
_CLOSED = {"completed": "done", "failed": "failed", "released": "released",
           "interrupted": "released"}
TEAMMATE_KIND = "agent"
"""The kind of located entity a teammate is (movers: `ent:<agent id>`)."""


def _listed(tx: Tx, self_id: str, key: str, node_id: str, keep: bool) -> None:
    """Add `node_id` first to (or drop it from) the agent node's list `key`."""
    old = (tx.node(self_id) or {}).get(key, [])
    rest = [i for i in old if i != node_id]
    new = [node_id, *rest][:_MAX_OPEN] if keep else rest
    if new != old:
        tx.put(self_id, "Agent", {key: new})


class WorkingWriter:
    """Applies `claim`, `commitment` and `avoid` facts of the agent `self_id` to a `Tx`;
    each writer takes the fact and its global time `t`. A fact's `until` is an episode
    step; `base` gives the memory's clock offset that makes it global."""

    def __init__(self, self_id: str, semantic: SemanticWriter,
                 base: Callable[[], int]) -> None:
        self.self_id = self_id
        self.semantic = semantic
        self.base = base

    def _props(self, f: Fact, t: int, label: str) -> dict[str, Any]:
        return {"valid_from": t, "valid_to": None, "last_step": t, "provenance": f.provenance,
                "confidence": f.confidence, "importance": IMPORTANCE[label], "uses": 0}

    def claim(self, tx: Tx, f: Fact, t: int) -> None:
        assert f.place is not None and f.agent is not None and f.status is not None
        x, y = f.place
        cid = ids.claim(f.subject, x, y)
        old = tx.node(cid)
        if old is not None and stale(old, t, f):
            return
        active = f.status == "set"
        if active:
            if old is not None and "valid_to" not in old and old.get("agent") <= f.agent:
                # The same claim again, or two agents claimed one target before hearing of
                # each other: the id that sorts first keeps it, in every memory alike (were the
                # later claim to win, each would yield to the other and nobody would go).
                return
            tx.put(cid, "Claim", {"kind": f.subject, "x": x, "y": y, "agent": f.agent,
                                  "status": "active", **self._props(f, t, "Claim")})
            tx.edge(cid, "CLAIMED_BY", ensure_agent(tx, f.agent, t), {"step": t})
            tx.edge(cid, "LOCATED_AT", self.semantic.ensure_place(tx, x, y, t))
        elif old is not None and "valid_to" not in old and old.get("agent") == f.agent:
            tx.put(cid, "Claim", {"status": _CLOSED[f.status], "valid_to": t, "last_step": t})
        else:
            return  # releasing what is not (or no longer) claimed by that agent
        _listed(tx, self.self_id, "claims", cid, active)

    def commitment(self, tx: Tx, f: Fact, t: int) -> None:
        assert f.object is not None and f.agent is not None and f.status is not None
        cid = ids.commitment(f.object, f.subject, f.agent)
        old = tx.node(cid)
        if old is not None and stale(old, t, f):
            return
        active = f.status == "set"
        if active:
            tx.put(cid, "Commitment", {
                "item": f.subject, "direction": f.object, "agent": f.agent,
                "count": f.count or 1, "until": self.base() + (f.until or 0),
                "status": "active",
                **self._props(f, t, "Commitment")})
            tx.edge(cid, "WITH", ensure_agent(tx, f.agent, t), {"step": t})
        elif old is not None and "valid_to" not in old:
            tx.put(cid, "Commitment", {"status": _CLOSED[f.status], "valid_to": t,
                                       "last_step": t})
        else:
            return
        _listed(tx, self.self_id, "commitments", cid, active)

    def avoid(self, tx: Tx, f: Fact, t: int) -> None:
        assert f.place is not None and f.until is not None
        x, y = f.place
        aid = ids.avoid(x, y)
        old = tx.node(aid)
        until = self.base() + f.until
        if old is not None and (stale(old, t, f) or old.get("until", -1) >= until):
            return
        tx.put(aid, "Avoid", {"kind": f.subject, "x": x, "y": y, "until": until,
                              "reason": f.text or "", **self._props(f, t, "Avoid")})
        tx.edge(aid, "LOCATED_AT", self.semantic.ensure_place(tx, x, y, t))
        _listed(tx, self.self_id, "avoids", aid, True)


def pointed(me: Mapping[str, Any], claims: bool, commitments: bool, avoid: bool) -> list[str]:
    """The working-memory node ids a recall reads through the agent node `me`."""
    out: list[str] = []
    for wanted, key in ((claims, "claims"), (commitments, "commitments"), (avoid, "avoids")):
        if wanted:
            out += me.get(key, [])
    return out


def claim_records(recs: Iterable[NodeRecord]) -> list[ClaimRecord]:
    """Open claims, oldest first (the first to claim a target is listed first)."""
    out = [ClaimRecord(r.id, p["kind"], p["x"], p["y"], p["agent"], p.get("valid_from", 0),
                       p.get("provenance", "observed"))
           for r in recs if r.label == "Claim" and "valid_to" not in (p := r.props)]
    return sorted(out, key=lambda c: (c.step, c.node_id))


def commitment_records(recs: Iterable[NodeRecord], now: int) -> list[CommitmentRecord]:
    """Open commitments whose time has not run out, oldest first."""
    out = [CommitmentRecord(r.id, p["item"], p["direction"], p["agent"], p.get("count", 1),
                            p["until"], p.get("valid_from", 0), p.get("provenance", "observed"))
           for r in recs if r.label == "Commitment" and "valid_to" not in (p := r.props)
           and p.get("until", -1) >= now]
    return sorted(out, key=lambda c: (c.step, c.node_id))


def avoid_records(recs: Iterable[NodeRecord], now: int) -> list[AvoidRecord]:
    """Targets still set aside at step `now`."""
    out = [AvoidRecord(r.id, p.get("kind", ""), p["x"], p["y"], p["until"], p.get("reason", ""))
           for r in recs if r.label == "Avoid" and (p := r.props).get("until", -1) >= now]
    return sorted(out, key=lambda a: (a.y, a.x))


def teammate_records(recs: Iterable[NodeRecord], self_name: str) -> list[TeammateRecord]:
    """Each teammate's last known position (movers of kind `agent`), by name."""
    out = [TeammateRecord(r.id, r.id.removeprefix("ent:"), p["x"], p["y"],
                          p.get("last_step", p.get("valid_from", 0)),
                          p.get("provenance", "observed"))
           for r in recs if (p := r.props).get("kind") == TEAMMATE_KIND and "valid_to" not in p]
    return sorted((t for t in out if t.agent != self_name), key=lambda t: t.agent)


def trail(me: Mapping[str, Any], n: int) -> list[tuple[int, int]]:
    """The agent's last `n` positions, newest first."""
    flat = me.get("trail", [])[: 2 * n]
    return list(zip(flat[0::2], flat[1::2], strict=True))


def frontier_cells(explored: Collection[tuple[int, int]], bounds: tuple[int, int],
                   size: int) -> list[tuple[int, int, int, int]]:
    """The unexplored regions next to explored ones (4-neighbours) inside a `bounds`
    (w, h) world, as (rx, ry, cx, cy) with (cx, cy) the region's centre cell."""
    cols, rows = -(-bounds[0] // size), -(-bounds[1] // size)
    seen: set[tuple[int, int]] = set()
    out: list[tuple[int, int, int, int]] = []
    for rx, ry in explored:
        for nx, ny in ((rx + 1, ry), (rx - 1, ry), (rx, ry + 1), (rx, ry - 1)):
            if (nx, ny) in explored or (nx, ny) in seen or not (0 <= nx < cols and 0 <= ny < rows):
                continue
            seen.add((nx, ny))
            out.append((nx, ny, min(nx * size + size // 2, bounds[0] - 1),
                        min(ny * size + size // 2, bounds[1] - 1)))
    return out


def frontier(explored: Collection[tuple[int, int]], position: tuple[int, int],
             bounds: tuple[int, int], size: int, k: int,
             cells: Sequence[tuple[int, int, int, int]] | None = None) -> list[RegionRecord]:
    """The `k` unexplored regions next to explored ones (4-neighbours) nearest `position`
    (Manhattan distance to the region's centre cell), inside a `bounds` (w, h) world.
    `cells`: `frontier_cells` of the same arguments, if the caller keeps them."""
    if cells is None:
        cells = frontier_cells(explored, bounds, size)
    x0, y0 = position
    found = sorted((abs(cx - x0) + abs(cy - y0), ny, nx, cx, cy) for nx, ny, cx, cy in cells)
    return [RegionRecord(ids.region(nx, ny), nx, ny, cx, cy, d)
            for d, ny, nx, cx, cy in found[:k]]


def explored_regions(recs: Sequence[NodeRecord]) -> set[tuple[int, int]]:
    """The (rx, ry) of the Region nodes marked explored."""
    return {(r.props["rx"], r.props["ry"]) for r in recs if r.props.get("explored")}
