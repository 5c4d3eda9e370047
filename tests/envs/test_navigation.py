"""The navigation memory worlds: API checkers, phases from the rules, task mechanics, errors."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test
from pydantic import ValidationError

from memsim.envs.base import INFO_KEYS, MemsimWorld
from memsim.envs.navigation import (
    TASK_NAMES,
    ActionError,
    NavigationConfig,
    NavigationGymEnv,
    NavigationParallelEnv,
    RulesError,
    env,
    load_rules,
    parallel_env,
    register,
)
from memsim.envs.navigation.engine import ACT, CUE, DELAY
from memsim.envs.navigation.rules import DEFAULT_RULES_PATH, parse_rules

RULES = load_rules()
SCENARIOS = sorted((Path(__file__).parents[2] / "scenarios").glob("nav-*.toml"))
MOVES = {name: i for i, name in enumerate(RULES.actions)}


def _step_towards(e: NavigationParallelEnv, agent: str, goal: tuple[int, int]) -> int:
    """An oracle's action: one step along a shortest floor path that avoids pits."""
    world = e.world
    here = (world.agents[e.agent_index[agent]].x, world.agents[e.agent_index[agent]].y)
    grid = world.grid
    frontier, seen = [goal], {goal: goal}
    while frontier and here not in seen:  # BFS backwards from the goal
        nxt = []
        for x, y in frontier:
            for cell in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
                height, width = grid.terrain.shape
                inside = 0 <= cell[1] < height and 0 <= cell[0] < width
                if (inside and cell not in seen and grid.terrain[cell[1], cell[0]] == 1
                        and cell not in grid.pits and (cell not in grid.wrong or cell == here)
                        and (cell not in grid.choices or cell == here)):  # other landmarks
                    seen[cell] = (x, y)
                    nxt.append(cell)
        frontier = nxt
    step = seen[here]
    delta = (step[0] - here[0], step[1] - here[1])
    return RULES.actions.index(next(n for n, m in zip(RULES.actions, RULES.moves, strict=True)
                                    if m == delta))


def _run_oracle(e: NavigationParallelEnv, seed: int) -> tuple[str | None, list[str]]:
    """Play the episode with knowledge of the layout; returns the outcome and unlocks."""
    e.reset(seed=seed)
    unlocked: list[str] = []
    actor = e.possible_agents[-1]
    while e.agents:
        world = e.world
        if world.phase() == ACT:
            target = world.grid.targets[world.target_index].cell
            action = _step_towards(e, actor, target)
        else:
            action = MOVES["noop"]
        _, _, _, _, infos = e.step({actor: action})
        unlocked += infos[actor]["unlocked"]
    return e.world.outcome, unlocked


# ---- the API checkers ---------------------------------------------------------------


@pytest.mark.parametrize("relay", [False, True])
@pytest.mark.parametrize("task", TASK_NAMES)
def test_parallel_api(task: str, relay: bool) -> None:
    parallel_api_test(parallel_env(task=task, n_agents=2 if relay else 1, relay=relay),
                      num_cycles=200)


@pytest.mark.parametrize("task", TASK_NAMES)
def test_aec_api(task: str) -> None:
    api_test(env(task=task, n_agents=2, relay=True), num_cycles=100)


def test_seed_tests() -> None:
    seed_test(lambda: env(task="ballet", n_agents=2, relay=True), num_cycles=100)
    parallel_seed_test(lambda: parallel_env(task="mystery_path", n_agents=2), num_cycles=100)


@pytest.mark.parametrize("task", TASK_NAMES)
def test_gymnasium_check_env_and_registered_ids(task: str) -> None:
    ids = register()
    gym_id = RULES.tasks[task].gym_id
    assert gym_id in ids and gym_id in gymnasium.registry
    made = gymnasium.make(gym_id, difficulty=2)
    assert made.unwrapped.world.config.task == task
    check_env(NavigationGymEnv(task=task, render_mode="rgb_array"), skip_render_check=False)


