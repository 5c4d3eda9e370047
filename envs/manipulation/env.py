"""The manipulation-memory worlds as a PettingZoo `ParallelEnv` (and AEC through PettingZoo).

    from envs.manipulation import parallel_env
    env = parallel_env(task="shell_game", difficulty=3)
    observations, infos = env.reset(seed=0)
    observations, rewards, terminations, truncations, infos = env.step({"agent_0": 0})

Relay variants (`relay=True`, `n_agents >= 2`): only agent_0 (the observer) sees the cue;
the others (the actors) see the table only from their acting phase on and alone may
select. In take_it_back the observer makes the first move (item onto the mark) and an
actor must put it back where it began. Every episode ends for everyone on success, on the
first wrong selection, or at `config.episode_steps` (truncation).
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
from envs.manipulation.config import ManipulationConfig
from envs.manipulation.engine import ActionError, ManipulationWorld
from envs.manipulation.observation import describe, observation_space, symbolic
from envs.manipulation.render import render_world


def make_config(
    config: ManipulationConfig | Mapping[str, Any] | None, **overrides: Any
) -> ManipulationConfig:
    """A `ManipulationConfig` from a config, a mapping, or keyword overrides (validated again)."""
    return build_config(ManipulationConfig, config, **overrides)


class ManipulationParallelEnv(ParallelEnv):
    """One tabletop memory task for 1 agent (or an observer and actors in relay)."""

    metadata: ClassVar[dict[str, Any]] = {
        "name": "memsim_manipulation_v0",
        "render_modes": ["rgb_array"],
        "is_parallelizable": True,
        "render_fps": 5,
    }

    def __init__(
        self,
        config: ManipulationConfig | Mapping[str, Any] | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        self.config = make_config(config, **overrides)
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode {render_mode!r} is not supported; allowed: "
                             f"{self.metadata['render_modes']} or None")
        self.render_mode = render_mode
        self.world = ManipulationWorld(self.config)
        self.possible_agents = [f"agent_{i}" for i in range(self.config.n_agents)]
        self.agent_index = {name: i for i, name in enumerate(self.possible_agents)}
        self.agents: list[str] = []
        self.action_names: tuple[str, ...] = self.world.action_names
        self._space = observation_space(self.world)
        self._seed_rng = np.random.default_rng()
        w, h = self.world.width, self.world.height
        self.state_space = spaces.Dict({
            "colour": spaces.Box(0, len(self.world.rules.colours), (h, w), np.uint8),
            "shape": spaces.Box(0, len(self.world.rules.shapes), (h, w), np.uint8),
            "grippers": spaces.Box(0, max(w, h) - 1, (self.config.n_agents, 2), np.int32),
            "phase": spaces.Discrete(5),
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

    # ---- episode ------------------------------------------------------------------------

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """Start an episode. Same seed, same layout, cue and motions."""
        if seed is not None:
            self._seed_rng = np.random.default_rng(seed)
            world_seed = int(seed)
        else:
            world_seed = int(self._seed_rng.integers(0, 2**31 - 1))
        self.world.reset(world_seed)
        self.agents = list(self.possible_agents)
        observations = {a: symbolic(self.world, self.agent_index[a]) for a in self.agents}
        infos = {a: {"seed": world_seed, "phase": self.world.phase()} for a in self.agents}
        return observations, infos

    def step(
        self, actions: Mapping[str, int]
    ) -> tuple[dict[str, Any], dict[str, float], dict[str, bool], dict[str, bool], dict[str, dict]]:
        """Advance one step. A live agent with no action does noop."""
        if not self.agents:
            raise RuntimeError("step() called with no live agents; call reset() first")
        per_index: list[int | None] = [None] * len(self.possible_agents)
        n_actions = len(self.action_names)
        for agent, action in actions.items():
            index = self._check_agent(agent)
            if agent not in self.agents:
                raise ActionError(f"actions[{agent!r}]: the episode is over for this agent; "
                                  f"live agents: {self.agents}")
            try:
                value = int(action)
            except (TypeError, ValueError):
                raise ActionError(f"actions[{agent!r}]={action!r} is not an action index; "
                                  f"allowed 0..{n_actions - 1} "
                                  f"({', '.join(self.action_names)})") from None
            if not 0 <= value < n_actions or value != action:
                raise ActionError(f"actions[{agent!r}]={action!r} is out of range; allowed "
                                  f"0..{n_actions - 1} ({', '.join(self.action_names)})")
            per_index[index] = value
        result = self.world.step(per_index)
        truncate = self.world.step_count >= self.config.episode_steps
        observations, rewards, terminations, truncations, infos = {}, {}, {}, {}, {}
        for agent in self.agents:
            i = self.agent_index[agent]
            gripper = self.world.grippers[i]
            observations[agent] = symbolic(self.world, i)
            rewards[agent] = result.rewards[i]
            terminations[agent] = result.done
            truncations[agent] = truncate and not result.done
            infos[agent] = {
                "action": gripper.last_action,
                "ok": gripper.last_ok,
                "reason": gripper.last_reason,
                "unlocked": result.unlocked[i],
                "events": list(gripper.events),
                "phase": self.world.phase(),
                "outcome": self.world.outcome,
            }
        self.agents = [a for a in self.agents if not (terminations[a] or truncations[a])]
        return observations, rewards, terminations, truncations, infos

    def text_observation(self, agent_id: str) -> str:
        """The agent's current observation in plain language (for LLM agents)."""
        index = self._check_agent(agent_id)
        return describe(self.world, index, symbolic(self.world, index))

    def agent_positions(self) -> dict[str, tuple[int, int]]:
        """Each gripper's table cell (the comm channel's range checks use it)."""
        return {name: (g.x, g.y) for name, g in zip(self.possible_agents, self.world.grippers,
                                                     strict=True)}

    @property
    def outcome(self) -> str | None:
        """"success", "failure" or None while undecided."""
        return self.world.outcome

    # ---- checkpoints --------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """The whole episode state (world, live agents, seed stream), for checkpoints."""
        return pickle.dumps((self.world, list(self.agents), self._seed_rng))

    def restore(self, blob: bytes) -> None:
        """Continue from a `snapshot()` of an env with the same config."""
        world, agents, seed_rng = pickle.loads(blob)
        if world.config != self.config:
            raise ValueError("snapshot: it was taken from an env with a different config")
        self.world, self.agents, self._seed_rng = world, agents, seed_rng

    # ---- global views -------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """The whole world, hidden items included (for critics and the viewer, never agents)."""
        world = self.world
        colour = np.zeros((world.height, world.width), np.uint8)
        shape = np.zeros_like(colour)
        for item in sorted(world.items, key=lambda i: i.role == "ball"):
            if item.held_by is None and world.on_table(item.x, item.y):
                colour[item.y, item.x], shape[item.y, item.x] = item.colour, item.shape
        return {
            "colour": colour,
            "shape": shape,
            "grippers": np.array([(g.x, g.y) for g in world.grippers], np.int32),
            "phase": world.phase_index(),
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
        return {name: dict(g.achievements)
                for name, g in zip(self.possible_agents, self.world.grippers, strict=True)}

    @property
    def team_achievements(self) -> dict[str, tuple[int, str]]:
        """Achievement -> (step first reached by anyone, who)."""
        return dict(self.world.team_achievements)


def parallel_env(
    config: ManipulationConfig | Mapping[str, Any] | None = None, **overrides: Any
) -> ManipulationParallelEnv:
    """A manipulation-memory `ParallelEnv` (PettingZoo's naming convention)."""
    return ManipulationParallelEnv(config, **overrides)


def env(config: ManipulationConfig | Mapping[str, Any] | None = None, **overrides: Any
        ) -> AECEnv:
    """The same world as an AEC env, through PettingZoo's parallel-to-AEC conversion."""
    return parallel_to_aec(parallel_env(config, **overrides))


raw_env = parallel_env
