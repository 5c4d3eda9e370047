"""A scripted solver for the manipulation-memory tasks that acts only on its memory.

THE RULE: after the cue is gone, every piece of task knowledge the solver acts on comes
from `context.recall` (its memory) or the current observation / inbox. Nothing learnt at
an earlier step is kept in Python: what it infers (where the shuffled ball went, which
colours are done) it writes back to memory as `Decision.memory_notes` (provenance
"inferred"), and reads back through recall at the next step. With memory off the runner
passes `recall=None` and the solver guesses, seeded by its reset seed: that is what makes
"memory off ~ chance".

What it recalls, per engine (kinds are the perception's, `agents.perception.manipulation`):

- `select`, `colour_set`: the display cues `cue_<colour>_<shape>` still valid; their step
  (when first seen) gives the shown order. A touched colour's cue is closed (`gone_from`).
- `shell`: the ball; each step it matches the remembered ball cell with the cup that left
  it (the observation shows how each cup moved) and notes the ball's new cell.
- `take_back`: every sighting of the item; the earliest is where it began.
- `intercept`: the ball's sightings; their cells and steps give its line and pace.

Relay variants: agent_0 observes and forwards the records above as `location` messages
(which arrive as `told_by:agent_0` memories); the actors act on what they recall of them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from memsim.agents.manipulation.perception import cue_place
from memsim.agents.manipulation.view import ManipulationView, cue_kind, item_kind
from memsim.agents.policy import AgentContext, Decision
from memsim.envs.manipulation.config import ManipulationConfig
from memsim.envs.manipulation.engine import MOVES, OBSERVER
from memsim.memory import Fact, PlaceRecord, RetrievalQuery

_DIRECTIONS = {code: move for move, code in MOVES.items()}
OBSERVER_ID = f"agent_{OBSERVER}"
RELAY_SETTLE_STEPS = 2  # an actor waits this long into its phase for the last relayed news
MAX_FORWARDS = 8  # location messages per step (the channel's default budget)


def follow_ball(obs: ManipulationView, records: list[PlaceRecord], step: int) -> list[Fact]:
    """Shell game: the cup that just left the remembered ball cell carries the ball; the
    notes move the ball's memory to that cup's cell (none when no cup left it)."""
    ball = max(records, key=lambda r: r.step)
    for (x, y), item in obs.items.items():
        code = item.moved
        dx, dy = _DIRECTIONS.get(code, (0, 0))
        if code and (x - dx, y - dy) == (ball.x, ball.y):
            return [Fact(kind="gone_from", subject=ball.kind, place=(ball.x, ball.y),
                         provenance="inferred", observed_step=step),
                    Fact(kind="seen_at", subject=ball.kind, place=(x, y), category="item",
                         provenance="inferred", observed_step=step)]
    return []


BallLine = tuple[int, int, int, int, int, int]  # x, y, step of the last sighting; dx, dy, period


def ball_line(records: list[PlaceRecord] | None) -> BallLine | None:
    """Intercept: the ball's line and pace from its first and last remembered sightings
    (None with fewer than two)."""
    if not records or len(records) < 2:
        return None
    seen = sorted(records, key=lambda r: r.step)
    first, last = seen[0], seen[-1]
    cells = max(abs(last.x - first.x), abs(last.y - first.y))
    if cells == 0:
        return None
    period = max((last.step - first.step) // cells, 1)
    dx, dy = int(np.sign(last.x - first.x)), int(np.sign(last.y - first.y))
    return last.x, last.y, last.step, dx, dy, period


def ball_cell(line: BallLine, step: int) -> tuple[int, int]:
    """Where a ball on `line` is at `step`."""
    x, y, seen, dx, dy, period = line
    k = (step - seen) // period
    return x + dx * k, y + dy * k


class ManipulationSolver:
    """Policy for every manipulation task (single agent, relay observer and relay actor)."""

    name = "manipulation_solver"

    def __init__(self, config: ManipulationConfig) -> None:
        self.config = config
        self.rules = config.rules
        self.task = self.rules.task(config.task)
        self.engine = self.task.engine
        self.width, self.height = self.task.table
        self.view = self.task.view
        self.agent_id = ""
        self.action_ids: dict[str, int] = {}
        self.guess = np.zeros(64)
        self.preference: list[str] = []
        self._waypoints = self._make_waypoints()
        self._kinds = self._memory_kinds()

    # ---- Policy protocol ------------------------------------------------------------------

    def reset(self, agent_id: str, seed: int, action_names: tuple[str, ...]) -> None:
        self.agent_id = agent_id
        self.action_ids = {name: i for i, name in enumerate(action_names)}
        # Guesses for when memory is off: drawn before anything is seen, so they carry no
        # task knowledge; one per "attempt" so a failed guess is not repeated for ever.
        index = int(agent_id.rpartition("_")[2] or 0)
        rng = np.random.default_rng([seed, index, 7])
        self.guess = rng.random(64)
        kinds = [item_kind(c, s) for c in self.task.colours for s in self.task.shapes]
        self.preference = [kinds[int(i)] for i in rng.permutation(len(kinds))]

    def recall_query(self, context: AgentContext) -> RetrievalQuery | None:
        return RetrievalQuery(nearest=self._kinds, position=cue_place(self.config, 0),
                              per_kind=1 if self.engine in ("select", "colour_set") else 16)

    def decide(self, context: AgentContext) -> Decision:
        obs: ManipulationView = context.view
        records = None if context.recall is None else [
            r for r in context.recall.nearest if r.kind in self._kinds]
        observer = self.config.relay and self.agent_id == OBSERVER_ID
        notes = self._notes(obs, records, context.step)
        messages = self._forward(context, records) if observer else []
        action, reason = self._act(context, obs, records, observer)
        if self.engine == "colour_set" and action == "touch" and records is not None:
            notes += self._close_touched(obs, records, context.step)
        return Decision(action=self.action_ids[action], messages=messages, memory_notes=notes,
                        reason=reason)

    # ---- memory ---------------------------------------------------------------------------

    def _memory_kinds(self) -> tuple[str, ...]:
        """The memory kinds this task's knowledge lives in (what `recall_query` asks for)."""
        task = self.task
        if self.engine in ("select", "colour_set"):
            return tuple(cue_kind(c, s) for c in task.colours for s in task.shapes)
        key = {"shell": "ball", "intercept": "ball", "take_back": "item"}[self.engine]
        return (item_kind(*task.item(key)),)

    def _notes(self, obs: ManipulationView, records: list[PlaceRecord] | None,
               step: int) -> list[Fact]:
        """Shell game: follow the ball's cup through the shuffle (written to memory at the
        next step, stamped with this one)."""
        if self.engine != "shell" or not records:
            return []
        return follow_ball(obs, records, step)

    def _close_touched(self, obs: ManipulationView, records: list[PlaceRecord],
                       step: int) -> list[Fact]:
        """The colour under the gripper is done: close its cue so recall shows what is left."""
        under = obs.items.get(obs.position)
        if under is None:
            return []
        kind = cue_kind(under.colour, under.shape)
        return [Fact(kind="gone_from", subject=r.kind, place=(r.x, r.y), provenance="inferred",
                     observed_step=step) for r in records if r.kind == kind]

    def _forward(self, context: AgentContext, records: list[PlaceRecord] | None
                 ) -> list[dict[str, Any]]:
        """Relay observer: tell the actors what they will need, as location messages."""
        if not records or not context.teammates:
            return []
        view: ManipulationView = context.view
        if self.engine == "shell" and (view.phase != "action" or view.phase_step < 1):
            return []  # the ball's cell is final only once the shuffle has been followed
        if self.engine == "take_back":
            records = [min(records, key=lambda r: (r.step, r.y, r.x))]
        ordered = sorted(records, key=lambda r: (r.step, r.kind, r.x, r.y))
        start = (context.step * MAX_FORWARDS) % len(ordered)
        window = (ordered[start:] + ordered[:start])[:MAX_FORWARDS]
        return [{"recipients": list(context.teammates),
                 "kind": "inform", "step": context.step,
                 "payload": {"type": "location", "entity": r.kind, "x": r.x, "y": r.y,
                             "seen_step": r.step}}
                for r in window]

    # ---- acting ---------------------------------------------------------------------------

    def _act(self, context: AgentContext, obs: ManipulationView,
             records: list[PlaceRecord] | None, observer: bool) -> tuple[str, str]:
        phase, phase_step = obs.phase, obs.phase_step
        if observer and not (self.engine == "take_back" and phase == "action"):
            return "noop", "observer: watching and relaying"
        if self.config.relay and not observer:
            acting = "return" if self.engine == "take_back" else "action"
            if phase != acting or phase_step < RELAY_SETTLE_STEPS:
                return "noop", f"actor: waiting for the {acting} phase and the relay"
        if phase not in ("action", "return"):
            return "noop", f"{phase} phase: watching"
        return getattr(self, f"_act_{self.engine}")(context, obs, records)

    def _go(self, obs: ManipulationView, target: tuple[int, int], then: str,
            why: str) -> tuple[str, str]:
        x, y = obs.position
        if (x, y) == target:
            return then, why
        if x != target[0]:
            return ("right" if target[0] > x else "left"), f"to {target}: {why}"
        return ("down" if target[1] > y else "up"), f"to {target}: {why}"

    def _make_waypoints(self) -> list[tuple[int, int]]:
        """Cells whose views together cover the table (visited in turn when searching)."""
        def stops(size: int, view: int) -> list[int]:
            if view >= size:
                return [size // 2]
            return [view // 2, size - 1 - view // 2]
        xs, ys = stops(self.width, self.view[0]), stops(self.height, self.view[1])
        return [(x, y) for y in ys for x in (xs if ys.index(y) % 2 == 0 else xs[::-1])]

    def _explore(self, context: AgentContext, obs: ManipulationView, why: str) -> tuple[str, str]:
        period = self.width + self.height
        target = self._waypoints[(context.step // period) % len(self._waypoints)]
        action, reason = self._go(obs, target, "noop", why)
        return action, f"searching ({why}); {reason}"

    def _pick_guess(self, options: list[Any], attempt: int) -> Any:
        return options[int(self.guess[attempt % len(self.guess)] * len(options))]

    def _act_select(self, context: AgentContext, obs: ManipulationView,
                    records: list[PlaceRecord] | None) -> tuple[str, str]:
        visible = obs.items
        if records:
            want = min(records, key=lambda r: r.step).kind.removeprefix("cue_")
            why = f"the cue was {want} [{records[0].provenance}]"
        else:
            kinds = {item.kind for item in visible.values()}
            if not kinds:
                return self._explore(context, obs, "no items in view")
            # the first visible kind in a seeded order: a guess that stays put as it moves
            want = next(k for k in self.preference if k in kinds)
            why = "no memory of the cue: a guess"
        cells = sorted(cell for cell, item in visible.items() if item.kind == want)
        if not cells:
            return self._explore(context, obs, f"looking for {want}")
        return self._go(obs, cells[0], "touch", why)

    def _act_colour_set(self, context: AgentContext, obs: ManipulationView,
                        records: list[PlaceRecord] | None) -> tuple[str, str]:
        visible = obs.items
        if records is not None:
            if not records:
                return "noop", "every shown colour is done"
            remaining = sorted(records, key=lambda r: (r.step, r.x))
            if self.task.extra["ordered"]:
                remaining = remaining[:1]
            wanted = {r.kind.removeprefix("cue_") for r in remaining}
            why = f"still to touch: {', '.join(sorted(wanted))}"
        else:
            kinds = {item.kind for item in visible.values()}
            if not kinds:
                return self._explore(context, obs, "no items in view")
            # a guess in a seeded order, moving on every few steps (it cannot know what it
            # has touched already)
            shift = context.step // 8
            order = self.preference[shift % len(self.preference):] + self.preference
            wanted = {next(k for k in order if k in kinds)}
            why = "no memory of the cue: a guess"
        px, py = obs.position
        cells = sorted((abs(x - px) + abs(y - py), (x, y))
                       for (x, y), item in visible.items() if item.kind in wanted)
        if not cells:
            return self._explore(context, obs, f"looking for {', '.join(sorted(wanted))}")
        return self._go(obs, cells[0][1], "touch", why)

    def _act_shell(self, context: AgentContext, obs: ManipulationView,
                   records: list[PlaceRecord] | None) -> tuple[str, str]:
        cups = sorted(obs.items.items())
        if any(item.moved for _, item in cups) or obs.phase_step < 1:
            return "noop", "the cups are still settling"
        if records:
            ball = max(records, key=lambda r: r.step)
            return self._go(obs, (ball.x, ball.y), "touch",
                            f"the ball is under the cup at ({ball.x},{ball.y}) "
                            f"[{ball.provenance}]")
        if not cups:
            return self._explore(context, obs, "no cups in view")
        cell = self._pick_guess([c for c, _ in cups], 0)
        return self._go(obs, cell, "touch", "no memory of the ball: a guess")

    def _act_take_back(self, context: AgentContext, obs: ManipulationView,
                       records: list[PlaceRecord] | None) -> tuple[str, str]:
        phase = obs.phase
        if not obs.holding:
            cells = sorted(obs.items)
            if not cells:
                return self._explore(context, obs, "looking for the item")
            return self._go(obs, cells[0], "pick", "pick the item up")
        if phase == "action":
            marks = obs.marks
            if not marks:
                return self._explore(context, obs, "looking for the target mark")
            return self._go(obs, marks[0], "place", "onto the target mark")
        if records:
            origin = min(records, key=lambda r: (r.step, r.y, r.x))
            return self._go(obs, (origin.x, origin.y), "place",
                            f"it began at ({origin.x},{origin.y}) at step {origin.step} "
                            f"[{origin.provenance}]")
        cell = (int(self.guess[0] * self.width), int(self.guess[1] * self.height))
        return self._go(obs, cell, "place", "no memory of where it began: a guess")

    def _act_intercept(self, context: AgentContext, obs: ManipulationView,
                       records: list[PlaceRecord] | None) -> tuple[str, str]:
        px, py = obs.position
        now = context.step
        line = ball_line(records)
        if line is not None:
            for t in range(now, now + 4 * (self.width + self.height) * line[5]):
                cell = ball_cell(line, t)
                if not (0 <= cell[0] < self.width and 0 <= cell[1] < self.height):
                    break
                if abs(cell[0] - px) + abs(cell[1] - py) <= t - now:
                    why = f"the ball will be at {cell} at step {t} (1 cell / {line[5]} steps)"
                    if (px, py) == cell:
                        return ("pick", why) if t == now else ("noop", "waiting: " + why)
                    return self._go(obs, cell, "pick", why)
            return "noop", "the ball cannot be reached any more"
        cell = (int(self.guess[0] * self.width), int(self.guess[1] * self.height))
        return self._go(obs, cell, "pick", "no memory of the ball: a guess")
