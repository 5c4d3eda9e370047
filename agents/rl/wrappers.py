"""Training adapters: the crafting envs with flat float32 observations for RL libraries.

- `FlatObservation`: a Gymnasium `ObservationWrapper` over the single-agent crafting env.
- `MemoryFeatureObservation`: the same, plus memory features from a real `AgentMemory`
  that perception feeds every step (so a policy can learn to use the knowledge graph).
- `FlatTeamEnv`: the multi-agent `ParallelEnv` with flat observations per agent (and
  optionally memory features), keeping agents that dropped out (died, or finished) as
  zero observations with zero reward until the whole episode ends - the "black death"
  convention SuperSuit's vector env needs, done here because SuperSuit's own
  `black_death_v3` never ends an episode whose agents terminate rather than terminate AND
  truncate (it tests `terminations & truncations`), and then steps an env with no agents.

These are environments (they forward `step` to the world); policies never step anything.
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from memsim.agents.rl.encoding import (
    MemoryFeatureTracker,
    ObservationEncoder,
    memory_features_space,
)
from memsim.agents.rl.settings import (
    ENCODING_PARTS,
    EncodingSettings,
    MemoryFeatureSettings,
    default_settings,
)
from memsim.envs.crafting import CraftingParallelEnv

# Distinct memory namespaces per wrapper instance (several envs train side by side).
_instance_ids = itertools.count()


def encoder_for(world: Any, parts: tuple[str, ...] = ENCODING_PARTS) -> ObservationEncoder:
    """The encoder matching a crafting world's rules and view size."""
    config = world.config
    return ObservationEncoder(world.rules, config.view_width, config.view_height, parts)


def joint_space(encoder: ObservationEncoder, n_kinds: int) -> spaces.Box:
    """The flat observation space: the encoding, then memory features when `n_kinds` > 0."""
    if n_kinds == 0:
        return encoder.space
    memory = memory_features_space(n_kinds)
    low = np.concatenate([encoder.space.low, memory.low])
    high = np.concatenate([encoder.space.high, memory.high])
    return spaces.Box(low, high, dtype=np.float32)


def _world(env: gym.Env) -> Any:
    """The crafting world under a Gymnasium env (which must give symbolic observations)."""
    world = getattr(env.unwrapped, "world", None)
    mode = getattr(getattr(world, "config", None), "obs_mode", None)
    if mode != "symbolic":
        raise TypeError(
            "the env must be the crafting env with symbolic observations "
            f"(gymnasium.make('memsim/Crafter-v0'), obs_mode='symbolic'); got obs_mode={mode!r}"
        )
    return world


