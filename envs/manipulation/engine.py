"""The tabletop engine shared by every manipulation task.

A world is a table grid with items (a colour and a shape each), one gripper per agent and
a cue display. Each task's `engine` (from the rules) decides what is shown when, how items
move and what a touch, pick or place means:

- `select`: a cue item on the display; touch the table item with its colour / shape.
- `colour_set`: cue colours shown one after another or all at once; touch each (in order
  when the task is `ordered`); distractors fail.
- `shell`: a ball shown under one cup, the cups shuffled by visible pairwise swaps; touch
  the ball's cup.
- `take_back`: pick an item, place it on the target mark, then put it back where it began.
- `intercept`: a ball rolls in a straight line, seen only during the cue; pick it at the
  cell it is in at that moment.

Agents act in agent order (grippers never block each other), then the world moves
(cups, the rolling ball). A wrong selection ends the episode as a failure for the team.
With `move_before_action = false` a gripper cannot move before its acting phase. Besides
the team's success reward, the acting agent gets the rules' shaping rewards: for any
selection of an item (`select_reward`), for progress that is already right (a shown
colour touched, take_it_back's picks and its place on the mark: `progress_reward`) and
for moving closer to any selectable item in its acting phase (`approach_reward`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memsim.envs.manipulation.config import ManipulationConfig
from memsim.envs.manipulation.rules import PHASES, Rules, TaskRules
from memsim.envs.manipulation.shuffle import Shuffle, plan_swaps
from memsim.envs.world import BodyRecord, StepResult

# Motion codes of the observation's `moved` layer: how the item in a cell moved last step.
MOVES: dict[tuple[int, int], int] = {(0, 0): 0, (0, -1): 1, (0, 1): 2, (-1, 0): 3, (1, 0): 4,
                                     (-1, -1): 5, (1, -1): 6, (-1, 1): 7, (1, 1): 8}
STEPS: dict[str, tuple[int, int]] = {"up": (0, -1), "down": (0, 1), "left": (-1, 0),
                                     "right": (1, 0)}
OBSERVER = 0  # in relay variants agent_0 observes the cue and the others act
TAKE_BACK_APART = 3  # take_it_back: the origin and the mark are at least this far apart
INTERCEPT_MARGIN = {False: 1, True: 3}  # spare steps to the meeting cell (by relay: news is late)


class ActionError(ValueError):
    """An action index or agent that cannot be applied; the message names the field."""


@dataclass
class Item:
    colour: int  # rules colour id (1-based)
    shape: int  # rules shape id (1-based)
    x: int
    y: int
    role: str  # "candidate", "cup", "ball", "object"
    visible_from: int = 0  # first step it is drawn (candidates appear at the action phase)
    hidden_after: int | None = None  # last step it is drawn (cues hidden after the cue)
    moved: tuple[int, int] = (0, 0)
    touched: bool = False
    held_by: int | None = None  # agent index while in a gripper


@dataclass
class Gripper(BodyRecord):
    """One agent's gripper (the outcome of its last action: `BodyRecord`)."""

    x: int
    y: int
    holding: Item | None = None


