"""The decision loop every skill policy shares (random-skill, LLM): read the active skill
from memory, judge whether it ended, collect the events that call for a choice, and, once
a choice is made (by whatever chooser), write the subgoal notes and run one step.

A choice is due only on an event: no skill running (the start, or the last one ended), the
active skill completed or failed, a message that matters arrived, or the goal changed.
Otherwise the active skill simply runs; that is what keeps model calls per agent-step low.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from memsim.agents.policy import AgentContext, Decision
from memsim.agents.skills.base import (
    CONTINUE,
    ActiveSkill,
    Option,
    Outcome,
    SkillLibrary,
    Turn,
    done_lines,
    end_note,
    load_skill_settings,
    note,
    start_note,
)
from memsim.memory import RetrievalQuery


@dataclass
class SkillCounters:
    """What a skill policy did in one episode (reported with its usage counters)."""

    choices: int = 0  # decisions a chooser made (events)
    auto_choices: int = 0  # of those, menus with a single option (no model asked)
    skills_completed: int = 0
    skills_failed: int = 0
    skills_interrupted: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"choices": self.choices, "auto_choices": self.auto_choices,
                "skills_completed": self.skills_completed, "skills_failed": self.skills_failed,
                "skills_interrupted": self.skills_interrupted}

    def reset(self) -> None:
        self.choices = self.auto_choices = 0
        self.skills_completed = self.skills_failed = self.skills_interrupted = 0


class SkillRunner:
    """Prepares and finishes skill decisions for one agent over a family's library."""

    def __init__(self, library: SkillLibrary, settings: dict[str, Any] | None = None) -> None:
        self.library = library
        self.settings = settings if settings is not None else load_skill_settings()
        self.counters = SkillCounters()
        self.agent_id = ""
        self.idle_action = 0

    def reset(self, agent_id: str, seed: int, action_names: tuple[str, ...]) -> None:
        self.agent_id = agent_id
        self.library.reset(agent_id, seed, action_names)
        self.idle_action = action_names.index("noop") if "noop" in action_names else 0
        self.counters.reset()

    def recall_query(self, context: AgentContext) -> RetrievalQuery | None:
        query = self.library.recall_query(context)
        menu = self.settings["menu"]
        extra = {"subgoals": menu["done_subgoals"], "teammate_reports": menu["reports"]}
        if query is None:
            return RetrievalQuery(**extra)
        return query.model_copy(update={k: max(v, getattr(query, k)) for k, v in extra.items()})

    def prepare(self, context: AgentContext) -> Turn:
        """What is running, whether it ended, and (when a choice is due) the menu."""
        library, recall = self.library, context.recall
        active = ActiveSkill.of(recall.subgoal if recall is not None else None, library.skills)
        turn = Turn(active)
        goal = library.goal(context)
        if recall is not None and (recall.goal is None or recall.goal.name != goal):
            turn.notes.append(note(kind="goal", subject=goal, status="set"))
            if recall.goal is not None and recall.goal.name != "idle":
                turn.events.append(f"the goal is now {goal}")
        if active is None:
            turn.events.append("no skill is running")
        else:
            outcome = library.check(active, context)
            if outcome.ended:
                turn.events.append(f"{active.label}: {outcome.status}, {outcome.reason}")
                self._ended(turn, active, outcome.status, outcome.reason)
            else:
                turn.events += library.interrupts(active, context)
        if turn.events:
            offered = library.menu(context)
            failed = self._failed(context)
            menu = [o for o in offered if o.name not in failed] or offered
            if turn.active is not None:  # a message or a goal change: it may go on
                menu = [Option(turn.active.skill, turn.active.args,
                               f"{CONTINUE} {turn.active.label}", turn.active.target,
                               keep=True), *menu]
            turn.menu = menu[: self.settings["menu"]["max_options"]]
        return turn

    def finish(self, turn: Turn, context: AgentContext, choice: Option | None,
               messages: list[Any] | None = None, reason: str = "") -> Decision:
        """Start `choice` (ending what ran before as interrupted, unless it is the
        `continue` option), run one step of the active skill, and return the decision
        with the subgoal notes."""
        active, started = turn.active, False
        if choice is not None:
            self.counters.choices += 1
            self.counters.auto_choices += len(turn.menu) == 1
            if not choice.keep:
                if active is not None:
                    self._ended(turn, active, "interrupted", f"chose {choice.label}")
                active, started = ActiveSkill.start(choice, context.step), True
        if active is None:  # nothing was offered: nothing to do
            return Decision(self.idle_action, list(messages or []), turn.notes,
                            reason or "no skill available")
        step = self.library.run(active, context)
        decision = step.decision
        memory = context.recall is not None
        moved = step.target is not None and step.target != active.target
        if memory and (started or moved):
            target = step.target if step.target is not None else active.target
            turn.notes.append(start_note(ActiveSkill(active.skill, active.args, active.since,
                                                     target, context.step)))
        if step.outcome.ended:
            self._ended(turn, active, step.outcome.status, step.outcome.reason)
        why = f"[{active.label}] {decision.reason}"
        if started:
            why = f"chose {active.label} ({'; '.join(turn.events)}); {why}"
        if reason:
            why = f"{reason}; {why}"
        notes = turn.notes if memory else []
        return Decision(decision.action, [*decision.messages, *(messages or [])],
                        [*notes, *decision.memory_notes], why[:400])

    def _failed(self, context: AgentContext) -> set[str]:
        """Skills that failed a short while ago (not offered again yet, so a skill that
        cannot work does not cost a choice every step)."""
        if context.recall is None:
            return set()
        wait = self.settings["menu"]["retry_after"]
        return {g.name for g in context.recall.subgoals if g.status == "failed"
                and g.until is not None and context.step - g.until < wait}

    def _ended(self, turn: Turn, active: ActiveSkill, status: str, reason: str) -> None:
        turn.notes.append(end_note(active, status, reason))
        turn.ended = (active, Outcome(status, reason))
        turn.active = None
        name = f"skills_{status}"
        setattr(self.counters, name, getattr(self.counters, name) + 1)

    def done(self, context: AgentContext) -> list[str]:
        """Summaries of the latest ended subgoals (the prompt's "done so far")."""
        return done_lines(context.recall, self.settings["menu"]["done_subgoals"])
