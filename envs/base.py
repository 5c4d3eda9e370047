"""What every memsim world offers the runner, the agents and the viewer.

Every world family (`envs.crafting`, `envs.navigation`, `envs.manipulation`) ships a
PettingZoo `ParallelEnv` that also satisfies `MemsimWorld`. The runner (`sim/`) relies on
nothing else, so a new family plugs in by meeting this protocol plus a family entry in
`sim.families`.

Conventions every family follows (`WorldParallelEnv`, the template the families' envs
subclass, implements them; a family supplies its engine and a few hooks):

- Agent ids are ``agent_0`` .. ``agent_{n-1}``; every agent has the same `Discrete` action
  space, named by `action_names`.
- ``step`` returns, per agent, an info dict with at least ``action`` (name), ``ok``
  (bool), ``reason`` (why it failed, "" if it did not), ``unlocked`` (achievements reached
  this step, list of str) and ``events`` (list of short strings).
- The team goal is ``config.team_goal``; it is reached when it appears in
  `team_achievements`. The episode terminates for everyone when it is reached (or, in
  memory tasks, failed for good) and truncates at ``config.max_steps`` (or, where that
  is None, the task's own length).
- ``render()`` with ``render_mode="rgb_array"`` draws the whole world (for the viewer);
  with ``render_mode="human"`` it shows that drawing in a window (pygame: the
  ``memsim[viz]`` extra) after every reset and step; ``state()`` is the whole world as
  arrays (never given to agents).
- The step limit is the config's ``max_steps``; the constructors also take PettingZoo's
  name for it, ``max_cycles``.
- For RL libraries that need one flat `Box` (SuperSuit's wrappers, SB3),
  `envs.flat.FlatObservations` flattens any family's observations.
"""

from __future__ import annotations

import functools
import pickle
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv
from pydantic import BaseModel

from memsim.envs.world import WorldEngine

INFO_KEYS: tuple[str, ...] = ("action", "ok", "reason", "unlocked", "events")
"""Keys every world's per-agent step info carries."""

RENDER_MODES: tuple[str, ...] = ("human", "rgb_array")
"""The render modes of every world: a window, or the frame as an RGB array."""


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


