"""Working memory in the graph: claims, commitments, targets set aside, the trail, the
explored regions and their frontier, subgoal targets and outcomes, teammates' positions,
and the batched re-sighting steps. Each is a typed node a query or the viewer can read."""

from __future__ import annotations

import pytest

from memsim.agents.messages import Message
from memsim.memory import AgentMemory, ExportSelector, Fact, RetrievalQuery, open_store

Q = RetrievalQuery


@pytest.fixture
def mem() -> AgentMemory:
    return AgentMemory(open_store("networkx", "wm/agent_0", graph_registry={}), "agent_0")


def note(**fact: object) -> Fact:
    return Fact(provenance="inferred", **fact)  # type: ignore[arg-type]


def test_claims_open_close_and_are_typed_nodes(mem: AgentMemory) -> None:
    mem.write([note(kind="claim", subject="diamond", place=(4, 5), agent="agent_0",
                    status="set"),
               Fact(kind="claim", subject="diamond", place=(9, 9), agent="agent_1",
                    status="set", provenance="told_by:agent_1")], 3)
    claims = mem.retrieve(Q(claims=True)).claims
    assert [(c.kind, c.x, c.y, c.agent) for c in claims] == [
        ("diamond", 4, 5, "agent_0"), ("diamond", 9, 9, "agent_1")]
    [node] = mem.store.get(["claim:diamond@9,9"])
    assert node.label == "Claim" and node.props["status"] == "active"
    assert [e.dst for e, _ in mem.store.neighbors("claim:diamond@9,9", "CLAIMED_BY")] == [
        "agent:agent_1"]
    # Only the claimer releases its claim; a release by someone else changes nothing.
    mem.write([Fact(kind="claim", subject="diamond", place=(9, 9), agent="agent_2",
                    status="released", provenance="told_by:agent_2")], 4)
    assert len(mem.retrieve(Q(claims=True)).claims) == 2
    mem.write([Fact(kind="claim", subject="diamond", place=(9, 9), agent="agent_1",
                    status="completed", provenance="told_by:agent_1")], 5)
    assert [c.agent for c in mem.retrieve(Q(claims=True)).claims] == ["agent_0"]
    assert mem.store.get(["claim:diamond@9,9"])[0].props["status"] == "done"


def test_two_claims_on_one_target_leave_the_same_claimer_in_every_memory() -> None:
    # Each claimer wrote its own claim, then heard the other's: both memories must agree,
    # or each yields to the other and nobody goes.
    def claimer(first: str, then: str) -> str:
        mem = AgentMemory(open_store("networkx", "wm/x", graph_registry={}), "agent_x")
        for step, agent in ((3, first), (4, then)):
            mem.write([Fact(kind="claim", subject="iron", place=(1, 1), agent=agent,
                            status="set", provenance=f"told_by:{agent}")], step)
        [claim] = mem.retrieve(Q(claims=True)).claims
        return claim.agent

    assert claimer("agent_0", "agent_1") == claimer("agent_1", "agent_0") == "agent_0"


def test_an_older_claim_report_does_not_undo_a_newer_one(mem: AgentMemory) -> None:
    mem.write([Fact(kind="claim", subject="iron", place=(1, 1), agent="agent_1",
                    status="set", provenance="told_by:agent_1", observed_step=8)], 8)
    mem.write([Fact(kind="claim", subject="iron", place=(1, 1), agent="agent_1",
                    status="released", provenance="told_by:agent_1", observed_step=5)], 9)
    assert [c.x for c in mem.retrieve(Q(claims=True)).claims] == [1]


def test_commitments_last_until_their_step_and_close(mem: AgentMemory) -> None:
    mem.write([note(kind="commitment", subject="wood", object="give", agent="agent_1",
                    count=1, until=10, status="set")], 2)
    [c] = mem.retrieve(Q(commitments=True)).commitments
    assert (c.item, c.direction, c.agent, c.until) == ("wood", "give", "agent_1", 10)
    mem.write([], 11)  # past its step: no longer open
    assert mem.retrieve(Q(commitments=True)).commitments == []
    mem.write([note(kind="commitment", subject="iron", object="receive", agent="agent_2",
                    count=1, until=40, status="set")], 12)
    mem.write([note(kind="commitment", subject="iron", object="receive", agent="agent_2",
                    count=1, until=40, status="completed")], 13)
    assert mem.retrieve(Q(commitments=True)).commitments == []
    assert mem.store.get(["commit:receive:iron:agent_2"])[0].props["status"] == "done"


def test_a_commitment_names_its_direction() -> None:
    with pytest.raises(ValueError, match="commitment object 'lend' is not allowed"):
        note(kind="commitment", subject="wood", object="lend", agent="agent_1", count=1,
             until=3, status="set")