class FlatObservation(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """The single-agent crafting env with `ObservationEncoder` vectors as observations."""

    def __init__(self, env: gym.Env, encoding: EncodingSettings | None = None) -> None:
        # Recorded so gymnasium can rebuild the wrapped env from its spec.
        gym.utils.RecordConstructorArgs.__init__(self, encoding=encoding)
        gym.ObservationWrapper.__init__(self, env)
        parts = (encoding or default_settings().encoding).parts
        self.encoder = encoder_for(_world(env), parts)
        self.observation_space = self.encoder.space

    def observation(self, observation: dict[str, Any]) -> np.ndarray:
        return self.encoder.encode(observation)


class MemoryFeatureObservation(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """The single-agent crafting env with [encoding, memory features] observations.

    Keeps one real `AgentMemory` (on `settings.backend`, a fresh namespace per wrapper,
    cleared at every reset) fed by `CraftingPerception` with each observation and the
    last action's outcome, and appends `memory_features` of its recall of the nearest
    place of each kind - including places seen earlier and now out of view.
    """

    def __init__(
        self,
        env: gym.Env,
        settings: MemoryFeatureSettings | None = None,
        encoding: EncodingSettings | None = None,
        store_config: dict[str, Any] | None = None,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self, settings=settings, encoding=encoding, store_config=store_config)
        gym.Wrapper.__init__(self, env)
        world = _world(env)
        self.settings = settings or default_settings().memory_features
        self.encoder = encoder_for(world, (encoding or default_settings().encoding).parts)
        self.tracker = MemoryFeatureTracker(
            "agent_0", world.rules, self.settings,
            namespace=f"rl-train/{next(_instance_ids)}/agent_0", store_config=store_config)
        self.observation_space = joint_space(self.encoder, len(self.tracker.kinds))

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        features = self.tracker.reset(obs, info)
        return np.concatenate([self.encoder.encode(obs), features]), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        features = self.tracker.observe(obs, info)
        return np.concatenate([self.encoder.encode(obs), features]), reward, terminated, \
            truncated, info

    def close(self) -> None:
        self.tracker.close()
        super().close()


class TrackedParallelEnv(ParallelEnv):
    """A `ParallelEnv` over `self.env` with one memory tracker per agent in
    `self.trackers`: state and render are the world's; closing closes the trackers too."""

    env: Any
    trackers: dict[str, Any]

    def state(self) -> Any:
        return self.env.state()

    def render(self) -> np.ndarray | None:
        return self.env.render()

    def close(self) -> None:
        for tracker in self.trackers.values():
            tracker.close()
        self.env.close()


class FlatTeamEnv(TrackedParallelEnv):
    """Multi-Agent Crafter with flat per-agent observations and a fixed agent set.

    Every possible agent is in `agents` until the episode ends for all (team goal, step
    limit, or the last agent out). An agent that died or finished reports its real
    termination once, then gets zero observations, reward 0 and no termination while its
    teammates play on; its actions are ignored. When the episode ends, those padded agents
    report truncation. With `memory`, each agent keeps its own `AgentMemory` (no sharing:
    there is no comm channel in training) and its features are appended.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "memsim_crafter_flat_v0",
        "render_modes": ["rgb_array"],
        "is_parallelizable": True,
        "render_fps": 10,
    }

    def __init__(
        self,
        env: CraftingParallelEnv,
        encoding: EncodingSettings | None = None,
        memory: MemoryFeatureSettings | None = None,
        store_config: dict[str, Any] | None = None,
    ) -> None:
        if env.config.obs_mode != "symbolic":
            raise ValueError(
                f"obs_mode={env.config.obs_mode!r}: FlatTeamEnv needs obs_mode='symbolic'"
            )
        self.env = env
        self.possible_agents = list(env.possible_agents)
        self.agents: list[str] = []
        self.render_mode = env.render_mode
        self.encoder = encoder_for(env.world, (encoding or default_settings().encoding).parts)
        instance = next(_instance_ids)
        self.trackers = {
            agent: MemoryFeatureTracker(agent, env.world.rules, memory,
                                        namespace=f"rl-train/{instance}/{agent}",
                                        store_config=store_config)
            for agent in self.possible_agents
        } if memory is not None else {}
        n_kinds = len(memory.kinds) if memory is not None else 0
        self._space = joint_space(self.encoder, n_kinds)
        self._zeros = np.zeros(self._space.shape, np.float32)

    def observation_space(self, agent: str) -> spaces.Box:
        self.env.observation_space(agent)  # raises for an unknown agent
        return self._space

    def action_space(self, agent: str) -> spaces.Discrete:
        return self.env.action_space(agent)

    def _vector(self, agent: str, obs: dict[str, Any], info: dict[str, Any],
                first: bool) -> np.ndarray:
        flat = self.encoder.encode(obs)
        tracker = self.trackers.get(agent)
        if tracker is None:
            return flat
        features = tracker.reset(obs, info) if first else tracker.observe(obs, info)
        return np.concatenate([flat, features])

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        observations, infos = self.env.reset(seed=seed, options=options)
        self.agents = list(self.possible_agents)
        vectors = {a: self._vector(a, observations[a], infos[a], True) for a in self.agents}
        return vectors, infos

    def step(
        self, actions: dict[str, Any]
    ) -> tuple[dict[str, np.ndarray], dict[str, float], dict[str, bool], dict[str, bool],
               dict[str, dict[str, Any]]]:
        """Step the live agents; pad the ones that are out (see the class docstring)."""
        if not self.agents:
            raise RuntimeError("step() after the episode ended; call reset() first")
        live = [a for a in self.env.agents if a in actions]
        missing = sorted(set(self.env.agents) - set(live))
        if missing:
            raise ValueError(f"actions: no action for live agents {missing}")
        observations, rewards, terminations, truncations, infos = self.env.step(
            {a: int(actions[a]) for a in live})
        done = not self.env.agents
        out: tuple[dict, dict, dict, dict, dict] = ({}, {}, {}, {}, {})
        vectors, rews, terms, truncs, extra = out
        for agent in self.agents:
            if agent in observations:
                vectors[agent] = self._vector(agent, observations[agent], infos[agent], False)
                rews[agent] = float(rewards[agent])
                terms[agent], truncs[agent] = terminations[agent], truncations[agent]
                extra[agent] = infos[agent]
            else:
                vectors[agent] = self._zeros.copy()
                rews[agent] = 0.0
                terms[agent], truncs[agent] = False, done
                extra[agent] = {}
        if done:
            self.agents = []
        return vectors, rews, terms, truncs, extra

