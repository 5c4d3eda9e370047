"""The bodies of a crafting world: agents (with their inventory and vitals), creatures,
the result of a step, and the four directions everything moves in."""

from __future__ import annotations

from dataclasses import dataclass

from memsim.envs.world import BodyRecord, StepResult

DIRECTIONS: dict[str, tuple[int, int]] = {
    "left": (-1, 0),
    "right": (1, 0),
    "up": (0, -1),
    "down": (0, 1),
}
FACING_NAMES: tuple[str, ...] = tuple(DIRECTIONS)  # facing index -> name
FACING_INDEX: dict[tuple[int, int], int] = {d: i for i, d in enumerate(DIRECTIONS.values())}
FOUR = tuple(DIRECTIONS.values())  # the directions, in DIRECTIONS order


class ActionError(ValueError):
    """An action that cannot be taken at all (unknown, out of range, dead agent)."""


@dataclass(slots=True)
class Creature:
    """A non-agent object on the map: cow, zombie, skeleton, arrow or plant."""

    uid: int
    kind: str
    x: int
    y: int
    health: int
    cooldown: int = 0
    facing: tuple[int, int] = (0, 1)
    planted_step: int = 0


@dataclass(slots=True)
class Agent(BodyRecord):
    """One agent's body, inventory and bookkeeping (last action, events, achievements and
    `alive` come from `BodyRecord`)."""

    index: int
    name: str
    x: int
    y: int
    inventory: list[int]  # indexed like `rules.items` (vitals included)
    facing: tuple[int, int] = (0, 1)
    sleeping: bool = False
    hunger: float = 0.0
    thirst: float = 0.0
    fatigue: float = 0.0
    recover: float = 0.0
    last_health: int = 9
    reward_health: int = 9  # health at the last reward computation
    deaths: int = 0


@dataclass(frozen=True, slots=True)
class CraftingStepResult(StepResult):
    died: list[bool]  # per agent: its health reached 0 this step
    goal_reached: bool  # someone reached `config.team_goal` this step
