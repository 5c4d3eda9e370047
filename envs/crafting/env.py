"""Multi-Agent Crafter as a PettingZoo `ParallelEnv` (and AEC through PettingZoo's wrapper).

    from envs.crafting import parallel_env
    env = parallel_env(n_agents=2, zombies=False)
    observations, infos = env.reset(seed=0)
    observations, rewards, terminations, truncations, infos = env.step(
        {agent: env.action_space(agent).sample() for agent in env.agents})

Each agent observes only its own local view and body (`observation.py`). `state()` gives
the whole world for centralised critics. Infos carry each agent's action outcome: the
action name, whether it worked, why not, and the achievements it reached this step.
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
from envs.crafting.config import CraftingConfig
from envs.crafting.engine import ActionError, CraftingWorld
from envs.crafting.observation import Observer, describe, observation_space, text_space
from envs.crafting.render import render_grid


def make_config(
    config: CraftingConfig | Mapping[str, Any] | None, **overrides: Any
) -> CraftingConfig:
    """A `CraftingConfig` from a config, a mapping, or keyword overrides (validated again)."""
    return build_config(CraftingConfig, config, **overrides)


class CraftingParallelEnv(ParallelEnv):
    """N agents in one crafting world, acting simultaneously."""

    metadata: ClassVar[dict[str, Any]] = {
        "name": "memsim_crafter_v0",
        "render_modes": ["rgb_array"],
        "is_parallelizable": True,
        "render_fps": 10,
    }

    def __init__(
        self,
        config: CraftingConfig | Mapping[str, Any] | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        self.config = make_config(config, **overrides)
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(
                f"render_mode {render_mode!r} is not supported; allowed: "
                f"{self.metadata['render_modes']} or None"
            )
        self.render_mode = render_mode
        self.world = CraftingWorld(self.config)
        self.observer = Observer(self.world)
        self.possible_agents = [f"agent_{i}" for i in range(self.config.n_agents)]
        self.agent_index = {name: i for i, name in enumerate(self.possible_agents)}
        self.agents: list[str] = []
        self.action_names: tuple[str, ...] = self.world.action_names
        self._symbolic_space = observation_space(self.world)
        self._seed_rng = np.random.default_rng()
        self.state_space = self._make_state_space()

    # ---- spaces ---------------------------------------------------------------------

    def _check_agent(self, agent: str) -> int:
        if agent not in self.agent_index:
            raise KeyError(f"agent {agent!r} is unknown; allowed: {self.possible_agents}")
        return self.agent_index[agent]

    @functools.cache  # noqa: B019 - one space object per agent, as PettingZoo asks
    def observation_space(self, agent: str) -> spaces.Space:
        self._check_agent(agent)
        mode = self.config.obs_mode
        if mode == "text":
            return text_space()
        if mode == "rgb":
            p = self.config.tile_pixels
            shape = (self.config.view_height * p, self.config.view_width * p, 3)
            return spaces.Box(0, 255, shape, np.uint8)
        return self._symbolic_space

    @functools.cache  # noqa: B019
    def action_space(self, agent: str) -> spaces.Discrete:
        self._check_agent(agent)
        return spaces.Discrete(len(self.action_names))

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

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """Start an episode. Same seed, same world and same trajectory for the same actions."""
        if seed is not None:
            self._seed_rng = np.random.default_rng(seed)
            world_seed = int(seed)
        else:
            world_seed = int(self._seed_rng.integers(0, 2**31 - 1))
        self.world.reset(world_seed)
        self.agents = list(self.possible_agents)
        observations = {agent: self._observe(self.agent_index[agent]) for agent in self.agents}
        infos = {agent: {"seed": world_seed} for agent in self.agents}
        return observations, infos

    def _observe(self, index: int) -> Any:
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

    def step(
        self, actions: Mapping[str, int]
    ) -> tuple[dict[str, Any], dict[str, float], dict[str, bool], dict[str, bool], dict[str, dict]]:
        """Advance every live agent one step. A live agent with no action does noop."""
        if not self.agents:
            raise RuntimeError("step() called with no live agents; call reset() first")
        per_index: list[int | None] = [None] * len(self.possible_agents)
        n_actions = len(self.action_names)
        for agent, action in actions.items():
            index = self._check_agent(agent)
            if agent not in self.agents:
                raise ActionError(
                    f"actions[{agent!r}]: agent is dead or finished and cannot act; "
                    f"live agents: {self.agents}"
                )
            try:
                value = int(action)
            except (TypeError, ValueError):
                raise ActionError(
                    f"actions[{agent!r}]={action!r} is not an action index; "
                    f"allowed 0..{n_actions - 1} ({', '.join(self.action_names)})"
                ) from None
            if not 0 <= value < n_actions or value != action:
                raise ActionError(
                    f"actions[{agent!r}]={action!r} is out of range; allowed 0..{n_actions - 1}"
                )
            per_index[index] = value
        result = self.world.step(per_index)
        truncate = self.world.step_count >= self.config.max_steps
        observations, rewards, terminations, truncations, infos = {}, {}, {}, {}, {}
        for agent in self.agents:
            i = self.agent_index[agent]
            body = self.world.agents[i]
            # A dead agent's final observation is the view from where it fell.
            observations[agent] = self._observe(i)
            rewards[agent] = result.rewards[i]
            terminations[agent] = result.goal_reached or not body.alive
            truncations[agent] = truncate and not terminations[agent]
            infos[agent] = {
                "action": body.last_action,
                "ok": body.last_ok,
                "reason": body.last_reason,
                "unlocked": result.unlocked[i],
                "events": list(body.events),
            }
        self.agents = [a for a in self.agents if not (terminations[a] or truncations[a])]
        return observations, rewards, terminations, truncations, infos

    def text_observation(self, agent_id: str) -> str:
        """The agent's current observation in plain language (for LLM agents)."""
        return self.observer.text(self.agent_index[agent_id])

    def agent_positions(self) -> dict[str, tuple[int, int]]:
        """Each agent's grid position (the comm channel's range checks use it)."""
        return {name: (a.x, a.y) for name, a in zip(self.possible_agents, self.world.agents,
                                                     strict=True)}

    # ---- checkpoints ----------------------------------------------------------------

    def snapshot(self) -> bytes:
        """The whole episode state (world, rng, live agents), for checkpoints."""
        return pickle.dumps((self.world, list(self.agents), self._seed_rng))

    def restore(self, blob: bytes) -> None:
        """Continue from a `snapshot()` of an env with the same config."""
        world, agents, seed_rng = pickle.loads(blob)
        if world.config != self.config:
            raise ValueError("snapshot: it was taken from an env with a different config")
        self.world, self.agents, self._seed_rng = world, agents, seed_rng
        self.observer = Observer(world)

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

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        state = self.state()
        return render_grid(
            self.world.rules,
            state["materials"],
            state["objects"],
            state["agents"],
            self.config.tile_pixels,
        )

    def close(self) -> None:
        pass

    @property
    def achievements(self) -> dict[str, dict[str, int]]:
        """Per agent: achievement -> step first reached."""
        return {a.name: dict(a.achievements) for a in self.world.agents}

    @property
    def team_achievements(self) -> dict[str, tuple[int, str]]:
        """Achievement -> (step first reached by anyone, who)."""
        return dict(self.world.team_achievements)


def parallel_env(
    config: CraftingConfig | Mapping[str, Any] | None = None, **overrides: Any
) -> CraftingParallelEnv:
    """A Multi-Agent Crafter `ParallelEnv` (PettingZoo's naming convention)."""
    return CraftingParallelEnv(config, **overrides)


def env(config: CraftingConfig | Mapping[str, Any] | None = None, **overrides: Any) -> AECEnv:
    """The same world as an AEC env, through PettingZoo's parallel-to-AEC conversion."""
    return parallel_to_aec(parallel_env(config, **overrides))


raw_env = parallel_env
