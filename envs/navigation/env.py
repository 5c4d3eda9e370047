"""The navigation memory worlds as a PettingZoo `ParallelEnv` (and AEC through PettingZoo).

    from memsim.envs.navigation import parallel_env
    env = parallel_env(task="ballet", difficulty=2)
    observations, infos = env.reset(seed=0)
    observations, rewards, terminations, truncations, infos = env.step(
        {agent: env.action_space(agent).sample() for agent in env.agents})

Each agent observes only its local view, its position, the phase and (if it is shown the
cue) the cue (`observation.py`). The episode terminates for everyone on success or on
failure (a wrong choice or a time limit run out) and truncates at `max_steps`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv
from pettingzoo.utils.conversions import parallel_to_aec

from memsim.envs.base import RENDER_MODES, WorldParallelEnv, build_config
from memsim.envs.navigation.chance import chance_level
from memsim.envs.navigation.config import NavigationConfig
from memsim.envs.navigation.engine import ActionError, NavigationWorld
from memsim.envs.navigation.observation import describe, observation_space, observe
from memsim.envs.navigation.render import render_world


def make_config(
    config: NavigationConfig | Mapping[str, Any] | None, **overrides: Any
) -> NavigationConfig:
    """A `NavigationConfig` from a config, a mapping, or keyword overrides (validated again)."""
    return build_config(NavigationConfig, config, **overrides)


class NavigationParallelEnv(WorldParallelEnv):
    """N agents in one navigation memory task, acting simultaneously."""

    metadata: ClassVar[dict[str, Any]] = {
        "name": "memsim_navigation_v0",
        "render_modes": list(RENDER_MODES),
        "is_parallelizable": True,
        "render_fps": 5,
    }
    action_error = ActionError

    def __init__(
        self,
        config: NavigationConfig | Mapping[str, Any] | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        config = make_config(config, **overrides)
        world = NavigationWorld(config)
        self._setup(config, render_mode, world, observation_space(world),
                    config.max_steps or world.default_max_steps())
        height, width = self.world.grid.terrain.shape
        self.state_space = spaces.Dict({
            "terrain": spaces.Box(0, 2, (height, width), np.uint8),
            "marks": spaces.Box(0, len(self.world.rules.marks), (height, width), np.uint8),
            "pits": spaces.MultiBinary((height, width)),
            "positions": spaces.Box(0, max(width, height) - 1, (self.config.n_agents, 2),
                                    np.int32),
            "step": spaces.Box(0, 1_000_000, (1,), np.int32),
        })

    # ---- episode --------------------------------------------------------------------

    def _observe(self, index: int) -> dict[str, Any]:
        return observe(self.world, index)

    def _episode_over(self) -> bool:
        """Success or failure (a wrong choice, a time limit run out) ends it for everyone."""
        return self.world.outcome is not None

    def _info_extras(self) -> dict[str, Any]:
        return {"outcome": self.world.outcome}

    def _chance_level(self) -> float:
        return chance_level(self.world.rules, self.world.task, self.world.level)

    def text_observation(self, agent_id: str) -> str:
        """The agent's current observation in plain language (for LLM agents)."""
        return describe(self.world, self._check_agent(agent_id))

    # ---- global views ---------------------------------------------------------------

    def state(self) -> dict[str, np.ndarray]:
        """The whole world, pits included (for critics and the viewer; never for agents)."""
        grid = self.world.grid
        pits = np.zeros(grid.terrain.shape, np.int8)
        for x, y in grid.pits:
            pits[y, x] = 1
        return {
            "terrain": grid.terrain.copy(),
            "marks": grid.marks.copy(),
            "pits": pits,
            "positions": np.array([(b.x, b.y) for b in self.world.agents], np.int32),
            "step": np.array([self.world.step_count], np.int32),
        }

    def _draw(self) -> np.ndarray:
        return render_world(self.world, self.config.tile_pixels)


def parallel_env(
    config: NavigationConfig | Mapping[str, Any] | None = None, **overrides: Any
) -> NavigationParallelEnv:
    """A navigation task `ParallelEnv` (PettingZoo's naming convention)."""
    return NavigationParallelEnv(config, **overrides)


def env(config: NavigationConfig | Mapping[str, Any] | None = None, **overrides: Any) -> AECEnv:
    """The same world as an AEC env, through PettingZoo's parallel-to-AEC conversion."""
    return parallel_to_aec(parallel_env(config, **overrides))


raw_env = parallel_env