def test_meets_the_memsim_world_protocol_and_info_keys() -> None:
    e = parallel_env(task="neighbourhood", n_agents=3, relay=True)
    assert isinstance(e, MemsimWorld)
    e.reset(seed=0)
    _, _, _, _, infos = e.step({a: 0 for a in e.agents})
    for info in infos.values():
        assert set(INFO_KEYS) <= set(info)
    assert e.agent_positions() == {a: e.world.grid.home for a in e.possible_agents}
    assert e.achievements == {a: {} for a in e.possible_agents} and e.team_achievements == {}


def test_gym_env_is_single_agent() -> None:
    with pytest.raises(ValueError, match="n_agents=2"):
        NavigationGymEnv(task="ballet", n_agents=2)


# ---- determinism --------------------------------------------------------------------


@pytest.mark.parametrize("task", TASK_NAMES)
def test_same_seed_same_trajectory(task: str) -> None:
    def trajectory(seed: int) -> list[tuple]:
        e = parallel_env(task=task, n_agents=2)
        obs, _ = e.reset(seed=seed)
        rng = np.random.default_rng(0)
        out = [tuple(e.state()["marks"].ravel())]
        while e.agents:
            obs, _, _, _, infos = e.step({a: int(rng.integers(5)) for a in e.agents})
            out += [(a, tuple(o["position"]), tuple(o["shown"].ravel()), infos[a]["ok"])
                    for a, o in obs.items()]
        return out

    assert trajectory(3) == trajectory(3)
    layouts = {str(parallel_env(task=task).reset(seed=s)[0]["agent_0"]) for s in range(6)}
    layouts |= {str(NavigationParallelEnv(task=task).reset(seed=s)) for s in range(6)}
    assert len(layouts) > 2, "different seeds should give different layouts"


def test_snapshot_restore_continues_identically() -> None:
    e = parallel_env(task="mystery_path", difficulty=2)
    e.reset(seed=4)
    for _ in range(3):
        e.step({"agent_0": MOVES["east"]})
    blob = e.snapshot()
    first = [e.step({"agent_0": a})[0]["agent_0"]["position"].tolist() for a in (1, 4, 4)]
    other = parallel_env(task="mystery_path", difficulty=2)
    other.restore(blob)
    second = [other.step({"agent_0": a})[0]["agent_0"]["position"].tolist() for a in (1, 4, 4)]
    assert first == second
    with pytest.raises(ValueError, match="different config"):
        parallel_env(task="ballet").restore(blob)


# ---- phases from the rules ----------------------------------------------------------


@pytest.mark.parametrize("task", TASK_NAMES)
def test_phases_follow_the_rules(task: str) -> None:
    rules = RULES.tasks[task]
    e = parallel_env(task=task)
    obs, _ = e.reset(seed=1)
    level = rules.level(1)
    if task == "ballet":
        cue_end = level["dancers"] * (rules.params["dance_steps"] + rules.params["gap_steps"])
    elif task == "mortar_mayhem":
        cue_end = level["commands"] * (rules.params["show_steps"] + rules.params["gap_steps"])
    else:
        cue_end = rules.cue_steps
    act_start = cue_end + rules.delay_steps
    first_limit = level["trial_steps"] if "trial_steps" in level else level["command_steps"]
    assert e.max_steps == act_start + sum(t.limit for t in e.world.grid.targets) + 1
    for step in range(act_start):
        o = obs["agent_0"]
        assert int(o["phase"]) == (CUE if step < cue_end else DELAY)
        assert int(o["target"]) == 0 and int(o["time_left"][0]) == act_start - step
        obs, _, _, _, infos = e.step({"agent_0": MOVES["north"]})
        assert not infos["agent_0"]["ok"]
        assert "act phase" in infos["agent_0"]["reason"]
    o = obs["agent_0"]
    assert int(o["phase"]) == ACT and int(o["target"]) > 0
    assert int(o["time_left"][0]) == first_limit
    # Doing nothing runs the first time limit out: the episode fails then, for everyone.
    for step in range(first_limit):
        assert e.agents, f"ended early at act step {step}"
        _, _, terminations, _, infos = e.step({"agent_0": MOVES["noop"]})
    assert terminations["agent_0"] and e.world.outcome == "failure"
    # reach-checked tasks fail as the time runs out; Mortar Mayhem checks the tile then
    assert any(ev.startswith("failed: time is up") or ev.startswith("failed: not on the tile")
               for ev in infos["agent_0"]["events"])


