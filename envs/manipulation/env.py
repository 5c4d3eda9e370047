"""The manipulation-memory worlds as a PettingZoo `ParallelEnv` (and AEC through PettingZoo).

    from memsim.envs.manipulation import parallel_env
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

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv
from pettingzoo.utils.conversions import parallel_to_aec

from memsim.envs.base import RENDER_MODES, WorldParallelEnv, build_config
from memsim.envs.manipulation.chance import chance_level
from memsim.envs.manipulation.config import ManipulationConfig
from memsim.envs.manipulation.engine import ActionError, ManipulationWorld
from memsim.envs.manipulation.observation import describe, observation_space, symbolic
from memsim.envs.manipulation.render import render_world


def make_config(
    config: ManipulationConfig | Mapping[str, Any] | None, **overrides: Any
) -> ManipulationConfig:
    """A `ManipulationConfig` from a config, a mapping, or keyword overrides (validated again)."""
    return build_config(ManipulationConfig, config, **overrides)


class ManipulationParallelEnv(WorldParallelEnv):
    """One tabletop memory task for 1 agent (or an observer and actors in relay)."""

    metadata: ClassVar[dict[str, Any]] = {
        "name": "memsim_manipulation_v0",
        "render_modes": list(RENDER_MODES),
        "is_parallelizable": True,
        "render_fps": 5,
    }
    action_error = ActionError

    def __init__(
        self,
        config: ManipulationConfig | Mapping[str, Any] | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        config = make_config(config, **overrides)
        world = ManipulationWorld(config)
        self._setup(config, render_mode, world, observation_space(world), config.episode_steps)
        w, h = self.world.width, self.world.height
        self.state_space = spaces.Dict({
            "colour": spaces.Box(0, len(self.world.rules.colours), (h, w), np.uint8),
            "shape": spaces.Box(0, len(self.world.rules.shapes), (h, w), np.uint8),
            "grippers": spaces.Box(0, max(w, h) - 1, (self.config.n_agents, 2), np.int32),
            "phase": spaces.Discrete(5),
        })

    # ---- episode ------------------------------------------------------------------------

    def _observe(self, index: int) -> dict[str, Any]:
        return symbolic(self.world, index)

    def _episode_over(self) -> bool:
        """Success or the first wrong selection ends it for everyone."""
        return self.world.outcome is not None

    def _info_extras(self) -> dict[str, Any]:
        return {"phase": self.world.phase(), "outcome": self.world.outcome}

    def _chance_level(self) -> float:
        return chance_level(self.config)

    def text_observation(self, agent_id: str) -> str:
        """The agent's current observation in plain language (for LLM agents)."""
        index = self._check_agent(agent_id)
        return describe(self.world, index, symbolic(self.world, index))

    @property
    def outcome(self) -> str | None:
        """"success", "failure" or None while undecided."""
        return self.world.outcome

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

    def _draw(self) -> np.ndarray:
        return render_world(self.world, self.config.tile_pixels)


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
