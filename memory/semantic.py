"""The semantic layer: what the agent believes about the world now.

Entity instances `ent:<kind>@x,y` (or `ent:<entity_id>` for movers) -LOCATED_AT-> `Place`
-PART_OF-> `Region`; entity kinds `kind:<name>`; `Recipe` -REQUIRES/PRODUCES/NEEDS_NEARBY->
kinds; `Agent` -HOLDS-> kinds. A fact that stops being true gets `valid_to` (it is not
deleted). `SemanticWriter` applies `seen_at`, `gone_from`, `surveyed`, `holds` and
`recipe` facts to a `Tx`; the module functions make the nodes other layers link to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from memsim.memory import ids
from memsim.memory.facts import Fact
from memsim.memory.forgetting import IMPORTANCE
from memsim.memory.spatial import SpatialIndex
from memsim.memory.transaction import Tx

_RECENT_TOLD = 32


def agent_props(name: str, is_self: bool) -> dict[str, Any]:
    """A new Agent node's properties."""
    return {
        "name": name,
        "is_self": is_self,
        "importance": 1.0,
        "uses": 0,
        "last_step": 0,
        "recent_fails": [],
        "recent_told": [],
    }


def ensure_agent(tx: Tx, name: str, step: int) -> str:
    node_id = ids.agent(name)
    if tx.node(node_id) is None:
        tx.put(node_id, "Agent", {**agent_props(name, False), "last_step": step})
    return node_id


def ensure_kind(tx: Tx, name: str, category: str, step: int) -> str:
    node_id = ids.kind(name)
    if tx.node(node_id) is None:
        tx.put(
            node_id,
            "Entity",
            {
                "kind": name,
                "category": category,
                "instance": False,
                "importance": IMPORTANCE["kind"],
                "uses": 0,
                "last_step": step,
            },
        )
    return node_id


def note_told(tx: Tx, self_id: str, node_id: str) -> None:
    """Put `node_id` first in the agent's recent hearsay (what `teammate_reports` reads)."""
    told = [i for i in (tx.node(self_id) or {}).get("recent_told", []) if i != node_id]
    tx.put(self_id, "Agent", {"recent_told": [node_id, *told][:_RECENT_TOLD]})


def stale(existing: Mapping[str, Any], t: int, fact: Fact) -> bool:
    """True if local knowledge is fresher: newer step wins; own observation beats hearsay
    at the same step."""
    local_t = existing.get("last_step", existing.get("valid_from", -1))
    if t < local_t:
        return True
    return t == local_t and fact.teller is not None and existing.get("provenance") == "observed"