def test_avoided_targets_expire(mem: AgentMemory) -> None:
    mem.write([note(kind="avoid", subject="diamond", place=(3, 3), until=20, text="stuck")], 5)
    [a] = mem.retrieve(Q(avoid=True)).avoid
    assert (a.x, a.y, a.until, a.reason) == (3, 3, 20, "stuck")
    mem.write([], 21)
    assert mem.retrieve(Q(avoid=True)).avoid == []


def test_the_trail_keeps_the_last_positions_newest_first(mem: AgentMemory) -> None:
    for step in range(1, 40):
        mem.write([Fact(kind="event", subject="move_right", outcome="success",
                        place=(step, 2))], step)
    trail = mem.retrieve(Q(trail=5)).trail
    assert trail == [(39, 2), (38, 2), (37, 2), (36, 2), (35, 2)]
    assert len(mem.retrieve(Q(trail=32)).trail) == 32


def test_surveys_mark_regions_explored_and_the_frontier_lies_next_to_them(
        mem: AgentMemory) -> None:
    assert mem.retrieve(Q(frontier=4, position=(4, 4), bounds=(32, 32))).frontier == []
    mem.write([Fact(kind="surveyed", subject="agent_0", place=(0, 0), extent=(9, 7))], 1)
    frontier = mem.retrieve(Q(frontier=4, position=(4, 4), bounds=(32, 32))).frontier
    # region (0, 0) is explored; its neighbours inside the world are the frontier
    assert sorted((r.rx, r.ry) for r in frontier) == [(0, 1), (1, 0)]
    assert mem.store.get(["region:0,0"])[0].props["explored"] is True
    # A world of 8x8 cells has no room beyond region (0, 0).
    assert mem.retrieve(Q(frontier=4, position=(4, 4), bounds=(8, 8))).frontier == []
    with pytest.raises(ValueError, match="position and bounds are required"):
        Q(frontier=2)


def test_subgoals_keep_their_target_and_end_with_a_summary(mem: AgentMemory) -> None:
    mem.write([note(kind="goal", subject="collect_diamond", status="set"),
               note(kind="subgoal", subject="collect_wood", status="set", place=(5, 6))], 1)
    sub = mem.retrieve(Q()).subgoal
    assert sub is not None and (sub.target, sub.target_since) == ((5, 6), 1)
    mem.write([note(kind="subgoal", subject="collect_wood", status="set", place=(5, 6))], 4)
    assert mem.retrieve(Q()).subgoal.target_since == 1  # the same target: kept
    mem.write([note(kind="subgoal", subject="collect_wood", status="set", place=(7, 7))], 6)
    assert mem.retrieve(Q()).subgoal.target_since == 6
    mem.write([note(kind="subgoal", subject="collect_wood", status="completed")], 9)
    [ended] = mem.retrieve(Q(subgoals=3)).subgoals
    assert ended.status == "completed" and ended.until == 9
    assert ended.summary == "collect_wood: completed after 8 steps (1-9), target (7,7)"
    # Ended with why: the summary says it (a skill's failure reason), on one line.
    mem.write([note(kind="subgoal", subject="explore", status="set", needs=("north",))], 10)
    mem.write([note(kind="subgoal", subject="explore", status="failed",
                    text="no progress\ntowards (3,4)")], 12)
    ended = mem.retrieve(Q(subgoals=3)).subgoals[0]
    assert ended.summary == "explore: failed after 2 steps (10-12): no progress towards (3,4)"


def test_a_teammates_location_message_moves_one_node(mem: AgentMemory) -> None:
    for step, x in ((2, 5), (6, 9)):
        message = Message(sender="agent_1", recipients=None, kind="inform", step=step,
                          payload={"type": "location", "entity": "agent_1", "x": x, "y": 3,
                                   "seen_step": step})
        mem.write(message.facts(step + 1), step + 1)
    [mate] = mem.retrieve(Q(teammates=True)).teammates
    assert (mate.agent, mate.x, mate.y, mate.provenance) == ("agent_1", 9, 3, "told_by:agent_1")
    assert len(mem.store.query("Entity", {"kind": "agent", "instance": True})) == 1


def test_re_sightings_are_batched_but_never_lost(mem: AgentMemory) -> None:
    tree = Fact(kind="seen_at", subject="tree", place=(2, 2), category="resource")
    mem.write([tree], 1)
    writes = []
    for step in range(2, 6):
        mem.write([tree], step)
        writes.append(mem.store.get(["ent:tree@2,2"])[0].props["last_step"])
    assert writes == [1, 1, 1, 1]  # only the step changed: nothing rewritten yet
    # ... but a teammate's older "gone" report is still stale against the newest sighting
    mem.write([Fact(kind="gone_from", subject="tree", place=(2, 2),
                    provenance="told_by:agent_1", observed_step=4)], 6)
    assert mem.retrieve(Q(nearest=("tree",), position=(0, 0))).nearest
    snapshot = mem.snapshot()  # exact: the pending step travels with the checkpoint
    assert snapshot["pending_seen"] == {"ent:tree@2,2": 5}
    mem.forget()  # eviction's scores read last_step: a forget writes them first
    assert mem.store.get(["ent:tree@2,2"])[0].props["last_step"] == 5


