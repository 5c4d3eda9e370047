"""The manipulation-memory worlds: API checkers for every task, phases from the rules,
determinism, relay visibility, success and failure, bad input and rendering."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test
from pydantic import ValidationError

from memsim.envs.base import INFO_KEYS, MemsimWorld
from memsim.envs.manipulation import (
    TASKS,
    ActionError,
    ManipulationConfig,
    ManipulationEnv,
    RulesError,
    env,
    gym_id,
    load_rules,
    parallel_env,
    register,
)
from memsim.envs.manipulation.env import ManipulationParallelEnv
from memsim.envs.manipulation.rules import DEFAULT_RULES_PATH, PHASES, parse_rules

RULES = load_rules()
ACTION = {name: i for i, name in enumerate(RULES.actions)}


# ---- API checkers ---------------------------------------------------------------------


@pytest.mark.parametrize("task", TASKS)
def test_parallel_api(task: str) -> None:
    parallel_api_test(parallel_env(task=task), num_cycles=200)
    parallel_api_test(parallel_env(task=task, relay=True, n_agents=2), num_cycles=200)


@pytest.mark.parametrize("task", TASKS)
def test_aec_api(task: str) -> None:
    api_test(env(task=task, relay=True, n_agents=3), num_cycles=100)


@pytest.mark.parametrize("task", TASKS)
def test_gymnasium_check_env(task: str) -> None:
    check_env(ManipulationEnv(task=task, render_mode="rgb_array"), skip_render_check=False)


def test_parallel_seed_test() -> None:
    parallel_seed_test(lambda: parallel_env(task="shell_game", relay=True, n_agents=2),
                       num_cycles=100)


def test_register_adds_a_gymnasium_id_per_task() -> None:
    ids = register()
    assert ids == [gym_id(t) for t in TASKS] and "memsim/ShellGame-v0" in ids
    assert register() == ids  # idempotent
    for task, name in zip(TASKS, ids, strict=True):
        single = gymnasium.make(name)
        obs, info = single.reset(seed=1)
        assert single.observation_space.contains(obs)
        assert single.unwrapped.world.task.name == task and info["phase"] == "cue"


# ---- phases come from the rules -------------------------------------------------------


def _noop_phases(e: ManipulationParallelEnv, steps: int) -> list[tuple[str, bool]]:
    """(phase, whether agent_0 sees anything on the display) for `steps` noop steps."""
    obs, _ = e.reset(seed=3)
    out = [(PHASES[obs["agent_0"]["phase"]], bool(obs["agent_0"]["cue_colour"].any()))]
    for _ in range(steps - 1):
        obs, *_ = e.step({a: ACTION["noop"] for a in e.agents})
        out.append((PHASES[obs["agent_0"]["phase"]], bool(obs["agent_0"]["cue_colour"].any())))
    return out


@pytest.mark.parametrize("task", ["remember_color", "seq_of_colors", "bunch_of_colors",
                                  "shell_game"])
@pytest.mark.parametrize("level_index", [0, -1])
def test_phase_lengths_follow_the_rules(task: str, level_index: int) -> None:
    spec = RULES.task(task)
    level = spec.levels[level_index]
    cue, delay = spec.cue_length(level), spec.delay_steps
    e = parallel_env(task=task, difficulty=level)
    phases = _noop_phases(e, cue + delay + 2)
    expected = ["cue"] * cue + ["delay"] * delay + ["action"] * 2
    assert [p for p, _ in phases] == expected
    if spec.engine != "shell":  # the display shows the cue exactly during the cue phase
        assert [shown for _, shown in phases] == [p == "cue" for p in expected]


def test_sequential_cue_shows_one_colour_per_item_steps() -> None:
    spec = RULES.task("chain_of_colors")
    e = parallel_env(task="chain_of_colors", difficulty=5)
    obs, _ = e.reset(seed=2)
    shown = []
    for _ in range(spec.cue_length(5)):
        shown.append(int(obs["agent_0"]["cue_colour"][0]))
        assert not obs["agent_0"]["cue_colour"][1:].any()
        obs, *_ = e.step({"agent_0": ACTION["noop"]})
    each = spec.extra["item_steps"]
    sequence = shown[::each]
    assert shown == [c for c in sequence for _ in range(each)]
    assert sequence == e.world.cue_sequence and len(set(sequence)) == 5


def test_changing_the_rules_data_changes_the_task(tmp_path: Path) -> None:
    data = tomllib.loads(DEFAULT_RULES_PATH.read_text())
    data["tasks"]["remember_color"].update(cue_steps=2, delay_steps=7, levels=[4],
                                           episode_steps=[40])
    path = tmp_path / "rules.toml"
    lines = [f"{k} = {_toml(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for section, table in data.items():
        if isinstance(table, dict):
            lines += _toml_tables(section, table)
    path.write_text("\n".join(lines))
    e = parallel_env(task="remember_color", rules_path=str(path))
    assert [p for p, _ in _noop_phases(e, 10)] == ["cue"] * 2 + ["delay"] * 7 + ["action"]
    assert e.config.episode_steps == 40 and len(e.world.items) == 4


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def _toml_tables(prefix: str, table: dict[str, Any]) -> list[str]:
    lines = [f"[{prefix}]"]
    nested = []
    for key, value in table.items():
        if isinstance(value, dict):
            nested.append((f"{prefix}.{key}", value))
        else:
            lines.append(f"{key} = {_toml(value)}")
    for name, sub in nested:
        lines += _toml_tables(name, sub)
    return lines


# ---- determinism and checkpoints ------------------------------------------------------


def _trajectory(task: str, seed: int, steps: int = 40) -> list[Any]:
    e = parallel_env(task=task, relay=True, n_agents=2)
    obs, _ = e.reset(seed=seed)
    rng = np.random.default_rng(99)
    out = [obs]
    for _ in range(steps):
        if not e.agents:
            break
        obs, rewards, _, _, infos = e.step(
            {a: int(rng.integers(len(RULES.actions))) for a in e.agents})
        out.append((obs, rewards, infos))
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    return bool(a == b)


@pytest.mark.parametrize("task", TASKS)
def test_same_seed_same_trajectory(task: str) -> None:
    assert _same(_trajectory(task, 5), _trajectory(task, 5))
    layouts = {tuple(sorted((i.x, i.y, i.colour) for i in _world(task, s).items))
               for s in range(6)}
    assert len(layouts) > 1  # different seeds, different episodes


def _world(task: str, seed: int, **overrides: Any) -> Any:
    e = parallel_env(task=task, **overrides)
    e.reset(seed=seed)
    return e.world


def test_snapshot_restore_continues_the_same_trajectory() -> None:
    e = parallel_env(task="shell_game")
    e.reset(seed=4)
    for _ in range(8):
        e.step({"agent_0": ACTION["noop"]})
    blob = e.snapshot()
    first = [e.step({"agent_0": ACTION["noop"]})[0] for _ in range(6)]
    e.restore(blob)
    again = [e.step({"agent_0": ACTION["noop"]})[0] for _ in range(6)]
    assert _same(first, again)
    with pytest.raises(ValueError, match="different config"):
        parallel_env(task="intercept").restore(blob)


# ---- success and failure --------------------------------------------------------------


def _walk(e: ManipulationParallelEnv, agent: str, target: tuple[int, int]) -> None:
    g = e.world.grippers[e.agent_index[agent]]
    while (g.x, g.y) != tuple(target):
        move = ("right" if target[0] > g.x else "left") if g.x != target[0] else (
            "down" if target[1] > g.y else "up")
        e.step({agent: ACTION[move]})


def _until_phase(e: ManipulationParallelEnv, phase: str) -> None:
    while e.world.phase() != phase:
        e.step({a: ACTION["noop"] for a in e.agents})


def _solve_with_ground_truth(task: str, seed: int, relay: bool = False) -> dict[str, Any]:
    """Play the task from the world's hidden state (checks the task can be solved)."""
    e = parallel_env(task=task, relay=relay, n_agents=2 if relay else 1)
    e.reset(seed=seed)
    world, actor = e.world, "agent_1" if relay else "agent_0"
    if world.task.engine == "take_back":
        mover = "agent_0"
        _until_phase(e, "action")
        origin = world.origin
        _walk(e, mover, origin)
        e.step({mover: ACTION["pick"]})
        _walk(e, mover, world.target)
        *_, infos = e.step({mover: ACTION["place"]})
        assert "placed_on_target" in infos[mover]["unlocked"]
        _until_phase(e, "return")
        _walk(e, actor, world.target)
        e.step({actor: ACTION["pick"]})
        _walk(e, actor, origin)
        return e.step({actor: ACTION["place"]})[4][actor] | {"env": e}
    if world.task.engine == "intercept":
        _until_phase(e, "action")
        g = world.grippers[e.agent_index[actor]]
        t = world.step_count
        while True:
            cell = world.ball_at(t)
            if abs(cell[0] - g.x) + abs(cell[1] - g.y) <= t - world.step_count:
                break
            t += 1
        _walk(e, actor, cell)
        while world.step_count < t:
            e.step({actor: ACTION["noop"]})
        return e.step({actor: ACTION["pick"]})[4][actor] | {"env": e}
    _until_phase(e, "action")
    while world.outcome is None:
        _walk(e, actor, world.solution_cells()[0])
        *_, infos = e.step({actor: ACTION["touch"]})
    return infos[actor] | {"env": e}


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("relay", [False, True])
def test_ground_truth_play_succeeds(task: str, relay: bool) -> None:
    info = _solve_with_ground_truth(task, seed=6, relay=relay)
    e = info["env"]
    assert info["outcome"] == "success" and info["ok"]
    assert "success" in e.team_achievements and not e.agents  # everyone terminated
    assert e.team_achievements["success"][1] == ("agent_1" if relay else "agent_0")