class SemanticWriter:
    """Applies semantic facts of the agent `self_id` to a `Tx`; each writer takes the
    fact and its global time `t`. `spatial` (sole writers only) answers `surveyed`
    without a store query per region.

    `pending_seen` (sole writers only): when the agent sees again, at the same cell,
    something it already holds as observed there, only the sighting's step changes; that
    step is kept here (instance id -> step) instead of rewriting the node every step, and
    the memory writes them in batches. Every staleness check reads through it."""

    def __init__(self, self_id: str, region_size: int, spatial: SpatialIndex | None,
                 pending_seen: dict[str, int] | None = None) -> None:
        self.self_id = self_id
        self.region_size = region_size
        self.spatial = spatial
        self.pending_seen = pending_seen

    def resighting(self, f: Fact, iid: str) -> bool:
        """An own sighting of a static thing the index holds as observed at that cell."""
        spatial = self.spatial
        return (self.pending_seen is not None and spatial is not None and f.teller is None
                and f.entity_id is None and f.observed_step is None and f.place is not None
                and iid in spatial.observed and spatial.position(iid) == tuple(f.place))

    def resight(self, iid: str, t: int) -> None:
        """Seen again where it is indexed as seen by this agent (`resighting`): only the
        step changes, and own observations are never stale, so no read is needed."""
        assert self.pending_seen is not None and self.spatial is not None
        if t > max(self.spatial.observed[iid], self.pending_seen.get(iid, -1)):
            self.pending_seen[iid] = t

    def _seen(self, iid: str, inst: Mapping[str, Any]) -> Mapping[str, Any]:
        """`inst` with its latest sighting step (a pending one included)."""
        pending = self.pending_seen.get(iid) if self.pending_seen is not None else None
        if pending is None or pending <= inst.get("last_step", -1):
            return inst
        return {**inst, "last_step": pending}

    def ensure_region(self, tx: Tx, rx: int, ry: int, step: int) -> str:
        rid = ids.region(rx, ry)
        if tx.node(rid) is None:
            tx.put(
                rid,
                "Region",
                {
                    "rx": rx,
                    "ry": ry,
                    "size": self.region_size,
                    "last_step": step,
                    "importance": IMPORTANCE["Region"],
                    "uses": 0,
                },
            )
            # the agent node keeps the bounds of the known regions (for ring searches)
            me = tx.node(self.self_id) or {}
            bounds = {
                "rx_min": min(rx, me.get("rx_min", rx)),
                "rx_max": max(rx, me.get("rx_max", rx)),
                "ry_min": min(ry, me.get("ry_min", ry)),
                "ry_max": max(ry, me.get("ry_max", ry)),
            }
            tx.put(self.self_id, "Agent", bounds)
        return rid

    def ensure_place(self, tx: Tx, x: int, y: int, step: int) -> str:
        pid = ids.place(x, y)
        rx, ry = ids.region_of(x, y, self.region_size)
        if tx.node(pid) is None:
            tx.put(
                pid,
                "Place",
                {
                    "x": x,
                    "y": y,
                    "region": f"{rx},{ry}",
                    "last_step": step,
                    "importance": IMPORTANCE["Place"],
                    "uses": 0,
                },
            )
            tx.edge(pid, "PART_OF", self.ensure_region(tx, rx, ry, step))
        return pid

    def mark_explored(self, tx: Tx, x0: int, y0: int, x1: int, y1: int, t: int) -> None:
        """Mark the regions a survey saw at least a quarter of as explored (what the
        exploration frontier grows from)."""
        size = self.region_size
        known = self.spatial.explored if self.spatial is not None else set()
        for rx in range(x0 // size, x1 // size + 1):
            for ry in range(y0 // size, y1 // size + 1):
                if (rx, ry) in known:
                    continue
                wide = min(x1, rx * size + size - 1) - max(x0, rx * size) + 1
                high = min(y1, ry * size + size - 1) - max(y0, ry * size) + 1
                if 4 * wide * high < size * size:
                    continue
                self.explore_region(tx, rx, ry, t, "observed")

    def explore_region(self, tx: Tx, rx: int, ry: int, t: int, provenance: str) -> None:
        """Mark region (rx, ry) explored at `t` (seen by the agent, or told about)."""
        rid = self.ensure_region(tx, rx, ry, t)
        if not (tx.node(rid) or {}).get("explored"):
            tx.put(rid, "Region", {"explored": True, "explored_at": t,
                                   "provenance": provenance})

    def explored(self, tx: Tx, f: Fact, t: int) -> None:
        assert f.place is not None
        rx, ry = ids.region_of(*f.place, self.region_size)
        if self.spatial is None or (rx, ry) not in self.spatial.explored:
            self.explore_region(tx, rx, ry, t, f.provenance)

    def source_edge(self, tx: Tx, node_id: str, fact: Fact, step: int) -> None:
        if fact.teller is None:
            tx.edge(node_id, "SEEN_BY", self.self_id, {"step": step})
        else:
            tx.edge(node_id, "TOLD_BY", ensure_agent(tx, fact.teller, step), {"step": step})
            note_told(tx, self.self_id, node_id)

    def seen_at(self, tx: Tx, f: Fact, t: int) -> None:
        assert f.place is not None
        x, y = f.place
        iid = ids.instance(f)
        if self.resighting(f, iid):
            self.resight(iid, t)
            return
        inst = tx.node(iid)
        if inst is not None and stale(self._seen(iid, inst), t, f):
            return
        if inst is not None and "valid_to" not in inst and (inst["x"], inst["y"]) == (x, y):
            upgrade = f.teller is None and inst.get("provenance") != "observed"
            if (self.pending_seen is not None and not upgrade and f.teller is None
                    and f.entity_id is None):
                if t > max(inst.get("last_step", -1), self.pending_seen.get(iid, -1)):
                    self.pending_seen[iid] = t
                return
            update: dict[str, Any] = {"last_step": max(t, inst.get("last_step", t))}
            if upgrade:
                update.update(provenance=f.provenance, confidence=f.confidence)
            tx.put(iid, "Entity", update)
            return
        pid = self.ensure_place(tx, x, y, t)
        category = f.category or (inst or {}).get("category") or "other"
        kid = ensure_kind(tx, f.subject, category, t)
        if inst is None or "valid_to" in inst:  # a new valid instance of this kind
            tx.put(kid, "Entity", {"n_valid": (tx.node(kid) or {}).get("n_valid", 0) + 1})
        if inst is not None and "valid_to" not in inst:  # a mover left its old place
            old = ids.place(inst["x"], inst["y"])
            if tx.node(old) is not None:
                tx.edge(iid, "LOCATED_AT", old, {"valid_to": t})
        rx, ry = ids.region_of(x, y, self.region_size)
        importance = IMPORTANCE["station" if category == "station" else "Entity"]
        tx.put(
            iid,
            "Entity",
            {
                "kind": f.subject,
                "category": category,
                "instance": True,
                "x": x,
                "y": y,
                "region": f"{rx},{ry}",
                "kind_region": f"{f.subject}@{rx},{ry}",
                "valid_from": t,
                "valid_to": None,
                "closed_by": None,
                "provenance": f.provenance,
                "confidence": f.confidence,
                "last_step": t,
                "importance": importance,
                "uses": (inst or {}).get("uses", 0),
            },
        )
        tx.edge(
            iid,
            "LOCATED_AT",
            pid,
            {
                "valid_from": t,
                "valid_to": None,
                "provenance": f.provenance,
                "confidence": f.confidence,
            },
        )
        self.source_edge(tx, iid, f, t)

    def gone_from(self, tx: Tx, f: Fact, t: int) -> None:
        assert f.place is not None
        iid = ids.instance(f)
        inst = tx.node(iid)
        if inst is None or "valid_to" in inst or (inst["x"], inst["y"]) != tuple(f.place):
            return
        if stale(self._seen(iid, inst), t, f):
            return
        self.close(tx, iid, inst, t, f)

    def close(self, tx: Tx, iid: str, inst: Mapping[str, Any], t: int, f: Fact) -> None:
        """Close a located entity's validity at `t` (the node and its history stay)."""
        tx.put(iid, "Entity", {"valid_to": t, "last_step": t, "closed_by": f.provenance})
        if self.pending_seen is not None:
            self.pending_seen.pop(iid, None)
        kid = ids.kind(inst["kind"])
        kind_node = tx.node(kid)
        if kind_node is not None and kind_node.get("n_valid", 0) > 0:
            tx.put(kid, "Entity", {"n_valid": kind_node["n_valid"] - 1})
        pid = ids.place(inst["x"], inst["y"])
        if tx.node(pid) is not None:
            tx.edge(iid, "LOCATED_AT", pid, {"valid_to": t})
        if f.teller is not None:
            note_told(tx, self.self_id, iid)

    def surveyed(self, tx: Tx, f: Fact, t: int, seen: set[str]) -> None:
        """Negative evidence: every valid located entity inside the surveyed rectangle that
        this same write did not report as seen is gone (a cut tree, a cow that walked)."""
        assert f.place is not None and f.extent is not None
        x0, y0 = f.place
        x1, y1 = x0 + f.extent[0] - 1, y0 + f.extent[1] - 1
        self.mark_explored(tx, x0, y0, x1, y1, t)
        if self.spatial is not None:
            candidates = [i for i in self.spatial.within(x0, y0, x1, y1) if i not in seen]
            tx.load(candidates)
        else:
            candidates = []
            size = self.region_size
            for rx in range(x0 // size, x1 // size + 1):
                for ry in range(y0 // size, y1 // size + 1):
                    for rec in tx.store.query(
                        "Entity", {"region": f"{rx},{ry}", "instance": True}, missing=["valid_to"]
                    ):
                        if rec.id in seen:
                            continue
                        candidates.append(rec.id)
                        tx.know(rec)
        for iid in candidates:
            inst = tx.node(iid)
            if inst is None or "valid_to" in inst or not inst.get("instance"):
                continue
            if not (x0 <= inst["x"] <= x1 and y0 <= inst["y"] <= y1):
                continue
            if not stale(self._seen(iid, inst), t, f):
                self.close(tx, iid, inst, t, f)

    def holds(self, tx: Tx, f: Fact, t: int) -> None:
        assert f.object is not None and f.count is not None
        aid = ensure_agent(tx, f.subject, t)
        kid = ensure_kind(tx, f.object, f.category or "item", t)
        held = tx.holdings(aid)
        edge = held.get(kid)
        valid = edge is not None and "valid_to" not in edge
        if edge is not None and stale(edge, t, f):
            return
        if valid and edge is not None and edge.get("count") == f.count:
            props: dict[str, Any] = {"last_step": max(t, edge.get("last_step", t))}
            if f.teller is None and edge.get("provenance") != "observed":
                props.update(provenance=f.provenance, confidence=f.confidence)
        elif f.count == 0:
            if not valid:
                return
            props = {"count": 0, "valid_to": t, "last_step": t, "provenance": f.provenance}
        else:
            props = {
                "count": f.count,
                "valid_from": t,
                "valid_to": None,
                "last_step": t,
                "provenance": f.provenance,
                "confidence": f.confidence,
            }
        merged = {**(edge or {}), **props}
        merged = {k: v for k, v in merged.items() if v is not None}
        if merged == edge:
            return
        held[kid] = merged
        tx.edge(aid, "HOLDS", kid, props)

    def recipe(self, tx: Tx, f: Fact, t: int) -> None:
        assert f.object is not None
        rid = ids.recipe(f.subject)
        old = tx.node(rid)
        items = sorted(f.requires)
        props: dict[str, Any] = {
            "name": f.subject,
            "produces": f.object,
            "count": f.count or 1,
            "requires_items": items,
            "requires_counts": [f.requires[i] for i in items],
            "nearby": sorted(f.nearby),
        }
        if old is not None:
            if stale(old, t, f):
                return
            if all(old.get(k) == v for k, v in props.items()):
                if f.teller is None and old.get("provenance") != "observed":
                    tx.put(rid, "Recipe", {"provenance": f.provenance, "confidence": f.confidence})
                return
            for item in old.get("requires_items", []):
                if item not in f.requires:
                    tx.delete_edges.append((rid, "REQUIRES", ids.kind(item)))
            for station in old.get("nearby", []):
                if station not in f.nearby:
                    tx.delete_edges.append((rid, "NEEDS_NEARBY", ids.kind(station)))
            if old.get("produces") != f.object:
                tx.delete_edges.append((rid, "PRODUCES", ids.kind(old["produces"])))
        tx.put(
            rid,
            "Recipe",
            {
                **props,
                "valid_from": t,
                "last_step": t,
                "provenance": f.provenance,
                "confidence": f.confidence,
                "importance": IMPORTANCE["Recipe"],
                "uses": (old or {}).get("uses", 0),
            },
        )
        tx.edge(rid, "PRODUCES", ensure_kind(tx, f.object, "item", t), {"count": f.count or 1})
        for item in items:
            tx.edge(rid, "REQUIRES", ensure_kind(tx, item, "item", t), {"count": f.requires[item]})
        for station in f.nearby:
            tx.edge(rid, "NEEDS_NEARBY", ensure_kind(tx, station, "station", t))
        self.source_edge(tx, rid, f, t)

    def drop_map(self, tx: Tx) -> None:
        """Delete places, regions and located entities (a new world); kinds stay, with no
        valid instance left."""
        store = tx.store
        doomed = [r.id for label in ("Place", "Region") for r in store.query(label)]
        doomed += [r.id for r in store.query("Entity", {"instance": True})]
        tx.delete_nodes.extend(d for d in doomed if d not in tx.nodes)
        for rec in store.query("Entity", {"instance": False}):
            if rec.props.get("n_valid"):
                tx.put(rec.id, "Entity", {"n_valid": 0})
        for key in ("rx_min", "rx_max", "ry_min", "ry_max"):
            tx.put(self.self_id, "Agent", {key: None})

    @staticmethod
    def drop_holdings(tx: Tx) -> None:
        """Delete every HOLDS edge (inventories do not carry over to a new episode)."""
        for edge in tx.store.edges("HOLDS"):
            tx.delete_edges.append((edge.src, edge.type, edge.dst))
