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
from memsim.agents.rl.task_wrappers import MEMORY_KEY, TaskMemoryObservation, TaskMemoryParallelEnv
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
    return [1.0, dx / SCALE, dy / SCALE, (abs(dx) + abs(dy)) / SCALE]


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
        if obs[MEMORY_KEY][0]:  # the right item is in view: the features point at it
            here = obs["position"]
            dx, dy = obs[MEMORY_KEY][1:3] * SCALE
            assert (round(int(here[0]) + dx), round(int(here[1]) + dy)) in right
