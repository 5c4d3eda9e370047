"""Recall on its own (no store): merging the team graph's recall into an agent's."""

from __future__ import annotations

from memsim.memory import GoalRecord, HolderRecord, PlaceRecord, Recall


def place(kind: str, x: int, y: int, distance: int | None, provenance: str) -> PlaceRecord:
    return PlaceRecord(f"ent:{kind}@{x},{y}", kind, x, y, distance, provenance, 1.0, 0)


def test_merge_team_adds_unknown_places_and_sorts_by_distance_kind_cell() -> None:
    goal = GoalRecord("goal:0:pickaxe", "goal", "pickaxe", "active", 0)
    holder = HolderRecord("agent:bob", "bob", "wood", 2, "observed", 0)
    own = Recall(
        goal=goal,
        holders=[holder],
        nearest=[place("tree", 3, 0, 3, "observed"), place("water", 0, 1, 1, "observed")],
    )
    team = Recall(
        nearest=[
            place("tree", 3, 0, 3, "told_by:bob"),  # own knows this cell: own record stays
            place("tree", 0, 2, 2, "told_by:bob"),
            place("stone", 1, 0, 1, "told_by:bob"),
            place("iron", 9, 9, None, "told_by:bob"),  # no distance sorts as 0
        ],
        holders=[HolderRecord("agent:cat", "cat", "wood", 1, "told_by:cat", 0)],
    )
    team_before = list(team.nearest)

    own.merge_team(team)

    assert [(p.kind, p.x, p.y, p.provenance) for p in own.nearest] == [
        ("iron", 9, 9, "told_by:bob"),
        ("stone", 1, 0, "told_by:bob"),
        ("water", 0, 1, "observed"),
        ("tree", 0, 2, "told_by:bob"),
        ("tree", 3, 0, "observed"),
    ]
    assert own.goal == goal and own.holders == [holder]  # only nearest places merge
    assert team.nearest == team_before


def test_merge_team_with_an_empty_recall_only_sorts() -> None:
    own = Recall(nearest=[place("tree", 5, 5, 4, "observed"), place("tree", 1, 1, 2, "observed")])
    own.merge_team(Recall())
    assert [(p.x, p.y) for p in own.nearest] == [(1, 1), (5, 5)]


def test_merge_team_skips_far_and_stale_places_and_takes_the_team_frontier() -> None:
    from memsim.memory import RegionRecord

    def at(kind: str, x: int, distance: int, step: int) -> PlaceRecord:
        return PlaceRecord(f"ent:{kind}@{x},0", kind, x, 0, distance, "told_by:bob", 1.0, step)

    own = Recall(nearest=[place("iron", 5, 0, 5, "observed")],
                 frontier=[RegionRecord("region:1,0", 1, 0, 12, 4, 8),
                           RegionRecord("region:0,1", 0, 1, 4, 12, 8)],
                 explored=frozenset({(0, 0)}))
    team = Recall(nearest=[at("iron", 2, 2, 90), at("iron", 20, 20, 95),  # closer / farther
                           at("diamond", 30, 30, 10),  # none known, but seen long ago
                           at("diamond", 40, 40, 80)],
                  # a teammate explored (1, 0); the team graph does not yet know (0, 0)
                  frontier=[RegionRecord("region:0,0", 0, 0, 4, 4, 0),
                            RegionRecord("region:2,0", 2, 0, 20, 4, 16)],
                  explored=frozenset({(1, 0)}))
    own.merge_team(team, now=100, max_age=50)
    assert [(p.kind, p.x) for p in own.nearest] == [("iron", 2), ("iron", 5), ("diamond", 40)]
    # next to what either explored, explored by neither
    assert [(r.rx, r.ry) for r in own.frontier] == [(0, 1), (2, 0)]
    assert own.explored == {(0, 0), (1, 0)}