def test_ballet_dances_are_shown_in_turn() -> None:
    e = parallel_env(task="ballet", difficulty=2)
    e.reset(seed=2)
    p = RULES.tasks["ballet"].params
    seen = []
    for step in range(e.world.grid.cue_end):
        shown = [tuple(r) for r in e.world.grid.shown.get(step, [])]
        offset = step % (p["dance_steps"] + p["gap_steps"])
        assert bool(shown) == (offset < p["dance_steps"])
        if shown and offset == 0:
            seen.append(shown[0])
    dancers = {tuple(c) for c in zip(*np.nonzero(e.world.grid.marks)[::-1], strict=True)}
    assert len(seen) == 4 and {(x, y) for _, x, y in seen} == dancers
    assert len({m for m, _, _ in seen}) == 4  # four different dances


# ---- task mechanics -----------------------------------------------------------------


@pytest.mark.parametrize("task", TASK_NAMES)
def test_an_agent_that_knows_the_layout_succeeds(task: str) -> None:
    e = parallel_env(task=task, difficulty=2)
    outcome, unlocked = _run_oracle(e, seed=5)
    n = len(e.world.grid.targets)
    assert outcome == "success"
    assert unlocked == [f"target_{i}" for i in range(1, n + 1)] + ["success"]
    assert "success" in e.team_achievements and e.team_achievements["success"][1] == "agent_0"


def test_relay_observer_sees_the_cue_and_cannot_move_actor_can() -> None:
    e = parallel_env(task="object_permanence", n_agents=2, relay=True)
    obs, _ = e.reset(seed=0)
    assert obs["agent_0"]["shown"][0, 0] == RULES.mark_ids["object"]
    assert obs["agent_1"]["shown"][0, 0] == 0
    for _ in range(e.world.grid.act_start):
        obs, _, _, _, _ = e.step({"agent_0": 0, "agent_1": 0})
    _, _, _, _, infos = e.step({"agent_0": MOVES["north"], "agent_1": MOVES["north"]})
    assert not infos["agent_0"]["ok"] and "observer" in infos["agent_0"]["reason"]
    assert infos["agent_1"]["ok"]
    outcome, _ = _run_oracle(e, seed=0)
    assert outcome == "success" and e.team_achievements["success"][1] == "agent_1"


def test_wrong_door_fails_the_episode() -> None:
    e = parallel_env(task="object_permanence", difficulty=3)
    e.reset(seed=7)
    wrong = sorted(e.world.grid.wrong)[0]
    e.world.grid.targets[0] = type(e.world.grid.targets[0])(1, (-5, -5), 99)  # unreachable
    e.world.grid.wrong = frozenset({wrong})
    outcome = None
    while e.agents:
        action = _step_towards(e, "agent_0", wrong) if e.world.phase() == ACT else 0
        _, _, term, _, infos = e.step({"agent_0": action})
        outcome = e.world.outcome
    assert outcome == "failure" and term["agent_0"]
    assert any("wrong cell" in ev for ev in infos["agent_0"]["events"])


def test_mystery_path_pit_sends_agent_back_to_start() -> None:
    e = parallel_env(task="mystery_path", difficulty=2)
    obs, _ = e.reset(seed=3)
    e.world.layout = dataclasses.replace(e.world.grid, max_falls=1)  # the levels allow none
    for _ in range(e.world.grid.act_start):  # nobody moves before the act phase
        obs, *_ = e.step({"agent_0": MOVES["noop"]})
    grid = e.world.grid
    home = grid.home
    pit = next(c for c in ((home[0] + 1, home[1]), (home[0], home[1] - 1), (home[0], home[1] + 1))
               if c in grid.pits)
    action = MOVES[{(1, 0): "east", (0, -1): "north", (0, 1): "south"}[
        (pit[0] - home[0], pit[1] - home[1])]]
    obs, _, _, _, infos = e.step({"agent_0": action})
    assert tuple(obs["agent_0"]["position"]) == home
    assert tuple(obs["agent_0"]["reset_from"]) == pit
    assert "fell" in infos["agent_0"]["events"][0]
    obs, _, _, _, _ = e.step({"agent_0": MOVES["noop"]})
    assert tuple(obs["agent_0"]["reset_from"]) == (-1, -1)
    assert int(e.state()["pits"].sum()) == len(grid.pits)
    assert e.world.outcome is None
    _, _, terminations, _, infos = e.step({"agent_0": action})  # a fall beyond max_falls
    assert terminations["agent_0"] and e.world.outcome == "failure"
    assert any("fell 2 times" in ev for ev in infos["agent_0"]["events"])