class ManipulationWorld:
    """State and rules of one tabletop episode (no observation formatting here)."""

    def __init__(self, config: ManipulationConfig) -> None:
        self.config = config
        self.rules: Rules = config.rules
        self.task: TaskRules = self.rules.task(config.task)
        self.level = config.level
        self.width, self.height = self.task.table
        self.action_names = self.rules.actions
        self.cue_end = self.task.cue_length(self.level)
        self.delay_end = self.cue_end + self.task.delay_steps
        self.reset(0)

    # ---- episode ------------------------------------------------------------------------

    def reset(self, seed: int) -> None:
        """A fresh episode; the same seed gives the same layout and motions."""
        self.rng = np.random.default_rng(seed)
        self.step_count = 0
        self.items: list[Item] = []
        self.display: list[list[tuple[int, int]]] = []  # per cue step: (colour, shape) slots
        self.cue_sequence: list[int] = []  # colour ids to touch (colour_set)
        self.touched_order: list[int] = []
        self.outcome: str | None = None  # "success" / "failure" once decided
        self.stage = "action"  # take_back: "action" (to the mark) then "return"
        self.target: tuple[int, int] | None = None
        self.origin: tuple[int, int] | None = None
        self.shuffle: Shuffle = []  # per delay step
        self.ball_path: tuple[int, int, int, int, int] | None = None  # x0, y0, dx, dy, period
        self.return_start = 0
        self.team_achievements: dict[str, tuple[int, str]] = {}
        self._shaping: list[float] = [0.0] * self.config.n_agents
        cx, cy = self.width // 2, self.height // 2
        self.grippers = [Gripper(cx, cy) for _ in range(self.config.n_agents)]
        getattr(self, f"_setup_{self.task.engine}")()

    def _cells(self, count: int, exclude: set[tuple[int, int]]) -> list[tuple[int, int]]:
        free = [(x, y) for y in range(self.height) for x in range(self.width)
                if (x, y) not in exclude]
        picks = self.rng.choice(len(free), size=count, replace=False)
        return [free[int(i)] for i in picks]

    def _colour(self, name: str) -> int:
        return self.rules.colour_ids[name]

    def _shape(self, name: str) -> int:
        return self.rules.shape_ids[name]

    def _setup_select(self) -> None:
        task = self.task
        by_colour = task.extra["attribute"] == "colour"
        values = task.colours if by_colour else task.shapes
        chosen = [values[int(i)] for i in self.rng.choice(len(values), self.level, replace=False)]
        cue = chosen[int(self.rng.integers(self.level))]
        fixed_colour, fixed_shape = task.colours[0], task.shapes[0]

        def pair(value: str) -> tuple[int, int]:
            if by_colour:
                return self._colour(value), self._shape(fixed_shape)
            return self._colour(fixed_colour), self._shape(value)

        self.display = [[pair(cue)] for _ in range(self.cue_end)]
        self.cue_sequence = [pair(cue)[0 if by_colour else 1]]
        for value, (x, y) in zip(chosen, self._cells(self.level, set()), strict=True):
            colour, shape = pair(value)
            self.items.append(Item(colour, shape, x, y, "candidate", visible_from=self.delay_end))

    def _setup_colour_set(self) -> None:
        task = self.task
        n = self.level
        spare = len(task.colours) - n
        picks = self.rng.choice(len(task.colours), n + min(task.extra["distractors"], spare),
                                replace=False)
        names = [task.colours[int(i)] for i in picks]
        shape = self._shape(task.shapes[0])
        self.cue_sequence = [self._colour(c) for c in names[:n]]
        if task.extra["presentation"] == "sequential":
            each = int(task.extra["item_steps"])
            self.display = [[(self.cue_sequence[t // each], shape)] for t in range(self.cue_end)]
        else:
            self.display = [[(c, shape) for c in self.cue_sequence] for _ in range(self.cue_end)]
        for name, (x, y) in zip(names, self._cells(len(names), set()), strict=True):
            self.items.append(Item(self._colour(name), shape, x, y, "candidate",
                                   visible_from=self.delay_end))

    def _setup_shell(self) -> None:
        n, row = self.level, self.height // 2
        first = self.width // 2 - (n - 1)
        cup_colour, cup_shape = self.task.item("cup")
        for i in range(n):
            self.items.append(Item(self._colour(cup_colour), self._shape(cup_shape),
                                   first + 2 * i, row, "cup"))
        ball_colour, ball_shape = self.task.item("ball")
        under = int(self.rng.integers(n))
        ball = Item(self._colour(ball_colour), self._shape(ball_shape), first + 2 * under, row,
                    "ball", hidden_after=self.cue_end - 1)
        self.items.append(ball)
        self.ball_cup = under
        self.shuffle = plan_swaps(n, self.task.delay_steps, self.rng)

    def _setup_take_back(self) -> None:
        colour, shape = self.task.item("item")
        centre = (self.width // 2, self.height // 2)
        while True:
            origin, target = self._cells(2, {centre})
            if abs(origin[0] - target[0]) + abs(origin[1] - target[1]) >= TAKE_BACK_APART:
                break
        self.origin, self.target = origin, target
        self.items.append(Item(self._colour(colour), self._shape(shape), *origin, "object"))

    def _setup_intercept(self) -> None:
        """A straight roll built backwards from a meeting cell near the gripper, so that
        every episode can be won: the gripper can reach the meeting cell in time after the
        cue (plus a margin for relay actors, whose news arrives a few steps late)."""
        period = self.level
        colour, shape = self.task.item("ball")
        cx, cy = self.width // 2, self.height // 2
        margin = INTERCEPT_MARGIN[self.config.relay]
        directions = [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if (dx, dy) != (0, 0)]
        for _ in range(1000):
            dx, dy = directions[int(self.rng.integers(len(directions)))]
            mx, my = self._cells(1, set())[0]
            meet = self.cue_end + margin + abs(mx - cx) + abs(my - cy)
            meet += int(self.rng.integers(period))  # any phase of the ball's pace
            x0, y0 = mx - dx * (meet // period), my - dy * (meet // period)
            if self.on_table(x0, y0) and meet < self.config.episode_steps:
                break
        else:
            raise ValueError(f"rules: tasks.{self.task.name}: a ball at 1 cell per {period} "
                             f"steps cannot be intercepted on a {self.width}x{self.height} "
                             "table; use a slower level or a larger table")
        self.ball_path = (x0, y0, dx, dy, period)
        self.items.append(Item(self._colour(colour), self._shape(shape), x0, y0, "ball",
                               hidden_after=self.cue_end - 1))

    # ---- queries --------------------------------------------------------------------------

    @property
    def agents(self) -> list[Gripper]:
        """The grippers, under the name every world gives its agents' bodies."""
        return self.grippers

    def on_table(self, x: int, y: int) -> bool:
        """Whether (x, y) is a table cell."""
        return 0 <= x < self.width and 0 <= y < self.height

    def phase(self, step: int | None = None) -> str:
        """The phase at `step` (default: now)."""
        t = self.step_count if step is None else step
        if self.outcome is not None:
            return "over"
        if t < self.cue_end:
            return "cue"
        if t < self.delay_end:
            return "delay"
        return "return" if self.stage == "return" else "action"

    def phase_start(self) -> int:
        """The step the current phase began."""
        phase = self.phase()
        if phase == "cue":
            return 0
        if phase == "delay":
            return self.cue_end
        if phase == "return":
            return self.return_start
        return self.delay_end

    def phase_index(self) -> int:
        return PHASES.index(self.phase())

    def visible(self, item: Item, step: int | None = None) -> bool:
        """Whether an item is drawn at `step`: on the table, appeared, not hidden."""
        t = self.step_count if step is None else step
        if item.held_by is not None or not self.on_table(item.x, item.y):
            return False
        if t < item.visible_from:
            return False
        return item.hidden_after is None or t <= item.hidden_after

    def items_at(self, x: int, y: int) -> list[Item]:
        return [i for i in self.items if (i.x, i.y) == (x, y) and i.held_by is None]

    def top_item(self, x: int, y: int, step: int | None = None) -> Item | None:
        """What is seen at a cell: a visible ball during its cue beats its cup."""
        seen = [i for i in self.items_at(x, y) if self.visible(i, step)]
        seen.sort(key=lambda i: i.role != "ball")
        return seen[0] if seen else None

    def cue_now(self) -> list[tuple[int, int]]:
        """The display's (colour, shape) per slot at this step (empty outside the cue)."""
        t = self.step_count
        if self.outcome is None and t < len(self.display):
            return self.display[t]
        return []

    def acting_phase(self, agent: int) -> bool:
        """Whether this agent may touch / pick / place now."""
        phase = self.phase()
        if not self.config.relay:
            return phase in ("action", "return")
        if agent == OBSERVER:  # the observer only makes the first move of take_it_back
            return self.task.engine == "take_back" and phase == "action"
        if self.task.engine == "take_back":
            return phase == "return"
        return phase == "action"

    def sees_table(self, agent: int) -> bool:
        """Relay actors are blind until their acting phase (they must rely on the observer)."""
        if not self.config.relay or agent == OBSERVER:
            return True
        return self.phase() in ("return", "over") if self.task.engine == "take_back" else (
            self.phase() in ("action", "over"))

    # ---- stepping -------------------------------------------------------------------------

    def step(self, actions: list[int | None]) -> StepResult:
        """Apply each agent's action (None: noop) in agent order, then move the world."""
        unlocked: list[list[str]] = [[] for _ in self.grippers]
        self._shaping = [0.0] * len(self.grippers)
        for index, action in enumerate(actions):
            gripper = self.grippers[index]
            gripper.events = []
            name = self.action_names[action] if action is not None else "noop"
            gripper.last_action, gripper.last_ok, gripper.last_reason = name, True, ""
            if self.outcome is None:
                self._act(index, gripper, name, unlocked)
        t = self.step_count
        self.step_count += 1
        if self.outcome is None:
            self._advance(t)
        rewards = list(self._shaping)
        if "success" in self.team_achievements and self.team_achievements["success"][0] == t:
            rewards = [r + self.task.reward for r in rewards]
        return StepResult(rewards, unlocked)

    def _fail(self, gripper: Gripper, reason: str) -> None:
        gripper.last_ok, gripper.last_reason = False, reason

    def _act(self, index: int, gripper: Gripper, name: str, unlocked: list[list[str]]) -> None:
        if name == "noop":
            return
        if name in STEPS:
            dx, dy = STEPS[name]
            if not self.task.move_before_action and not self.acting_phase(index):
                self._fail(gripper, f"cannot move now: {self.phase()} phase")
                return
            if not self.on_table(gripper.x + dx, gripper.y + dy):
                self._fail(gripper, "the edge of the table")
                return
            shaped = self.task.approach_reward and self.acting_phase(index)
            before = self._to_nearest_item(gripper) if shaped else None
            gripper.x, gripper.y = gripper.x + dx, gripper.y + dy
            if before is not None:  # the items did not change: there is a nearest one still
                after = self._to_nearest_item(gripper)
                assert after is not None
                self._shaping[index] += self.task.approach_reward * (before - after)
            return
        if not self.acting_phase(index):
            self._fail(gripper, f"not now: {self.phase()} phase")
            return
        getattr(self, f"_{name}")(index, gripper, unlocked)

    def _to_nearest_item(self, gripper: Gripper) -> int | None:
        """Cells to the nearest drawn item that can still be selected (None: none is)."""
        return min((abs(i.x - gripper.x) + abs(i.y - gripper.y) for i in self.items
                    if self.visible(i) and not i.touched), default=None)

    def _unlock(self, index: int, name: str, unlocked: list[list[str]]) -> None:
        gripper = self.grippers[index]
        if name not in gripper.achievements:
            gripper.achievements[name] = self.step_count
            unlocked[index].append(name)
        if name not in self.team_achievements:
            self.team_achievements[name] = (self.step_count, f"agent_{index}")

    def _end(self, index: int, success: bool, why: str, unlocked: list[list[str]]) -> None:
        self.outcome = "success" if success else "failure"
        self.grippers[index].events.append(why)
        if success:
            self._unlock(index, "success", unlocked)
        else:
            self._fail(self.grippers[index], why)

    def _touch(self, index: int, gripper: Gripper, unlocked: list[list[str]]) -> None:
        if self.task.engine in ("take_back",):
            self._fail(gripper, "nothing to touch in this task: pick and place")
            return
        if self.task.engine == "intercept":  # the ball rolls unseen: is it here now?
            ball = self.items[0]
            caught = (ball.x, ball.y) == (gripper.x, gripper.y)
            self._end(index, caught, "caught the ball" if caught else
                      "missed: the ball is not here", unlocked)
            return
        item = self.top_item(gripper.x, gripper.y)
        if item is None:
            self._fail(gripper, "nothing here to touch")
            return
        self._select(index, item, unlocked)

    def _select(self, index: int, item: Item, unlocked: list[list[str]]) -> None:
        engine = self.task.engine
        gripper = self.grippers[index]
        if engine == "colour_set" and item.touched:
            # it stays on the table, done: touching it again selects nothing and pays nothing
            # (paying `select_reward` here let PPO touch one item for ever for 0.1 a step)
            self._fail(gripper, "already touched")
            return
        self._shaping[index] += self.task.select_reward
        if engine == "shell":
            right = self.items.index(item) == self.ball_cup
            self._end(index, right, "found the ball" if right else "the ball was not there",
                      unlocked)
        elif engine == "select":
            attribute = item.colour if self.task.extra["attribute"] == "colour" else item.shape
            right = attribute == self.cue_sequence[0]
            self._end(index, right, "matched the cue" if right else "did not match the cue",
                      unlocked)
        elif engine == "colour_set":
            remaining = [c for c in self.cue_sequence if c not in self.touched_order]
            allowed = remaining[:1] if self.task.extra["ordered"] else remaining
            if item.colour not in allowed:
                self._end(index, False, "not a shown colour" if item.colour not in
                          self.cue_sequence else "out of order", unlocked)
                return
            item.touched = True
            self.touched_order.append(item.colour)
            if len(self.touched_order) < len(self.cue_sequence):
                self._shaping[index] += self.task.progress_reward
            gripper.events.append(f"touched {self.rules.colours[item.colour - 1]}")
            if len(self.touched_order) == len(self.cue_sequence):
                self._end(index, True, "touched every shown colour", unlocked)

    def _pick(self, index: int, gripper: Gripper, unlocked: list[list[str]]) -> None:
        if self.task.engine != "take_back":
            self._touch(index, gripper, unlocked)  # picking a cup / item selects it too
            return
        if gripper.holding is not None:
            self._fail(gripper, "already holding something")
            return
        item = self.top_item(gripper.x, gripper.y)
        if item is None:
            self._fail(gripper, "nothing here to pick")
            return
        item.held_by, gripper.holding = index, item
        gripper.events.append("picked")
        if f"picked_{self.stage}" not in self.team_achievements:
            self._shaping[index] += self.task.progress_reward
            self._unlock(index, f"picked_{self.stage}", unlocked)

    def _place(self, index: int, gripper: Gripper, unlocked: list[list[str]]) -> None:
        if self.task.engine != "take_back":
            self._fail(gripper, "nothing to place in this task: touch to select")
            return
        item = gripper.holding
        if item is None:
            self._fail(gripper, "holding nothing")
            return
        item.x, item.y, item.held_by, gripper.holding = gripper.x, gripper.y, None, None
        here = (gripper.x, gripper.y)
        if self.stage == "action":
            if here != self.target:
                self._end(index, False, "placed off the target", unlocked)
                return
            self._unlock(index, "placed_on_target", unlocked)
            self._shaping[index] += self.task.progress_reward
            self.stage, self.return_start = "return", self.step_count + 1
            gripper.events.append("placed on the target")
        elif here == self.origin:
            self._end(index, True, "put it back where it began", unlocked)
        else:
            self._end(index, False, "not where it began", unlocked)

    def _advance(self, t: int) -> None:
        """Move the world from step t to t + 1 (after the agents acted at t)."""
        for item in self.items:
            item.moved = (0, 0)
        if self.task.engine == "shell" and self.cue_end <= t < self.delay_end:
            for cup, (dx, dy) in self.shuffle[t - self.cue_end]:
                item = self.items[cup]
                item.x, item.y, item.moved = item.x + dx, item.y + dy, (dx, dy)
            ball, cup = self.items[-1], self.items[self.ball_cup]
            ball.x, ball.y = cup.x, cup.y
        elif self.task.engine == "intercept":
            ball = self.items[0]
            if ball.held_by is not None:
                return
            x, y = self.ball_at(t + 1)
            ball.moved = (x - ball.x, y - ball.y)
            ball.x, ball.y = x, y
            if not self.on_table(x, y):
                self.outcome = "failure"
                for gripper in self.grippers:
                    gripper.events.append("the ball rolled off the table")

    def ball_at(self, step: int) -> tuple[int, int]:
        """Where the intercept ball is at `step` (it moves one cell every `period` steps)."""
        assert self.ball_path is not None
        x0, y0, dx, dy, period = self.ball_path
        return x0 + dx * (step // period), y0 + dy * (step // period)

    def solution_cells(self) -> list[tuple[int, int]]:
        """Where the right selections are now (for tests and the viewer; never to agents)."""
        engine = self.task.engine
        if engine == "shell":
            cup = self.items[self.ball_cup]
            return [(cup.x, cup.y)]
        if engine == "take_back":
            return [self.origin] if self.stage == "return" else [self.target]  # type: ignore
        if engine == "intercept":
            return [self.ball_at(self.step_count)]
        if engine == "select":
            key = "colour" if self.task.extra["attribute"] == "colour" else "shape"
            return [(i.x, i.y) for i in self.items if getattr(i, key) == self.cue_sequence[0]]
        remaining = [c for c in self.cue_sequence if c not in self.touched_order]
        if self.task.extra["ordered"]:
            remaining = remaining[:1]
        return [(i.x, i.y) for i in self.items if i.colour in remaining and not i.touched]
