"""`SpatialIndex`: an in-process index of the located entities a memory holds as valid."""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from typing import Any

from memsim.memory.store import GraphStore


class SpatialIndex:
    """In-process index of currently valid located entities: kind -> block -> {id: (x, y)}.

    Kept by a sole-writer memory from its own writes (rebuilt from the store on open,
    restore and new episode), so `nearest` needs no store round trip per block."""

    def __init__(self, block: int) -> None:
        self.block = block
        self.kinds: dict[str, dict[tuple[int, int], dict[str, tuple[int, int]]]] = {}
        self.where: dict[str, tuple[str, tuple[int, int]]] = {}
        # per-kind block bounds; never shrunk on removal (only limits the ring search)
        self.bounds: dict[str, list[int]] = {}
        self.cells: dict[tuple[int, int], dict[str, tuple[int, int]]] = {}
        self.explored: set[tuple[int, int]] = set()  # (rx, ry) of explored regions
        self.explored_revision = 0  # bumped whenever `explored` changes (readers cache on it)
        # indexed entities the agent saw itself -> the sighting step the store holds
        self.observed: dict[str, int] = {}

    def rebuild(self, store: GraphStore) -> None:
        """Index exactly the store's valid located entities and explored regions."""
        self.kinds, self.where, self.bounds, self.cells = {}, {}, {}, {}
        self.observed = {}
        for rec in store.query("Entity", {"instance": True}, missing=["valid_to"]):
            self.add(rec.id, rec.props["kind"], rec.props["x"], rec.props["y"])
            if rec.props.get("provenance") == "observed":
                self.observed[rec.id] = rec.props.get("last_step", -1)
        self.explored = {(r.props["rx"], r.props["ry"])
                         for r in store.query("Region", {"explored": True})}
        self.explored_revision += 1

    def sync_region(self, props: Mapping[str, Any] | None) -> None:
        """Mirror one Region node's current state (None = deleted: no-op, see `forget`)."""
        if props is not None and props.get("explored"):
            region = (props["rx"], props["ry"])
            if region not in self.explored:
                self.explored.add(region)
                self.explored_revision += 1

    def forget_region(self, node_id: str) -> None:
        """A Region node was deleted (evicted or a new world): it is unexplored again."""
        rx, _, ry = node_id.removeprefix("region:").partition(",")
        region = (int(rx), int(ry))
        if region in self.explored:
            self.explored.discard(region)
            self.explored_revision += 1

    def add(self, node_id: str, kind: str, x: int, y: int) -> None:
        self.remove(node_id)
        key = (x // self.block, y // self.block)
        self.kinds.setdefault(kind, {}).setdefault(key, {})[node_id] = (x, y)
        self.where[node_id] = (kind, key)
        self.cells.setdefault(key, {})[node_id] = (x, y)
        b = self.bounds.setdefault(kind, [key[0], key[0], key[1], key[1]])
        b[:] = min(b[0], key[0]), max(b[1], key[0]), min(b[2], key[1]), max(b[3], key[1])

    def remove(self, node_id: str) -> None:
        found = self.where.pop(node_id, None)
        self.observed.pop(node_id, None)
        if found is None:
            return
        kind, key = found
        blocks = self.kinds[kind]
        del blocks[key][node_id]
        if not blocks[key]:
            del blocks[key]
        del self.cells[key][node_id]
        if not self.cells[key]:
            del self.cells[key]

    def members(self, kind: str) -> list[str]:
        """Ids of every valid located entity of `kind`."""
        return [nid for members in self.kinds.get(kind, {}).values() for nid in members]

    def position(self, node_id: str) -> tuple[int, int] | None:
        """The cell of a valid located entity, or None if the index does not hold it."""
        found = self.where.get(node_id)
        return None if found is None else self.cells[found[1]][node_id]

    def sync(self, node_id: str, props: Mapping[str, Any] | None) -> None:
        """Mirror one Entity node's current state (None = deleted)."""
        if props is None or not props.get("instance") or "valid_to" in props:
            self.remove(node_id)
            return
        x, y = props["x"], props["y"]
        found = self.where.get(node_id)
        # most syncs are re-sightings of something already indexed at the same cell
        if found is None or self.cells[found[1]][node_id] != (x, y):
            self.add(node_id, props["kind"], x, y)
        if props.get("provenance") == "observed":
            self.observed[node_id] = props.get("last_step", -1)
        else:
            self.observed.pop(node_id, None)

    def within(self, x0: int, y0: int, x1: int, y1: int) -> list[str]:
        """Ids of valid located entities inside the rectangle (corners inclusive)."""
        b = self.block
        out = []
        for bx in range(x0 // b, x1 // b + 1):
            for by in range(y0 // b, y1 // b + 1):
                for nid, (x, y) in self.cells.get((bx, by), {}).items():
                    if x0 <= x <= x1 and y0 <= y <= y1:
                        out.append(nid)
        return sorted(out)

    def nearest(self, kind: str, x0: int, y0: int, k: int) -> list[tuple[int, int, int, str]]:
        """Up to k (distance, y, x, id), Manhattan distance, ties by (y, x, id): ring search
        over blocks, stopping once no farther ring can beat the k-th best."""
        blocks = self.kinds.get(kind)
        if not blocks:
            return []
        found: list[tuple[int, int, int, str]] = []
        if len(blocks) <= 16:  # few blocks hold this kind: visit them all
            every = ((abs(x - x0) + abs(y - y0), y, x, nid)
                     for members in blocks.values() for nid, (x, y) in members.items())
            if k == 1:  # the most common ask; ties cannot happen (ids differ)
                return [min(every)]
            return heapq.nsmallest(k, every)
        size = self.block
        bx0, by0 = x0 // size, y0 // size
        b = self.bounds[kind]
        max_ring = max(bx0 - b[0], b[1] - bx0, by0 - b[2], b[3] - by0)
        ox, oy = x0 - bx0 * size, y0 - by0 * size
        edge = min(ox + 1, size - ox, oy + 1, size - oy)
        for ring in range(max_ring + 1):
            if len(found) >= k and found[k - 1][0] < edge + (ring - 1) * size:
                break
            for bx in range(bx0 - ring, bx0 + ring + 1):
                step = 1 if abs(bx - bx0) == ring else 2 * ring  # only the ring's border
                for by in range(by0 - ring, by0 + ring + 1, max(step, 1)):
                    members = blocks.get((bx, by))
                    if members:
                        found.extend(
                            (abs(x - x0) + abs(y - y0), y, x, nid)
                            for nid, (x, y) in members.items()
                        )
            found.sort()
        return found[:k]