class WorldParallelEnv(ParallelEnv):
    """The `ParallelEnv` of every memsim world, as a template: this class owns `reset` and
    `step` (seeding, action validation, live agents, the rewards / terminations /
    truncations / infos dicts, truncation at `max_steps`, termination when the team goal
    is reached), checkpoints, agent ids and spaces. A family supplies its world:

    - class attributes: `metadata` (with its "name") and `action_error` (its ActionError);
    - `__init__`: build the config and the engine (see `envs.world.WorldEngine`: `reset`,
      `step`, `agents` as `BodyRecord`s, `team_achievements` ...), then call `_setup`;
    - hooks: `_observe` and `_draw` (required), `_episode_over` and `_info_extras`
      (optional), plus `state()` and `text_observation()` of `MemsimWorld`.

    Per agent, a step's info carries `INFO_KEYS` (read from the engine's `BodyRecord` and
    `StepResult`) and then the family's `_info_extras()`."""

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": list(RENDER_MODES), "is_parallelizable": True, "render_fps": 10,
    }
    action_error: ClassVar[type[Exception]] = ValueError
    _window: Any = None  # the render_mode="human" window, opened by the first render

    def _setup(self, config: Any, render_mode: str | None, world: WorldEngine,
               observation: spaces.Space, max_steps: int) -> None:
        """Called by the family's `__init__` once its engine is built. `observation` is
        every agent's observation space; the episode truncates at step `max_steps`."""
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode {render_mode!r} is not supported; allowed: "
                             f"{self.metadata['render_modes']} or None")
        self.config = config
        self.render_mode = render_mode
        self.world = world
        self.max_steps = max_steps
        self.possible_agents = [f"agent_{i}" for i in range(config.n_agents)]
        self.agent_index = {name: i for i, name in enumerate(self.possible_agents)}
        self.agents: list[str] = []
        self.action_names: tuple[str, ...] = world.action_names
        self._observation = observation
        self._seed_rng = np.random.default_rng()

    # ---- hooks (a family implements these) ----------------------------------------------

    def _observe(self, index: int) -> Any:
        """Agent `index`'s observation of the world as it is now (an element of its
        observation space). Also the final observation of an agent whose episode ended."""
        raise NotImplementedError

    def _draw(self) -> np.ndarray:
        """The whole world as an RGB image (`render()` with render_mode="rgb_array")."""
        raise NotImplementedError

    def _episode_over(self) -> bool:
        """Whether the world has ended the episode for everyone, beyond reaching the team
        goal (which the template checks), e.g. a memory task failed for good. Called once
        per step, after the engine stepped. Default: never."""
        return False

    def _info_extras(self) -> dict[str, Any]:
        """Family keys added to every agent's info at reset and after each step (after
        `INFO_KEYS`), the same for all agents, e.g. the task phase. Default: none."""
        return {}

    def _chance_level(self) -> float | None:
        """The best success rate a policy without memory can reach in this world at its
        level (derived by the family). Default: None, not a memory task."""
        return None

    @property
    def chance_level(self) -> float | None:
        """The task's chance level at the current level (`_chance_level`), or None."""
        return self._chance_level()

    # ---- episode --------------------------------------------------------------------------

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """Start an episode. Same seed, same world and same trajectory for the same actions.
        Infos carry the world seed (and the family's `_info_extras`)."""
        world_seed = self._reset_seed(seed)
        self.world.reset(world_seed)
        self.agents = list(self.possible_agents)
        observations = {agent: self._observe(self.agent_index[agent]) for agent in self.agents}
        extras = self._info_extras()
        infos = {agent: {"seed": world_seed, **extras} for agent in self.agents}
        if self.render_mode == "human":
            self.render()
        return observations, infos

    def step(
        self, actions: Mapping[str, int]
    ) -> tuple[dict[str, Any], dict[str, float], dict[str, bool], dict[str, bool], dict[str, dict]]:
        """Advance every live agent one step (see `_actions_by_index` for what an action
        is). A live agent with no action does noop. Everyone terminates when the team goal
        is reached or `_episode_over()`; an agent alone when its body is no longer alive;
        everyone else truncates at `max_steps`."""
        world = self.world
        result = world.step(self._actions_by_index(actions))
        goal = self.config.team_goal
        over = (goal is not None and goal in world.team_achievements) or self._episode_over()
        truncate = world.step_count >= self.max_steps
        extras = self._info_extras()
        bodies, index, observe = world.agents, self.agent_index, self._observe
        step_rewards, unlocked = result.rewards, result.unlocked
        observations, rewards, terminations, truncations, infos = {}, {}, {}, {}, {}
        for agent in self.agents:
            i = index[agent]
            body = bodies[i]
            # A dead agent's final observation is the view from where it fell.
            observations[agent] = observe(i)
            rewards[agent] = step_rewards[i]
            done = over or not body.alive
            terminations[agent] = done
            truncations[agent] = truncate and not done
            info = {"action": body.last_action, "ok": body.last_ok, "reason": body.last_reason,
                    "unlocked": unlocked[i], "events": list(body.events)}
            if extras:
                info.update(extras)
            infos[agent] = info
        self.agents = [a for a in self.agents if not (terminations[a] or truncations[a])]
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terminations, truncations, infos

    def _actions_by_index(self, actions: Mapping[str, Any]) -> list[int | None]:
        """Validated actions in agent-index order (None: the agent did not act).

        An action index is a Python `int` (not a `bool`) or a numpy integer scalar
        (`np.integer`, e.g. the `np.int64` that `Discrete.sample()` and vectorised
        pipelines hand out) in 0..n-1. Anything else - floats (integral or infinite),
        bools, Fractions, Decimals, numpy arrays (0-d ones too), None, strings - raises
        the family's `action_error` naming the agent, the value and the allowed range, as
        does an `actions` that is not a mapping. Every action is checked before any is
        applied: a rejected set leaves the env untouched."""
        if type(actions) is not dict and not isinstance(actions, Mapping):
            raise self.action_error(
                f"step(actions): actions must be a mapping of agent id to action index, "
                f"got {type(actions).__name__} {actions!r}")
        if not self.agents:
            raise RuntimeError("step() called with no live agents; call reset() first")
        per_index: list[int | None] = [None] * len(self.possible_agents)
        n_actions = len(self.action_names)
        for agent, action in actions.items():
            index = self._check_agent(agent)
            if agent not in self.agents:
                raise self.action_error(
                    f"actions[{agent!r}]: the episode is over for this agent (dead or "
                    f"finished), it cannot act; live agents: {self.agents}")
            if type(action) is not int:
                if isinstance(action, bool) or not isinstance(action, int | np.integer):
                    raise self.action_error(
                        f"actions[{agent!r}]={action!r} is not an action index (an int or "
                        f"a numpy integer); {self._allowed_actions()}")
                action = int(action)
            if not 0 <= action < n_actions:
                raise self.action_error(
                    f"actions[{agent!r}]={action!r} is out of range; {self._allowed_actions()}")
            per_index[index] = action
        return per_index

    def _allowed_actions(self) -> str:
        return f"allowed 0..{len(self.action_names) - 1} ({', '.join(self.action_names)})"

    # ---- agents and spaces ----------------------------------------------------------------

    def _check_agent(self, agent: str) -> int:
        if agent not in self.agent_index:
            raise KeyError(f"agent {agent!r} is unknown; allowed: {self.possible_agents}")
        return self.agent_index[agent]

    @functools.cache  # noqa: B019 - one space object per agent, as PettingZoo asks
    def observation_space(self, agent: str) -> spaces.Space:
        self._check_agent(agent)
        return self._observation

    @functools.cache  # noqa: B019
    def action_space(self, agent: str) -> spaces.Discrete:
        self._check_agent(agent)
        return spaces.Discrete(len(self.action_names))

    def _reset_seed(self, seed: int | None) -> int:
        """The world seed of a new episode: `seed`, or the next one of the stream that
        the last explicit seed started (so unseeded resets are reproducible too)."""
        if seed is not None:
            self._seed_rng = np.random.default_rng(seed)
            return int(seed)
        return int(self._seed_rng.integers(0, 2**31 - 1))

    def agent_positions(self) -> dict[str, tuple[int, int]]:
        """Each agent's grid position (the comm channel's range checks use it)."""
        return {name: (body.x, body.y)
                for name, body in zip(self.possible_agents, self.world.agents, strict=True)}

    # ---- checkpoints ----------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """The whole episode state (world, live agents, seed stream), for checkpoints."""
        return pickle.dumps((self.world, list(self.agents), self._seed_rng))

    def restore(self, blob: bytes) -> None:
        """Continue from a `snapshot()` of an env with the same config."""
        world, agents, seed_rng = pickle.loads(blob)
        if world.config != self.config:
            raise ValueError("snapshot: it was taken from an env with a different config")
        self.world, self.agents, self._seed_rng = world, agents, seed_rng

    # ---- global views ---------------------------------------------------------------------

    def render(self) -> np.ndarray | None:
        """``rgb_array``: the whole world as an image; ``human``: show it in a window (and
        return None); no render mode: None."""
        if self.render_mode == "rgb_array":
            return self._draw()
        if self.render_mode == "human":
            if self._window is None:
                from memsim.envs.human import HumanWindow

                self._window = HumanWindow(str(self.metadata.get("name", "memsim")),
                                           int(self.metadata.get("render_fps", 10)))
            self._window.show(self._draw())
        return None

    def close(self) -> None:
        if self._window is not None:
            self._window.close()
            self._window = None

    @property
    def achievements(self) -> dict[str, dict[str, int]]:
        """Per agent: achievement -> step first reached."""
        return {name: dict(body.achievements)
                for name, body in zip(self.possible_agents, self.world.agents, strict=True)}

    @property
    def team_achievements(self) -> dict[str, tuple[int, str]]:
        """Achievement -> (step first reached by anyone, who)."""
        return dict(self.world.team_achievements)