def test_success_rewards_the_whole_team() -> None:
    e = parallel_env(task="remember_color", relay=True, n_agents=3)
    e.reset(seed=4)
    _until_phase(e, "action")
    _walk(e, "agent_2", e.world.solution_cells()[0])
    _, rewards, terminations, _, infos = e.step({"agent_2": ACTION["touch"]})
    task = RULES.task("remember_color")
    reward = task.reward
    # the toucher also gets the shaping reward for a well-formed selection
    assert rewards == {"agent_0": reward, "agent_1": reward,
                       "agent_2": reward + task.select_reward} and reward > 0
    assert all(terminations.values()) and "success" in infos["agent_2"]["unlocked"]
    assert e.achievements["agent_2"] == {"success": e.world.step_count - 1}
    assert e.achievements["agent_1"] == {}


@pytest.mark.parametrize("task", ["remember_color", "shell_game", "chain_of_colors"])
def test_a_wrong_touch_fails_and_ends_the_episode(task: str) -> None:
    e = parallel_env(task=task)
    e.reset(seed=1)
    _until_phase(e, "action")
    right = set(e.world.solution_cells())
    wrong = next((i.x, i.y) for i in e.world.items
                 if (i.x, i.y) not in right and e.world.visible(i))
    _walk(e, "agent_0", wrong)
    _, rewards, terminations, _, infos = e.step({"agent_0": ACTION["touch"]})
    assert infos["agent_0"]["outcome"] == "failure" and not infos["agent_0"]["ok"]
    # a wrong selection still earns the shaping reward (touching is the mechanic), no more
    assert rewards["agent_0"] == pytest.approx(RULES.task(task).select_reward)
    assert terminations["agent_0"] and e.outcome == "failure"
    assert "success" not in e.team_achievements


