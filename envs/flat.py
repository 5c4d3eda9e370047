"""Flat observations for RL libraries: any memsim world's observation as one `Box`.

Every world family observes a `Dict` (grids, inventory, phase ...), which SuperSuit's
wrappers (`black_death_v3`, `frame_stack_v1`, `normalize_obs_v0`, `dtype_v0`,
`flatten_v0`) and Stable-Baselines3's vector envs do not take. `FlatObservations` wraps
any `WorldParallelEnv` (a plug-in world's too) and gives each agent
`gymnasium.spaces.flatten` of its observation as a float32 vector, in a `Box` with finite
bounds (discrete parts one-hot), so SuperSuit's standard pipeline runs unchanged::

    import supersuit as ss
    from memsim.envs.flat import FlatObservations
    from memsim.envs.navigation import parallel_env

    env = FlatObservations(parallel_env(task="ballet", relay=True))
    env = ss.black_death_v3(env)  # dead or finished agents get zeros until all are done
    venv = ss.concat_vec_envs_v1(ss.pettingzoo_env_to_vec_env_v1(env), 4,
                                 base_class="stable_baselines3")

Once the episode has ended for every agent, `step` returns empty dicts instead of raising
(as PettingZoo's AEC-to-parallel conversion does). SuperSuit's `black_death_v3` (3.11)
takes the episode as over only when every agent is terminated *and* truncated at once,
which a world that ends by its goal never says; it then steps once more, gets nothing
back and ends the episode there, with zero observations and rewards for that step.

Everything else (`state()`, `render()`, `text_observation()`, `action_names`, `world` ...)
is the wrapped env's. For a single agent, Gymnasium's own
`gymnasium.wrappers.FlattenObservation` does the same on `gymnasium.make(...)`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv


def flat_space(space: spaces.Space) -> spaces.Box:
    """The float32 `Box` that `spaces.flatten` maps `space` into. Raises `ValueError`
    naming the space when it cannot be flattened (a `Text` observation)."""
    try:
        flat = spaces.flatten_space(space)
    except NotImplementedError:
        raise ValueError(f"observations of {space} cannot be flattened into a Box; use the "
                         "world's symbolic observations (the default obs_mode)") from None
    if not isinstance(flat, spaces.Box):
        raise ValueError(f"observations of {space} flatten into {flat}, not a Box")
    low, high = flat.low.astype(np.float32), flat.high.astype(np.float32)
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
        raise ValueError(f"observations of {space} have unbounded parts: a flat Box needs "
                         "finite bounds (normalize_obs_v0 rescales by them)")
    return spaces.Box(low, high, dtype=np.float32)


class FlatObservations(ParallelEnv):
    """A memsim `ParallelEnv` whose observations are flat float32 vectors (see module)."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.metadata = dict(env.metadata)
        self.metadata["name"] = f"{env.metadata.get('name', 'memsim')}_flat"
        self.possible_agents = list(env.possible_agents)
        self._source = {a: env.observation_space(a) for a in self.possible_agents}
        self._spaces = {a: flat_space(s) for a, s in self._source.items()}

    @property
    def agents(self) -> list[str]:  # type: ignore[override]
        return self.env.agents

    @property
    def render_mode(self) -> str | None:  # type: ignore[override]
        return self.env.render_mode

    @property
    def unwrapped(self) -> Any:
        return self.env.unwrapped

    def observation_space(self, agent: str) -> spaces.Box:
        return self._spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.env.action_space(agent)

    def flatten(self, agent: str, observation: Any) -> np.ndarray:
        """One agent's observation as its flat vector."""
        return spaces.flatten(self._source[agent], observation).astype(np.float32)

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        observations, infos = self.env.reset(seed=seed, options=options)
        return {a: self.flatten(a, o) for a, o in observations.items()}, infos

    def step(self, actions: dict[str, Any]) -> tuple[Any, ...]:
        if not self.env.agents and not actions:  # the episode is over (see the module)
            return {}, {}, {}, {}, {}
        observations, rewards, terminations, truncations, infos = self.env.step(actions)
        flat = {a: self.flatten(a, o) for a, o in observations.items()}
        return flat, rewards, terminations, truncations, infos

    def render(self) -> Any:
        return self.env.render()

    def close(self) -> None:
        self.env.close()

    def state(self) -> Any:
        return self.env.state()

    def __getattr__(self, name: str) -> Any:
        # Only reached for what this wrapper does not define: the world's own surface.
        if name.startswith("_") or name == "env":
            raise AttributeError(name)
        return getattr(self.env, name)
