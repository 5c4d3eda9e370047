"""Retrieval: `Retriever.retrieve` answers a `RetrievalQuery` from one agent's graph.

It reads in as few round trips as it can: one batched read for the agent node, what
the last commit's hints say it points at, the located entities the spatial index picks,
and the holders and recipes asked about; then one more read for what the hints missed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from memsim.memory import ids, working
from memsim.memory.recall import (
    EventRecord,
    GoalRecord,
    HolderRecord,
    NeedRecord,
    PlaceRecord,
    Recall,
    RecipeRecord,
    ReportRecord,
    RetrievalQuery,
    SummaryRecord,
)
from memsim.memory.schema import SchemaError
from memsim.memory.spatial import SpatialIndex
from memsim.memory.store import EdgeRecord, GraphStore, NodeRecord
from memsim.memory.transaction import Hints, Reader, edges_at, read_many


def pointed(
    me: Mapping[str, Any], query: RetrievalQuery, fails: Mapping[str, list[str]] | None = None
) -> list[str]:
    """Ids a retrieval reads through the agent node `me`: goal path, the failure chunks
    that can hold the failures asked for (each lists >= 1), teammate reports; with
    `fails` (chunk -> failed events), also those chunks' events."""
    out = [i for i in (me.get("current_goal"), me.get("current_subgoal")) if i]
    chunks = me.get("recent_fails", [])[: query.recent_failures]
    out += chunks
    out += me.get("recent_told", [])[: query.teammate_reports]
    out += me.get("recent_subgoals", [])[: query.subgoals]
    out += working.pointed(me, query.claims, query.commitments, query.avoid)
    if fails is not None:
        total = 0
        for cid in chunks:
            if total >= query.recent_failures or cid not in fails:
                break
            out += fails[cid]
            total += len(fails[cid])
    return out

def goal_record(rec: NodeRecord) -> GoalRecord:
    """A Goal or Subgoal node as a record."""
    p = rec.props
    target = (p["target_x"], p["target_y"]) if "target_x" in p else None
    return GoalRecord(rec.id, rec.label.lower(), p.get("name", ""), p.get("status", ""),
                      p.get("valid_from", 0), tuple(p.get("needs", ())), target,
                      p.get("target_since", p.get("valid_from", 0)), p.get("valid_to"),
                      p.get("summary", ""))


def recipes_of(rows: list[tuple[EdgeRecord, NodeRecord]]) -> list[RecipeRecord]:
    """Recipe records from a kind node's incoming PRODUCES edges."""
    out = []
    for _, rec in rows:
        p = rec.props
        out.append(
            RecipeRecord(
                rec.id,
                p["name"],
                p["produces"],
                p.get("count", 1),
                dict(
                    zip(p.get("requires_items", []), p.get("requires_counts", []), strict=True)
                ),
                tuple(p.get("nearby", [])),
                p.get("provenance", "observed"),
                p.get("valid_from", 0),
            )
        )
    return out

def holders_of(item: str, rows: list[tuple[EdgeRecord, NodeRecord]]) -> list[HolderRecord]:
    """Current holders of `item` from its kind node's incoming HOLDS edges."""
    out = []
    for edge, agent in rows:
        e = edge.props
        if "valid_to" in e or e.get("count", 0) <= 0:
            continue
        out.append(
            HolderRecord(
                agent.id,
                agent.props.get("name", agent.id),
                item,
                e["count"],
                e.get("provenance", "observed"),
                e.get("valid_from", 0),
            )
        )
    return out


