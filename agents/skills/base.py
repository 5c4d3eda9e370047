"""Skills: the contract between a world family's skill library and the policies that
choose skills (random-skill, LLM), and where the active skill lives: in memory.

A skill is a named executor with arguments (`collect wood 5`, `go_to table`, `meet
agent_1`). The active skill is the agent's current **subgoal node**: its name is the skill
and its first argument (`collect_wood`, the name the crafting planner gives the same task),
`needs` holds the arguments, `place` the target it goes for. A skill ends with a `subgoal`
note of status completed / failed / interrupted whose `text` is the reason; memory closes
the node with a summary ("collect_wood: failed after 150 steps (3-153): took too long"),
which later prompts read instead of the history (HiAgent-style). Nothing about the skill is
kept in Python between steps: a policy rebuilt every step with the same memory continues
the same skill.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from memsim.agents.policy import AgentContext, Decision
from memsim.memory import Fact, GoalRecord, PlaceRecord, Recall, RetrievalQuery

Cell = tuple[int, int]
SETTINGS_PATH = Path(__file__).with_name("skills.toml")
CONTINUE = "continue"


@cache
def load_skill_settings(path: Path = SETTINGS_PATH) -> dict[str, Any]:
    """The skills' data file, read once per process."""
    with path.open("rb") as handle:
        return tomllib.load(handle)


def subgoal_name(skill: str, args: Sequence[str]) -> str:
    """The subgoal node's name of a skill: the skill and its first argument."""
    return "_".join((skill, *args[:1]))


class _Named:
    """`name` and `label` of something that has a `skill` and its `args`."""

    __slots__ = ()
    skill: str
    args: tuple[str, ...]

    @property
    def name(self) -> str:
        """Its subgoal node's name (`subgoal_name`)."""
        return subgoal_name(self.skill, self.args)

    @property
    def label(self) -> str:
        """The skill and all its arguments, as one line shows them."""
        return " ".join((self.skill, *self.args))


@dataclass(frozen=True, slots=True)
class Option(_Named):
    """One menu entry: a skill with its arguments filled from memory, and the line the
    model reads (`text`). `target`: the cell it goes for, when known at the start."""

    skill: str
    args: tuple[str, ...] = ()
    text: str = ""
    target: Cell | None = None
    keep: bool = False  # "continue the active skill" (no new subgoal)


@dataclass(frozen=True, slots=True)
class ActiveSkill(_Named):
    """The skill in progress, as memory holds it (or as chosen at this very step)."""

    skill: str
    args: tuple[str, ...]
    since: int
    target: Cell | None = None
    target_since: int = 0

    def arg(self, i: int, default: str = "") -> str:
        return self.args[i] if len(self.args) > i else default

    @classmethod
    def of(cls, record: GoalRecord | None, skills: frozenset[str]) -> ActiveSkill | None:
        """The active skill a recalled subgoal is (None: it is not one of `skills`)."""
        if record is None or record.status != "active":
            return None
        args = tuple(record.needs)
        skill = record.name[: len(record.name) - len(args[0]) - 1] if args else record.name
        if skill not in skills or subgoal_name(skill, args) != record.name:
            return None
        return cls(skill, args, record.since, record.target, record.target_since)

    @classmethod
    def start(cls, option: Option, step: int) -> ActiveSkill:
        return cls(option.skill, option.args, step, option.target, step)


@dataclass(frozen=True, slots=True)
class Outcome:
    """Whether a skill has ended: `running`, `completed` or `failed` (with why)."""

    status: str = "running"
    reason: str = ""

    @property
    def ended(self) -> bool:
        return self.status != "running"


RUNNING = Outcome()


def completed(reason: str) -> Outcome:
    return Outcome("completed", reason)


def failed(reason: str) -> Outcome:
    return Outcome("failed", reason)


@dataclass
class SkillStep:
    """One step of a skill: the decision, the target it goes for now (the subgoal's place)
    and, when the step itself shows the skill cannot go on, its outcome."""

    decision: Decision
    target: Cell | None = None
    outcome: Outcome = RUNNING


class SkillLibrary(Protocol):
    """A world family's skills for one agent (built from its scripted policy)."""

    family: str
    skills: frozenset[str]

    def reset(self, agent_id: str, seed: int, action_names: tuple[str, ...]) -> None: ...

    def recall_query(self, context: AgentContext) -> RetrievalQuery | None: ...

    def goal(self, context: AgentContext) -> str:
        """The agent's goal as the world shows it now (a memory goal name)."""
        ...

    def check(self, active: ActiveSkill, context: AgentContext) -> Outcome:
        """Has the active skill ended (judged from the view and memory only)?"""
        ...

    def interrupts(self, active: ActiveSkill, context: AgentContext) -> list[str]:
        """Messages this step that matter to the decision (each a short line)."""
        ...

    def menu(self, context: AgentContext) -> list[Option]:
        """The skills it can start now, with the arguments memory makes possible."""
        ...

    def run(self, active: ActiveSkill, context: AgentContext) -> SkillStep:
        """One step of the active skill."""
        ...

    def brief(self) -> str:
        """One or two sentences on the world, for a model's system prompt."""
        ...

    def situation(self, context: AgentContext) -> str:
        """The agent's state now, in one line."""
        ...

    def memory_lines(self, context: AgentContext) -> list[str]:
        """Relevant remembered facts, with provenance, most relevant first."""
        ...


@dataclass
class Turn:
    """One decision in the making: what memory says is running, why a choice is due."""

    active: ActiveSkill | None
    events: list[str] = field(default_factory=list)
    menu: list[Option] = field(default_factory=list)
    notes: list[Fact] = field(default_factory=list)
    ended: tuple[ActiveSkill, Outcome] | None = None

    @property
    def choose(self) -> bool:
        return bool(self.menu)


def note(**fact: Any) -> Fact:
    return Fact(provenance="inferred", **fact)


def start_note(active: ActiveSkill) -> Fact:
    return note(kind="subgoal", subject=active.name, status="set", needs=active.args,
                place=active.target)


def end_note(active: ActiveSkill, status: str, reason: str) -> Fact:
    return note(kind="subgoal", subject=active.name, status=status,
                text=reason[:200] or None)


def place_line(place: PlaceRecord) -> str:
    """A remembered place as the prompt shows it (no '@': a model echoes what it reads)."""
    return f"{place.kind} at ({place.x},{place.y}) [{place.provenance} step {place.step}]"


def done_lines(recall: Recall | None, n: int) -> list[str]:
    """The summaries of the latest ended subgoals (what the prompt shows as done)."""
    if recall is None:
        return []
    return [g.summary or f"{g.name}: {g.status}" for g in recall.subgoals[:n]]
