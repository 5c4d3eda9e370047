"""Multi-Agent Crafter as a PettingZoo `ParallelEnv` (and AEC through PettingZoo's wrapper).

    from memsim.envs.crafting import parallel_env
    env = parallel_env(n_agents=2, zombies=False)
    observations, infos = env.reset(seed=0)
    observations, rewards, terminations, truncations, infos = env.step(
        {agent: env.action_space(agent).sample() for agent in env.agents})

Each agent observes only its own local view and body (`observation.py`). `state()` gives
the whole world for centralised critics. Infos carry each agent's action outcome: the
action name, whether it worked, why not, and the achievements it reached this step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv
from pettingzoo.utils.conversions import parallel_to_aec

from memsim.envs.base import RENDER_MODES, WorldParallelEnv, build_config
from memsim.envs.crafting.config import CraftingConfig
from memsim.envs.crafting.engine import ActionError, CraftingWorld
from memsim.envs.crafting.observation import Observer, describe, observation_space, text_space
from memsim.envs.crafting.render import render_grid


def make_config(
    config: CraftingConfig | Mapping[str, Any] | None, **overrides: Any
) -> CraftingConfig:
    """A `CraftingConfig` from a config, a mapping, or keyword overrides (validated again)."""
    return build_config(CraftingConfig, config, **overrides)


class CraftingParallelEnv(WorldParallelEnv):
    """N agents in one crafting world, acting simultaneously."""

    metadata: ClassVar[dict[str, Any]] = {
        "name": "memsim_crafter_v0",
        "render_modes": list(RENDER_MODES),
        "is_parallelizable": True,
        "render_fps": 10,
    }
    action_error = ActionError

    def __init__(
        self,
        config: CraftingConfig | Mapping[str, Any] | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        config = make_config(config, **overrides)
        world = CraftingWorld(config)
        self._setup(config, render_mode, world, self._mode_space(config, world),
                    config.max_steps)
        self.observer = Observer(self.world)
        self.state_space = self._make_state_space()

    # ---- spaces ---------------------------------------------------------------------

    @staticmethod
    def _mode_space(config: CraftingConfig, world: CraftingWorld) -> spaces.Space:
        """The observation space of `config.obs_mode` (the same for every agent)."""
        if config.obs_mode == "text":
            return text_space()
        if config.obs_mode == "rgb":
            p = config.tile_pixels
            return spaces.Box(0, 255, (config.view_height * p, config.view_width * p, 3),
                              np.uint8)
        return observation_space(world)

    def _make_state_space(self) -> spaces.Dict:
        w, h, n = self.config.width, self.config.height, self.config.n_agents
        rules = self.world.rules
        top = max(rules.item_max(i) for i in rules.items)
        return spaces.Dict(
            {
                "materials": spaces.Box(0, len(rules.materials), (h, w), np.uint8),
                "objects": spaces.Box(0, len(rules.objects), (h, w), np.uint8),
                "agents": spaces.Box(0, 255, (h, w), np.uint8),
                "inventory": spaces.Box(0, top, (n, len(rules.items)), np.uint8),
                "positions": spaces.Box(0, max(w, h) - 1, (n, 2), np.int32),
                "alive": spaces.MultiBinary(n),
                "daylight": spaces.Box(0.0, 1.0, (1,), np.float32),
            }
        )

    # ---- episode --------------------------------------------------------------------

    def _observe(self, index: int) -> Any:
        """Per `config.obs_mode`: the symbolic dict, its text, or its pixels."""
        mode = self.config.obs_mode
        if mode == "symbolic":
            return self.observer.symbolic(index)
        obs = self.observer.symbolic(index)
        if mode == "text":
            return describe(self.world, index, obs)
        return render_grid(
            self.world.rules,
            obs["materials"],
            obs["objects"],
            obs["agents"],
            self.config.tile_pixels,
            float(obs["daylight"][0]),
        )

    @property
    def roles(self) -> dict[str, str | None]:
        """Each agent's role in this world (agent id -> role name, None without roles)."""
        return self.world.roles

    def text_observation(self, agent_id: str) -> str:
        """The agent's current observation in plain language (for LLM agents)."""
        return self.observer.text(self._check_agent(agent_id))

    # ---- checkpoints ----------------------------------------------------------------

    def restore(self, blob: bytes) -> None:
        """Continue from a `snapshot()` of an env with the same config."""
        super().restore(blob)
        self.observer = Observer(self.world)

    # ---- global views ---------------------------------------------------------------

    def state(self) -> dict[str, np.ndarray]:
        """The full world, for centralised critics and the viewer (never given to agents)."""
        world = self.world
        p = world.pad
        return {
            "materials": world.materials.copy(),
            "objects": world.kind[p:-p, p:-p].copy(),
            "agents": world.who[p:-p, p:-p].copy(),
            "inventory": np.array([a.inventory for a in world.agents], dtype=np.uint8),
            "positions": np.array([(a.x, a.y) for a in world.agents], dtype=np.int32),
            "alive": np.array([a.alive for a in world.agents], dtype=np.int8),
            "daylight": np.array((world.daylight(),), dtype=np.float32),
        }

    def _draw(self) -> np.ndarray:
        state = self.state()
        return render_grid(
            self.world.rules,
            state["materials"],
            state["objects"],
            state["agents"],
            self.config.tile_pixels,
        )


def parallel_env(
    config: CraftingConfig | Mapping[str, Any] | None = None, **overrides: Any
) -> CraftingParallelEnv:
    """A Multi-Agent Crafter `ParallelEnv` (PettingZoo's naming convention)."""
    return CraftingParallelEnv(config, **overrides)


def env(config: CraftingConfig | Mapping[str, Any] | None = None, **overrides: Any) -> AECEnv:
    """The same world as an AEC env, through PettingZoo's parallel-to-AEC conversion."""
    return parallel_to_aec(parallel_env(config, **overrides))


raw_env = parallel_env
