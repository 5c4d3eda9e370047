"""What the families' engines share with `envs.base.WorldParallelEnv`: the record every
agent body keeps of its last action, and the result of one step.

An engine (`CraftingWorld`, `NavigationWorld`, `ManipulationWorld`) is whatever moves a
world; the env template needs only the surface in `WorldEngine`. Everything else about a
body (position, inventory, what a gripper holds) stays the family's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(kw_only=True)
class BodyRecord:
    """What every agent body records; the env's per-agent step info is read from it.

    A family's body dataclass subclasses this (the fields are keyword-only, so the
    family's own fields keep their positions). No `__slots__` here, on purpose: the
    fields keep class-level defaults and live in the instance dict, so snapshots pickled
    before a family's body gained one of them (or before this class existed) still load."""

    last_action: str = "noop"  # name of the action applied last step
    last_ok: bool = True  # whether it worked
    last_reason: str = ""  # why not ("" when it worked)
    events: list[str] = field(default_factory=list)  # what happened to it this step
    achievements: dict[str, int] = field(default_factory=dict)  # name -> step first reached
    alive: bool = True  # False once the episode is over for this agent alone (it died)


@dataclass(frozen=True, slots=True)
class StepResult:
    """Per agent (in agent order): the reward of the step and the achievements first
    reached in it. A family may subclass it to report more (crafting: deaths)."""

    rewards: list[float]
    unlocked: list[list[str]]


class WorldEngine(Protocol):
    """The engine surface `WorldParallelEnv` drives."""

    config: Any  # the family's config: n_agents, max_steps, team_goal ...
    action_names: tuple[str, ...]
    agents: list[Any]  # one BodyRecord per agent, in agent order
    step_count: int
    team_achievements: dict[str, tuple[int, str]]  # name -> (step first reached, who)

    def reset(self, seed: int) -> None:
        """A new episode from `seed` (same seed, same world)."""
        ...

    def step(self, actions: list[int | None]) -> StepResult:
        """Apply one validated action index per agent (None: noop) and move the world."""
        ...
