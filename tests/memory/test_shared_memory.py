"""SharedMemory: the team graph keeps provenance and is isolated from private memories."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from memsim.memory import (
    AgentMemory,
    ExportSelector,
    Fact,
    GraphStore,
    RetrievalQuery,
    SchemaError,
    SharedMemory,
)

StoreFactory = Callable[[str], GraphStore]


def _ids(store: GraphStore) -> set[str]:
    return {r.id for r in store.query()}


def test_publish_keeps_told_by_provenance(store_factory: StoreFactory) -> None:
    team = SharedMemory(store_factory("team"))
    facts = [
        Fact(kind="seen_at", subject="iron", place=(10, 10), category="resource"),
        Fact(kind="holds", subject="alice", object="wood", count=3),
        Fact(kind="seen_at", subject="coal", place=(1, 1), provenance="told_by:carol"),
    ]
    assert team.publish("alice", facts, step=4) == 3
    r = team.retrieve(
        RetrievalQuery(
            nearest=("iron", "coal"), position=(0, 0), who_holds=("wood",), teammate_reports=5
        )
    )
    assert {(p.kind, p.provenance) for p in r.nearest} == {
        ("iron", "told_by:alice"),
        ("coal", "told_by:carol"),
    }
    assert [(h.agent, h.count, h.provenance) for h in r.holders] == [("alice", 3, "told_by:alice")]
    assert {x.provenance for x in r.reports} == {"told_by:alice", "told_by:carol"}
    with pytest.raises(SchemaError, match="agent_id"):
        team.publish("bad:id", facts, step=4)


def test_two_agents_publish_to_one_team_graph(store_factory: StoreFactory) -> None:
    # each agent holds its own SharedMemory over the same team namespace
    via_alice = SharedMemory(store_factory("team"))
    via_bob = SharedMemory(store_factory("team"))
    via_alice.publish("alice", [Fact(kind="seen_at", subject="iron", place=(5, 5))], 1)
    via_bob.publish("bob", [Fact(kind="seen_at", subject="iron", place=(6, 6))], 2)
    for view in (via_alice, via_bob):
        got = view.retrieve(RetrievalQuery(nearest=("iron",), position=(0, 0)))
        assert [(p.x, p.provenance) for p in got.nearest] == [
            (5, "told_by:alice"),
            (6, "told_by:bob"),
        ]


def test_publish_payload_then_pull_into_private_memory(store_factory: StoreFactory) -> None:
    alice = AgentMemory(store_factory("alice"), "alice")
    bob = AgentMemory(store_factory("bob"), "bob")
    team = SharedMemory(store_factory("team"))
    alice.write(
        [
            Fact(kind="recipe", subject="make_pick", object="pick", requires={"wood": 1}),
            Fact(kind="seen_at", subject="tree", place=(2, 2)),
        ],
        3,
    )
    payload = alice.export(ExportSelector(kinds=("tree",), recipes=True))
    assert team.publish("alice", payload, step=3) > 0
    recipe = team.store.get(["recipe:make_pick"])[0]
    assert recipe.props["provenance"] == "told_by:alice"
    bob.merge(team.export(ExportSelector(kinds=("tree",), recipes=True)), step=4, sender="team")
    r = bob.retrieve(RetrievalQuery(needs=("pick",), nearest=("tree",), position=(0, 0)))
    assert r.needs[0].recipes[0].requires == {"wood": 1}
    assert r.nearest[0].provenance == "told_by:team"


def test_private_and_team_graphs_are_isolated(store_factory: StoreFactory) -> None:
    alice_store, bob_store, team_store = (store_factory(n) for n in ("alice", "bob", "team"))
    alice = AgentMemory(alice_store, "alice")
    bob = AgentMemory(bob_store, "bob")
    team = SharedMemory(team_store)
    alice.write(
        [
            Fact(kind="seen_at", subject="diamond", place=(9, 9)),
            Fact(kind="goal", subject="secret_plan", status="set"),
        ],
        1,
    )
    team.publish("bob", [Fact(kind="seen_at", subject="iron", place=(4, 4))], 1)
    bob.write([Fact(kind="seen_at", subject="coal", place=(3, 3))], 1)

    private_a, private_b, shared = _ids(alice_store), _ids(bob_store), _ids(team_store)
    assert "ent:diamond@9,9" in private_a and "ent:diamond@9,9" not in shared | private_b
    assert "ent:iron@4,4" in shared and "ent:iron@4,4" not in private_a | private_b
    assert "ent:coal@3,3" in private_b and "ent:coal@3,3" not in private_a | shared
    assert not any(i.startswith("goal:") for i in shared | private_b)
    # nothing reachable through the team memory names alice's private nodes
    r = team.retrieve(RetrievalQuery(nearest=("diamond", "coal"), position=(0, 0)))
    assert r.nearest == [] and r.goal is None
    assert alice.retrieve(RetrievalQuery(nearest=("iron",), position=(0, 0))).nearest == []