class Retriever:
    """Reads recall for the agent `self_id` from `store`; `spatial` (sole writers only)
    answers nearest-place questions in process."""

    def __init__(
        self, store: GraphStore, self_id: str, region_size: int, spatial: SpatialIndex | None
    ) -> None:
        self.store = store
        self.self_id = self_id
        self.region_size = region_size
        self.spatial = spatial
        # The recipe book changes rarely: a sole writer keeps it here between recalls
        # (`forget_recipes` when a write touches a recipe).
        self._recipes: list[RecipeRecord] | None = None
        # (spatial explored revision, bounds) -> explored regions and frontier cells
        self._frontier: tuple[tuple[int, tuple[int, int]], frozenset[tuple[int, int]],
                              list[tuple[int, int, int, int]]] | None = None

    def forget_recipes(self) -> None:
        self._recipes = None

    def retrieve(
        self, query: RetrievalQuery | Mapping[str, Any], budget: int, hints: Hints | None
    ) -> Recall:
        """Goal-conditioned, index-backed recall; at most `budget` items (round-robin
        across parts). With `hints`, what the last commit saw is read speculatively in the
        first round trip."""
        if not isinstance(query, RetrievalQuery):
            query = RetrievalQuery.model_validate(query)
        if not isinstance(budget, int) or budget < 0:
            raise SchemaError(f"budget must be a non-negative int, got {budget!r}")
        recall = Recall()
        reader = Reader(self.store)
        hits: dict[tuple[str, int], list[tuple[int, int, int, str]]] = {}
        if self.spatial is not None and query.position is not None:
            x0, y0 = query.position
            for kind, k in [
                *((n, 1) for n in query.needs),
                *((n, query.per_kind) for n in query.nearest),
            ]:
                hits[(kind, k)] = self.spatial.nearest(kind, x0, y0, k)
        items = list(dict.fromkeys((*query.needs, *query.who_holds)))
        mates: list[str] = []
        if query.teammates and self.spatial is not None:
            mates = sorted(self.spatial.members(working.TEAMMATE_KIND))
        # One batched read (one round trip on a server) for: the agent node, what the last
        # commit's hint says it points at, every located entity the spatial index picks,
        # and the holders and recipes asked about.
        guess = pointed(hints.me, query, hints.fails) if hints is not None else []
        first = list(
            dict.fromkeys(
                [self.self_id, *guess, *(h[3] for found in hits.values() for h in found),
                 *mates]
            )
        )
        extra = self._extra_reads(query)
        got = read_many(
            self.store,
            [
                (reader.read_method, {"node_ids": first}),
                *(("neighbors", edges_at(ids.kind(i), "HOLDS", "in")) for i in items),
                *(("neighbors", edges_at(ids.kind(i), "PRODUCES", "in")) for i in query.needs),
                *extra.values(),
            ],
        )
        extras = dict(zip(extra, got[len(got) - len(extra):], strict=True))
        got = got[: len(got) - len(extra)]
        reader.fill(first, got[0])
        me_rec = reader.recs[self.self_id]
        me = me_rec.props if me_rec is not None else {}
        # The hint is checked here: a second read only for what it missed.
        reader.fetch(pointed(me, query))
        path_ids = [i for i in (me.get("current_goal"), me.get("current_subgoal")) if i]
        for rec in reader.many(path_ids):
            record = goal_record(rec)
            if rec.label == "Goal":
                recall.goal = record
            else:
                recall.subgoal = record
        held_rows, recipe_rows = got[1 : 1 + len(items)], got[1 + len(items) :]
        holders = {i: holders_of(i, rows) for i, rows in zip(items, held_rows, strict=True)}
        recipes = dict(zip(query.needs, recipe_rows, strict=True))
        for item in query.needs:
            recall.needs.append(
                NeedRecord(
                    item=item,
                    recipes=tuple(recipes_of(recipes[item])),
                    sources=tuple(self._nearest(item, query.position, 1, me, hits, reader)),
                    holders=tuple(holders[item]),
                )
            )
        for kind in query.nearest:
            recall.nearest.extend(
                self._nearest(kind, query.position, query.per_kind, me, hits, reader)
            )
        for item in query.who_holds:
            recall.holders.extend(holders[item])
        if query.recent_failures:
            recall.failures = self._failures(me, query.recent_failures, reader)
        if query.teammate_reports:
            recall.reports = self._reports(me, query.teammate_reports, reader)
        if query.recent_summaries:
            recall.summaries = self._summaries(me, query.recent_summaries)
        recall.cap(budget)
        self._working(query, me, reader, mates, extras, recall)
        return recall

    def _extra_reads(self, query: RetrievalQuery) -> dict[str, tuple[str, dict[str, Any]]]:
        """Store reads the working-memory parts need beyond the agent node's pointers,
        batched with the first read: the recipe book, and what a memory without a spatial
        index finds by query (teammates, explored regions)."""
        reads: dict[str, tuple[str, dict[str, Any]]] = {}
        if query.recipes and (self._recipes is None or self.spatial is None):
            reads["recipes"] = ("query", {"label": "Recipe"})
        if self.spatial is None and query.teammates:
            reads["teammates"] = ("query", {
                "label": "Entity", "where": {"kind": working.TEAMMATE_KIND, "instance": True},
                "missing": ["valid_to"]})
        if self.spatial is None and query.frontier:
            reads["explored"] = ("query", {"label": "Region", "where": {"explored": True}})
        return reads

    def _working(self, query: RetrievalQuery, me: Mapping[str, Any], reader: Reader,
                 mates: list[str], extras: Mapping[str, Any], recall: Recall) -> None:
        """The working-memory parts (uncapped: a policy acts on all of it)."""
        now = me.get("last_step", 0)
        if query.subgoals:
            recall.subgoals = [goal_record(r) for r in
                               reader.many(me.get("recent_subgoals", [])[: query.subgoals])]
        if query.recipes:
            if "recipes" in extras:
                recipes = recipes_of([(None, r) for r in extras["recipes"]])  # type: ignore[misc]
                self._recipes = recipes if self.spatial is not None else None
            else:
                recipes = self._recipes or []
            recall.recipes = list(recipes)
        if query.teammates:
            recs = extras["teammates"] if "teammates" in extras else reader.many(mates)
            name = self.self_id.removeprefix("agent:")
            recall.teammates = working.teammate_records(recs, name)
        opened = reader.many(working.pointed(me, query.claims, query.commitments, query.avoid))
        if query.claims:
            recall.claims = working.claim_records(opened)
        if query.commitments:
            recall.commitments = working.commitment_records(opened, now)
        if query.avoid:
            recall.avoid = working.avoid_records(opened, now)
        if query.trail:
            recall.trail = working.trail(me, query.trail)
        if query.frontier:
            assert query.position is not None and query.bounds is not None
            if self.spatial is not None:
                explored, cells = self._explored(query.bounds)
            else:
                explored = frozenset(working.explored_regions(extras["explored"]))
                cells = working.frontier_cells(explored, query.bounds, self.region_size)
            recall.frontier = working.frontier(explored, query.position, query.bounds,
                                               self.region_size, query.frontier, cells)
            recall.explored = explored

    def _explored(self, bounds: tuple[int, int]) -> tuple[
            frozenset[tuple[int, int]], list[tuple[int, int, int, int]]]:
        """The spatial index's explored regions and their frontier cells, recomputed only
        when the index's explored set has changed since the last recall."""
        assert self.spatial is not None
        key = (self.spatial.explored_revision, bounds)
        if self._frontier is None or self._frontier[0] != key:
            explored = frozenset(self.spatial.explored)
            self._frontier = (key, explored,
                              working.frontier_cells(explored, bounds, self.region_size))
        return self._frontier[1], self._frontier[2]

    def _nearest(
        self,
        kind: str,
        position: tuple[int, int] | None,
        k: int,
        me: Mapping[str, Any],
        hits: Mapping[tuple[str, int], list[tuple[int, int, int, str]]],
        reader: Reader,
    ) -> list[PlaceRecord]:
        """Up to k nearest valid places of `kind` (Manhattan metric): from the spatial index
        (`hits` holds what it found up front) or else from the store."""
        if position is None:
            return []
        if self.spatial is None:
            return self._nearest_in_store(kind, position, k, me)
        found_hits = hits.get((kind, k))
        if found_hits is None:
            found_hits = self.spatial.nearest(kind, position[0], position[1], k)
        by_id = {r.id: r.props for r in reader.many([h[3] for h in found_hits])}
        return [
            PlaceRecord(
                nid,
                kind,
                x,
                y,
                d,
                by_id[nid].get("provenance", "observed"),
                by_id[nid].get("confidence", 1.0),
                by_id[nid].get("valid_from", 0),
            )
            for d, y, x, nid in found_hits
            if nid in by_id
        ]

    def _nearest_in_store(
        self, kind: str, position: tuple[int, int], k: int, me: Mapping[str, Any]
    ) -> list[PlaceRecord]:
        """Ring search over the region grid outwards from the agent's region; stops once
        the k-th best distance cannot be beaten by any farther ring (Manhattan metric)."""
        if "rx_min" not in me:
            return []
        kind_node = self.store.get([ids.kind(kind)])
        n_valid = kind_node[0].props.get("n_valid", 0) if kind_node else 0
        if n_valid <= 0:  # an upper bound (eviction never decrements), so 0 is exact
            return []
        x0, y0 = position
        rx0, ry0 = ids.region_of(x0, y0, self.region_size)
        size = self.region_size
        max_ring = max(
            abs(rx0 - me["rx_min"]),
            abs(me["rx_max"] - rx0),
            abs(ry0 - me["ry_min"]),
            abs(me["ry_max"] - ry0),
        )
        found: list[tuple[int, int, int, str, dict[str, Any]]] = []

        def take(records: list[NodeRecord]) -> None:
            for rec in records:
                p = rec.props
                found.append((abs(p["x"] - x0) + abs(p["y"] - y0), p["y"], p["x"], rec.id, p))

        if n_valid <= (2 * max_ring + 1) ** 2:
            # Few known instances: one index lookup beats visiting many regions.
            take(self.store.query("Entity", {"kind": kind, "instance": True}, missing=["valid_to"]))
            found.sort(key=lambda r: r[:4])
        else:
            ox, oy = x0 - rx0 * size, y0 - ry0 * size
            # Closest any cell of ring r can be: distance to the edge of rings < r.
            edge = min(ox + 1, size - ox, oy + 1, size - oy)
            for ring in range(max_ring + 1):
                if len(found) >= k and found[k - 1][0] < edge + (ring - 1) * size:
                    break
                for rx in range(max(rx0 - ring, me["rx_min"]), min(rx0 + ring, me["rx_max"]) + 1):
                    for ry in range(
                        max(ry0 - ring, me["ry_min"]), min(ry0 + ring, me["ry_max"]) + 1
                    ):
                        if max(abs(rx - rx0), abs(ry - ry0)) == ring:
                            take(
                                self.store.query(
                                    "Entity",
                                    {"kind_region": f"{kind}@{rx},{ry}"},
                                    missing=["valid_to"],
                                )
                            )
                found.sort(key=lambda r: r[:4])
        return [
            PlaceRecord(
                nid,
                kind,
                x,
                y,
                d,
                p.get("provenance", "observed"),
                p.get("confidence", 1.0),
                p.get("valid_from", 0),
            )
            for d, y, x, nid, p in found[:k]
        ]

    def _failures(self, me: Mapping[str, Any], n: int, reader: Reader) -> list[EventRecord]:
        # Summaries first: only chunks whose counts show failures are opened.
        out: list[EventRecord] = []
        fails = me.get("recent_fails", [])
        # Read the failed events of as many chunks as can hold n of them, in one read.
        want: list[str] = []
        for cid in fails:
            chunk_rec = reader.recs.get(cid)
            if len(want) >= n or chunk_rec is None:
                break
            if chunk_rec.props.get("n_failure", 0) > 0:
                want += chunk_rec.props.get("failed_events", [])
        reader.fetch(want)
        for i, cid in enumerate(fails):
            if len(out) >= n:  # chunks are newest first and do not overlap in time
                break
            if cid not in reader.recs:  # eviction left too few: open the rest at once
                reader.fetch(fails[i:])
            chunk = reader.recs[cid]
            if chunk is None or chunk.props.get("n_failure", 0) <= 0:
                continue
            events = reader.many(chunk.props.get("failed_events", []))
            events.sort(key=lambda ev: (-ev.props.get("step", 0), ev.id))
            for ev in events:
                p = ev.props
                out.append(
                    EventRecord(
                        ev.id,
                        p["action"],
                        p["outcome"],
                        p.get("reward", 0.0),
                        p.get("target"),
                        p.get("step", 0),
                        chunk.id,
                    )
                )
        out.sort(key=lambda e: (-e.step, e.node_id))
        return out[:n]

    def _reports(self, me: Mapping[str, Any], n: int, reader: Reader) -> list[ReportRecord]:
        out: list[ReportRecord] = []
        for rec in reader.many(me.get("recent_told", [])[:n]):
            p = rec.props
            if rec.label == "Message":
                summary = f"{p.get('sender')} says: {p.get('text', '')}"
            elif rec.label == "Entity":
                state = "gone from" if "valid_to" in p else "at"
                summary = f"{p.get('kind')} {state} ({p.get('x')},{p.get('y')})"
            elif rec.label == "Agent":
                summary = f"{p.get('name')} inventory updated"
            else:
                summary = f"{rec.label} {p.get('name', rec.id)}"
            provenance = p.get("closed_by") or p.get("provenance") or "told_by:?"
            out.append(
                ReportRecord(
                    rec.id,
                    rec.label,
                    summary,
                    provenance,
                    p.get("last_step", p.get("valid_from", 0)),
                )
            )
        return out

    def _summaries(self, me: Mapping[str, Any], n: int) -> list[SummaryRecord]:
        out: list[SummaryRecord] = []
        cid = me.get("last_chunk")
        while cid is not None and len(out) < n:
            got = self.store.get([cid])
            if not got:
                break
            p = got[0].props
            if p.get("consolidated"):
                out.append(
                    SummaryRecord(
                        cid, p.get("step_from", 0), p.get("step_to", 0), p.get("summary", "")
                    )
                )
            prev = self.store.neighbors(cid, "NEXT", "in")
            cid = prev[0][1].id if prev else None
        return out
