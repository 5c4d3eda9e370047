"""The navigation engine: one grid, N agents, a task layout run through its phases.

Every task runs the same way (see `tasks.py` for how each builds its `Layout`):

- cue phase: `Layout.shown[step]` entries (mark, x, y) are in the `shown` list of each
  observing agent's observation (in relay only agent `rules.observer` observes);
- delay phase: nothing moves; some tasks show distractors;
- act phase: agents may move; the current target is named in the observation. An actor on
  the target's cell reaches it (the next target is named, with a fresh time limit); with
  `check="deadline"` (Mortar Mayhem) only an actor standing on it when its time is up
  does. On a `wrong` cell, or entering a `choices` cell other than the target, the episode
  fails; on a `pit` the agent is sent back to `home` (a fall beyond `max_falls` fails).
  When a target's time limit runs out (and it was not reached) the episode fails.
  Reaching a target pays 1; a first step onto a `progress` cell pays `progress_reward`.

Agents do not block each other (several may share a cell). The relay observer never moves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memsim.envs.navigation.config import NavigationConfig
from memsim.envs.navigation.rules import NavRules, load_rules
from memsim.envs.navigation.tasks import GENERATORS, Layout
from memsim.envs.world import BodyRecord, StepResult

CUE, DELAY, ACT = 0, 1, 2
PHASES = ("cue", "delay", "act")
NO_CELL = (-1, -1)


class ActionError(ValueError):
    """An action that names no action or an agent that cannot act (message says which)."""


@dataclass
class Body(BodyRecord):
    """One agent's position (the outcome of its last action: `BodyRecord`)."""

    name: str
    x: int
    y: int
    reset_from: tuple[int, int] = NO_CELL  # the pit it fell into this step


