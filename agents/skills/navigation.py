"""Navigation memory-task skills, over the scripted solver's route planning.

- `go_to` kind: walks to the cell memory holds for `kind` (walls from memory, the other
  doors / dancers avoided). Completed: standing on it.
- `follow_path` (mystery path): the solver's walk along remembered safe cells.
- `wait`: stays until the act phase. Completed: the act phase began.
- `relay` (relay observer): sends the cue rows it is shown.
- `explore`: a random step. Completed after its limit.

Any other skill past its step limit (`skills.toml`) fails: took too long. The menu offers
`go_to` for each remembered cue kind (dances, landmarks, the hidden object, commands...),
in name order: which one the act phase asks for is the choice.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from memsim.agents.navigation.perception import WALL
from memsim.agents.navigation.solver import CHOICE_MARKS, NavigationSolver, step_towards
from memsim.agents.navigation.view import NavigationView
from memsim.agents.policy import AgentContext, Decision
from memsim.agents.skills.base import (
    RUNNING,
    ActiveSkill,
    Option,
    Outcome,
    SkillStep,
    completed,
    failed,
    load_skill_settings,
    place_line,
)
from memsim.envs.navigation.engine import ACT
from memsim.memory import RetrievalQuery

Cell = tuple[int, int]
# Marks that are scenery or terrain knowledge, never what a task asks to reach.
SCENERY = frozenset({"start", "safe", "pit", "door", "dancer"})
PHASES = ("cue", "delay", "act")


class NavigationSkills:
    """The navigation skill library of one agent, over its scripted solver."""

    family = "navigation"
    skills = frozenset({"go_to", "follow_path", "wait", "relay", "explore"})
    items: tuple[str, ...] = ()

    def __init__(self, solver: NavigationSolver, settings: dict[str, Any] | None = None) -> None:
        self.solver = solver
        self.rules = solver.rules
        self.task = solver.task
        self.cfg = (settings if settings is not None else load_skill_settings())["navigation"]
        self.kinds = tuple(sorted(m for m in self.rules.marks if m not in SCENERY))

    def reset(self, agent_id: str, seed: int, action_names: tuple[str, ...]) -> None:
        self.solver.reset(agent_id, seed, action_names)
        self.agent_id, self.seed = agent_id, seed
        self.noop = action_names.index("noop")

    def recall_query(self, context: AgentContext) -> RetrievalQuery | None:
        view: NavigationView = context.view
        if self.solver.is_observer or view.phase != ACT:
            return None
        base = self.solver.recall_query(context)
        kinds = tuple(dict.fromkeys((*(base.nearest if base else ()), *self.kinds, "wall")))
        return RetrievalQuery(nearest=kinds, position=view.position,
                              per_kind=base.per_kind if base else 1)

    # ---- what the model reads ---------------------------------------------------------

    def brief(self) -> str:
        return (f"World: the navigation memory task {self.task.replace('_', ' ')} on a grid "
                "(x east, y south). Something is shown, then hidden; in the act phase you must "
                "reach what the task asks for. Stepping on a wrong door or dancer fails.")

    def goal(self, context: AgentContext) -> str:
        view: NavigationView = context.view
        if self.solver.is_observer:
            return "relay_the_cue"
        return f"reach_{view.target}" if view.phase == ACT else "watch_the_cue"

    def situation(self, context: AgentContext) -> str:
        view: NavigationView = context.view
        line = f"at ({view.x},{view.y}); phase {PHASES[view.phase]}"
        return line + (f"; the task asks for: {view.target}" if view.phase == ACT else "")

    def memory_lines(self, context: AgentContext) -> list[str]:
        recall = context.recall
        if recall is None:
            return []
        return [place_line(p) for p in recall.nearest
                if p.kind in self.kinds][: self.cfg["choices"]]

    # ---- the menu ---------------------------------------------------------------------

    def menu(self, context: AgentContext) -> list[Option]:
        view: NavigationView = context.view
        if self.solver.is_observer:
            return [Option("relay", (), "relay the cue rows you are shown to your teammates")]
        if view.phase != ACT:
            return [Option("wait", (), "wait for the act phase")]
        if self.task == "mystery_path":
            return [Option("follow_path", (), "walk the remembered safe cells to the goal"),
                    Option("explore", (), "step somewhere at random")]
        options = []
        for kind, cell in self._remembered(context):
            options.append(Option("go_to", (kind,), f"go to {kind} (remembered at "
                                  f"({cell[0]},{cell[1]}))", cell))
        options.append(Option("explore", (), "step somewhere at random"))
        return options[: self.cfg["choices"] + 1]

    def _remembered(self, context: AgentContext) -> list[tuple[str, Cell]]:
        """One remembered cell per cue kind, in name order (the view's marks first)."""
        found: dict[str, Cell] = {}
        view: NavigationView = context.view
        for cell, mark in view.cells("marks"):
            name = self.rules.mark_name(mark)
            if name in self.kinds:
                found.setdefault(name, cell)
        if context.recall is not None:
            for p in context.recall.nearest:
                if p.kind in self.kinds:
                    found.setdefault(p.kind, (p.x, p.y))
        return sorted(found.items())[: self.cfg["choices"]]

    # ---- ending and running -----------------------------------------------------------

    def check(self, active: ActiveSkill, context: AgentContext) -> Outcome:
        view: NavigationView = context.view
        age = context.step - active.since
        if active.skill == "wait" and view.phase == ACT:
            return completed("the act phase began")
        if active.skill == "go_to" and active.target == view.position:
            return completed(f"reached {active.arg(0)}")
        if age >= self.cfg["limit"][active.skill]:
            if active.skill == "explore":
                return completed(f"explored {age} steps")
            return failed(f"took too long ({age} steps)")
        return RUNNING

    def interrupts(self, active: ActiveSkill, context: AgentContext) -> list[str]:
        return []

    def run(self, active: ActiveSkill, context: AgentContext) -> SkillStep:
        view: NavigationView = context.view
        skill = active.skill
        if skill in ("relay", "follow_path"):
            return SkillStep(self.solver.decide(context))
        if skill == "wait" or view.phase != ACT:
            return SkillStep(Decision(self.noop, reason="waiting for the act phase"))
        if skill == "go_to" and active.target is not None:
            return SkillStep(self._go_to(context, active.arg(0), active.target))
        return SkillStep(self._random_step(context, "exploring"))

    def _go_to(self, context: AgentContext, kind: str, goal: Cell) -> Decision:
        """The solver's route planning, towards the chosen cell instead of the target."""
        view: NavigationView = context.view
        position = view.position
        walls = {c for c, _ in view.cells("terrain", WALL)}
        recall = context.recall
        if recall is not None:
            walls |= {(p.x, p.y) for p in recall.nearest if p.kind == "wall"}
        avoid: set[Cell] = set()
        choice = CHOICE_MARKS.get(self.task)
        if choice is not None:
            avoid = {c for c, _ in view.cells("marks", self.rules.mark_ids[choice])}
            if recall is not None:
                avoid |= {(p.x, p.y) for p in recall.nearest if p.kind == choice}
            avoid.discard(goal)
        nxt = step_towards(position, goal, walls, avoid)
        if nxt is None:
            return self._random_step(context, f"{kind} at {goal}: no route known")
        move = (nxt[0] - position[0], nxt[1] - position[1])
        return Decision(self.solver.move_actions[move], reason=f"to {kind} at {goal}")

    def _random_step(self, context: AgentContext, why: str) -> Decision:
        moves = sorted(self.solver.move_actions)
        if not moves:
            return Decision(self.noop, reason=why)
        rng = np.random.default_rng([self.seed, self.solver.index, context.step, 1])
        return Decision(self.solver.move_actions[moves[int(rng.integers(len(moves)))]],
                        reason=why)