@pytest.mark.parametrize("task", ["seq_of_colors", "chain_of_colors", "bunch_of_colors"])
def test_touching_a_done_colour_again_pays_nothing_and_ends_nothing(task: str) -> None:
    """A touched item stays on the table. Touching it again is refused with no reward: the
    selection reward once paid it every step, and PPO learned to touch one item for ever."""
    e = parallel_env(task=task)
    e.reset(seed=3)
    _until_phase(e, "action")
    first = e.world.solution_cells()[0]
    _walk(e, "agent_0", first)
    _, rewards, *_ = e.step({"agent_0": ACTION["touch"]})
    task_rules = RULES.task(task)
    assert rewards["agent_0"] == pytest.approx(task_rules.select_reward +
                                               task_rules.progress_reward)
    for _ in range(3):
        _, rewards, terminations, _, infos = e.step({"agent_0": ACTION["touch"]})
        assert rewards["agent_0"] == 0.0 and not terminations["agent_0"]
        assert not infos["agent_0"]["ok"] and infos["agent_0"]["reason"] == "already touched"
    assert e.outcome is None


@pytest.mark.parametrize("task", ["remember_color", "shell_game", "bunch_of_colors"])
def test_moving_closer_to_any_selectable_item_pays_the_approach_reward(task: str) -> None:
    """Shaping towards the nearest item, right or wrong: a step closer pays
    `approach_reward`, a step back costs it, and walking onto an item pays its distance."""
    e = parallel_env(task=task)
    e.reset(seed=2)
    _until_phase(e, "action")
    world, g = e.world, e.world.grippers[0]
    bonus = RULES.task(task).approach_reward
    assert bonus > 0

    def nearest() -> tuple[int, int]:
        return min(((i.x, i.y) for i in world.items if world.visible(i) and not i.touched),
                   key=lambda c: abs(c[0] - g.x) + abs(c[1] - g.y))

    start = nearest()
    distance = abs(start[0] - g.x) + abs(start[1] - g.y)
    total = 0.0
    while (g.x, g.y) != start:
        before = (g.x, g.y)
        move = ("right" if start[0] > g.x else "left") if g.x != start[0] else (
            "down" if start[1] > g.y else "up")
        _, rewards, *_ = e.step({"agent_0": ACTION[move]})
        assert (g.x, g.y) != before
        total += rewards["agent_0"]
    assert total == pytest.approx(bonus * distance)
    back = next(m for m in ("up", "down", "left", "right")
                if world.on_table(g.x + {"left": -1, "right": 1}.get(m, 0),
                                  g.y + {"up": -1, "down": 1}.get(m, 0)))
    _, rewards, *_ = e.step({"agent_0": ACTION[back]})
    assert rewards["agent_0"] == pytest.approx(-bonus)  # one step off the item it stood on


