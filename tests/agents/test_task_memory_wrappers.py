"""The graph-memory feature wrappers of the memory tasks (navigation, manipulation): they
pass Gymnasium's and PettingZoo's API checks, SB3 trains on them unmodified, and the
features say what the agent's knowledge graph remembers (the right dancer, cup or cell)
once the cue is gone, from a memory cleared at every reset."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test

import memsim  # noqa: F401  (registers the Gymnasium ids)
from memsim.agents.rl.settings import TaskFeatureSettings
from memsim.agents.rl.task_wrappers import (
    MEMORY_KEY,
    ScaledObservation,
    ScaledParallelEnv,
    TaskMemoryObservation,
    TaskMemoryParallelEnv,
    scaled_space,
)
from memsim.envs.flat import FlatObservations
from memsim.envs.manipulation import ManipulationConfig, ManipulationEnv
from memsim.envs.manipulation import parallel_env as manipulation_parallel_env
from memsim.envs.manipulation.rules import PHASES
from memsim.envs.navigation import NavigationConfig, NavigationGymEnv
from memsim.envs.navigation import parallel_env as navigation_parallel_env
from memsim.envs.navigation.engine import ACT

SCALE = TaskFeatureSettings().scale
MEMORY_IDS = [i for i in gym.registry if i.startswith("memsim/") and i != "memsim/Crafter-v0"]


@pytest.mark.parametrize("gym_id", MEMORY_IDS)
def test_the_gymnasium_wrapper_passes_check_env(gym_id: str) -> None:
    env = TaskMemoryObservation(gym.make(gym_id).unwrapped)
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=3)
    assert env.observation_space.contains(obs) and MEMORY_KEY in obs
    again, _ = env.reset(seed=3)  # the memory is cleared: the same seed, the same features
    np.testing.assert_array_equal(obs[MEMORY_KEY], again[MEMORY_KEY])
    assert env.unwrapped.chance_level == gym.make(gym_id).unwrapped.chance_level
    env.close()


@pytest.mark.parametrize("make", [
    lambda: navigation_parallel_env(task="ballet", relay=True),
    lambda: navigation_parallel_env(task="mystery_path"),
    lambda: manipulation_parallel_env(task="remember_color", relay=True),
    lambda: manipulation_parallel_env(task="intercept"),
], ids=["ballet-relay", "mystery_path", "remember_color-relay", "intercept"])
def test_the_pettingzoo_wrapper_passes_the_parallel_api_test(make: Any) -> None:
    env = TaskMemoryParallelEnv(make())
    parallel_api_test(env, num_cycles=60)
    assert env.chance_level == make().chance_level
    assert env.unwrapped is env.env and env.action_names == env.env.action_names
    # flattened for SuperSuit as every world is (envs.flat), memory features included
    flat = FlatObservations(TaskMemoryParallelEnv(make()))
    size = flat.observation_space("agent_0").shape[0]
    assert size == FlatObservations(make()).observation_space("agent_0").shape[0] + \
        env.observation_space("agent_0")[MEMORY_KEY].shape[0]
    parallel_api_test(flat, num_cycles=30)


def test_sb3_ppo_trains_on_the_wrapped_env_unmodified() -> None:
    from stable_baselines3 import PPO

    env = TaskMemoryObservation(ManipulationEnv(ManipulationConfig(task="shell_game")))
    model = PPO("MultiInputPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0,
                device="cpu", verbose=0)
    model.learn(total_timesteps=128)
    obs, _ = env.reset(seed=0)
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(int(action))


def _until(env: Any, done: Any, action: int = 0, limit: int = 200) -> dict[str, Any]:
    """Step with `action` until `done(obs)`; returns that observation."""
    obs: dict[str, Any] = {}
    for _ in range(limit):
        obs, _, terminated, truncated, _ = env.step(action)
        assert not (terminated or truncated)
        if done(obs):
            return obs
    raise AssertionError("never reached")


def _expected(place: tuple[int, int], here: Any) -> list[float]:
    dx, dy = place[0] - int(here[0]), place[1] - int(here[1])
    return [1.0, float(np.sign(dx)), float(np.sign(dy)), min((abs(dx) + abs(dy)) / SCALE, 1)]


def test_a_place_is_its_direction_and_its_distance() -> None:
    from memsim.agents.rl.task_features import _offset

    assert _offset(None, (3, 3), 8.0) == [0.0, 0.0, 0.0, 0.0]
    assert _offset((3, 3), (3, 3), 8.0) == [1.0, 0.0, 0.0, 0.0]  # here
    assert _offset((1, 5), (3, 3), 8.0) == [1.0, -1.0, 1.0, 0.5]
    assert _offset((30, 3), (3, 3), 8.0) == [1.0, 1.0, 0.0, 1.0]  # far: clipped


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_navigation_features_point_at_the_remembered_dancer(seed: int) -> None:
    env = TaskMemoryObservation(NavigationGymEnv(NavigationConfig(task="ballet", difficulty=2)))
    obs, _ = env.reset(seed=seed)
    assert obs[MEMORY_KEY][0] == 0  # nothing named yet
    obs = _until(env, lambda o: int(o["phase"]) == ACT)
    world = env.unwrapped.world
    target = world.grid.targets[0].cell
    np.testing.assert_allclose(obs[MEMORY_KEY][:4], _expected(target, obs["position"]),
                               atol=1e-6)


def test_navigation_features_mark_the_remembered_safe_cells() -> None:
    env = TaskMemoryObservation(NavigationGymEnv(NavigationConfig(task="mystery_path")))
    obs, _ = env.reset(seed=0)
    obs = _until(env, lambda o: int(o["phase"]) == ACT)
    world = env.unwrapped.world
    x, y = (int(v) for v in obs["position"])
    pits = world.grid.pits
    for k, (dx, dy) in enumerate(((0, -1), (0, 1), (-1, 0), (1, 0))):
        cell = (x + dx, y + dy)
        safe, avoid = obs[MEMORY_KEY][4 + 3 * k: 6 + 3 * k]
        if 1 <= cell[0] <= world.level["size"] and 1 <= cell[1] <= world.level["size"]:
            assert safe == float(cell not in pits), cell  # remembered from the cue
            assert avoid == 0.0, cell  # pits look like floor: known only once fallen into


def test_manipulation_features_follow_the_shell_game_ball_through_the_shuffle() -> None:
    env = TaskMemoryObservation(ManipulationEnv(ManipulationConfig(task="shell_game")))
    for seed in (0, 1, 5):
        obs, _ = env.reset(seed=seed)
        obs = _until(env, lambda o: PHASES[int(o["phase"])] == "action")
        world = env.unwrapped.world
        cup = world.items[world.ball_cup]
        np.testing.assert_allclose(obs[MEMORY_KEY], _expected((cup.x, cup.y), obs["position"]),
                                   atol=1e-6)


def test_manipulation_features_predict_the_unseen_intercept_ball() -> None:
    env = TaskMemoryObservation(ManipulationEnv(ManipulationConfig(task="intercept")))
    obs, _ = env.reset(seed=4)
    obs = _until(env, lambda o: PHASES[int(o["phase"])] == "action")
    world = env.unwrapped.world
    np.testing.assert_allclose(obs[MEMORY_KEY],
                               _expected(world.ball_at(world.step_count), obs["position"]),
                               atol=1e-6)


def test_manipulation_features_name_the_cue_colour_among_the_items() -> None:
    env = TaskMemoryObservation(ManipulationEnv(ManipulationConfig(task="remember_color",
                                                                   difficulty=5)))
    for seed in range(4):
        obs, _ = env.reset(seed=seed)
        obs = _until(env, lambda o: PHASES[int(o["phase"])] == "action")
        world = env.unwrapped.world
        right = [(i.x, i.y) for i in world.items if i.colour == world.cue_sequence[0]]
        if obs[MEMORY_KEY][0]:  # the right item was seen: the features point at it
            assert any(np.allclose(obs[MEMORY_KEY], _expected(cell, obs["position"]))
                       for cell in right)


def _act(env: Any, name: str) -> dict[str, Any]:
    obs, _, terminated, truncated, _ = env.step(env.unwrapped.action_names.index(name))
    assert not (terminated or truncated)
    return obs


def test_manipulation_features_remember_an_item_that_left_the_view() -> None:
    """An item of the cue's colour seen at the start of the action phase, then out of view
    as the gripper moves away: the features still point back at it (from memory)."""
    checked = 0
    for seed in range(40):
        env = TaskMemoryObservation(ManipulationEnv(ManipulationConfig(task="remember_color")))
        obs, _ = env.reset(seed=seed)
        obs = _until(env, lambda o: PHASES[int(o["phase"])] == "action")
        world = env.unwrapped.world
        right = next((i.x, i.y) for i in world.items if i.colour == world.cue_sequence[0])
        x = int(obs["position"][0])
        half = env.unwrapped.world.task.view[0] // 2
        if not (x - half <= right[0] < x):  # wanted: in view now, left of the gripper
            continue
        assert np.allclose(obs[MEMORY_KEY], _expected(right, obs["position"]))
        while int(obs["position"][0]) - half <= right[0]:
            obs = _act(env, "right")
        assert not obs["colour"].any() or right[0] < int(obs["position"][0]) - half
        np.testing.assert_allclose(obs[MEMORY_KEY], _expected(right, obs["position"]))
        checked += 1
    assert checked >= 3


def test_take_it_back_features_lead_to_the_item_the_mark_then_where_it_began() -> None:
    """Empty gripper: the item; carrying it in the action phase: the target mark (when in
    view); after placing it there: the item again, then where it began (memory)."""
    checked = 0
    for seed in range(12):
        env = TaskMemoryObservation(ManipulationEnv(ManipulationConfig(task="take_it_back")))
        obs, _ = env.reset(seed=seed)
        world = env.unwrapped.world
        origin = world.origin
        obs = _until(env, lambda o: PHASES[int(o["phase"])] == "action")
        for goal, then in ((origin, "pick"), (world.target, "place"), (None, "pick"),
                           (origin, "place")):
            unseen = (then == "pick" and goal == origin and not obs["shape"].any()) or (
                goal == world.target and not (obs["table"] == 2).any())
            if unseen:
                np.testing.assert_array_equal(obs[MEMORY_KEY], 0)  # never seen: unknown
                break
            goal = goal or (int(obs["position"][0]), int(obs["position"][1]))  # pick it again
            np.testing.assert_allclose(obs[MEMORY_KEY], _expected(goal, obs["position"]))
            while tuple(int(v) for v in obs["position"]) != goal:
                _, sx, sy, _ = obs[MEMORY_KEY]
                obs = _act(env, "right" if sx > 0 else "left" if sx < 0 else
                           "down" if sy > 0 else "up")
            if then == "place" and goal == origin:
                *_, info = env.step(env.unwrapped.action_names.index(then))
                assert info["outcome"] == "success"
                checked += 1
            else:
                obs = _act(env, then)
    assert checked >= 3


@pytest.mark.parametrize("gym_id", MEMORY_IDS)
def test_scaled_observations_stay_within_one_over_whole_episodes(gym_id: str) -> None:
    """Every bounded Box divided by its bound: within [-1, 1], and inside the scaled space
    at every step of random episodes (so the worlds' own bounds hold, e.g. time_left)."""
    env = ScaledObservation(TaskMemoryObservation(gym.make(gym_id).unwrapped))
    check_env(env, skip_render_check=True)
    env.action_space.seed(0)
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        done = False
        while not done:
            assert env.observation_space.contains(obs)
            for key, value in obs.items():
                if key in env.divisors:
                    assert np.abs(value).max() <= 1.0 and value.dtype == np.float32, key
            obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
            done = terminated or truncated
    raw = gym.make(gym_id).unwrapped
    obs, _ = env.reset(seed=5)
    plain, _ = raw.reset(seed=5)
    for key in plain:
        expected = plain[key] / env.divisors[key] if key in env.divisors else plain[key]
        np.testing.assert_allclose(obs[key], expected, err_msg=key)


def test_scaled_observation_needs_a_dict_space() -> None:
    with pytest.raises(TypeError, match="Dict observation space"):
        ScaledObservation(gym.make("CartPole-v1"))


@pytest.mark.parametrize("make", [
    lambda: navigation_parallel_env(task="ballet", relay=True),
    lambda: manipulation_parallel_env(task="remember_color", relay=True),
])
def test_the_scaled_pettingzoo_twin_passes_the_api_test_and_scales(make: Any) -> None:
    env = ScaledParallelEnv(TaskMemoryParallelEnv(make()))
    parallel_api_test(env, num_cycles=40)
    plain = make()
    observations, _ = env.reset(seed=4)
    raw, _ = plain.reset(seed=4)
    for agent, obs in observations.items():
        space = env.observation_space(agent)
        assert space.contains(obs)
        _, divisors = scaled_space(plain.observation_space(agent))
        for key, value in raw[agent].items():
            expected = value / divisors[key] if key in divisors else value
            np.testing.assert_allclose(obs[key], expected, err_msg=key)
            if key in divisors:
                assert np.abs(obs[key]).max() <= 1.0 and obs[key].dtype == np.float32
    with pytest.raises(KeyError, match="unknown"):
        env.observation_space("agent_9")
    with pytest.raises(TypeError, match="Dict observation space"):
        ScaledParallelEnv(FlatObservations(make()))