def test_mystery_path_pays_each_path_cell_once_then_the_goal() -> None:
    """Path progress shaping (Memory Gym's reward_path_progress): `progress_reward` for each
    path cell first entered, nothing for a step back onto one, 1 at the goal."""
    e = parallel_env(task="mystery_path")
    e.reset(seed=5)
    grid, bonus = e.world.grid, RULES.tasks["mystery_path"].params["progress_reward"]
    assert bonus > 0 and grid.progress_reward == bonus
    for _ in range(grid.act_start):
        e.step({"agent_0": MOVES["noop"]})
    path, goal = [grid.home], grid.targets[0].cell
    while path[-1] != goal:  # the induced path: each cell has one unvisited path neighbour
        x, y = path[-1]
        path.append(next(c for c in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1))
                         if (c in grid.progress or c == goal) and c not in path))
    names = {(1, 0): "east", (-1, 0): "west", (0, 1): "south", (0, -1): "north"}

    def go(cell: tuple[int, int]) -> float:
        here = e.world.agents[0]
        move = names[(cell[0] - here.x, cell[1] - here.y)]
        return e.step({"agent_0": MOVES[move]})[1]["agent_0"]

    assert go(path[1]) == pytest.approx(bonus) and go(path[2]) == pytest.approx(bonus)
    assert go(path[1]) == 0.0 and go(path[2]) == 0.0  # back and forth: paid once
    total = sum(go(cell) for cell in path[3:])
    assert e.world.outcome == "success"
    assert total == pytest.approx(bonus * (len(path) - 4) + 1.0)


def test_mystery_path_relay_observer_is_shown_the_whole_path() -> None:
    e = parallel_env(task="mystery_path", n_agents=2, relay=True)
    obs, _ = e.reset(seed=1)
    rows = {(int(x), int(y)) for m, x, y in obs["agent_0"]["shown"] if m}
    size = e.world.level["size"]
    arena = {(x, y) for y in range(1, size + 1) for x in range(1, size + 1)}
    assert rows == arena - e.world.grid.pits
    assert int(obs["agent_0"]["phase"]) == CUE == int(obs["agent_1"]["phase"])
    assert not obs["agent_1"]["shown"][:, 0].any()


def test_neighbourhood_town_and_goal_sequence() -> None:
    e = parallel_env(task="neighbourhood", difficulty=2)
    obs, _ = e.reset(seed=0)
    level = RULES.tasks["neighbourhood"].level(2)
    names = {RULES.mark_name(int(m)) for m, _, _ in obs["agent_0"]["shown"] if m}
    assert len(names) == level["n_landmarks"] and names <= set(RULES.tasks["neighbourhood"]
                                                                 .params["landmarks"])
    assert len(e.world.grid.targets) == level["goals"]
    assert len({t.mark for t in e.world.grid.targets}) == level["goals"]


def test_render_and_state() -> None:
    e = parallel_env(task="ballet", render_mode="rgb_array", tile_pixels=6)
    e.reset(seed=0)
    image = e.render()
    h, w = e.world.grid.terrain.shape
    assert image.shape == (h * 6, w * 6, 3) and image.dtype == np.uint8
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 3
    assert e.state_space.contains(e.state())
    assert parallel_env(task="ballet").render() is None
    text = e.text_observation("agent_0")
    assert "Phase: cue" in text and "Shown: dance_" in text