def test_no_approach_reward_towards_what_is_not_drawn() -> None:
    """Intercept's ball rolls unseen in the action phase: shaping towards it would give the
    answer away, so moves there pay nothing."""
    e = parallel_env(task="intercept")
    e.reset(seed=2)
    _until_phase(e, "action")
    for move in ("up", "left", "down", "right"):
        _, rewards, *_ = e.step({"agent_0": ACTION[move]})
        assert rewards["agent_0"] == 0.0


def test_selection_before_the_action_phase_is_refused_not_failed() -> None:
    e = parallel_env(task="remember_color")
    e.reset(seed=0)
    *_, infos = e.step({"agent_0": ACTION["touch"]})
    assert not infos["agent_0"]["ok"] and "cue phase" in infos["agent_0"]["reason"]
    assert e.outcome is None and e.agents == ["agent_0"]


def test_take_it_back_placing_off_the_target_fails() -> None:
    e = parallel_env(task="take_it_back")
    e.reset(seed=2)
    _until_phase(e, "action")
    _walk(e, "agent_0", e.world.origin)
    e.step({"agent_0": ACTION["pick"]})
    off = next((x, 0) for x in range(9) if (x, 0) not in (e.world.target, e.world.origin))
    _walk(e, "agent_0", off)
    *_, infos = e.step({"agent_0": ACTION["place"]})
    assert infos["agent_0"]["outcome"] == "failure"


def test_intercept_ball_rolling_off_the_table_fails() -> None:
    e = parallel_env(task="intercept", difficulty=2)
    e.reset(seed=0)
    while e.agents:
        *_, infos = e.step({"agent_0": ACTION["noop"]})
    assert e.outcome == "failure" and "the ball rolled off the table" in infos["agent_0"][
        "events"]


