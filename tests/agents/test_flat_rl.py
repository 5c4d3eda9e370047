"""RL-library fit on every world family: flat Box observations through SuperSuit's
standard pipeline and SB3 PPO, unmodified; render_mode "human"; PettingZoo's max_cycles;
the Gymnasium ids' max_episode_steps."""

from __future__ import annotations

import functools
import os
import types
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import supersuit as ss
from pettingzoo.test import max_cycles_test, parallel_api_test, render_test

import memsim  # noqa: F401 - registers the Gymnasium ids
from examples import load_example
from memsim.envs import crafting, manipulation, navigation
from memsim.envs.flat import FlatObservations

FAMILIES: dict[str, tuple[Any, dict[str, Any]]] = {
    "crafting": (crafting, {"n_agents": 2, "width": 16, "height": 16, "max_steps": 60}),
    "navigation": (navigation, {"task": "ballet", "relay": True}),
    "manipulation": (manipulation, {"task": "shell_game", "relay": True}),
}


@pytest.fixture(autouse=True)
def _no_screen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")


def flat(name: str, **overrides: Any) -> FlatObservations:
    module, config = FAMILIES[name]
    return FlatObservations(module.parallel_env(**{**config, **overrides}))


def play(env: Any, seed: int = 0, limit: int = 400) -> int:
    """Random actions until the wrapper's agents are gone; returns the steps."""
    env.reset(seed=seed)
    for step in range(limit):
        if not env.agents:
            return step
        observations, *_ = env.step({a: env.action_space(a).sample() for a in env.agents})
        for agent, obs in observations.items():
            assert env.observation_space(agent).contains(obs), agent
    raise AssertionError("the episode did not end")


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_flat_observations_are_one_bounded_box(name: str) -> None:
    env = flat(name)
    space = env.observation_space("agent_0")
    assert isinstance(space, gym.spaces.Box) and space.dtype == np.float32
    assert space.shape is not None and len(space.shape) == 1
    assert np.isfinite(space.low).all() and np.isfinite(space.high).all()
    parallel_api_test(flat(name), num_cycles=40)
    env.reset(seed=0)
    assert env.action_names == env.env.action_names  # the world's surface passes through
    assert isinstance(env.state(), dict)


@pytest.mark.parametrize("name", sorted(FAMILIES))
@pytest.mark.parametrize("wrap", [
    ss.black_death_v3, functools.partial(ss.dtype_v0, dtype=np.float32),
    functools.partial(ss.frame_stack_v1, stack_size=3), ss.normalize_obs_v0, ss.flatten_v0,
], ids=["black_death", "dtype", "frame_stack", "normalize_obs", "flatten"])
def test_supersuit_observation_wrappers_take_the_flat_worlds(name: str, wrap: Any) -> None:
    assert play(wrap(flat(name))) > 0


def test_black_death_keeps_a_dead_agent_and_ends_the_episode() -> None:
    # Crafting agents die (lava, hunger); one dead agent keeps zeros until the team ends.
    env = ss.black_death_v3(flat("crafting", max_steps=30))
    env.reset(seed=0)
    world = env.env.env.world
    world.agents[1].inventory[world.item_index["health"]] = 0  # dies in the next step
    kept = 0
    while env.agents:
        observations, *_ = env.step({a: 0 for a in env.agents})
        if observations and not np.any(observations["agent_1"]):
            kept += 1
    assert kept >= 1


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_vector_pipeline_steps_through_episode_ends(name: str) -> None:
    env = ss.black_death_v3(flat(name))
    vec = ss.concat_vec_envs_v1(ss.pettingzoo_env_to_vec_env_v1(env), 2, num_cpus=0,
                                base_class="stable_baselines3")
    vec.reset()
    finished = 0
    for _ in range(250):
        _, _, dones, _ = vec.step(np.array([vec.action_space.sample()
                                            for _ in range(vec.num_envs)]))
        finished += int(np.sum(dones))
    assert finished > 0  # episodes ended and the vector env reset them


@pytest.mark.slow
def test_ppo_trains_through_the_supersuit_pipeline() -> None:
    """A few thousand agent-steps of SB3 PPO through the unmodified pipeline (and the
    observation wrappers), on a memory task and on crafting: the example CI runs."""
    example = load_example("train_ppo_supersuit")
    before, after = example.main(["--world", "navigation", "--task", "ballet", "--relay",
                                  "--timesteps", "4096", "--episodes", "2"])
    assert np.isfinite(before) and np.isfinite(after)
    before, after = example.main(["--world", "crafting", "--wrappers", "--timesteps", "2048",
                                  "--episodes", "1"])
    assert np.isfinite(before) and np.isfinite(after)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_render_modes_human_and_rgb_array(name: str) -> None:
    module, config = FAMILIES[name]
    render_test(lambda render_mode=None: module.env(render_mode=render_mode, **config))
    env = module.parallel_env(render_mode="human", **config)
    env.reset(seed=0)
    env.step({a: 0 for a in env.agents})
    assert env.render() is None and env._window is not None
    env.close()
    assert env._window is None


def test_human_render_names_the_extra_without_pygame(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pygame", None)
    env = crafting.parallel_env(render_mode="human", width=16, height=16)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'memsim\[viz\]'"):
        env.reset(seed=0)


@pytest.mark.parametrize("name", ["crafting", "navigation"])
def test_max_cycles_is_pettingzoos_name_for_max_steps(name: str) -> None:
    module, config = FAMILIES[name]
    config = {k: v for k, v in config.items() if k != "max_steps"}
    max_cycles_test(types.SimpleNamespace(parallel_env=functools.partial(module.parallel_env,
                                                                         **config),
                                          env=functools.partial(module.env, **config)))


def test_max_cycles_and_max_steps_together_are_refused() -> None:
    assert manipulation.parallel_env(task="shell_game", max_cycles=50).max_steps == 50
    with pytest.raises(ValueError, match="max_steps or max_cycles"):
        crafting.parallel_env(max_steps=5, max_cycles=5)


def test_gymnasium_ids_carry_max_episode_steps() -> None:
    assert gym.spec("memsim/Crafter-v0").max_episode_steps == 10_000
    for task in navigation.TASK_NAMES:
        gym_id = navigation.load_rules().tasks[task].gym_id
        longest = gym.spec(gym_id).max_episode_steps
        hardest = len(navigation.load_rules().tasks[task].levels)
        assert longest >= navigation.parallel_env(task=task, difficulty=hardest).max_steps
    for task in manipulation.TASKS:
        env = gym.make(manipulation.gym_id(task))
        assert env.spec is not None and env.spec.max_episode_steps >= env.unwrapped._env.max_steps
    env = gym.wrappers.FlattenObservation(gym.make("memsim/Ballet-v0"))
    obs, _ = env.reset(seed=0)
    assert obs.ndim == 1
    if os.environ.get("SDL_VIDEODRIVER") == "dummy":
        human = gym.make("memsim/Ballet-v0", render_mode="human")
        human.reset(seed=0)
        assert human.render() is None
        human.close()
