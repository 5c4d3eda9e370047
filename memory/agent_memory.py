"""`AgentMemory`: one agent's hierarchical knowledge graph over any `GraphStore`.

The graph has an episodic layer (`episodic.py`: goal ▸ subgoal ▸ chunk ▸ event, and
teammates' reports) and a semantic layer (`semantic.py`: located entities, places,
regions, kinds, recipes, holdings). Facts carry `valid_from` / `valid_to`, `provenance`
and `confidence`; node ids come from `ids.py`. `AgentMemory` owns the memory's state and
runs each operation; the parts live beside it: batching (`transaction.py`), the spatial
index (`spatial.py`), eviction (`forgetting.py`), `retrieval.py`, `sharing.py` (export /
merge) and `persistence.py` (checkpoints, GraphML).

Every `write` makes exactly one `store.write(batch)` call (plus batched reads); it is
idempotent, so replaying the same facts at the same step changes nothing. Independent
reads go together through `read_many` where the store batches reads (the Cypher
backends), and prefetch hints from the last commit guess the dependent ones, so on
FalkorDB a steady agent-step (write + retrieve) is three round trips: read + write, read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import networkx as nx

from memsim.memory import ids, persistence
from memsim.memory.episodic import Episodes
from memsim.memory.facts import Fact, check_name
from memsim.memory.forgetting import ForgetPolicy, evict
from memsim.memory.recall import Recall, RetrievalQuery
from memsim.memory.retrieval import Retriever
from memsim.memory.schema import SchemaError
from memsim.memory.semantic import SemanticWriter, agent_props
from memsim.memory.sharing import ExportSelector, check_payload, export_payload, payload_to_facts
from memsim.memory.spatial import SpatialIndex
from memsim.memory.store import GraphStore, NodeRecord
from memsim.memory.transaction import Hints, Tx
from memsim.memory.working import WorkingWriter

_USE_FLUSH = 256  # pending use-count bumps that force a flush into the next write


class AgentMemory:
    """Hierarchical knowledge-graph memory of one agent (see module docstring).

    `sole_writer=True` (the default, right for a private namespace) lets the memory keep
    its node count and a spatial index locally; set it False when several writers share
    the namespace. `prefetch` (default: the store is remote) reads likely ids early.
    """

    def __init__(
        self,
        store: GraphStore,
        agent_id: str,
        *,
        node_budget: int | None = 10_000,
        chunk_size: int = 16,
        region_size: int = 8,
        forget_policy: ForgetPolicy | None = None,
        max_payload_nodes: int = 512,
        max_payload_bytes: int = 256_000,
        sole_writer: bool = True,
        prefetch: bool | None = None,
    ) -> None:
        check_name(agent_id, "agent_id")
        if not isinstance(chunk_size, int) or not 1 <= chunk_size <= 256:
            # 256: a chunk lists its failed events in one property (the schema's list cap)
            raise SchemaError(f"chunk_size must be an int in [1, 256], got {chunk_size!r}")
        if not isinstance(region_size, int) or region_size < 1:
            raise SchemaError(f"region_size must be an int >= 1, got {region_size!r}")
        if forget_policy is None and node_budget is not None:
            forget_policy = ForgetPolicy(node_budget=node_budget)
        if forget_policy is not None and forget_policy.node_budget < chunk_size + 16:
            raise SchemaError(
                f"node_budget {forget_policy.node_budget} must be >= chunk_size + 16 "
                f"({chunk_size + 16}) so the current goal path always fits"
            )
        self.store = store
        self.agent_id = agent_id
        self.chunk_size = chunk_size
        self.region_size = region_size
        self.forget_policy = forget_policy
        self.max_payload_nodes = max_payload_nodes
        self.max_payload_bytes = max_payload_bytes
        self.sole_writer = sole_writer
        # Speculative batched reads pay off on server backends (round trips), not in process.
        self.prefetch = store.capabilities.remote if prefetch is None else prefetch
        self.self_id = ids.agent(agent_id)
        self._pending_uses: Counter[str] = Counter()
        # re-sightings' steps not yet written (sole writers; see SemanticWriter)
        self._pending_seen: dict[str, int] = {}
        # (global step, ids written at it): what an export of `since` that step looks at
        # (None: not known, e.g. after a restore)
        self._written: tuple[int, set[str]] | None = None
        self._hints = Hints()
        self._spatial = SpatialIndex(max(2, region_size // 2)) if sole_writer else None
        self._semantic = SemanticWriter(self.self_id, region_size, self._spatial,
                                        self._pending_seen if sole_writer else None)
        self._episodes = Episodes(self.self_id, chunk_size)
        self._working = WorkingWriter(self.self_id, self._semantic, lambda: self._base)
        self._retriever = Retriever(store, self.self_id, region_size, self._spatial)
        # fact kind -> writer; `surveyed` runs after the rest (see `write`)
        self._writers: dict[str, Callable[[Tx, Fact, int], None]] = {
            "seen_at": self._semantic.seen_at,
            "gone_from": self._semantic.gone_from,
            "holds": self._semantic.holds,
            "recipe": self._semantic.recipe,
            "explored": self._semantic.explored,
            "event": self._episodes.event,
            "goal": self._episodes.goal,
            "subgoal": self._episodes.subgoal,
            "report": self._episodes.report,
            "claim": self._working.claim,
            "commitment": self._working.commitment,
            "avoid": self._working.avoid,
        }
        if not store.get([self.self_id]):
            store.upsert_nodes([NodeRecord(self.self_id, "Agent", agent_props(agent_id, True))])
        self._reload(self._read_base())

    def _read_base(self) -> int:
        me = self.store.get([self.self_id])
        return me[0].props.get("step_base", 0) if me else 0

    def _reload(self, base: int) -> None:
        """Re-read what is kept in process from the store (open, restore, new episode)."""
        self._count = self.store.count()
        self._base = base
        self._written = None
        self._retriever.forget_recipes()
        if self._spatial is not None:
            self._spatial.rebuild(self.store)

    def _time(self, fact: Fact, step: int) -> int:
        """Global time of a fact: `step` is already global; `observed_step` is episode-local."""
        return step if fact.observed_step is None else self._base + fact.observed_step

    def _node_count(self) -> int:
        return self._count if self.sole_writer else self.store.count()

    def __len__(self) -> int:
        return self._node_count()

    # -- write ------------------------------------------------------------------------

    def write(self, facts: Iterable[Fact | Mapping[str, Any]], step: int) -> None:
        """Record facts observed (or heard) at episode step `step`, in one store write.

        Memory keeps a global clock across episodes (`step_base` + step; see `new_episode`);
        returned records report global steps, which equal episode steps in episode one."""
        if not isinstance(step, int) or step < 0:
            raise SchemaError(f"step must be a non-negative int, got {step!r}")
        step += self._base
        parsed: list[Fact] = []
        resighted: list[str] = []  # seen again where indexed: no read, no write (see below)
        for f in facts:
            if not isinstance(f, Fact):
                f = Fact.model_validate(f)
            if f.kind == "seen_at":
                iid = ids.instance(f)
                if self._semantic.resighting(f, iid):
                    self._semantic.resight(iid, step)
                    resighted.append(iid)
                    continue
            parsed.append(f)
        tx = Tx(self.store)
        # The cursor ids seen at the last commit are only a prefetch hint (so one read
        # covers them); the truth is the agent node loaded in the same read.
        tx.load(
            [
                self.self_id,
                *self._hints.cursor(),
                *self._hints.next,
                *self._predict_ids(tx, parsed, step),
            ],
            holders=[ids.agent(f.subject) for f in parsed if f.kind == "holds"],
        )
        for fact in parsed:
            if fact.kind != "surveyed":
                self._writers[fact.kind](tx, fact, self._time(fact, step))
        # Surveys go last: they close what the rest of this write did not report seen.
        surveys = [f for f in parsed if f.kind == "surveyed"]
        if surveys:
            seen = {*resighted, *(ids.instance(f) for f in parsed if f.kind == "seen_at")}
            for fact in surveys:
                self._semantic.surveyed(tx, fact, self._time(fact, step), seen)
        me = tx.node(self.self_id) or {}
        if step > me.get("last_step", 0):
            tx.put(self.self_id, "Agent", {"last_step": step})
        self._commit(tx, step)

    def _predict_ids(self, tx: Tx, facts: Sequence[Fact], step: int) -> list[str]:
        """Ids the facts will read, so one `get` covers them. Without `prefetch`, skip the
        speculative ones (places, regions, kinds: needed only for new things), since in
        process a lazy read is cheaper than a wasted one."""
        out: list[str] = []
        full = self.prefetch
        for f in facts:
            if full and f.place is not None and not self._resighting(f):
                x, y = f.place
                out += [ids.place(x, y), ids.region(*ids.region_of(x, y, self.region_size))]
            if f.kind in ("seen_at", "gone_from"):
                out.append(ids.instance(f))
                if full:
                    out.append(ids.kind(f.subject))
            elif f.kind == "holds":
                out += [ids.agent(f.subject), ids.kind(f.object or "")]
            elif f.kind == "recipe":
                out += [ids.recipe(f.subject), ids.kind(f.object or "")]
                out += [ids.kind(k) for k in (*f.requires, *f.nearby)]
            elif f.kind == "event":
                out.append(ids.event(self._time(f, step), tx.digest(f)))
            elif f.kind == "report":
                out += [ids.message(self._time(f, step), tx.digest(f)), ids.agent(f.subject)]
            elif f.kind == "claim" and f.place is not None:
                out += [ids.claim(f.subject, *f.place), ids.agent(f.agent or "")]
            elif f.kind == "commitment":
                out += [ids.commitment(f.object or "", f.subject, f.agent or ""),
                        ids.agent(f.agent or "")]
            elif f.kind == "avoid" and f.place is not None:
                out.append(ids.avoid(*f.place))
            if f.teller is not None:
                out.append(ids.agent(f.teller))
        return out

    def _resighting(self, fact: Fact) -> bool:
        """A `seen_at` of something the spatial index holds as valid at that very cell:
        `seen_at` then only touches the instance, so its place, region and kind need no
        speculative read."""
        return (
            fact.kind == "seen_at"
            and self._spatial is not None
            and fact.place is not None
            and self._spatial.position(ids.instance(fact)) == tuple(fact.place)
        )

    def _commit(
        self, tx: Tx, step: int, policy: ForgetPolicy | None = None, *, flush: bool = False
    ) -> int:
        """Evict if over budget and write: one store.write. Use counts bumped by retrieval
        are written in batches (when `flush`, when evicting - the only reader of them -
        or once `_USE_FLUSH` nodes are pending), not on every step."""
        policy = policy or self.forget_policy
        # the node count once tx is written (flushing use counts creates no node)
        projected = 0 if policy is None else self._node_count() + len(tx.created)
        over = policy is not None and projected > policy.node_budget
        flushing = (flush or over or len(self._pending_uses) >= _USE_FLUSH
                    or len(self._pending_seen) >= _USE_FLUSH)
        if flushing:
            self._flush(tx)
        evicted = 0
        if policy is not None:
            evicted = evict(tx, self.store, self.self_id, policy, projected, step)
        self.store.write(tx.batch())
        if flushing:
            self._pending_uses.clear()
            self._pending_seen.clear()
        if self._written is None or self._written[0] != step:
            self._written = (step, set())
        self._written[1].update(tx.nodes)
        self._count += len(tx.created) - len(tx.delete_nodes)
        self._hints.keep(tx, self.self_id)
        if self._spatial is not None:
            for node_id in tx.nodes:
                label = tx.labels.get(node_id)
                if label == "Entity":
                    self._spatial.sync(node_id, tx.view.get(node_id))
                elif label == "Region":
                    self._spatial.sync_region(tx.view.get(node_id))
            for node_id in tx.delete_nodes:
                self._spatial.remove(node_id)
                if node_id.startswith("region:"):
                    self._spatial.forget_region(node_id)
        if any(tx.labels.get(i) == "Recipe" for i in tx.nodes) or any(
                i.startswith("recipe:") for i in tx.delete_nodes):
            self._retriever.forget_recipes()
        return evicted

    def _flush(self, tx: Tx) -> None:
        """Put the pending use counts and re-sighting steps into `tx` (eviction reads
        both; checkpoints and exports must see them)."""
        tx.load([*self._pending_uses, *self._pending_seen])
        for node_id, n in self._pending_uses.items():
            props = tx.node(node_id)
            if props is not None:
                tx.put(node_id, tx.labels[node_id], {"uses": props.get("uses", 0) + n})
        for node_id, t in self._pending_seen.items():
            props = tx.node(node_id)
            if props is not None and "valid_to" not in props and props.get("last_step", -1) < t:
                tx.put(node_id, "Entity", {"last_step": t})

    def consolidate(self) -> str | None:
        """Summarise the open chunk now (and evict if over budget); one store write.
        Returns the chunk summary, or None if no chunk was open."""
        tx = Tx(self.store)
        me = tx.node(self.self_id) or {}
        summary = self._episodes.consolidate_chunk(tx, me.get("current_chunk"))
        self._commit(tx, me.get("last_step", 0), flush=True)
        return summary

    def forget(self, policy: ForgetPolicy | None = None) -> int:
        """Write pending use counts, then evict down to the policy's low-water mark if over
        budget; returns the number of nodes evicted.
        The goal path (goal, subgoal, current chunk and its events) and the agent's own
        node are never evicted."""
        tx = Tx(self.store)
        me = tx.node(self.self_id) or {}
        return self._commit(tx, me.get("last_step", 0), policy, flush=True)

    # -- retrieval and sharing --------------------------------------------------------

    def retrieve(self, query: RetrievalQuery | Mapping[str, Any], budget: int = 16) -> Recall:
        """Goal-conditioned, index-backed recall; at most `budget` items (round-robin
        across parts). Returned nodes get their use count bumped at the next write."""
        recall = self._retriever.retrieve(query, budget, self._hints if self.prefetch else None)
        self._pending_uses.update(recall.node_ids())
        return recall

    def export(self, selector: ExportSelector | Mapping[str, Any]) -> dict[str, Any]:
        """A JSON-serialisable payload of the selected semantic subgraph, for a teammate.
        A selector's `since` is an episode step, like the steps `write` takes."""
        if not isinstance(selector, ExportSelector):
            selector = ExportSelector.model_validate(selector)
        written = None
        if selector.since is not None:
            since = selector.since + self._base
            selector = selector.model_copy(update={"since": since})
            if self.sole_writer and self._written is not None and since >= self._written[0]:
                step, ids_written = self._written  # all that is new was written at `step`
                written = ids_written if since == step else set()
        return export_payload(
            self.store,
            self.agent_id,
            self._base,
            selector,
            max_nodes=self.max_payload_nodes,
            max_bytes=self.max_payload_bytes,
            written_since=written,
        )

    def merge(self, payload: Mapping[str, Any], step: int, sender: str) -> int:
        """Write a teammate's `export` payload as `told_by:<sender>` facts (one store write).
        Fresher local knowledge wins; own observation beats hearsay at the same step.
        Returns the number of facts derived from the payload."""
        check_payload(payload, self.max_payload_nodes, self.max_payload_bytes)
        facts = payload_to_facts(payload, sender)
        self.write(facts, step)
        return len(facts)

    # -- checkpoints, inspection, episodes ---------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """An exact, JSON-serialisable checkpoint of this memory."""
        return persistence.snapshot(self.agent_id, self.store, self._pending_uses,
                                    self._pending_seen)

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Replace the memory's contents with a `snapshot()`."""
        persistence.check_owner(snapshot, self.agent_id)
        self.store.restore(snapshot["store"])
        self._pending_uses = Counter(snapshot.get("pending_uses", {}))
        self._pending_seen.clear()  # the same dict: the semantic writer holds it
        self._pending_seen.update(snapshot.get("pending_seen", {}))
        self._reload(self._read_base())

    def to_json(self, path: str | Path) -> None:
        """Write `snapshot()` as JSON."""
        persistence.write_json(path, self.snapshot())

    def to_graph(self) -> nx.MultiDiGraph:
        """The memory as a networkx graph (lists flattened to JSON strings)."""
        return persistence.to_graph(self.store, self.agent_id)

    def to_graphml(self, path: str | Path) -> None:
        """Write the memory as GraphML (networkx's writer) for Gephi / yEd / inspection."""
        persistence.write_graphml(path, self.store, self.agent_id)

    def new_episode(self, world_id: str | None = None) -> None:
        """Start a new episode: keep recipes, kinds and agents; end the goal path; reset
        holdings; drop map facts (places, regions, located entities) unless `world_id`
        equals the previous episode's world. One store write."""
        tx = Tx(self.store)
        self._flush(tx)
        self._pending_uses.clear()
        self._pending_seen.clear()
        me = tx.node(self.self_id) or {}
        t = me.get("last_step", 0)
        if me.get("current_goal") is not None:
            self._episodes.end_goal(tx, t, "interrupted")
        if world_id is None or world_id != me.get("world_id"):
            self._semantic.drop_map(tx)
        self._semantic.drop_holdings(tx)
        tx.put(
            self.self_id,
            "Agent",
            {
                "world_id": world_id,
                "episode": me.get("episode", 0) + 1,
                "step_base": t + 1,
                "last_step": t + 1,
                "recent_fails": [],
                "recent_told": [],
                "current_chunk": None,
            },
        )
        self.store.write(tx.batch())
        self._reload(t + 1)