def test_shell_cups_move_as_their_motion_codes_say_and_carry_the_ball() -> None:
    e = parallel_env(task="shell_game", difficulty=5)
    obs, _ = e.reset(seed=8)
    world = e.world
    vw, vh = world.task.view
    before = {(i.x, i.y) for i in world.items if i.role == "cup"}
    moved_any = False
    while world.phase() != "action":
        obs, *_ = e.step({"agent_0": ACTION["noop"]})
        o = obs["agent_0"]
        now = {(i.x, i.y) for i in world.items if i.role == "cup"}
        came_from = set()
        for row, col in zip(*o["shape"].nonzero(), strict=True):
            x, y = int(o["position"][0]) - vw // 2 + col, int(o["position"][1]) - vh // 2 + row
            code = int(o["moved"][row, col])
            dx, dy = {0: (0, 0), 1: (0, -1), 2: (0, 1), 3: (-1, 0), 4: (1, 0)}[code]
            came_from.add((x - dx, y - dy))
            moved_any |= code != 0
        assert came_from == before and len(now) == world.level
        ball, cup = world.items[-1], world.items[world.ball_cup]
        assert (ball.x, ball.y) == (cup.x, cup.y)
        before = now
    assert moved_any


@pytest.mark.parametrize("level", RULES.task("shell_game").levels)
def test_shuffle_fills_the_delay_with_at_least_min_swaps(level: int) -> None:
    spec = RULES.task("shell_game")
    for seed in range(20):
        plan = _world("shell_game", seed, difficulty=level).shuffle
        assert len(plan) == spec.delay_steps
        swaps = sum(1 for moves in plan if moves and moves[0][1] == (0, -1))
        assert swaps >= spec.extra["min_swaps"]
        assert sum(1 for moves in plan if not moves) < 4  # no adjacent swap fitted after


# ---- relay visibility -----------------------------------------------------------------


@pytest.mark.parametrize("task", ["remember_color", "shell_game", "intercept"])
def test_relay_only_the_observer_sees_the_cue(task: str) -> None:
    e = parallel_env(task=task, relay=True, n_agents=3)
    obs, _ = e.reset(seed=0)
    observer, actors = obs["agent_0"], [obs["agent_1"], obs["agent_2"]]
    assert observer["cue_colour"].any() or observer["shape"].any()
    for actor in actors:
        assert not actor["cue_colour"].any() and not actor["shape"].any()
        assert not actor["table"].any()  # blind until the action phase
    _until_phase(e, "action")
    obs, *_ = e.step({a: ACTION["noop"] for a in e.agents})
    assert obs["agent_1"]["table"].any()


def test_relay_observer_cannot_select_or_move() -> None:
    e = parallel_env(task="remember_color", relay=True, n_agents=2)
    e.reset(seed=0)
    _until_phase(e, "action")
    before = e.agent_positions()["agent_0"]
    *_, infos = e.step({"agent_0": ACTION["left"]})  # it never has an acting phase here
    assert not infos["agent_0"]["ok"] and "cannot move" in infos["agent_0"]["reason"]
    assert e.agent_positions()["agent_0"] == before
    *_, infos = e.step({"agent_0": ACTION["touch"]})
    assert not infos["agent_0"]["ok"] and e.outcome is None


# ---- observations, state and rendering ------------------------------------------------


