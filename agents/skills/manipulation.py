"""Manipulation memory-task skills, over the scripted solver.

- `touch` an item kind, or a cup's cell `x,y`: moves to it (sweeping the table when it is
  not in view) and touches it. Completed: the touch worked.
- `watch`: the solver while nothing can be done yet (it follows the shuffle into memory;
  a relay observer forwards what it sees). Completed: the acting phase began.
- `solve`: the solver's own act (take-it-back, intercept, a relay observer).
- `explore`: a step of the table sweep. Completed after its limit.

Any other skill past its step limit (`skills.toml`) fails: took too long. The menu offers
`touch` for each remembered cue (select, colour set) or cup (shell game) and for what else
is in view, in name order: choosing the remembered one is the task.
"""

from __future__ import annotations

from typing import Any

from memsim.agents.manipulation.solver import OBSERVER_ID, RELAY_SETTLE_STEPS, ManipulationSolver
from memsim.agents.manipulation.view import ManipulationView
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
from memsim.memory import Fact, RetrievalQuery

Cell = tuple[int, int]
CHOOSING = ("select", "colour_set", "shell")  # engines whose act is one choice (or several)


class ManipulationSkills:
    """The manipulation skill library of one agent, over its scripted solver."""

    family = "manipulation"
    skills = frozenset({"touch", "watch", "solve", "explore"})
    items: tuple[str, ...] = ()

    def __init__(self, solver: ManipulationSolver, settings: dict[str, Any] | None = None
                 ) -> None:
        self.solver = solver
        self.engine = solver.engine
        self.cfg = (settings if settings is not None else load_skill_settings())["manipulation"]
        self.width, self.height = solver.width, solver.height

    def reset(self, agent_id: str, seed: int, action_names: tuple[str, ...]) -> None:
        self.solver.reset(agent_id, seed, action_names)
        self.agent_id = agent_id
        self.action_ids = {name: i for i, name in enumerate(action_names)}

    def recall_query(self, context: AgentContext) -> RetrievalQuery | None:
        return self.solver.recall_query(context)

    @property
    def observer(self) -> bool:
        return self.solver.config.relay and self.agent_id == OBSERVER_ID

    def acting(self, view: ManipulationView) -> bool:
        """The phase in which this agent can act (a relay actor after the last news)."""
        phase = "return" if self.engine == "take_back" else "action"
        if self.solver.config.relay and not self.observer:
            return view.phase == phase and view.phase_step >= RELAY_SETTLE_STEPS
        return view.phase in ("action", "return")

    # ---- what the model reads ---------------------------------------------------------

    def brief(self) -> str:
        return (f"World: the manipulation memory task {self.solver.config.task.replace('_', ' ')}"
                " on a table grid. Something is shown, then hidden; then you must touch "
                "what memory says (a wrong touch fails).")

    def goal(self, context: AgentContext) -> str:
        return "act_on_memory" if self.acting(context.view) else "watch_the_cue"

    def situation(self, context: AgentContext) -> str:
        view: ManipulationView = context.view
        seen = ", ".join(sorted({i.kind for i in view.items.values()})) or "nothing"
        return f"at ({view.x},{view.y}); phase {view.phase}; in view: {seen}"

    def memory_lines(self, context: AgentContext) -> list[str]:
        return [place_line(p) for p in self._records(context)]

    def _records(self, context: AgentContext) -> list[Any]:
        if context.recall is None:
            return []
        query = self.solver.recall_query(context)
        kinds = set(query.nearest) if query is not None else set()
        return [p for p in context.recall.nearest if p.kind in kinds]

    # ---- the menu ---------------------------------------------------------------------

    def menu(self, context: AgentContext) -> list[Option]:
        view: ManipulationView = context.view
        if self.observer or (self.acting(view) and self.engine not in CHOOSING):
            return [Option("solve", (), "do the task from what memory holds")]
        if not self.acting(view):
            return [Option("watch", (), "watch (and remember) until you can act")]
        options: dict[str, Option] = {}
        records = self._records(context)
        if self.engine == "shell":
            ball = max(records, key=lambda r: r.step) if records else None
            for cell in sorted(view.items):
                under = ball is not None and (ball.x, ball.y) == cell
                name = f"{cell[0]},{cell[1]}"
                options[name] = Option("touch", (name,), f"touch the cup at ({name})" + (
                    " (memory: the ball is under it)" if under else ""), cell)
        else:
            for r in sorted(records, key=lambda r: r.kind):
                kind = r.kind.removeprefix("cue_")
                options[kind] = Option("touch", (kind,), f"touch {kind} (the cue showed it)")
            for item in sorted({i.kind for i in view.items.values()}):
                options.setdefault(item, Option("touch", (item,), f"touch {item} (in view)"))
        ordered = [options[k] for k in sorted(options)][: self.cfg["choices"]]
        return [*ordered, Option("explore", (), "look around the table")]

    # ---- ending and running -----------------------------------------------------------

    def check(self, active: ActiveSkill, context: AgentContext) -> Outcome:
        age = context.step - active.since
        info = context.info
        if active.skill == "watch" and self.acting(context.view):
            return completed("the acting phase began")
        if active.skill == "touch" and info.get("action") == "touch" and info.get("ok", False):
            return completed(f"touched {active.arg(0)}")
        if age >= self.cfg["limit"][active.skill]:
            if active.skill == "explore":
                return completed(f"looked around {age} steps")
            return failed(f"took too long ({age} steps)")
        return RUNNING

    def interrupts(self, active: ActiveSkill, context: AgentContext) -> list[str]:
        return []

    def run(self, active: ActiveSkill, context: AgentContext) -> SkillStep:
        view: ManipulationView = context.view
        if active.skill in ("watch", "solve"):
            return SkillStep(self.solver.decide(context))
        if active.skill == "explore":
            return SkillStep(self._sweep(context, view, "looking around"))
        target = active.target
        kind = active.arg(0)
        if target is None:
            cells = sorted((abs(x - view.x) + abs(y - view.y), (x, y))
                           for (x, y), item in view.items.items() if item.kind == kind)
            if not cells:
                return SkillStep(self._sweep(context, view, f"looking for {kind}"))
            target = cells[0][1]
        decision = self._go(view, target, "touch", f"{kind} at {target}")
        if self.action_ids.get("touch") == decision.action and self.engine == "colour_set":
            decision.memory_notes = self._close(view, context)
        return SkillStep(decision, active.target)

    def _go(self, view: ManipulationView, target: Cell, then: str, why: str) -> Decision:
        x, y = view.position
        if (x, y) == target:
            return Decision(self.action_ids[then], reason=why)
        if x != target[0]:
            move = "right" if target[0] > x else "left"
        else:
            move = "down" if target[1] > y else "up"
        return Decision(self.action_ids[move], reason=f"to {target}: {why}")

    def _sweep(self, context: AgentContext, view: ManipulationView, why: str) -> Decision:
        """Visit the table's corners in turn (a view in each covers it)."""
        corners = [(1, 1), (self.width - 2, 1), (self.width - 2, self.height - 2),
                   (1, self.height - 2)]
        target = corners[(context.step // (self.width + self.height)) % len(corners)]
        return self._go(view, target, "noop", why)

    def _close(self, view: ManipulationView, context: AgentContext) -> list[Fact]:
        """Colour set: the colour under the gripper is done (its cue leaves memory)."""
        under = view.items.get(view.position)
        if under is None:
            return []
        return [Fact(kind="gone_from", subject=r.kind, place=(r.x, r.y),
                     provenance="inferred", observed_step=context.step)
                for r in self._records(context) if r.kind == f"cue_{under.kind}"]
