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

from typing import Any, Protocol, runtime_checkable

import numpy as np

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
