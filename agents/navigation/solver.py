"""The scripted solver of the navigation memory tasks (policy ``scripted`` for that family).

What makes the study honest: after the cue is gone, every piece of task knowledge the
solver acts on comes from ``context.recall`` (its memory) or the current observation and
inbox, never from attributes set at an earlier step. The only state kept between steps is
the seeded random generator (and a seeded guess index) used when memory has nothing: with
memory off (``recall is None``) the solver guesses, so its success falls to about chance.

- In the act phase it recalls the target's remembered place (``nearest=(target, ...)``)
  plus what it needs to plan a route: remembered walls (neighbourhood), safe cells and pits
  (mystery_path), the other doors or dancers (never to be stepped on).
- It plans with breadth-first search over cells not known to be blocked (unknown cells
  count as free, so it replans as it sees more), except on the mystery path, where it
  walks only on remembered safe cells and steps onto one unknown cell at a time, nearest
  the goal first.
- The relay observer (``agent_0`` when ``relay``) sends each cue row it is shown as a
  ``location`` message to its teammates, a few rows per step in rotation (chosen from the
  step number, not from what it remembers sending), and never moves.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable

import numpy as np

from memsim.agents.navigation.perception import WALL, navigation_rules
from memsim.agents.navigation.view import NavigationView
from memsim.agents.policy import AgentContext, Decision
from memsim.envs.navigation.config import NavigationConfig
from memsim.envs.navigation.engine import ACT
from memsim.memory import Recall, RetrievalQuery

Cell = tuple[int, int]
MAX_RECALL_PER_KIND = 32  # RetrievalQuery.per_kind's upper bound
# Its last positions recalled; a cell visited this often among them is routed around when
# another route exists (a route through walls it no longer recalls can flip back and forth).
TRAIL, CROWDED = 12, 3
# Scenery marks that are choices: stepping on the wrong one fails the episode.
CHOICE_MARKS = {"object_permanence": "door", "ballet": "dancer", "neighbourhood": "sign"}


def _manhattan(a: Cell, b: Cell) -> int:
    return abs(a[0] - b[0]) + abs(a[1] - b[1])


def bfs(start: Cell, passable: Callable[[Cell], bool]) -> dict[Cell, Cell | None]:
    """Breadth-first search from `start` over passable cells: cell -> previous cell."""
    parents: dict[Cell, Cell | None] = {start: None}
    queue = deque([start])
    while queue:
        x, y = queue.popleft()
        for nxt in ((x, y - 1), (x, y + 1), (x - 1, y), (x + 1, y)):
            if nxt not in parents and passable(nxt):
                parents[nxt] = (x, y)
                queue.append(nxt)
    return parents


def step_towards(position: Cell, goal: Cell, walls: set[Cell], avoid: set[Cell]
                 ) -> Cell | None:
    """The next cell on a shortest route from `position` to `goal` that keeps off `walls`
    and `avoid` and within one cell of the box around what is known (None: no route)."""
    known = [*walls, goal, position]
    x0, x1 = min(c[0] for c in known) - 1, max(c[0] for c in known) + 1
    y0, y1 = min(c[1] for c in known) - 1, max(c[1] for c in known) + 1

    def passable(cell: Cell) -> bool:
        return (x0 <= cell[0] <= x1 and y0 <= cell[1] <= y1
                and cell not in walls and cell not in avoid)

    return first_step(bfs(position, passable), goal)


def first_step(parents: dict[Cell, Cell | None], goal: Cell) -> Cell | None:
    """The first cell after the start on the path to `goal` (None if unreachable or there)."""
    if goal not in parents or parents[goal] is None:
        return None
    cell = goal
    while parents[cell] is not None and parents[parents[cell]] is not None:  # type: ignore[index]
        cell = parents[cell]  # type: ignore[assignment]
    return cell


class NavigationSolver:
    """Scripted policy for every navigation task, single-agent or relay."""

    name = "scripted"

    def __init__(self, config: NavigationConfig) -> None:
        self.config = config
        self.rules = navigation_rules(config)
        self.task = config.task
        self.view = self.rules.tasks[config.task].view

    def reset(self, agent_id: str, seed: int, action_names: tuple[str, ...]) -> None:
        self.agent_id = agent_id
        index = int(agent_id.rsplit("_", 1)[-1])
        self.is_observer = self.config.relay and index == self.rules.observer
        self.seed, self.index = seed, index
        # fixed per episode: guesses stay put
        self.guess = int(np.random.default_rng([seed, index]).integers(1 << 30))
        moves = dict(zip(self.rules.actions, self.rules.moves, strict=True))
        self.move_actions = {moves[name]: i for i, name in enumerate(action_names)
                             if moves.get(name, (0, 0)) != (0, 0)}
        self.noop = action_names.index("noop")

    # ---- memory ---------------------------------------------------------------------

    def recall_query(self, context: AgentContext) -> RetrievalQuery | None:
        view: NavigationView = context.view
        if self.is_observer or view.phase != ACT:
            return None
        target = view.target
        if self.task == "mystery_path":
            kinds: tuple[str, ...] = ("safe", "pit")
        elif self.task == "neighbourhood":
            kinds = (target, CHOICE_MARKS[self.task], "wall")
        elif self.task in CHOICE_MARKS:
            kinds = (target, CHOICE_MARKS[self.task])
        else:
            kinds = (target,)
        return RetrievalQuery(nearest=kinds, position=view.position,
                              per_kind=MAX_RECALL_PER_KIND, trail=TRAIL)

    @staticmethod
    def _recalled(recall: Recall | None, kind: str) -> list[Cell]:
        if recall is None:
            return []
        return [(p.x, p.y) for p in recall.nearest if p.kind == kind]

    # ---- decisions ------------------------------------------------------------------

    def decide(self, context: AgentContext) -> Decision:
        obs: NavigationView = context.view
        if self.is_observer:
            return self._relay(context)
        if obs.phase != ACT:
            return Decision(self.noop, reason="waiting for the act phase")
        if self.task == "mystery_path":
            return self._mystery(obs, context.recall, context.step)
        return self._reach(obs, context.recall, context.step)

    def _relay(self, context: AgentContext) -> Decision:
        """Send the cue rows shown now to the actors (a rotating window per step)."""
        rows = context.view.shown
        if not rows or not context.teammates:
            return Decision(self.noop, reason="observer: nothing shown to relay")
        per_step = min(self.rules.relay_messages, len(rows))
        start = (context.step * per_step) % len(rows)
        chosen = [rows[(start + i) % len(rows)] for i in range(per_step)]
        messages = [{
            "recipients": list(context.teammates), "kind": "inform",
            "payload": {"type": "location", "entity": self.rules.mark_name(mark), "x": x, "y": y,
                        "seen_step": context.step},
            "step": context.step,
        } for mark, x, y in chosen]
        return Decision(self.noop, messages=messages,
                        reason=f"observer: relayed {len(chosen)} of {len(rows)} cue rows")

    def _move_to(self, position: Cell, nxt: Cell) -> int:
        return self.move_actions[(nxt[0] - position[0], nxt[1] - position[1])]

    def _random_move(self, obs: NavigationView, position: Cell, reason: str,
                     step: int) -> Decision:
        walls = {c for c, _ in obs.cells("terrain", WALL)}
        options = [d for d in sorted(self.move_actions)
                   if (position[0] + d[0], position[1] + d[1]) not in walls]
        if not options:
            return Decision(self.noop, reason=reason)
        # drawn from (seed, agent, step): no generator state carried between steps
        rng = np.random.default_rng([self.seed, self.index, step])
        dx, dy = options[int(rng.integers(len(options)))]
        return Decision(self.move_actions[(dx, dy)], reason=reason)

    def _locate(self, obs: NavigationView, recall: Recall | None, target: str) -> Cell | None:
        """The target's cell: in view now, else where memory remembers it."""
        target_id = self.rules.mark_ids.get(target, 0)
        for cell, _ in obs.cells("marks", target_id):
            return cell
        found = self._recalled(recall, target)
        return found[0] if found else None

    def _guess(self, obs: NavigationView, position: Cell) -> Cell | None:
        """Memory has no target: a seeded guess among the candidates in view (chance).

        Each candidate cell gets a pseudo-random rank from the episode's guess seed (and the
        target, so each command of a sequence gets a new guess), and the lowest wins: the
        guess stays the same while the agent walks and candidates leave or enter the view."""
        if self.task in CHOICE_MARKS:
            choice = self.rules.mark_ids[CHOICE_MARKS[self.task]]
            candidates = [c for c, _ in obs.cells("marks", choice) if c != position]
        elif self.task == "mortar_mayhem":
            candidates = [c for c, v in obs.cells("terrain") if v != WALL and c != position]
        else:
            return None
        salt = self.guess + obs.target_id

        def rank(cell: Cell) -> int:
            return (cell[0] * 73_856_093 ^ cell[1] * 19_349_663 ^ salt * 83_492_791) % 1_000_003

        return min(candidates, key=rank) if candidates else None

    def _reach(self, obs: NavigationView, recall: Recall | None, step: int) -> Decision:
        position = obs.position
        target = obs.target
        goal = self._locate(obs, recall, target)
        source = "memory" if goal is not None else "guess"
        if goal is None:
            goal = self._guess(obs, position)
        if goal is None:
            return self._random_move(obs, position, f"{target}: not known; exploring", step)
        if goal == position:  # a deadline task: stay on the tile until its time is up
            return Decision(self.noop, reason=f"on {target} at {goal} (from {source}): waiting")
        walls = {c for c, _ in obs.cells("terrain", WALL)}
        walls |= set(self._recalled(recall, "wall"))
        avoid: set[Cell] = set()
        if self.task in CHOICE_MARKS:
            choice = CHOICE_MARKS[self.task]
            avoid = {c for c, _ in obs.cells("marks", self.rules.mark_ids[choice])}
            avoid |= set(self._recalled(recall, choice))
            avoid.discard(goal)
        trail = recall.trail if recall is not None else []
        crowded = {c for c, n in Counter(trail).items() if n >= CROWDED} - {position, goal}
        nxt = (step_towards(position, goal, walls, avoid | crowded) if crowded else None
               ) or step_towards(position, goal, walls, avoid)
        if nxt is None:
            return self._random_move(obs, position, f"{target} at {goal}: no route known", step)
        return Decision(self._move_to(position, nxt),
                        reason=f"{target} at {goal} (from {source}); next {nxt}")

    def _mystery(self, obs: NavigationView, recall: Recall | None, step: int) -> Decision:
        position = obs.position
        goal = self._locate(obs, recall, "goal")
        if recall is None or goal is None:
            return self._random_move(obs, position, "no memory of the path: random step", step)
        safe = {*self._recalled(recall, "safe"), position}
        pits = set(self._recalled(recall, "pit"))
        walls = {c for c, _ in obs.cells("terrain", WALL)}
        parents = bfs(position, lambda cell: cell in safe)
        if goal in parents:
            nxt = first_step(parents, goal)
            assert nxt is not None
            return Decision(self._move_to(position, nxt), reason=f"goal at {goal} along safe cells")
        frontier = []
        for cell in parents:
            x, y = cell
            for probe in ((x, y - 1), (x, y + 1), (x - 1, y), (x + 1, y)):
                if (probe not in safe and probe not in pits and probe not in walls
                        and obs.in_view(probe)):
                    frontier.append((_manhattan(probe, goal), probe[1], probe[0], probe, cell))
        if not frontier:
            return self._random_move(obs, position, "no untried cell next to the known path", step)
        *_, probe, edge = min(frontier)
        nxt = probe if edge == position else first_step(parents, edge)
        assert nxt is not None
        return Decision(self._move_to(position, nxt),
                        reason=f"goal at {goal}: trying {probe} from safe {edge}")
