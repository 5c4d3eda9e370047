"""One agent in a navigation memory task as a Gymnasium env
(`gymnasium.make("memsim/Ballet-v0", difficulty=2)`; ids in `rules.toml`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from envs.navigation.config import NavigationConfig
from envs.navigation.env import NavigationParallelEnv, make_config


class NavigationGymEnv(gym.Env):
    """The single-agent variant of a navigation task (no relay)."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 5}

    def __init__(
        self,
        config: NavigationConfig | Mapping[str, Any] | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        cfg = make_config(config, **overrides)
        if cfg.n_agents != 1:
            raise ValueError(f"n_agents={cfg.n_agents}: NavigationGymEnv is single-agent; "
                             "use envs.navigation.parallel_env for several agents")
        self._env = NavigationParallelEnv(cfg, render_mode=render_mode)
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
