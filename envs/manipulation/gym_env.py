"""One manipulation-memory task as a single-agent Gymnasium env
(`gymnasium.make("memsim/ShellGame-v0")` and the other ids `register()` adds)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from envs.manipulation.config import ManipulationConfig
from envs.manipulation.env import ManipulationParallelEnv, make_config


class ManipulationEnv(gym.Env):
    """One agent, one tabletop memory task."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 5}

    def __init__(
        self,
        config: ManipulationConfig | Mapping[str, Any] | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        cfg = make_config(config, **overrides)
        if cfg.n_agents != 1:
            raise ValueError(f"n_agents={cfg.n_agents}: ManipulationEnv is single-agent; use "
                             "envs.manipulation.parallel_env for relay variants")
        self._env = ManipulationParallelEnv(cfg, render_mode=render_mode)
        self._agent = self._env.possible_agents[0]
        self.observation_space = self._env.observation_space(self._agent)
        self.action_space = self._env.action_space(self._agent)
        self.render_mode = render_mode
        self.action_names = self._env.action_names

    @property
    def world(self) -> Any:
        return self._env.world

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is None:
            seed = int(self.np_random.integers(0, 2**31 - 1))
        observations, infos = self._env.reset(seed=seed, options=options)
        return observations[self._agent], infos[self._agent]

    def step(self, action: int | np.integer) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, rewards, terminations, truncations, infos = self._env.step({self._agent: action})
        a = self._agent
        return obs[a], rewards[a], terminations[a], truncations[a], infos[a]

    def render(self) -> np.ndarray | None:
        return self._env.render()