class NavigationWorld:
    """The state of one episode of a navigation task, and its rules of motion."""

    def __init__(self, config: NavigationConfig) -> None:
        self.config = config
        self.rules: NavRules = load_rules(config.rules_path) if config.rules_path else load_rules()
        self.task = self.rules.tasks[config.task]
        self.level = self.task.level(config.difficulty, config.n_items)
        self.action_names: tuple[str, ...] = self.rules.actions
        self.observer = self.rules.observer if config.relay else None
        self.layout: Layout | None = None
        self.agents: list[Body] = []
        self.step_count = 0
        self.target_index = 0
        self.deadline = 0
        self.outcome: str | None = None  # "success" / "failure" once decided
        self.falls = 0
        self.progressed: set[tuple[int, int]] = set()  # progress cells already paid
        self.team_achievements: dict[str, tuple[int, str]] = {}
        self.reset(0)  # grid sizes depend only on the level, so spaces can be built now

    # ---- episode --------------------------------------------------------------------

    def reset(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        generate = GENERATORS[self.config.task]
        self.layout = generate(self.rules, self.task, self.level, rng, self.config.relay)
        hx, hy = self.layout.home
        self.agents = [Body(f"agent_{i}", hx, hy) for i in range(self.config.n_agents)]
        self.step_count = 0
        self.target_index = 0
        self.deadline = self.layout.act_start + self.layout.targets[0].limit
        self.outcome = None
        self.falls = 0
        self.progressed = set()
        self.team_achievements = {}

    @property
    def grid(self) -> Layout:
        if self.layout is None:
            raise RuntimeError("the world has not been reset; call reset(seed) first")
        return self.layout

    def default_max_steps(self) -> int:
        """Every phase plus every target's full time limit, + 1."""
        return self.grid.act_start + sum(t.limit for t in self.grid.targets) + 1

    def phase(self, step: int | None = None) -> int:
        step = self.step_count if step is None else step
        if step >= self.grid.act_start:
            return ACT
        return CUE if step < self.grid.cue_end else DELAY

    def observes(self, index: int) -> bool:
        """Whether this agent is shown the cue (everyone, or only the relay observer)."""
        return self.observer is None or index == self.observer

    def acts(self, index: int) -> bool:
        """Whether this agent can reach targets (everyone but the relay observer)."""
        return index != self.observer

    def shown(self, index: int) -> list[tuple[int, int, int]]:
        """The cue entries this agent sees now."""
        if not self.observes(index) or self.outcome is not None:
            return []
        return list(self.grid.shown.get(self.step_count, []))

    def current_target(self) -> int:
        """The mark id of the target to reach now (0 outside the act phase or when done)."""
        if self.phase() != ACT or self.outcome is not None:
            return 0
        return self.grid.targets[self.target_index].mark

    def time_left(self) -> int:
        """Steps left in the cue/delay phases, or until the current target's deadline."""
        if self.outcome is not None:
            return 0
        if self.phase() != ACT:
            return self.grid.act_start - self.step_count
        return max(self.deadline - self.step_count, 0)

    # ---- step -----------------------------------------------------------------------

    def _move(self, index: int, body: Body, action: int) -> None:
        dx, dy = self.rules.moves[action]
        body.last_action = self.action_names[action]
        body.last_ok, body.last_reason = True, ""
        if (dx, dy) == (0, 0):
            return
        if not self.acts(index):
            body.last_ok, body.last_reason = False, "the relay observer stays where it is"
            return
        if self.phase() != ACT:
            body.last_ok = False
            body.last_reason = f"cannot move before the act phase (starts at step " \
                               f"{self.grid.act_start})"
            return
        nx, ny = body.x + dx, body.y + dy
        terrain = self.grid.terrain
        if not (0 <= ny < terrain.shape[0] and 0 <= nx < terrain.shape[1]) or terrain[ny, nx] != 1:
            body.last_ok, body.last_reason = False, "blocked by a wall"
            return
        if (nx, ny) in self.grid.pits:
            body.x, body.y = self.grid.home
            body.reset_from = (nx, ny)
            body.events.append(f"fell at ({nx},{ny}); back to the start")
            self.falls += 1
            return
        body.x, body.y = nx, ny

    def _unlock(self, index: int, name: str, unlocked: list[list[str]]) -> None:
        body = self.agents[index]
        body.achievements.setdefault(name, self.step_count)
        self.team_achievements.setdefault(name, (self.step_count, body.name))
        unlocked[index].append(name)

    def _fail(self, why: str) -> None:
        self.outcome = "failure"
        for body in self.agents:
            body.events.append(f"failed: {why}")

    def step(self, actions: list[int | None]) -> StepResult:
        """Apply one action per agent (None: noop), then check targets and time limits."""
        if self.outcome is not None:
            raise RuntimeError("the episode is over (success or failure); call reset()")
        n = len(self.agents)
        rewards, unlocked = [0.0] * n, [[] for _ in range(n)]
        acting = self.phase() == ACT
        before = [(b.x, b.y) for b in self.agents]
        for index, (body, action) in enumerate(zip(self.agents, actions, strict=True)):
            body.events, body.reset_from = [], NO_CELL
            self._move(index, body, 0 if action is None else action)
        self.step_count += 1
        if acting:
            self._check_targets(before, rewards, unlocked)
        if self.outcome is None and self.phase() == ACT and self.step_count >= self.deadline:
            self._fail(f"time is up for target {self.target_index + 1}")
        return StepResult(rewards, unlocked)

    def _check_targets(self, before: list[tuple[int, int]], rewards: list[float],
                       unlocked: list[list[str]]) -> None:
        """After the moves of an act step: targets reached, wrong cells, falls."""
        grid, target = self.grid, self.grid.targets[self.target_index]
        actors = [i for i in range(len(self.agents)) if self.acts(i)]
        cells = {i: (self.agents[i].x, self.agents[i].y) for i in actors}
        entered = [i for i in actors if cells[i] != before[i]]
        if grid.check == "deadline" and self.step_count < self.deadline:
            reached: list[int] = []  # checked only when the time is up
        else:
            reached = [i for i in actors if cells[i] == target.cell]
        for i in entered:  # shaping: a first step onto a progress cell (mystery_path's path)
            if cells[i] in grid.progress and cells[i] not in self.progressed:
                self.progressed.add(cells[i])
                rewards[i] += grid.progress_reward
        wrong = [i for i in actors if cells[i] in grid.wrong]
        wrong += [i for i in entered if cells[i] in grid.choices and cells[i] != target.cell]
        if reached:
            who = reached[0]
            self.target_index += 1
            self._unlock(who, f"target_{self.target_index}", unlocked)
            rewards[who] += 1.0
            if self.target_index == len(grid.targets):
                self.outcome = "success"
                self._unlock(who, "success", unlocked)
            else:
                self.deadline = self.step_count + grid.targets[self.target_index].limit
        elif wrong:
            self._fail(f"{self.agents[wrong[0]].name} chose a wrong cell")
        elif grid.max_falls is not None and self.falls > grid.max_falls:
            self._fail(f"fell {self.falls} times (allowed: {grid.max_falls})")
        elif grid.check == "deadline" and self.step_count >= self.deadline:
            self._fail(f"not on the tile of target {self.target_index + 1} when its time "
                       "was up")