@pytest.mark.parametrize("task", TASKS)
def test_observations_state_and_render(task: str) -> None:
    e = parallel_env(task=task, render_mode="rgb_array", tile_pixels=8)
    obs, _ = e.reset(seed=0)
    assert e.observation_space("agent_0").contains(obs["agent_0"])
    assert e.state_space.contains(e.state())
    image = e.render()
    w, h = RULES.task(task).table
    assert image is not None and image.shape == ((h + 1) * 8, w * 8, 3)
    assert image.dtype == np.uint8 and len(np.unique(image.reshape(-1, 3), axis=0)) > 3
    assert parallel_env(task=task).render() is None  # no render mode, no image
    assert e.agent_positions() == {"agent_0": (w // 2, h // 2)}


def test_meets_the_world_protocol_and_infos_carry_the_info_keys() -> None:
    e = parallel_env(task="shell_game", relay=True, n_agents=2)
    assert isinstance(e, MemsimWorld)
    e.reset(seed=0)
    *_, infos = e.step({"agent_0": ACTION["touch"], "agent_1": ACTION["left"]})
    for agent in ("agent_0", "agent_1"):
        assert set(INFO_KEYS) <= set(infos[agent])
    assert infos["agent_0"]["action"] == "touch" and not infos["agent_0"]["ok"]
    # grippers stay put until their acting phase (rules: move_before_action = false)
    assert infos["agent_1"]["action"] == "left" and not infos["agent_1"]["ok"]
    assert e.agent_positions()["agent_1"] == (5, 3)


def test_text_observation_names_the_cue_and_the_items() -> None:
    e = parallel_env(task="remember_color")
    e.reset(seed=0)
    colour = RULES.colours[e.world.cue_sequence[0] - 1]
    assert f"slot 0: {colour} cube" in e.text_observation("agent_0")
    _until_phase(e, "action")
    text = e.text_observation("agent_0")
    assert "phase action" in text and "cube at (" in text and "slot 0" not in text


# ---- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(("settings", "message"), [
    ({"task": "juggling"}, "task 'juggling' is unknown; allowed: shell_game"),
    ({"task": "remember_color", "difficulty": 4}, "allowed: [3, 5, 9]"),
    ({"relay": True, "n_agents": 1}, "relay=true needs n_agents >= 2"),
    ({"n_agents": 3}, "n_agents=3 needs relay=true"),
    ({"task": "seq_of_colors", "max_steps": 12}, "max_steps=12 leaves no action phase"),
    ({"team_goal": "win"}, "team_goal='win'; allowed: 'success' or None"),
    ({"colour": "red"}, "colour"),
    ({"n_agents": "2"}, "n_agents"),
])
def test_bad_config_names_the_field(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=None) as caught:
        ManipulationConfig(**settings)
    assert message in str(caught.value)


def test_relay_without_a_team_size_means_an_observer_and_an_actor() -> None:
    assert ManipulationConfig(relay=True).n_agents == 2
    assert ManipulationConfig().n_agents == 1


def test_bad_actions_name_the_field_and_change_nothing() -> None:
    e = parallel_env(task="remember_color")
    e.reset(seed=0)
    with pytest.raises(ActionError, match=r"actions\['agent_0'\]=8 is out of range"):
        e.step({"agent_0": 8})
    with pytest.raises(ActionError, match="not an action index"):
        e.step({"agent_0": "up"})
    with pytest.raises(KeyError, match="agent 'agent_7' is unknown"):
        e.step({"agent_7": 0})
    assert e.world.step_count == 0
    with pytest.raises(ValueError, match="render_mode 'ansi' is not supported"):
        parallel_env(render_mode="ansi")
    with pytest.raises(ValueError, match="single-agent"):
        ManipulationEnv(task="shell_game", relay=True, n_agents=2)


def test_bad_rules_name_the_entry() -> None:
    data = tomllib.loads(DEFAULT_RULES_PATH.read_text())
    data["tasks"]["remember_color"]["colours"] = ["red", "mauve"]
    with pytest.raises(RulesError, match=r"tasks.remember_color.colours names 'mauve'"):
        parse_rules(data)
    data = tomllib.loads(DEFAULT_RULES_PATH.read_text())
    data["tasks"]["shell_game"]["swaps"] = 3
    with pytest.raises(RulesError, match=r"tasks.shell_game has unknown key\(s\) \['swaps'\]"):
        parse_rules(data)
    data = tomllib.loads(DEFAULT_RULES_PATH.read_text())
    data["tasks"]["shell_game"]["min_swaps"] = 5
    with pytest.raises(RulesError, match="cannot guarantee min_swaps=5"):
        parse_rules(data)
    data = tomllib.loads(DEFAULT_RULES_PATH.read_text())
    data["tasks"]["bunch_of_colors"]["levels"] = [3, 5, 12]
    with pytest.raises(RulesError, match="display slots"):
        parse_rules(data)
    with pytest.raises(RulesError, match="does not exist"):
        load_rules("/nonexistent/rules.toml")
