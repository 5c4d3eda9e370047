"""The game itself: recipes, give, shared stations, conflicts, death, goals, observations."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from memsim.envs.crafting import ActionError, CraftingConfig, CraftingWorld, parallel_env
from memsim.envs.crafting.engine import DIRECTIONS
from memsim.envs.crafting.observation import Observer, describe

RIGHT, LEFT, UP, DOWN = (DIRECTIONS[d] for d in ("right", "left", "up", "down"))


def make_world(n_agents: int = 1, **overrides: object) -> CraftingWorld:
    """A world with a 21x21 grass clearing at the centre and agents in a row on it."""
    settings = {"n_agents": n_agents, "zombies": False, "skeletons": False, "cows": False}
    world = CraftingWorld(CraftingConfig(**{**settings, **overrides}))
    world.reset(seed=0)
    cx, cy = world.width // 2, world.height // 2
    world.fill(cx - 10, cy - 10, cx + 10, cy + 10, "grass")
    world.line_up(cx - 4, cy, facing=RIGHT)
    return world


def act(world: CraftingWorld, **actions: str) -> None:
    """Step with actions given by name per agent index: act(world, a0="do", a1="noop")."""
    ids = [None] * len(world.agents)
    for key, name in actions.items():
        ids[int(key[1:])] = world.action_names.index(name)
    return world.step(ids)


def held(world: CraftingWorld, index: int, item: str) -> int:
    return world.agents[index].inventory[world.item_index[item]]


def front(world: CraftingWorld, index: int) -> tuple[int, int]:
    agent = world.agents[index]
    return agent.x + agent.facing[0], agent.y + agent.facing[1]


def test_tech_tree_to_diamond_follows_the_rules_file() -> None:
    world = make_world()
    x, y = front(world, 0)
    for _ in range(5):
        world.set_material(x, y, "tree")  # a cut tree leaves grass, as in Crafter
        act(world, a0="do")
    assert world.material_at(x, y) == world.rules.material_ids["grass"]
    assert held(world, 0, "wood") == 5
    assert "collect_wood" in world.agents[0].achievements
    act(world, a0="make_wood_pickaxe")  # no table yet
    assert not world.agents[0].last_ok and "table" in world.agents[0].last_reason
    world.set_material(x, y, "grass")
    act(world, a0="place_table")
    assert world.material_at(x, y) == world.rules.material_ids["table"]
    table_wood = world.rules.place["table"].uses["wood"]
    assert held(world, 0, "wood") == 5 - table_wood
    act(world, a0="make_wood_pickaxe")
    assert held(world, 0, "wood_pickaxe") == 1
    # Stone needs the wood pickaxe; it leaves a path.
    world.teleport(0, x - 1, y + 1, facing=DOWN)
    sx, sy = front(world, 0)
    world.set_material(sx, sy, "stone")
    act(world, a0="do")
    assert (
        held(world, 0, "stone") == 1
        and world.material_at(sx, sy) == world.rules.material_ids["path"]
    )
    world.give_items(0, wood=1)
    world.teleport(0, x - 1, y, facing=DOWN)
    act(world, a0="make_stone_pickaxe")
    assert held(world, 0, "stone_pickaxe") == 1
    # Iron pickaxe needs table and furnace nearby, plus wood, coal, iron.
    world.give_items(0, stone=world.rules.place["furnace"].uses["stone"], wood=1, coal=1, iron=1)
    world.set_material(*front(world, 0), "grass")
    act(world, a0="place_furnace")
    act(world, a0="make_iron_pickaxe")
    assert held(world, 0, "iron_pickaxe") == 1, world.agents[0].last_reason
    world.set_material(*front(world, 0), "diamond")
    act(world, a0="do")
    assert held(world, 0, "diamond") == 1
    assert set(world.agents[0].achievements) >= {
        "collect_wood",
        "place_table",
        "make_wood_pickaxe",
        "collect_stone",
        "make_stone_pickaxe",
        "place_furnace",
        "make_iron_pickaxe",
        "collect_diamond",
    }


def test_requirements_are_checked_and_reasons_given() -> None:
    world = make_world()
    world.set_material(*front(world, 0), "stone")
    act(world, a0="do")
    assert held(world, 0, "stone") == 0
    assert world.agents[0].last_reason == "collecting stone needs wood_pickaxe"
    world.set_material(*front(world, 0), "iron")
    world.give_items(0, wood_pickaxe=1)
    act(world, a0="do")
    assert held(world, 0, "iron") == 0 and "stone_pickaxe" in world.agents[0].last_reason


def test_shared_stations_any_agent_can_use_a_table_another_placed() -> None:
    world = make_world(2)
    world.give_items(0, wood=9)
    world.set_material(*front(world, 0), "grass")
    act(world, a0="place_table")
    tx, ty = front(world, 0)
    # Agent 1 stands next to the table agent 0 placed and makes a pickaxe there.
    world.teleport(1, tx + 1, ty, facing=LEFT)
    world.give_items(1, wood=1)
    act(world, a1="make_wood_pickaxe")
    assert held(world, 1, "wood_pickaxe") == 1


def test_give_hands_one_unit_to_the_facing_agent() -> None:
    world = make_world(2)
    a0 = world.agents[0]
    world.teleport(1, a0.x + 1, a0.y)
    world.give_items(0, wood=3)
    act(world, a0="give_wood")
    assert held(world, 0, "wood") == 2 and held(world, 1, "wood") == 1
    assert "received 1 wood from agent_0" in world.agents[1].events
    assert "give_item" in world.agents[0].achievements


def test_give_fails_visibly_when_not_adjacent_or_not_held_or_full() -> None:
    world = make_world(2)
    world.give_items(0, wood=3)
    act(world, a0="give_wood")  # agent 1 is two cells away
    assert not world.agents[0].last_ok and "no agent" in world.agents[0].last_reason
    assert held(world, 0, "wood") == 3
    a0 = world.agents[0]
    world.teleport(1, a0.x + 1, a0.y)
    act(world, a0="give_iron")
    assert not world.agents[0].last_ok and world.agents[0].last_reason == "not holding any iron"
    world.give_items(1, wood=9)
    act(world, a0="give_wood")
    assert "cannot carry more" in world.agents[0].last_reason and held(world, 0, "wood") == 3
    env = parallel_env(n_agents=2, zombies=False, skeletons=False)
    env.reset(seed=0)
    _, _, _, _, infos = env.step({"agent_0": env.action_names.index("give_wood")})
    assert infos["agent_0"]["ok"] is False and "reason" in infos["agent_0"]


def test_agents_block_each_other() -> None:
    world = make_world(2)
    a0 = world.agents[0]
    world.teleport(1, a0.x + 1, a0.y)
    act(world, a0="move_right")
    assert (world.agents[0].x, world.agents[0].y) == (a0.x, a0.y)
    assert world.agents[0].last_reason == "blocked by agent_1"


def test_conflicts_resolve_by_seeded_order_and_favour_no_agent() -> None:
    winners: Counter[int] = Counter()
    for seed in range(60):
        world = make_world(2)
        world.rng.seed(seed)
        a0 = world.agents[0]
        world.teleport(1, a0.x + 2, a0.y)  # both step into the cell between them
        act(world, a0="move_right", a1="move_left")
        moved = [i for i in (0, 1) if world.agents[i].last_ok]
        assert len(moved) == 1  # exactly one gets the cell
        winners[moved[0]] += 1
    assert 20 <= winners[0] <= 40, winners  # neither id is favoured


def test_two_agents_collecting_one_diamond_in_a_step_only_one_gets_it() -> None:
    world = make_world(2)
    a0 = world.agents[0]
    world.teleport(1, a0.x + 2, a0.y, facing=LEFT)
    world.set_material(a0.x + 1, a0.y, "diamond")
    world.give_items(0, iron_pickaxe=1)
    world.give_items(1, iron_pickaxe=1)
    act(world, a0="do", a1="do")
    assert held(world, 0, "diamond") + held(world, 1, "diamond") == 1


def test_lava_kills_and_dead_agents_cannot_act() -> None:
    env = parallel_env(n_agents=2, zombies=False, skeletons=False, cows=False)
    env.reset(seed=0)
    world = env.world
    a0 = world.agents[0]
    world.set_material(a0.x + 1, a0.y, "lava")
    world.agents[1].facing = UP
    _, _, terminations, _, infos = env.step({"agent_0": env.action_names.index("move_right")})
    assert terminations["agent_0"] and not terminations["agent_1"]
    assert "died" in infos["agent_0"]["events"]
    assert env.agents == ["agent_1"]
    with pytest.raises(ActionError, match=r"agent_0.*dead"):
        env.step({"agent_0": 0})


def test_respawn_brings_a_dead_agent_back_with_fresh_inventory() -> None:
    world = make_world(1, respawn=True)
    a0 = world.agents[0]
    world.give_items(0, wood=4)
    world.set_material(a0.x + 1, a0.y, "lava")
    result = act(world, a0="move_right")
    assert result.died == [True]
    assert world.agents[0].alive and held(world, 0, "wood") == 0
    assert held(world, 0, "health") == world.rules.item_max("health")


def test_team_goal_ends_the_episode_for_everyone() -> None:
    env = parallel_env(n_agents=3, zombies=False, skeletons=False, cows=False)
    env.reset(seed=0)
    world = env.world
    a1 = world.agents[1]
    world.set_material(a1.x + a1.facing[0], a1.y + a1.facing[1], "diamond")
    world.give_items(1, iron_pickaxe=1)
    _, rewards, terminations, _, infos = env.step({"agent_1": env.action_names.index("do")})
    assert all(terminations.values()) and env.agents == []
    assert infos["agent_1"]["unlocked"] == ["collect_diamond"]
    assert rewards["agent_1"] == pytest.approx(1.0)
    assert env.team_achievements["collect_diamond"] == (1, "agent_1")
    assert env.achievements["agent_1"]["collect_diamond"] == 1


def test_no_team_goal_means_no_termination_on_diamond() -> None:
    world = make_world(1, team_goal=None)
    world.set_material(*front(world, 0), "diamond")
    world.give_items(0, iron_pickaxe=1)
    assert act(world, a0="do").goal_reached is False


def test_team_reward_shares_team_first_unlocks() -> None:
    world = make_world(2, reward="team")
    world.set_material(*front(world, 0), "tree")
    result = act(world, a0="do")
    assert result.rewards == [1.0, 1.0]


@pytest.mark.parametrize("kind", ["zombies", "skeletons", "cows"])
def test_creatures_can_be_switched_off(kind: str) -> None:
    name = kind.rstrip("s")
    env = parallel_env(n_agents=2, **{kind: False})
    env.reset(seed=3)
    rng = random.Random(0)
    for _ in range(300):
        if not env.agents:
            break
        env.step({a: rng.randrange(len(env.action_names)) for a in env.agents})
        assert all(c.kind != name for c in env.world.creatures.values())


def test_same_seed_same_trajectory_for_six_agents() -> None:
    def run(seed: int) -> list[bytes]:
        env = parallel_env(n_agents=6)
        observations, _ = env.reset(seed=seed)
        rng = random.Random(seed)
        frames = []
        for _ in range(200):
            if not env.agents:
                break
            actions = {a: rng.randrange(len(env.action_names)) for a in env.agents}
            observations, rewards, *_ = env.step(actions)
            frames.append(
                b"".join(
                    o["materials"].tobytes() + o["objects"].tobytes() + o["inventory"].tobytes()
                    for o in observations.values()
                )
            )
            frames.append(repr(sorted(rewards.items())).encode())
        return frames

    assert run(11) == run(11)
    assert run(11) != run(12)


def test_observation_is_the_local_view_only() -> None:
    world = make_world(2)
    observer = Observer(world)
    obs = observer.symbolic(0)
    a0 = world.agents[0]
    assert obs["materials"].shape == (7, 9)
    p = world.pad
    expected = world.mat[a0.y + p - 3 : a0.y + p + 4, a0.x + p - 4 : a0.x + p + 5]
    assert np.array_equal(obs["materials"], expected)
    assert obs["agents"][3, 4] == 1  # itself at the centre
    # Agent 1 two cells to the right is visible; a diamond far away is not mentioned.
    assert obs["agents"][3, 6] == 2
    world.set_material(a0.x + 20, a0.y, "diamond")
    text = describe(world, 0, observer.symbolic(0))
    assert "diamond" not in text and "agent_1" in text
    world.set_material(a0.x - 2, a0.y - 1, "diamond")
    text = describe(world, 0, observer.symbolic(0))
    assert "diamond nearest 2 left, 1 up" in text


def test_text_mentions_failed_action_reason() -> None:
    world = make_world(1)
    act(world, a0="make_wood_pickaxe")
    text = Observer(world).text(0)
    assert (
        "Last action: make_wood_pickaxe (failed: making wood_pickaxe needs a table nearby)" in text
    )


def test_vitals_decay_and_death_by_starvation() -> None:
    world = make_world(1)
    for _ in range(30):
        act(world, a0="noop")
    assert held(world, 0, "food") == 8 and held(world, 0, "drink") == 8
    world.give_items(0, food=0, drink=0, health=1)
    for _ in range(20):
        act(world, a0="noop")
        if not world.agents[0].alive:
            break
    assert not world.agents[0].alive


def test_sleeping_restores_energy_and_wakes_up() -> None:
    world = make_world(1)
    world.give_items(0, energy=7)
    act(world, a0="sleep")
    assert world.agents[0].sleeping
    for _ in range(60):
        act(world, a0="noop")
        if "wake_up" in world.agents[0].achievements:
            break
    assert "wake_up" in world.agents[0].achievements and not world.agents[0].sleeping


def test_line_up_refuses_an_occupied_cell_and_moves_nobody() -> None:
    world = make_world(2, cows=True)
    before = [(a.x, a.y) for a in world.agents]
    world.set_material(before[0][0] + 10, before[0][1], "grass")
    cow = world._spawn("cow", before[0][0] + 10, before[0][1])
    with pytest.raises(ValueError, match="occupied by cow"):
        world.line_up(cow.x - 2, cow.y)  # agent_1 would land on the cow
    assert [(a.x, a.y) for a in world.agents] == before


def test_only_creatures_near_a_live_agent_act_and_plants_always_do() -> None:
    # Crafter's rule: a creature acts only within L1 distance < creature_radius of an agent.
    world = make_world(1, creature_radius=6)
    agent = world.agents[0]
    world.fill(0, 0, world.width - 1, world.height - 1, "grass")
    near = world._spawn("cow", agent.x + 5, agent.y)  # distance 5
    far = world._spawn("cow", agent.x, agent.y + 6)  # distance 6: out of reach
    far_start = (far.x, far.y)
    sapling = world._spawn("plant", agent.x + 20, agent.y + 20)
    world._spawn("zombie", sapling.x + 1, sapling.y)  # next to the far plant: eats it
    moved = False
    for _ in range(60):
        act(world, a0="noop")
        moved |= (near.x, near.y) != (agent.x + 5, agent.y)
        assert (far.x, far.y) == far_start
    assert moved
    assert sapling.uid not in world.creatures


def test_skipping_out_of_reach_creatures_never_changes_who_acts() -> None:
    # _acting skips a creature found out of reach until the agents could have travelled
    # the gap. Checked against measuring every creature at every step, through moves,
    # deaths and respawns, teleports, line-ups and creatures put elsewhere by hand.
    world = CraftingWorld(CraftingConfig(n_agents=4, respawn=True, creature_radius=9))
    measure_all = world._acting.__func__
    checked = 0

    def checked_acting(live: list) -> list[int]:
        nonlocal checked
        acting = measure_all(world, live)
        expected = [uid for uid, c in world.creatures.items()
                    if c.kind == "plant"
                    or any(abs(a.x - c.x) + abs(a.y - c.y) < 9 for a in live)]
        assert acting == expected, f"step {world.step_count}"
        checked += 1
        return acting

    world._acting = checked_acting
    rng = random.Random(3)
    n_actions = len(world.action_names)
    for episode in range(2):
        world.reset(seed=episode)
        for step in range(400):
            if step % 97 == 50:  # an agent jumps across the map
                agent = world.agents[rng.randrange(4)]
                free = [(x, y) for x in range(world.width) for y in range(world.height)
                        if world._free(x, y, world._walk_ids)]
                world.teleport(agent.index, *free[rng.randrange(len(free))])
            if step % 131 == 70 and world.creatures:  # a creature is put next to an agent
                creature = rng.choice(list(world.creatures.values()))
                agent = world.agents[0]
                for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                    cell = (agent.x + dx, agent.y + dy)
                    if world._free(*cell, world._walk_ids):
                        world._move_body(creature, *cell)
                        break
            world.step([rng.randrange(n_actions) for _ in world.agents])
    assert checked > 700
    assert any(a.deaths for a in world.agents)  # respawns happened


def test_balance_chunk_counts_follow_every_material_change() -> None:
    # The spawn balance keeps its per-chunk counts of the cells it spawns on up to date as
    # cells change (editing, placing, collecting); a recount from the grid must agree.
    def assert_counts_current(world: CraftingWorld) -> None:
        kept = {k: v.copy() for k, v in world._chunk_space.items()}
        world._chunk_space = None
        recount = world._count_chunk_space()
        assert kept.keys() == recount.keys()
        assert all(np.array_equal(kept[k], recount[k]) for k in kept)

    world = make_world(1, cows=True, zombies=True, skeletons=True)
    for _ in range(world.rules.balance["every"]):
        act(world, a0="noop")
    assert world._chunk_space is not None  # the first balance counted
    agent = world.agents[0]
    world.set_material(agent.x - 2, agent.y - 2, "path")  # grass -> path
    world.set_material(agent.x - 3, agent.y - 3, "stone")  # grass -> stone
    world.give_items(0, wood=5)
    act(world, a0="place_table")  # grass -> table, in front of the agent
    assert world.agents[0].last_ok
    assert_counts_current(world)
    # A random 6-agent run: collecting, placing and arrows change cells.
    env = parallel_env(n_agents=6)
    env.reset(seed=5)
    rng = random.Random(5)
    for step in range(400):
        if not env.agents:
            env.reset(seed=step)
        env.step({a: rng.randrange(len(env.action_names)) for a in env.agents})
        if step % 100 == 99 and env.world._chunk_space is not None:
            assert_counts_current(env.world)
    # Editing that bypasses the bookkeeping (fill) drops it, and the next balance recounts.
    env.world.fill(0, 0, 11, 11, "sand")
    assert env.world._chunk_space is None


def test_daylight_follows_the_step_count_across_resets() -> None:
    world = make_world(1)
    day = world.rules.survival["day_length"]
    values = []
    for _ in range(3):
        values.append(world.daylight())
        act(world, a0="noop")
    world.step_count = day // 2
    assert world.daylight() != values[0]  # not the value kept from an earlier step
    world.reset(seed=1)
    assert world.daylight() == values[0]
