"""AgentMemory: hierarchy, consolidation, validity, provenance, retrieval, forgetting,
sharing, checkpoints and episodes. Cheap tests run on every store backend."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import pydantic
import pytest

from memsim.memory import (
    AgentMemory,
    ExportSelector,
    Fact,
    ForgetPolicy,
    GraphStore,
    PayloadTooLarge,
    RetrievalQuery,
    SchemaError,
    approx_tokens,
    open_store,
)

StoreFactory = Callable[[str], GraphStore]


class RecordingStore:
    """Wraps a real store and records the calls made through it."""

    def __init__(self, inner: GraphStore) -> None:
        self.inner = inner
        self.writes = 0
        self.queries: list[tuple[Any, Any]] = []

    def write(self, batch: Any) -> None:
        self.writes += 1
        self.inner.write(batch)

    def query(self, label: Any = None, where: Any = None, **kw: Any) -> Any:
        self.queries.append((label, where))
        return self.inner.query(label, where, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def seen(kind: str, x: int, y: int, **kw: Any) -> Fact:
    return Fact(kind="seen_at", subject=kind, place=(x, y), **kw)


def event(action: str, ok: bool = True, **kw: Any) -> Fact:
    return Fact(kind="event", subject=action, outcome="success" if ok else "failure", **kw)


@pytest.fixture
def mem(store_factory: StoreFactory) -> AgentMemory:
    return AgentMemory(store_factory("alice"), "alice", chunk_size=4)


@pytest.fixture
def nx_mem() -> AgentMemory:
    return AgentMemory(open_store("networkx", "alice", graph_registry={}), "alice", chunk_size=4)


# -- facts ------------------------------------------------------------------------------


def test_fact_errors_name_field_and_allowed_values() -> None:
    with pytest.raises(pydantic.ValidationError, match=r"kind\n.*'seen_at'.*'report'"):
        Fact(kind="spotted", subject="tree")
    with pytest.raises(pydantic.ValidationError, match=r"requires field\(s\) \['place'\]"):
        Fact(kind="seen_at", subject="tree")
    with pytest.raises(pydantic.ValidationError, match=r"provenance.*'observed', 'inferred'"):
        Fact(kind="seen_at", subject="tree", place=(1, 1), provenance="rumour")
    with pytest.raises(pydantic.ValidationError, match=r"outcome\n.*'success' or 'failure'"):
        Fact(kind="event", subject="hit", outcome="meh")
    with pytest.raises(pydantic.ValidationError, match="confidence"):
        Fact(kind="seen_at", subject="tree", place=(1, 1), confidence=2.0)
    with pytest.raises(pydantic.ValidationError, match="no '@' or ':'"):
        Fact(kind="seen_at", subject="tr@ee", place=(1, 1))
    with pytest.raises(pydantic.ValidationError, match="no '@' or ':'"):
        Fact(kind="holds", subject="bob", object="wood:2", count=1)
    # a report's object is free text (what it is about), never part of a node id
    assert Fact(kind="report", subject="bob", text="mine", object="diamond@1,2").object
    with pytest.raises(SchemaError, match="agent_id"):
        AgentMemory(open_store("networkx", "x", graph_registry={}), "bad:id")
    with pytest.raises(SchemaError, match="step must be a non-negative int"):
        AgentMemory(open_store("networkx", "x", graph_registry={}), "a").write([], -1)


def test_config_and_query_errors_name_the_field() -> None:
    store = open_store("networkx", "cfg", graph_registry={})
    with pytest.raises(SchemaError, match=r"chunk_size must be an int in \[1, 256\]"):
        AgentMemory(store, "a", chunk_size=0)
    with pytest.raises(SchemaError, match=r"node_budget 20 must be >= chunk_size \+ 16"):
        AgentMemory(store, "a", node_budget=20, chunk_size=8)
    with pytest.raises(SchemaError, match=r"low_water must be in \(0, 1\]"):
        ForgetPolicy(node_budget=100, low_water=0)
    with pytest.raises(pydantic.ValidationError, match="position is required when nearest"):
        RetrievalQuery(nearest=("tree",))
    with pytest.raises(pydantic.ValidationError, match="recent_failures"):
        RetrievalQuery(recent_failures=-1)
    with pytest.raises(SchemaError, match="budget must be a non-negative int"):
        AgentMemory(store, "a").retrieve(RetrievalQuery(), budget=-1)
    with pytest.raises(SchemaError, match=r"snapshot\.agent_id is 'b'"):
        AgentMemory(store, "a").restore({"agent_id": "b", "store": {}})


# -- hierarchy and consolidation ----------------------------------------------------------


def test_episodic_hierarchy_in_time_order(mem: AgentMemory) -> None:
    mem.write([Fact(kind="goal", subject="pickaxe", status="set")], 1)
    mem.write([Fact(kind="subgoal", subject="wood", status="set", needs=("wood",))], 1)
    for step in range(2, 5):
        mem.write([event(f"act{step}")], step)
    s = mem.store
    [(_, sub)] = s.neighbors("goal:1:pickaxe", "HAS_SUBGOAL")
    assert sub.props["name"] == "wood" and sub.props["needs"] == ["wood"]
    [(_, chunk)] = s.neighbors(sub.id, "HAS_CHUNK")
    events = [n for _, n in s.neighbors(chunk.id, "HAS_EVENT")]
    assert sorted(e.props["action"] for e in events) == ["act2", "act3", "act4"]
    chain = {e.src: e.dst for e in s.edges("NEXT") if e.src.startswith("ev:")}
    first = next(e.id for e in events if e.props["step"] == 2)
    order = [first, chain[first], chain[chain[first]]]
    assert [s.get([i])[0].props["step"] for i in order] == [2, 3, 4]


def test_chunk_consolidates_after_k_events_and_on_subgoal_end(mem: AgentMemory) -> None:
    mem.write([Fact(kind="subgoal", subject="wood", status="set")], 0)
    for step in range(1, 6):
        mem.write([event("collect", ok=step != 3, reward=1.0 if step == 5 else None)], step)
    c1, c2 = mem.store.get(["chunk:1", "chunk:2"])
    assert c1.props["consolidated"] is True
    assert c1.props["summary"] == "collect x4; 3 ok, 1 failed; reward 0"
    assert (c1.props["n_events"], c1.props["step_from"], c1.props["step_to"]) == (4, 1, 4)
    assert c2.props["consolidated"] is False and c2.props["n_events"] == 1
    mem.write([Fact(kind="subgoal", subject="wood", status="completed")], 6)
    [c2] = mem.store.get(["chunk:2"])
    assert c2.props["consolidated"] is True and "reward 1" in c2.props["summary"]
    [sub] = mem.store.query("Subgoal")
    assert sub.props["status"] == "completed" and sub.props["valid_to"] == 6


def test_consolidate_closes_the_open_chunk(mem: AgentMemory) -> None:
    assert mem.consolidate() is None
    mem.write([event("noop")], 1)
    assert mem.consolidate() == "noop x1; 1 ok, 0 failed; reward 0"
    mem.write([event("noop2")], 2)
    assert mem.store.get(["chunk:2"])[0].props["n_events"] == 1


# -- validity and provenance ------------------------------------------------------------


def test_gone_closes_validity_without_deleting(mem: AgentMemory) -> None:
    mem.write([seen("tree", 3, 4, category="resource")], 1)
    mem.write([Fact(kind="gone_from", subject="tree", place=(3, 4))], 5)
    [tree] = mem.store.get(["ent:tree@3,4"])
    assert (tree.props["valid_from"], tree.props["valid_to"]) == (1, 5)
    [(edge, place)] = mem.store.neighbors(tree.id, "LOCATED_AT")
    assert place.id == "place:3,4" and edge.props["valid_to"] == 5
    q = RetrievalQuery(nearest=("tree",), position=(0, 0))
    assert mem.retrieve(q).nearest == []
    mem.write([seen("tree", 3, 4)], 9)  # it grew back: validity reopens
    [tree] = mem.store.get(["ent:tree@3,4"])
    assert tree.props["valid_from"] == 9 and "valid_to" not in tree.props
    assert [p.step for p in mem.retrieve(q).nearest] == [9]


@pytest.mark.parametrize("sole_writer", [True, False])
def test_survey_closes_what_was_not_seen_again(
    store_factory: StoreFactory, sole_writer: bool
) -> None:
    mem = AgentMemory(store_factory("alice"), "alice", sole_writer=sole_writer)
    mem.write(
        [
            seen("tree", 1, 1),
            seen("tree", 2, 2),
            seen("stone", 9, 9),
            seen("cow", 3, 3, entity_id="cow1"),
        ],
        1,
    )
    survey = Fact(kind="surveyed", subject="alice", place=(0, 0), extent=(5, 5))
    mem.write([survey, seen("tree", 2, 2)], 2)  # tree@1,1 and the cow are gone
    valid = {r.id for r in mem.store.query("Entity", {"instance": True}, missing=["valid_to"])}
    assert valid == {"ent:tree@2,2", "ent:stone@9,9"}  # stone is outside the rectangle
    [cow] = mem.store.get(["ent:cow1"])
    assert cow.props["valid_to"] == 2 and cow.props["closed_by"] == "observed"
    q = RetrievalQuery(nearest=("tree", "cow"), position=(0, 0))
    assert [p.node_id for p in mem.retrieve(q).nearest] == ["ent:tree@2,2"]
    # hearsay about an older survey does not close a fresher own sighting
    mem.write([seen("tree", 1, 1)], 5)
    old = survey.model_copy(update={"provenance": "told_by:bob", "observed_step": 4})
    mem.write([old], 6)
    assert "valid_to" not in mem.store.get(["ent:tree@1,1"])[0].props
    with pytest.raises(pydantic.ValidationError, match=r"requires field\(s\) \['extent'\]"):
        Fact(kind="surveyed", subject="alice", place=(0, 0))


def test_mover_closes_old_location(mem: AgentMemory) -> None:
    mem.write([seen("cow", 1, 1, entity_id="cow7", category="creature")], 1)
    mem.write([seen("cow", 2, 1, entity_id="cow7")], 2)
    located = {n.id: e.props for e, n in mem.store.neighbors("ent:cow7", "LOCATED_AT")}
    assert located["place:1,1"]["valid_to"] == 2
    assert "valid_to" not in located["place:2,1"] and located["place:2,1"]["valid_from"] == 2
    [cow] = mem.store.get(["ent:cow7"])
    assert (cow.props["x"], cow.props["category"]) == (2, "creature")


def test_hearsay_never_overrides_fresher_or_equal_own_observation(mem: AgentMemory) -> None:
    mem.write([seen("tree", 3, 4)], 10)
    for when in (8, 10):  # older news, then news from the same step
        gone = Fact(kind="gone_from", subject="tree", place=(3, 4), provenance="told_by:bob",
                    observed_step=when)
        mem.write([gone], 11)
    [tree] = mem.store.get(["ent:tree@3,4"])
    assert "valid_to" not in tree.props and tree.props["provenance"] == "observed"
    mem.write(
        [
            Fact(
                kind="gone_from",
                subject="tree",
                place=(3, 4),
                provenance="told_by:bob",
                observed_step=12,
            )
        ],
        12,
    )  # newer: wins
    [tree] = mem.store.get(["ent:tree@3,4"])
    assert tree.props["valid_to"] == 12 and tree.props["closed_by"] == "told_by:bob"


def test_own_observation_beats_hearsay_at_equal_step(mem: AgentMemory) -> None:
    mem.write(
        [Fact(kind="holds", subject="bob", object="wood", count=2, provenance="told_by:bob")], 5
    )
    mem.write([Fact(kind="holds", subject="bob", object="wood", count=3)], 5)
    [holder] = mem.retrieve(RetrievalQuery(who_holds=("wood",))).holders
    assert (holder.count, holder.provenance) == (3, "observed")
    mem.write(
        [Fact(kind="holds", subject="bob", object="wood", count=1, provenance="told_by:carol")], 5
    )
    [holder] = mem.retrieve(RetrievalQuery(who_holds=("wood",))).holders
    assert holder.count == 3
    mem.write([Fact(kind="holds", subject="bob", object="wood", count=0)], 6)
    assert mem.retrieve(RetrievalQuery(who_holds=("wood",))).holders == []


# -- write contract ---------------------------------------------------------------------


EPISODE_FACTS = [
    Fact(kind="goal", subject="pickaxe", status="set"),
    Fact(kind="subgoal", subject="wood", status="set", needs=("wood",)),
    seen("tree", 3, 4, category="resource"),
    seen("table", 5, 5, category="station"),
    Fact(
        kind="recipe",
        subject="make_pickaxe",
        object="pickaxe",
        requires={"wood": 1},
        nearby=("table",),
    ),
    Fact(kind="holds", subject="alice", object="wood", count=1),
    Fact(kind="holds", subject="bob", object="stone", count=2, provenance="told_by:bob"),
    event("collect_wood", object="tree"),
    event("place_table", ok=False),
    Fact(kind="report", subject="bob", text="iron at 10,10", object="iron"),
]


def test_write_is_idempotent(mem: AgentMemory) -> None:
    mem.write(EPISODE_FACTS, 3)
    before = mem.snapshot()
    mem.write(EPISODE_FACTS, 3)
    mem.write(EPISODE_FACTS[::-1], 3)
    assert mem.snapshot() == before


def test_exactly_one_store_write_per_call(store_factory: StoreFactory) -> None:
    store = RecordingStore(store_factory("alice"))
    mem = AgentMemory(
        store,
        "alice",
        chunk_size=2,  # type: ignore[arg-type]
        forget_policy=ForgetPolicy(node_budget=30),
    )
    for step in range(1, 25):
        before = store.writes
        mem.write([*EPISODE_FACTS, event(f"a{step}"), seen("stone", step, step)], step)
        assert store.writes == before + 1
    before = store.writes
    mem.write([], 30)
    mem.consolidate()
    assert store.writes == before + 2
    assert store.count() <= 30  # eviction happened inside those same writes


# -- retrieval --------------------------------------------------------------------------


def test_retrieve_needs_nearest_holders_failures_reports(mem: AgentMemory) -> None:
    mem.write(EPISODE_FACTS, 3)
    mem.write([seen("tree", 20, 4), seen("tree", 2, 2), event("mine", ok=False, object="stone")], 7)
    r = mem.retrieve(
        RetrievalQuery(
            needs=("pickaxe", "stone"),
            nearest=("tree", "table"),
            position=(2, 3),
            who_holds=("stone",),
            recent_failures=5,
            teammate_reports=5,
            per_kind=2,
        ),
        budget=50,
    )
    assert (r.goal.name, r.subgoal.name, r.subgoal.needs) == ("pickaxe", "wood", ("wood",))
    pickaxe, stone = r.needs
    [recipe] = pickaxe.recipes
    assert recipe.requires == {"wood": 1} and recipe.nearby == ("table",)
    assert [h.agent for h in stone.holders] == ["bob"]
    assert [(p.kind, p.x, p.y, p.distance) for p in r.nearest] == [
        ("tree", 2, 2, 1),
        ("tree", 3, 4, 2),
        ("table", 5, 5, 5),
    ]
    [holder] = r.holders
    assert (holder.agent, holder.count, holder.provenance, holder.step) == (
        "bob",
        2,
        "told_by:bob",
        3,
    )
    assert [(f.action, f.step) for f in r.failures] == [("mine", 7), ("place_table", 3)]
    assert [x.summary for x in r.reports] == ["bob says: iron at 10,10"]
    assert r.reports[0].provenance == "told_by:bob"


HINT_QUERY = RetrievalQuery(
    needs=("pickaxe",),
    nearest=("tree",),
    position=(3, 3),
    who_holds=("wood", "stone"),
    recent_failures=3,
    teammate_reports=2,
)


def _other_writer_steps() -> list[list[Fact]]:
    """Facts that move the goal path, the failure chunks and the reports, not the map."""
    return [
        [Fact(kind="goal", subject="sword", status="set"), event("dig", ok=False)],
        [Fact(kind="subgoal", subject="iron", status="set"), event("smelt", ok=False)],
        [event("craft", ok=False), Fact(kind="report", subject="carl", text="go north")],
    ]


def test_stale_prefetch_hints_never_change_what_is_read_or_written(
    store_factory: StoreFactory,
) -> None:
    """Hints kept from a memory's last commit go stale when another writer changes the
    namespace; recalls and writes must still equal those of a memory without hints."""
    hinted = AgentMemory(store_factory("hinted"), "alice", chunk_size=2, prefetch=True)
    hinted.write(EPISODE_FACTS, 3)
    hinted.retrieve(HINT_QUERY)
    other = AgentMemory(
        store_factory("hinted"), "alice", chunk_size=2, prefetch=True, sole_writer=False
    )

    def cold() -> AgentMemory:  # a new memory per call has no hints at all
        return AgentMemory(store_factory("cold"), "alice", chunk_size=2, prefetch=True)

    cold().write(EPISODE_FACTS, 3)
    for step, facts in enumerate(_other_writer_steps(), start=4):
        other.write(facts, step)
        cold().write(facts, step)
        assert hinted.retrieve(HINT_QUERY, budget=50) == cold().retrieve(HINT_QUERY, budget=50)
    last = [event("rest"), event("eat", ok=False), seen("tree", 4, 4)]
    hinted.write(last, 9)
    cold().write(last, 9)
    recall = hinted.retrieve(HINT_QUERY, budget=50)
    assert recall == cold().retrieve(HINT_QUERY, budget=50)
    assert [f.action for f in recall.failures] == ["eat", "craft", "smelt"]
    assert recall.goal is not None and recall.goal.name == "sword"
    hot, fresh = hinted.snapshot()["store"], cold().snapshot()["store"]
    assert (hot["nodes"], hot["edges"]) == (fresh["nodes"], fresh["edges"])


def test_failures_open_older_chunks_when_recent_events_are_gone(mem: AgentMemory) -> None:
    for step, action in enumerate(["a", "b", "c", "d", "e"], start=1):
        mem.write([event(action, ok=False), event(f"{action}2")], step)  # a chunk each
    newest = mem.retrieve(RetrievalQuery(recent_failures=2)).failures
    assert [f.action for f in newest] == ["e", "d"]
    mem.store.delete([f.node_id for f in newest])  # e.g. evicted by another writer's budget
    again = mem.retrieve(RetrievalQuery(recent_failures=2)).failures
    assert [f.action for f in again] == ["c", "b"]


def test_budget_caps_items_round_robin(mem: AgentMemory) -> None:
    mem.write([seen("tree", x, 0) for x in range(10)] + [event("x", ok=False)], 1)
    q = RetrievalQuery(nearest=("tree",), position=(0, 0), per_kind=10, recent_failures=3)
    assert len(mem.retrieve(q, budget=50)) == 11
    r = mem.retrieve(q, budget=4)
    assert len(r) == 4 and len(r.failures) == 1 and [p.x for p in r.nearest] == [0, 1, 2]


def test_render_fits_token_budget(mem: AgentMemory) -> None:
    mem.write(EPISODE_FACTS, 3)
    r = mem.retrieve(
        RetrievalQuery(
            needs=("pickaxe",),
            nearest=("tree",),
            position=(0, 0),
            who_holds=("stone",),
            recent_failures=3,
            teammate_reports=3,
        ),
        budget=20,
    )
    full = r.render(10_000)
    assert full.startswith("goal: pickaxe") and "make via make_pickaxe" in full
    lengths = []
    for max_tokens in (0, 5, 15, 30, 60):
        text = r.render(max_tokens)
        assert approx_tokens(text) <= max_tokens
        lengths.append(len(text.splitlines()) if text else 0)
    assert lengths == sorted(lengths) and lengths[0] == 0 and lengths[-1] > lengths[1]
    assert approx_tokens("abcd") == 1 and approx_tokens("abcde") == 2


def test_nearest_matches_brute_force(nx_mem: AgentMemory) -> None:
    rng = random.Random(7)
    trees = {(rng.randrange(64), rng.randrange(64)) for _ in range(60)}
    nx_mem.write([seen("tree", x, y) for x, y in sorted(trees)], 1)
    gone = sorted(trees)[::5]
    nx_mem.write([Fact(kind="gone_from", subject="tree", place=p) for p in gone], 2)
    valid = trees - set(gone)
    for _ in range(20):
        pos = (rng.randrange(-5, 70), rng.randrange(-5, 70))
        got = nx_mem.retrieve(RetrievalQuery(nearest=("tree",), position=pos, per_kind=4))
        expect = sorted(abs(x - pos[0]) + abs(y - pos[1]) for x, y in valid)[:4]
        assert [p.distance for p in got.nearest] == expect


@pytest.mark.parametrize("sole_writer", [True, False])
def test_retrieval_uses_indexes_not_scans(sole_writer: bool) -> None:
    store = RecordingStore(open_store("networkx", "alice", graph_registry={}))
    mem = AgentMemory(store, "alice", sole_writer=sole_writer)  # type: ignore[arg-type]
    mem.write([*EPISODE_FACTS, *(seen("tree", x, 3 * x) for x in range(40))], 3)
    store.queries.clear()
    r = mem.retrieve(
        RetrievalQuery(
            needs=("pickaxe",),
            nearest=("tree",),
            position=(0, 0),
            who_holds=("stone",),
            recent_failures=3,
            teammate_reports=3,
            recent_summaries=2,
        )
    )
    assert [p.distance for p in r.nearest] == [0, 4, 7]
    # every store query is an indexed lookup (a label and a where), never a scan
    assert all(label and where for label, where in store.queries)
    # the shared (multi-writer) path has no in-process index and must ask the store
    assert bool(store.queries) is not sole_writer


def test_retrieval_bumps_use_counts(nx_mem: AgentMemory) -> None:
    nx_mem.write([seen("tree", 1, 1)], 1)
    for _ in range(3):
        nx_mem.retrieve(RetrievalQuery(nearest=("tree",), position=(0, 0)))
    nx_mem.write([], 2)  # plain writes batch the bumps up ...
    assert nx_mem.store.get(["ent:tree@1,1"])[0].props["uses"] == 0
    assert nx_mem.forget() == 0  # ... forget / consolidate / eviction write them
    assert nx_mem.store.get(["ent:tree@1,1"])[0].props["uses"] == 3


# -- forgetting -------------------------------------------------------------------------


def _synthetic_step(step: int, rng: random.Random) -> list[Fact]:
    facts = [
        seen(rng.choice(["tree", "stone", "water"]), rng.randrange(200), rng.randrange(200))
        for _ in range(8)
    ]
    facts.append(
        Fact(kind="gone_from", subject="tree", place=(rng.randrange(200), rng.randrange(200)))
    )
    facts.append(event(rng.choice(["move", "collect", "craft"]), ok=rng.random() > 0.2))
    if step % 50 == 0:
        facts.append(Fact(kind="subgoal", subject=f"sub{step}", status="set"))
    if step % 7 == 0:
        facts.append(Fact(kind="report", subject="bob", text=f"note {step}"))
    return facts


def test_forget_never_drops_goal_path(nx_mem: AgentMemory) -> None:
    mem = AgentMemory(nx_mem.store, "alice", chunk_size=8, forget_policy=ForgetPolicy(40))
    mem.write([Fact(kind="goal", subject="survive", status="set")], 0)
    rng = random.Random(1)
    for step in range(1, 300):
        mem.write(_synthetic_step(step, rng), step)
        me = mem.store.get([mem.self_id])[0].props
        path = [me["current_goal"], me.get("current_subgoal"), me.get("current_chunk")]
        assert len(mem.store.get([p for p in path if p])) == len([p for p in path if p])
        assert mem.store.count() <= 40
    assert me["current_goal"] == "goal:0:survive" and me.get("current_subgoal")
    # the explicit call evicts down to a smaller policy, still keeping the goal path
    assert mem.forget(ForgetPolicy(node_budget=20, low_water=1.0)) > 0
    assert mem.store.count() <= 20
    assert mem.store.get([me["current_goal"], me["current_subgoal"], mem.self_id])


def test_eviction_in_a_write_never_loses_that_writes_edges(nx_mem: AgentMemory) -> None:
    mem = AgentMemory(nx_mem.store, "alice", chunk_size=1, forget_policy=ForgetPolicy(40))
    store = mem.store
    for step in range(1, 120):
        prev_chunk = store.get([mem.self_id])[0].props.get("last_chunk")
        had_prev = bool(prev_chunk and store.get([prev_chunk]))
        mem.write([seen("stone", step, 0), event(f"e{step}")], step)
        # this write linked the new place to its region and the new chunk to the last one
        assert store.neighbors(f"place:{step},0", "PART_OF")
        chunk = store.get([mem.self_id])[0].props["last_chunk"]
        assert not had_prev or [n.id for _, n in store.neighbors(chunk, "NEXT", "in")] == [
            prev_chunk
        ]
    assert store.count() <= 40


def test_closed_facts_and_events_are_evicted_first(nx_mem: AgentMemory) -> None:
    mem = AgentMemory(nx_mem.store, "alice", chunk_size=2, forget_policy=ForgetPolicy(10_000))
    mem.write([Fact(kind="recipe", subject="r", object="pick", requires={"wood": 1})], 1)
    mem.write([seen("tree", 1, 1), seen("tree", 2, 2)], 2)
    mem.write([Fact(kind="gone_from", subject="tree", place=(1, 1))], 3)
    for step in range(4, 10):
        mem.write([event(f"e{step}")], step)
    n = mem.store.count()
    mem.forget(ForgetPolicy(node_budget=n - 4, low_water=1.0))
    assert mem.store.get(["ent:tree@1,1"]) == []  # closed fact went first
    assert mem.store.get(["ent:tree@2,2", "recipe:r"])  # valid + semantic knowledge kept
    assert mem.store.count("Event") == 6 - 3


def test_same_inputs_give_the_same_memory() -> None:
    snaps = []
    for _ in range(2):
        mem = AgentMemory(
            open_store("networkx", "det", graph_registry={}), "alice", node_budget=120
        )
        rng = random.Random(3)
        for step in range(1, 200):
            mem.write(_synthetic_step(step, rng), step)
            if step % 10 == 0:
                mem.retrieve(
                    RetrievalQuery(nearest=("tree",), position=(100, 100), recent_failures=2)
                )
        snaps.append(mem.snapshot())
    assert snaps[0] == snaps[1]


@pytest.mark.slow
def test_node_budget_holds_over_10k_step_episode() -> None:
    budget = 2_000
    mem = AgentMemory(
        open_store("networkx", "long", graph_registry={}), "alice", node_budget=budget
    )
    mem.write([Fact(kind="goal", subject="survive", status="set")], 0)
    rng = random.Random(0)
    peak = 0
    for step in range(1, 10_001):
        mem.write(_synthetic_step(step, rng), step)
        peak = max(peak, mem.store.count())
    assert peak <= budget
    assert mem.store.count("Recipe") == 0 and mem.store.get(["goal:0:survive"])


def test_node_budget_holds_over_a_short_episode() -> None:
    mem = AgentMemory(open_store("networkx", "short", graph_registry={}), "alice", node_budget=300)
    rng = random.Random(0)
    for step in range(1, 1_001):
        mem.write(_synthetic_step(step, rng), step)
        assert len(mem) <= 300 and mem.store.count() == len(mem)


# -- sharing ----------------------------------------------------------------------------


def test_export_merge_with_provenance(store_factory: StoreFactory) -> None:
    alice = AgentMemory(store_factory("alice"), "alice")
    bob = AgentMemory(store_factory("bob"), "bob")
    alice.write([*EPISODE_FACTS, seen("tree", 9, 9)], 3)
    alice.write([Fact(kind="gone_from", subject="tree", place=(9, 9))], 4)
    bob.write([seen("tree", 3, 4)], 5)  # bob's own, fresher sighting
    payload = alice.export(
        ExportSelector(
            kinds=("tree", "table"), recipes=True, holders=("self",), include_closed=True
        )
    )
    payload = json.loads(json.dumps(payload))
    assert payload["source"] == "alice" and payload["step"] == 4
    assert all("uses" not in n["props"] for n in payload["nodes"])
    assert bob.merge(payload, step=6, sender="alice") > 0
    [tree] = bob.store.get(["ent:tree@3,4"])
    assert tree.props["provenance"] == "observed" and tree.props["valid_from"] == 5
    [table] = bob.store.get(["ent:table@5,5"])
    assert (table.props["provenance"], table.props["valid_from"]) == ("told_by:alice", 3)
    [gone] = bob.store.get(["ent:tree@9,9"])
    assert gone.props["valid_to"] == 4
    r = bob.retrieve(RetrievalQuery(needs=("pickaxe",), who_holds=("wood",)))
    assert r.needs[0].recipes[0].provenance == "told_by:alice"
    assert [(h.agent, h.provenance) for h in r.holders] == [("alice", "told_by:alice")]
    bob.forget()  # flush the use counts the retrieval bumped
    before = bob.snapshot()
    bob.merge(payload, step=6, sender="alice")
    assert bob.snapshot() == before


def test_oversize_payload_is_refused(nx_mem: AgentMemory) -> None:
    nx_mem.write([seen("tree", x, 0) for x in range(30)], 1)
    small = AgentMemory(nx_mem.store, "alice", max_payload_nodes=10)
    with pytest.raises(PayloadTooLarge, match=r"30 nodes; max 10 \(max_payload_nodes\)"):
        small.export(ExportSelector(kinds=("tree",)))
    payload = nx_mem.export(ExportSelector(kinds=("tree",)))
    tiny = AgentMemory(open_store("networkx", "b", graph_registry={}), "bob", max_payload_bytes=500)
    with pytest.raises(PayloadTooLarge, match="max_payload_bytes"):
        tiny.merge(payload, 2, "alice")
    with pytest.raises(SchemaError, match=r"payload\.format"):
        tiny.merge({"nodes": []}, 2, "alice")


# -- checkpoints, inspection, episodes --------------------------------------------------


def test_snapshot_restore_round_trip(mem: AgentMemory, tmp_path: Path) -> None:
    mem.write(EPISODE_FACTS, 3)
    mem.retrieve(RetrievalQuery(nearest=("tree",), position=(0, 0)))
    snap = mem.snapshot()
    mem.write([seen("stone", 1, 1), event("later")], 4)
    mem.restore(json.loads(json.dumps(snap)))
    assert mem.snapshot() == snap
    assert len(mem) == mem.store.count()
    mem.to_json(tmp_path / "m.json")
    assert json.loads((tmp_path / "m.json").read_text()) == snap
    mem.to_graphml(tmp_path / "m.graphml")
    g = nx.read_graphml(tmp_path / "m.graphml")
    assert g.number_of_nodes() == mem.store.count()
    assert g.nodes["ent:tree@3,4"]["label"] == "Entity"


def test_new_episode_keeps_semantics_and_drops_map(mem: AgentMemory) -> None:
    mem.write(EPISODE_FACTS, 3)
    mem.new_episode(world_id="w1")
    assert mem.store.count("Place") == 0 and mem.store.query("Entity", {"instance": True}) == []
    assert mem.store.get(["recipe:make_pickaxe", "agent:bob", "kind:wood"])
    assert mem.store.edges("HOLDS") == []
    r = mem.retrieve(RetrievalQuery(needs=("pickaxe",)))
    assert r.goal is None and r.needs[0].recipes
    mem.write([seen("tree", 1, 1)], 0)  # steps restart per episode; memory time continues
    [tree] = mem.store.get(["ent:tree@1,1"])
    assert tree.props["valid_from"] == 4
    mem.new_episode(world_id="w1")  # same world: map kept
    assert mem.store.get(["ent:tree@1,1", "place:1,1"])
    mem.new_episode(world_id="w2")
    assert mem.store.get(["ent:tree@1,1"]) == []


def _step_p50_ms(n_nodes: int) -> float:
    """Median write+retrieve time of an agent step in a memory pre-filled to n_nodes."""
    mem = AgentMemory(
        open_store("networkx", f"perf{n_nodes}", graph_registry={}),
        "alice",
        node_budget=3 * n_nodes,
    )
    side = int((n_nodes / 2) ** 0.5) + 1
    kinds = ("tree", "stone", "water", "grass")
    cells = [(x, y) for x in range(side) for y in range(side)]
    for i in range(0, len(cells), 500):
        mem.write([seen(kinds[(x * 7 + y * 3) % 4], x, y) for x, y in cells[i : i + 500]], 1)
    rng = random.Random(5)
    times = []
    for step in range(2, 202):
        pos = (rng.randrange(side), rng.randrange(side))
        facts = [
            seen(kinds[(x * 7 + y * 3) % 4], x, y)
            for x, y in (
                (pos[0] + rng.randint(-4, 4), pos[1] + rng.randint(-3, 3)) for _ in range(12)
            )
        ]
        facts.append(event("do", ok=step % 5 != 0))
        query = RetrievalQuery(
            nearest=("tree", "water"),
            position=pos,
            recent_failures=3,
            who_holds=("wood",),
            needs=("pickaxe",),
        )
        start = time.perf_counter()
        mem.write(facts, step)
        mem.retrieve(query, budget=12)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2] * 1000


@pytest.mark.slow
def test_step_cost_does_not_grow_with_memory_size() -> None:
    # Index-backed: a 10x bigger memory must not make a step much slower (a scan would
    # make it ~10x slower). Absolute figures come from benchmarks/memory_ops.py.
    small, big = _step_p50_ms(1_000), _step_p50_ms(10_000)
    assert big < 2.5 * small + 0.2, (small, big)