# ---- bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"task": "maze"}, "task"),
    ({"task": "ballet", "relay": True, "n_agents": 1}, "relay=true needs n_agents >= 2"),
    ({"task": "ballet", "difficulty": 4}, r"allowed: 1\.\.3"),
    ({"task": "mystery_path", "n_items": 3}, "n_items: mystery_path has no item count"),
    ({"task": "ballet", "n_items": 9}, r"allowed: 2\.\.8"),
    ({"task": "neighbourhood", "n_items": 5}, "must be <= the level's n_landmarks"),
    ({"task": "ballet", "team_goal": "win"}, "team_goal='win': allowed: 'success'"),
    ({"task": "ballet", "colour": 1}, "colour"),
])
def test_bad_config_names_the_field(kwargs: dict, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        NavigationConfig(**kwargs)


def test_relay_defaults_to_two_agents_and_max_steps_truncates() -> None:
    assert NavigationConfig(task="ballet", relay=True).n_agents == 2
    e = parallel_env(task="mystery_path", max_steps=5)
    e.reset(seed=0)
    for _ in range(5):
        _, _, terminations, truncations, _ = e.step({"agent_0": MOVES["noop"]})
    assert truncations == {"agent_0": True} and terminations == {"agent_0": False}
    assert e.agents == []


def test_n_items_overrides_the_level() -> None:
    e = parallel_env(task="ballet", n_items=6)
    e.reset(seed=0)
    assert len(e.world.grid.wrong) == 5


def test_bad_actions_raise_and_name_the_allowed_values() -> None:
    e = parallel_env(task="ballet", n_agents=2)
    e.reset(seed=0)
    with pytest.raises(ActionError, match=r"allowed 0\.\.4"):
        e.step({"agent_0": 9})
    with pytest.raises(ActionError, match="not an action index"):
        e.step({"agent_0": "up"})
    with pytest.raises(KeyError, match="agent_7"):
        e.step({"agent_7": 0})
    with pytest.raises(ValueError, match="render_mode"):
        parallel_env(task="ballet", render_mode="ansi")


def test_rules_errors_name_the_entry() -> None:
    with DEFAULT_RULES_PATH.open("rb") as handle:
        data = tomllib.load(handle)
    data["tasks"]["ballet"]["dances"] = ["dance_spin", "moonwalk"]
    with pytest.raises(RulesError, match=r"tasks\.ballet\.dances names 'moonwalk'"):
        parse_rules(data)
    with DEFAULT_RULES_PATH.open("rb") as handle:
        data = tomllib.load(handle)
    data["tasks"]["ballet"]["view"] = 8
    with pytest.raises(RulesError, match=r"tasks\.ballet\.view must be odd"):
        parse_rules(data)
    with pytest.raises(RulesError, match="does not exist"):
        load_rules("/nonexistent/rules.toml")


def test_rules_are_data_a_level_is_a_line_of_toml(tmp_path: Path) -> None:
    text = DEFAULT_RULES_PATH.read_text()
    text += "\n[[tasks.ballet.levels]]\ndancers = 3\ntrial_steps = 11\n"
    path = tmp_path / "rules.toml"
    path.write_text(text)
    e = parallel_env(task="ballet", difficulty=4, rules_path=str(path))
    e.reset(seed=0)
    assert len(e.world.grid.wrong) == 2 and e.world.grid.targets[0].limit == 11


# ---- scenarios ----------------------------------------------------------------------


def test_every_task_has_single_and_relay_scenarios() -> None:
    names = {p.stem for p in SCENARIOS}
    for task in TASK_NAMES:
        slug = "nav-" + task.replace("_", "-")
        assert {slug, slug + "-relay"} <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_env_tables_build_a_config(path: Path) -> None:
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    table = dict(data["env"])
    assert table.pop("family") == "navigation"
    config = NavigationConfig(**table, n_agents=data["agents"]["count"],
                              max_steps=data["max_steps"])
    assert config.relay == path.stem.endswith("-relay")
    NavigationParallelEnv(config).reset(seed=data["seeds"][0])
