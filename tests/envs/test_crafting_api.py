"""Multi-Agent Crafter against the PettingZoo and Gymnasium API checkers."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test

import memsim.envs  # noqa: F401  (registers memsim/Crafter-v0)
from memsim.envs.crafting import CrafterEnv, env, parallel_env


@pytest.mark.parametrize("n_agents", [1, 3, 16])
def test_parallel_api(n_agents: int) -> None:
    parallel_api_test(parallel_env(n_agents=n_agents), num_cycles=300)


def test_aec_api() -> None:
    api_test(env(n_agents=3), num_cycles=200)


def test_seed_tests() -> None:
    seed_test(lambda: env(n_agents=2), num_cycles=200)
    parallel_seed_test(lambda: parallel_env(n_agents=3), num_cycles=200)


@pytest.mark.parametrize("obs_mode", ["symbolic", "text", "rgb"])
def test_gymnasium_check_env(obs_mode: str) -> None:
    check_env(CrafterEnv(obs_mode=obs_mode, render_mode="rgb_array"), skip_render_check=False)


def test_registered_with_gymnasium() -> None:
    e = gymnasium.make("memsim/Crafter-v0", zombies=False)
    obs, info = e.reset(seed=5)
    assert e.observation_space.contains(obs)
    _, _, _, _, info = e.step(0)
    assert info["action"] == "noop" and info["ok"]


def test_observation_modes_match_their_spaces() -> None:
    for mode in ("symbolic", "text", "rgb"):
        e = parallel_env(n_agents=2, obs_mode=mode)
        observations, _ = e.reset(seed=0)
        for agent, obs in observations.items():
            assert e.observation_space(agent).contains(obs), mode


def test_state_space_and_render() -> None:
    e = parallel_env(n_agents=4, render_mode="rgb_array", width=32, height=24, tile_pixels=4)
    e.reset(seed=1)
    state = e.state()
    assert e.state_space.contains(state)
    assert state["materials"].shape == (24, 32)
    image = e.render()
    assert image.shape == (24 * 4, 32 * 4, 3) and image.dtype == np.uint8
