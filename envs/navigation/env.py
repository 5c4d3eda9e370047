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

from memsim.envs.base import WorldParallelEnv, build_config
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
        "render_modes": ["rgb_array"],
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
        self._setup(config, render_mode, world, observation_space(world))
        self.max_steps = self.config.max_steps or self.world.default_max_steps()
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

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """Start an episode. Same seed, same layout and same trajectory for the same actions."""
        world_seed = self._reset_seed(seed)
        self.world.reset(world_seed)
        self.agents = list(self.possible_agents)
        observations = {a: observe(self.world, self.agent_index[a]) for a in self.agents}
        return observations, {a: {"seed": world_seed} for a in self.agents}

    def step(
        self, actions: Mapping[str, int]
    ) -> tuple[dict[str, Any], dict[str, float], dict[str, bool], dict[str, bool], dict[str, dict]]:
        """Advance every live agent one step. A live agent with no action does noop."""
        result = self.world.step(self._actions_by_index(actions))
        done = self.world.outcome is not None
        truncate = self.world.step_count >= self.max_steps
        observations, rewards, terminations, truncations, infos = {}, {}, {}, {}, {}
        for agent in self.agents:
            i = self.agent_index[agent]
            observations[agent] = observe(self.world, i)
            rewards[agent] = result.rewards[i]
            terminations[agent] = done
            truncations[agent] = truncate and not done
            infos[agent] = {**self.world.describe_action(i), "unlocked": result.unlocked[i],
                            "outcome": self.world.outcome}
        self.agents = [a for a in self.agents if not (terminations[a] or truncations[a])]
        return observations, rewards, terminations, truncations, infos

    def text_observation(self, agent_id: str) -> str:
        """The agent's current observation in plain language (for LLM agents)."""
        return describe(self.world, self._check_agent(agent_id))

    def agent_positions(self) -> dict[str, tuple[int, int]]:
        """Each agent's grid position (the comm channel's range checks use it)."""
        return {b.name: (b.x, b.y) for b in self.world.agents}

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

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        return render_world(self.world, self.config.tile_pixels)

    @property
    def achievements(self) -> dict[str, dict[str, int]]:
        """Per agent: achievement -> step first reached."""
        return {b.name: dict(b.achievements) for b in self.world.agents}



def parallel_env(
    config: NavigationConfig | Mapping[str, Any] | None = None, **overrides: Any
) -> NavigationParallelEnv:
    """A navigation task `ParallelEnv` (PettingZoo's naming convention)."""
    return NavigationParallelEnv(config, **overrides)


def env(config: NavigationConfig | Mapping[str, Any] | None = None, **overrides: Any) -> AECEnv:
    """The same world as an AEC env, through PettingZoo's parallel-to-AEC conversion."""
    return parallel_to_aec(parallel_env(config, **overrides))


raw_env = parallel_env
