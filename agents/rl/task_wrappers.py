"""Graph-memory features for the memory tasks, as wrappers any RL library can use unmodified.

- `TaskMemoryObservation`: a Gymnasium wrapper over a navigation or manipulation env
  (``gymnasium.make("memsim/Ballet-v0")``): its Dict observation plus a ``memory`` Box of
  `agents.rl.task_features` features, from a real `AgentMemory` the family's perception
  writes every observation to (cleared at every reset). SB3's ``MultiInputPolicy`` takes
  it as it is.
- `TaskMemoryParallelEnv`: the same for a PettingZoo `ParallelEnv` (one memory per agent).
- `ScaledObservation`: every bounded Box of a Dict observation divided by its largest
  absolute bound (a fixed scale, unlike SB3's running `VecNormalize`): the worlds give
  integer ids, cells and step counts (up to 60 and more) beside memory features in
  [-1, 1], and PPO learned nothing from the features next to them unscaled.
  `ScaledParallelEnv` is its PettingZoo twin.

These are environments (they forward `step` to the world); a memoryless baseline trains on
the unwrapped env, whose observation is the same without ``memory``. For SuperSuit or any
library that wants one `Box`, flatten as for every world:
``envs.flat.FlatObservations(TaskMemoryParallelEnv(parallel_env(...)))`` (Gymnasium:
``gymnasium.wrappers.FlattenObservation(TaskMemoryObservation(env))``).
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv
from pettingzoo.utils.wrappers import BaseParallelWrapper

from memsim.agents.rl.settings import TaskFeatureSettings, default_settings
from memsim.agents.rl.task_features import TaskFeatureTracker, task_features_space
from memsim.agents.rl.wrappers import TrackedParallelEnv

MEMORY_KEY = "memory"
_instance_ids = itertools.count()


def _with_memory(space: spaces.Space, size: int) -> spaces.Dict:
    if not isinstance(space, spaces.Dict) or MEMORY_KEY in space.spaces:
        raise TypeError(f"the env's observation space must be a Dict without {MEMORY_KEY!r} "
                        f"(a navigation or manipulation env), got {space}")
    return spaces.Dict({**space.spaces, MEMORY_KEY: task_features_space(size)})


def _config(env: Any) -> Any:
    config = getattr(env, "config", None)
    if config is None:
        raise TypeError(f"{type(env).__name__} has no world config: wrap a navigation or "
                        "manipulation env")
    return config


class TaskMemoryObservation(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """A single-agent memory-task env whose observation also carries memory features."""

    def __init__(self, env: gym.Env, settings: TaskFeatureSettings | None = None) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, settings=settings)
        gym.Wrapper.__init__(self, env)
        inner = env.unwrapped
        config = _config(getattr(inner, "_env", inner))
        self.settings = settings or default_settings().task_features
        self.tracker = TaskFeatureTracker("agent_0", config, self.settings,
                                          namespace=f"rl-task/{next(_instance_ids)}/agent_0")
        self.observation_space = _with_memory(env.observation_space, self.tracker.size)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, Any], dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        return {**obs, MEMORY_KEY: self.tracker.reset(obs, info)}, info

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return ({**obs, MEMORY_KEY: self.tracker.observe(obs, info)}, reward, terminated,
                truncated, info)

    def close(self) -> None:
        self.tracker.close()
        super().close()


def scaled_space(space: spaces.Space) -> tuple[spaces.Dict, dict[str, float]]:
    """`space` with each bounded Box divided by its largest absolute bound (float32), and
    the divisor of each scaled key. Raises TypeError for a non-Dict space."""
    if not isinstance(space, spaces.Dict):
        raise TypeError(f"scaling needs a Dict observation space, got {space}")
    divisors: dict[str, float] = {}
    scaled: dict[str, spaces.Space] = {}
    for key, sub in space.spaces.items():
        if isinstance(sub, spaces.Box) and sub.is_bounded():
            bound = float(max(np.abs(sub.low).max(), np.abs(sub.high).max(), 1.0))
            divisors[key] = bound
            scaled[key] = spaces.Box((sub.low / bound).astype(np.float32),
                                     (sub.high / bound).astype(np.float32), dtype=np.float32)
        else:
            scaled[key] = sub
    return spaces.Dict(scaled), divisors


def _scaled(observation: dict[str, Any], divisors: dict[str, float]) -> dict[str, Any]:
    return {key: (np.asarray(value, np.float32) / divisors[key] if key in divisors else value)
            for key, value in observation.items()}


class ScaledObservation(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """A Dict-observation env whose bounded Boxes are float32 in [-1, 1]: each divided by
    its largest absolute bound (Discrete and unbounded entries pass unchanged)."""

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.ObservationWrapper.__init__(self, env)
        self.observation_space, self.divisors = scaled_space(env.observation_space)

    def observation(self, observation: dict[str, Any]) -> dict[str, Any]:
        return _scaled(observation, self.divisors)


class ScaledParallelEnv(BaseParallelWrapper):
    """`ScaledObservation` for a PettingZoo `ParallelEnv` with Dict observations (each
    agent's space scaled on its own)."""

    def __init__(self, env: ParallelEnv) -> None:
        super().__init__(env)
        self._scaled = {agent: scaled_space(env.observation_space(agent))
                        for agent in env.possible_agents}

    def observation_space(self, agent: str) -> spaces.Dict:
        if agent not in self._scaled:
            raise KeyError(f"agent {agent!r} is unknown; allowed: {list(self._scaled)}")
        return self._scaled[agent][0]

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        observations, infos = self.env.reset(seed=seed, options=options)
        return {a: _scaled(o, self._scaled[a][1]) for a, o in observations.items()}, infos

    def step(self, actions: dict[str, Any]) -> tuple[dict[str, Any], dict[str, float],
                                                      dict[str, bool], dict[str, bool],
                                                      dict[str, dict[str, Any]]]:
        observations, rewards, terminations, truncations, infos = self.env.step(actions)
        return ({a: _scaled(o, self._scaled[a][1]) for a, o in observations.items()}, rewards,
                terminations, truncations, infos)


class TaskMemoryParallelEnv(TrackedParallelEnv):
    """A navigation or manipulation `ParallelEnv` whose observations also carry memory
    features, one `AgentMemory` per agent (no sharing: messages are the runner's)."""

    metadata: ClassVar[dict[str, Any]] = {"name": "memsim_task_memory_v0",
                                          "render_modes": ["rgb_array"],
                                          "is_parallelizable": True}

    def __init__(self, env: ParallelEnv, settings: TaskFeatureSettings | None = None) -> None:
        self.env = env
        config = _config(env)
        self.settings = settings or default_settings().task_features
        self.possible_agents = list(env.possible_agents)
        self.agents: list[str] = []
        self.render_mode = getattr(env, "render_mode", None)
        instance = next(_instance_ids)
        self.trackers = {agent: TaskFeatureTracker(agent, config, self.settings,
                                                   namespace=f"rl-task/{instance}/{agent}")
                         for agent in self.possible_agents}
        size = next(iter(self.trackers.values())).size
        self._spaces = {agent: _with_memory(env.observation_space(agent), size)
                        for agent in self.possible_agents}

    def observation_space(self, agent: str) -> spaces.Dict:
        if agent not in self._spaces:
            raise KeyError(f"agent {agent!r} is unknown; allowed: {self.possible_agents}")
        return self._spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.env.action_space(agent)

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        observations, infos = self.env.reset(seed=seed, options=options)
        self.agents = list(self.env.agents)
        return {a: {**o, MEMORY_KEY: self.trackers[a].reset(o, infos.get(a))}
                for a, o in observations.items()}, infos

    def step(self, actions: dict[str, Any]) -> tuple[dict[str, Any], dict[str, float],
                                                      dict[str, bool], dict[str, bool],
                                                      dict[str, dict[str, Any]]]:
        observations, rewards, terminations, truncations, infos = self.env.step(actions)
        self.agents = list(self.env.agents)
        out = {a: {**o, MEMORY_KEY: self.trackers[a].observe(o, infos.get(a))}
               for a, o in observations.items()}
        return out, rewards, terminations, truncations, infos

    @property
    def unwrapped(self) -> Any:
        return self.env.unwrapped

    @property
    def chance_level(self) -> float | None:
        """The wrapped task's chance level (memory features do not change the task)."""
        return self.env.chance_level

    def __getattr__(self, name: str) -> Any:
        # Only reached for what this wrapper does not define: the world's own surface
        # (`world`, `action_names`, `config` ...), as `envs.flat.FlatObservations` does.
        if name.startswith("_") or name == "env":
            raise AttributeError(name)
        return getattr(self.env, name)