def test_the_recipe_book_is_recalled_whole_and_follows_changes(mem: AgentMemory) -> None:
    mem.write([Fact(kind="recipe", subject="make_axe", object="axe", requires={"wood": 1})], 1)
    assert [r.name for r in mem.retrieve(Q(recipes=True)).recipes] == ["make_axe"]
    mem.write([Fact(kind="recipe", subject="make_saw", object="saw", requires={"iron": 1},
                    provenance="told_by:agent_1")], 2)
    assert [r.name for r in mem.retrieve(Q(recipes=True)).recipes] == ["make_axe", "make_saw"]


@pytest.mark.parametrize("sole_writer", [True, False])  # the written-ids path, and queries
def test_an_export_tells_what_the_agent_saw_gone_and_the_receiver_stops_knowing_it(
        sole_writer: bool) -> None:
    mem = AgentMemory(open_store("networkx", "wm/agent_0", graph_registry={}), "agent_0",
                      sole_writer=sole_writer)
    iron = {"kind": "seen_at", "subject": "iron", "category": "resource"}
    mem.write([Fact(**iron, place=(1, 1)), Fact(**iron, place=(2, 2)),
               Fact(**iron, place=(3, 3))], 1)
    teammate = AgentMemory(open_store("networkx", "wm/agent_1", graph_registry={}), "agent_1")
    teammate.merge(mem.export(ExportSelector(kinds=("iron",))), 2, "agent_0")
    # Seen gone here (mined), and told gone by someone else: only the first is news.
    mem.write([Fact(kind="gone_from", subject="iron", place=(1, 1))], 5)
    mem.write([Fact(kind="gone_from", subject="iron", place=(2, 2),
                    provenance="told_by:agent_2")], 5)
    selector = ExportSelector(kinds=("iron",), since=5, observed_only=True, gone=True)
    out = mem.export(selector)
    assert [(n["id"], n["props"]["valid_to"]) for n in out["nodes"]] == [("ent:iron@1,1", 5)]
    assert mem.export(selector.model_copy(update={"gone": False}))["nodes"] == []
    assert mem.export(selector.model_copy(update={"since": 6}))["nodes"] == []
    teammate.merge(out, 6, "agent_0")
    known = teammate.retrieve(Q(position=(0, 0), nearest=("iron",), per_kind=5)).nearest
    assert sorted(r.node_id for r in known) == ["ent:iron@2,2", "ent:iron@3,3"]
    with pytest.raises(ValueError, match="gone: needs since"):
        ExportSelector(kinds=("iron",), gone=True)


def test_an_export_of_what_is_new_and_seen_first_hand(mem: AgentMemory) -> None:
    mem.write([Fact(kind="seen_at", subject="iron", place=(1, 1), category="resource")], 1)
    mem.write([Fact(kind="seen_at", subject="iron", place=(5, 5), category="resource"),
               Fact(kind="seen_at", subject="iron", place=(6, 6), category="resource",
                    provenance="told_by:agent_1")], 4)
    new = mem.export(ExportSelector(kinds=("iron",), since=4, observed_only=True))
    assert [n["id"] for n in new["nodes"]] == ["ent:iron@5,5"]
    assert len(mem.export(ExportSelector(kinds=("iron",)))["nodes"]) == 3


def test_the_frontier_follows_exploration_between_recalls(mem: AgentMemory) -> None:
    """The retriever keeps the frontier's cells between recalls; a newly explored region
    must still move it (and the explored set returned with it)."""
    ask = Q(frontier=8, position=(4, 4), bounds=(32, 32))
    mem.write([Fact(kind="surveyed", subject="agent_0", place=(0, 0), extent=(8, 8))], 1)
    first = mem.retrieve(ask)
    assert sorted((r.rx, r.ry) for r in first.frontier) == [(0, 1), (1, 0)]
    assert mem.retrieve(ask).frontier == first.frontier  # nothing new: the same answer
    mem.write([Fact(kind="surveyed", subject="agent_0", place=(8, 0), extent=(8, 8))], 2)
    second = mem.retrieve(ask)
    assert sorted((r.rx, r.ry) for r in second.frontier) == [(0, 1), (1, 1), (2, 0)]
    assert second.explored == {(0, 0), (1, 0)}
