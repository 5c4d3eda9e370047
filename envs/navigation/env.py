"""The navigation memory worlds as a PettingZoo `ParallelEnv` (and AEC through PettingZoo).

    from envs.navigation import parallel_env
    env = parallel_env(task="ballet", difficulty=2)
    observations, infos = env.reset(seed=0)
    observations, rewards, terminations, truncations, infos = env.step(
        {agent: env.action_space(agent).sample() for agent in env.agents})

Each agent observes only its local view, its position, the phase and (if it is shown the
cue) the cue (`observation.py`). The episode terminates for everyone on success or on
failure (a wrong choice or a time limit run out) and truncates at `max_steps`.
"""

from __future__ import annotations

import functools
import pickle
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils.conversions import parallel_to_aec

from envs.base import build_config
from envs.navigation.config import NavigationConfig
from envs.navigation.engine import ActionError, NavigationWorld
from envs.navigation.observation import describe, observation_space, observe
from envs.navigation.render import render_world


def make_config(
    config: NavigationConfig | Mapping[str, Any] | None, **overrides: Any
) -> NavigationConfig:
    """A `NavigationConfig` from a config, a mapping, or keyword overrides (validated again)."""
    return build_config(NavigationConfig, config, **overrides)


class NavigationParallelEnv(ParallelEnv):
    """N agents in one navigation memory task, acting simultaneously."""

    metadata: ClassVar[dict[str, Any]] = {
        "name": "memsim_navigation_v0",
        "render_modes": ["rgb_array"],
        "is_parallelizable": True,
        "render_fps": 5,
    }

    def __init__(
        self,
        config: NavigationConfig | Mapping[str, Any] | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        self.config = make_config(config, **overrides)
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode {render_mode!r} is not supported; allowed: "
                             f"{self.metadata['render_modes']} or None")
        self.render_mode = render_mode
        self.world = NavigationWorld(self.config)
        self.max_steps = self.config.max_steps or self.world.default_max_steps()
        self.possible_agents = [f"agent_{i}" for i in range(self.config.n_agents)]
        self.agent_index = {name: i for i, name in enumerate(self.possible_agents)}
        self.agents: list[str] = []
        self.action_names: tuple[str, ...] = self.world.action_names
        self._space = observation_space(self.world)
        self._seed_rng = np.random.default_rng()
        height, width = self.world.grid.terrain.shape
        self.state_space = spaces.Dict({
            "terrain": spaces.Box(0, 2, (height, width), np.uint8),
            "marks": spaces.Box(0, len(self.world.rules.marks), (height, width), np.uint8),
            "pits": spaces.MultiBinary((height, width)),
            "positions": spaces.Box(0, max(width, height) - 1, (self.config.n_agents, 2),
                                    np.int32),
            "step": spaces.Box(0, 1_000_000, (1,), np.int32),
        })

    def _check_agent(self, agent: str) -> int:
        if agent not in self.agent_index:
            raise KeyError(f"agent {agent!r} is unknown; allowed: {self.possible_agents}")
        return self.agent_index[agent]

    @functools.cache  # noqa: B019 - one space object per agent, as PettingZoo asks
    def observation_space(self, agent: str) -> spaces.Space:
        self._check_agent(agent)
        return self._space

    @functools.cache  # noqa: B019
    def action_space(self, agent: str) -> spaces.Discrete:
        self._check_agent(agent)
        return spaces.Discrete(len(self.action_names))

    # ---- episode --------------------------------------------------------------------

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """Start an episode. Same seed, same layout and same trajectory for the same actions."""
        if seed is not None:
            self._seed_rng = np.random.default_rng(seed)
            world_seed = int(seed)
        else:
            world_seed = int(self._seed_rng.integers(0, 2**31 - 1))
        self.world.reset(world_seed)
        self.agents = list(self.possible_agents)
        observations = {a: observe(self.world, self.agent_index[a]) for a in self.agents}
        return observations, {a: {"seed": world_seed} for a in self.agents}

    def _action(self, agent: str, action: Any) -> int:
        n_actions = len(self.action_names)
        try:
            value = int(action)
        except (TypeError, ValueError):
            raise ActionError(f"actions[{agent!r}]={action!r} is not an action index; allowed "
                              f"0..{n_actions - 1} ({', '.join(self.action_names)})") from None
        if not 0 <= value < n_actions or value != action:
            raise ActionError(f"actions[{agent!r}]={action!r} is out of range; allowed "
                              f"0..{n_actions - 1} ({', '.join(self.action_names)})")
        return value

    def step(
        self, actions: Mapping[str, int]
    ) -> tuple[dict[str, Any], dict[str, float], dict[str, bool], dict[str, bool], dict[str, dict]]:
        """Advance every live agent one step. A live agent with no action does noop."""
        if not self.agents:
            raise RuntimeError("step() called with no live agents; call reset() first")
        per_index: list[int | None] = [None] * len(self.possible_agents)
        for agent, action in actions.items():
            index = self._check_agent(agent)
            if agent not in self.agents:
                raise ActionError(f"actions[{agent!r}]: the episode is over for this agent; "
                                  f"live agents: {self.agents}")
            per_index[index] = self._action(agent, action)
        result = self.world.step(per_index)
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

    # ---- checkpoints ----------------------------------------------------------------

    def snapshot(self) -> bytes:
        """The whole episode state (world, live agents, seed rng), for checkpoints."""
        return pickle.dumps((self.world, list(self.agents), self._seed_rng))

    def restore(self, blob: bytes) -> None:
        """Continue from a `snapshot()` of an env with the same config."""
        world, agents, seed_rng = pickle.loads(blob)
        if world.config != self.config:
            raise ValueError("snapshot: it was taken from an env with a different config")
        self.world, self.agents, self._seed_rng = world, agents, seed_rng

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

    def close(self) -> None:
        pass

    @property
    def achievements(self) -> dict[str, dict[str, int]]:
        """Per agent: achievement -> step first reached."""
        return {b.name: dict(b.achievements) for b in self.world.agents}

    @property
    def team_achievements(self) -> dict[str, tuple[int, str]]:
        """Achievement -> (step first reached by anyone, who)."""
        return dict(self.world.team_achievements)


def parallel_env(
    config: NavigationConfig | Mapping[str, Any] | None = None, **overrides: Any
) -> NavigationParallelEnv:
    """A navigation task `ParallelEnv` (PettingZoo's naming convention)."""
    return NavigationParallelEnv(config, **overrides)


def env(config: NavigationConfig | Mapping[str, Any] | None = None, **overrides: Any) -> AECEnv:
    """The same world as an AEC env, through PettingZoo's parallel-to-AEC conversion."""
    return parallel_to_aec(parallel_env(config, **overrides))


raw_env = parallel_env