ConfigT = TypeVar("ConfigT", bound=BaseModel)


def build_config(model: type[ConfigT], config: ConfigT | Mapping[str, Any] | None,
                 **overrides: Any) -> ConfigT:
    """A `model` config from a config, a mapping, or keyword overrides; overrides of an
    existing config are validated again (cross-field rules included). ``max_cycles``
    (PettingZoo's name) is taken for ``max_steps``."""
    if "max_cycles" in overrides:
        if "max_steps" in overrides:
            raise ValueError("give max_steps or max_cycles (the same limit), not both")
        overrides["max_steps"] = overrides.pop("max_cycles")
    if isinstance(config, model):
        if not overrides:
            return config
        return model(**{**config.model_dump(), **overrides})
    return model(**{**dict(config or {}), **overrides})


def register_gym_ids(entry_point: str, kwargs_by_id: Mapping[str, dict[str, Any]],
                     max_episode_steps: Callable[[dict[str, Any]], int]) -> list[str]:
    """Register each Gymnasium id with `entry_point` and its kwargs (idempotent: an id
    already registered is left alone); returns the ids. `max_episode_steps(kwargs)` is the
    longest an episode of that id can last at any level, so Gymnasium's `TimeLimit`
    never cuts an episode the world itself would still run (the world truncates at its
    own level's limit first)."""
    for gym_id, kwargs in kwargs_by_id.items():
        if gym_id not in gym.registry:
            gym.register(id=gym_id, entry_point=entry_point, kwargs=kwargs,
                         max_episode_steps=max_episode_steps(kwargs))
    return list(kwargs_by_id)


class SingleAgentEnv(gym.Env):
    """One agent of a memsim world as a Gymnasium env. A family subclasses it naming its
    `ParallelEnv` class; config and keyword overrides go to that env unchanged."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": list(RENDER_MODES), "render_fps": 10}
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

    @property
    def chance_level(self) -> float | None:
        """The best success rate a memoryless policy can reach here (None: not a memory
        task); read it as `gymnasium.make(...).unwrapped.chance_level`."""
        return self._env.chance_level

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is None:
            seed = int(self.np_random.integers(0, 2**31 - 1))
        observations, infos = self._env.reset(seed=seed, options=options)
        return observations[self._agent], infos[self._agent]

    def step(self, action: int | np.integer | np.ndarray
             ) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """One step of the agent. The action is an index as the ParallelEnv takes it (an
        int or a numpy integer) or, as Gymnasium's `Discrete` also contains them, a 0-d
        integer array (what SB3's `model.predict` returns for one observation)."""
        if (isinstance(action, np.ndarray) and action.shape == ()
                and np.issubdtype(action.dtype, np.integer)):
            action = action[()]
        obs, rewards, terminations, truncations, infos = self._env.step({self._agent: action})
        a = self._agent
        return obs[a], rewards[a], terminations[a], truncations[a], infos[a]

    def render(self) -> np.ndarray | None:
        return self._env.render()

    def close(self) -> None:
        self._env.close()
