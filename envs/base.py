"""What every memsim world offers the runner, the agents and the viewer.

Every world family (`envs.crafting`, `envs.navigation`, `envs.manipulation`) ships a
PettingZoo `ParallelEnv` that also satisfies `MemsimWorld`. The runner (`sim/`) relies on
nothing else, so a new family plugs in by meeting this protocol plus a family entry in
`sim.families`.

Conventions every family follows:

- Agent ids are ``agent_0`` .. ``agent_{n-1}``; every agent has the same `Discrete` action
  space, named by `action_names`.
- ``step`` returns, per agent, an info dict with at least ``action`` (name), ``ok``
  (bool), ``reason`` (why it failed, "" if it did not), ``unlocked`` (achievements reached
  this step, list of str) and ``events`` (list of short strings).
- The team goal is ``config.team_goal``; it is reached when it appears in
  `team_achievements`. The episode terminates for everyone when it is reached (or, in
  memory tasks, failed for good) and truncates at ``config.max_steps``.
- ``render()`` with ``render_mode="rgb_array"`` draws the whole world (for the viewer);
  ``state()`` is the whole world as arrays (never given to agents).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

import gymnasium as gym
import numpy as np
from pydantic import BaseModel

INFO_KEYS: tuple[str, ...] = ("action", "ok", "reason", "unlocked", "events")
"""Keys every world's per-agent step info carries."""


@runtime_checkable
class MemsimWorld(Protocol):
    """The surface of a world the runner, perception adapters and the viewer use."""

    config: Any  # pydantic model with at least n_agents, max_steps and team_goal
    possible_agents: list[str]
    agents: list[str]
    action_names: tuple[str, ...]
    render_mode: str | None

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]: ...

    def step(self, actions: dict[str, int]) -> tuple[
        dict[str, Any], dict[str, float], dict[str, bool], dict[str, bool],
        dict[str, dict[str, Any]]
    ]: ...

    def text_observation(self, agent_id: str) -> str:
        """The agent's current observation in plain language (for LLM agents)."""
        ...

    def agent_positions(self) -> dict[str, tuple[int, int]]:
        """Each agent's grid position (the comm channel's range checks use it)."""
        ...

    def snapshot(self) -> bytes:
        """The whole episode state, for checkpoints."""
        ...

    def restore(self, blob: bytes) -> None: ...

    def state(self) -> dict[str, np.ndarray]: ...

    def render(self) -> np.ndarray | None: ...

    @property
    def achievements(self) -> dict[str, dict[str, int]]:
        """Per agent: achievement -> step first reached."""
        ...

    @property
    def team_achievements(self) -> dict[str, tuple[int, str]]:
        """Achievement -> (step first reached by anyone, who)."""
        ...


ConfigT = TypeVar("ConfigT", bound=BaseModel)


def read_rules_file(path: str | Path, error: type[Exception]) -> dict[str, Any]:
    """The parsed TOML of a world's rules file; a missing or malformed file raises
    `error` (the family's RulesError) naming the file."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise error(f"rules file {str(path)!r} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise error(f"rules file {str(path)!r} is not valid TOML: {exc}") from exc


def build_config(model: type[ConfigT], config: ConfigT | Mapping[str, Any] | None,
                 **overrides: Any) -> ConfigT:
    """A `model` config from a config, a mapping, or keyword overrides; overrides of an
    existing config are validated again (cross-field rules included)."""
    if isinstance(config, model):
        if not overrides:
            return config
        return model(**{**config.model_dump(), **overrides})
    return model(**{**dict(config or {}), **overrides})


class SingleAgentEnv(gym.Env):
    """One agent of a memsim world as a Gymnasium env. A family subclasses it naming its
    `ParallelEnv` class; config and keyword overrides go to that env unchanged."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 10}
    parallel_env: ClassVar[Callable[..., Any]]
    several_agents_hint: ClassVar[str] = "the family's parallel_env"

    def __init__(self, config: Any = None, render_mode: str | None = None,
                 **overrides: Any) -> None:
        env = type(self).parallel_env(config, render_mode=render_mode, **overrides)
        if env.config.n_agents != 1:
            raise ValueError(f"n_agents={env.config.n_agents}: {type(self).__name__} is "
                             f"single-agent; use {self.several_agents_hint} for several agents")
        self._env = env
        self._agent = env.possible_agents[0]
        self.observation_space = env.observation_space(self._agent)
        self.action_space = env.action_space(self._agent)
        self.render_mode = render_mode
        self.action_names: tuple[str, ...] = env.action_names

    @property
    def world(self) -> Any:
        """The engine of the wrapped world (for tests and tools, never for agents)."""
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
