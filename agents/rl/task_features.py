"""Memory features for the memory-task families (navigation, manipulation): what an RL
agent's knowledge graph says about the task, as a few floats beside the observation.

A `TaskFeatureTracker` keeps one real `AgentMemory` per agent and episode. Each step it
decodes the observation with the family's perception adapter (`decode` + `perceive`, the
same adapters the runner uses), writes the facts (plus the few inferences the scripted
solvers also note: a tracked shell-game ball, a shown colour already touched), recalls
the kinds the task's knowledge lives in, and turns the recall and the current view into
features (`features(recall, view)`); which kinds and the distance scale are data
(`[task_features]` in `rl.toml`).

Navigation (16 floats): the current target's remembered place (the landmark, door,
dancer, tile or goal the act phase names, as remembered from the cue), then for each
neighbouring cell (north, south, west, east) [remembered safe, remembered to avoid (a
pit, another door / dancer / sign), visited in the last steps].

Manipulation (4 floats): the place memory says to go to now: the nearest remembered item
(in view or seen before) with the cue's colour / shape (remember_*) or of a shown colour
not yet touched (the earliest shown in chain_of_colors); the tracked ball's cup
(shell_game); the item, then the target mark in view while carrying it, then where the
item was first seen (take_it_back); where the ball's remembered line and pace put it now
(intercept).

A place is encoded from the agent's cell as [known, sign(dx), sign(dy), distance / scale
(clipped to 1)]: zero distance means "here".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from memsim.agents.manipulation.perception import ManipulationPerception, cue_place
from memsim.agents.manipulation.solver import ball_cell, ball_line, follow_ball
from memsim.agents.manipulation.view import ManipulationView, cue_kind, item_kind
from memsim.agents.navigation.perception import NavigationPerception
from memsim.agents.navigation.view import NavigationView
from memsim.agents.rl.encoding import EpisodeMemoryTracker
from memsim.agents.rl.settings import TaskFeatureSettings
from memsim.envs.manipulation.config import ManipulationConfig
from memsim.envs.navigation.config import NavigationConfig
from memsim.envs.navigation.engine import ACT
from memsim.memory import Fact, PlaceRecord, Recall, RetrievalQuery, open_store

Cell = tuple[int, int]
_NEIGHBOURS: tuple[Cell, ...] = ((0, -1), (0, 1), (-1, 0), (1, 0))  # north, south, west, east
MAX_PER_KIND = 32


def _offset(place: Cell | None, here: Cell, scale: float) -> list[float]:
    """[known, sign(dx), sign(dy), min(distance/scale, 1)] of `place` from `here` (zeros if
    None). The direction as a sign, not dx/scale: a policy network learns "move towards
    it" from +-1 inputs within a few thousand episodes, and from offsets of a cell / 16
    (0.06) it did not learn it in 100k steps (docs/bench/rl-memory)."""
    if place is None:
        return [0.0, 0.0, 0.0, 0.0]
    dx, dy = place[0] - here[0], place[1] - here[1]
    return [1.0, float(np.sign(dx)), float(np.sign(dy)), min((abs(dx) + abs(dy)) / scale, 1.0)]


def _places(recall: Recall, kinds: Sequence[str]) -> list[PlaceRecord]:
    wanted = set(kinds)
    return [p for p in recall.nearest if p.kind in wanted]


class NavigationFeatures:
    """Navigation: the target's remembered place and what memory knows of the 4 neighbours."""

    size = 4 + 3 * len(_NEIGHBOURS)

    def __init__(self, config: NavigationConfig, settings: TaskFeatureSettings) -> None:
        self.task = config.task
        self.scale = settings.scale
        self.safe = tuple(settings.navigation_safe)
        self.avoid = tuple(settings.navigation_avoid.get(config.task, ()))
        self.trail = settings.trail

    def query(self, view: NavigationView) -> RetrievalQuery:
        kinds = tuple(dict.fromkeys(k for k in (view.target, *self.safe, *self.avoid) if k))
        return RetrievalQuery(nearest=kinds, position=view.position, per_kind=MAX_PER_KIND,
                              trail=self.trail)

    def notes(self, view: NavigationView, recall: Recall | None, info: Mapping[str, Any],
              step: int) -> list[Fact]:
        return []

    def features(self, recall: Recall, view: NavigationView, step: int) -> np.ndarray:
        here = view.position
        target = None
        if view.phase == ACT and view.target:
            found = [(p.x, p.y) for p in _places(recall, (view.target,))]
            target = min(found, key=lambda c: abs(c[0] - here[0]) + abs(c[1] - here[1]),
                         default=None)
        safe = {(p.x, p.y) for p in _places(recall, self.safe)}
        avoid = {(p.x, p.y) for p in _places(recall, self.avoid)} - {target}
        visited = set(recall.trail[1:])  # the trail's head is where the agent stands
        out = _offset(target, here, self.scale)
        for dx, dy in _NEIGHBOURS:
            cell = (here[0] + dx, here[1] + dy)
            out += [float(cell in safe), float(cell in avoid), float(cell in visited)]
        return np.array(out, np.float32)  # each entry is in [-1, 1] by construction


class ManipulationFeatures:
    """Manipulation: where memory (and the view) says to go now."""

    size = 4

    def __init__(self, config: ManipulationConfig, settings: TaskFeatureSettings) -> None:
        self.config = config
        self.task = config.rules.task(config.task)
        self.engine = self.task.engine
        self.scale = settings.scale
        if self.engine in ("select", "colour_set"):
            self.kinds = tuple(cue_kind(c, s) for c in self.task.colours for s in self.task.shapes)
            # where the table's items were seen: an item out of view is still remembered
            self.item_kinds = tuple(item_kind(c, s) for c in self.task.colours
                                    for s in self.task.shapes)
        else:
            key = {"shell": "ball", "intercept": "ball", "take_back": "item"}[self.engine]
            self.kinds = (item_kind(*self.task.item(key)),)
            self.item_kinds = ()

    def query(self, view: ManipulationView) -> RetrievalQuery:
        per_kind = 4 if self.engine in ("select", "colour_set") else 16
        return RetrievalQuery(nearest=self.kinds + self.item_kinds,
                              position=cue_place(self.config, 0), per_kind=per_kind)

    def notes(self, view: ManipulationView, recall: Recall | None, info: Mapping[str, Any],
              step: int) -> list[Fact]:
        """Inferences written with the step's facts: the shell-game ball follows its cup;
        a shown colour the agent touched (the engine's event says so) is closed."""
        if recall is None:
            return []
        records = _places(recall, self.kinds)
        if self.engine == "shell" and records:
            return follow_ball(view, records, step)
        if self.engine == "colour_set":
            touched = {e.removeprefix("touched ") for e in info.get("events", ())
                       if str(e).startswith("touched ")}
            return [Fact(kind="gone_from", subject=r.kind, place=(r.x, r.y),
                         provenance="inferred", observed_step=step)
                    for r in records if r.kind.split("_")[1] in touched]
        return []

    def _goal(self, recall: Recall, view: ManipulationView, step: int) -> Cell | None:
        records = _places(recall, self.kinds)
        here = view.position
        if not records:
            return None
        if self.engine in ("select", "colour_set"):
            ordered = sorted(records, key=lambda r: (r.step, r.x))
            if self.engine == "select" or self.task.extra["ordered"]:
                ordered = ordered[:1]
            wanted = {r.kind.removeprefix("cue_") for r in ordered}
            cells = [(p.x, p.y) for p in _places(recall, tuple(wanted))]
            return min(cells, key=lambda c: (abs(c[0] - here[0]) + abs(c[1] - here[1]), c),
                       default=None)
        if self.engine == "shell":
            ball = max(records, key=lambda r: r.step)
            return ball.x, ball.y
        if self.engine == "take_back":
            return self._take_back_goal(records, view)
        line = ball_line(records)  # intercept
        return None if line is None else ball_cell(line, step)

    @staticmethod
    def _take_back_goal(records: list[PlaceRecord], view: ManipulationView) -> Cell | None:
        """The item while the gripper is empty (where it was last seen), the target mark
        while carrying it to the mark (in view, as the solver reads it), then where the
        item began (the earliest sighting: memory's part)."""
        if not view.holding:
            last = max(records, key=lambda r: (r.step, r.y, r.x))
            return last.x, last.y
        if view.phase == "action":
            return view.marks[0] if view.marks else None
        origin = min(records, key=lambda r: (r.step, r.y, r.x))
        return origin.x, origin.y

    def features(self, recall: Recall, view: ManipulationView, step: int) -> np.ndarray:
        goal = self._goal(recall, view, step)
        return np.array(_offset(goal, view.position, self.scale), np.float32)


def feature_model(config: Any, settings: TaskFeatureSettings) -> Any:
    """The family's features for a world config (navigation or manipulation)."""
    if isinstance(config, NavigationConfig):
        return NavigationFeatures(config, settings)
    if isinstance(config, ManipulationConfig):
        return ManipulationFeatures(config, settings)
    raise TypeError(f"{type(config).__name__}: task memory features are for the navigation "
                    "and manipulation families (crafting: agents.rl.MemoryFeatureObservation)")


def perception_for(agent_id: str, config: Any) -> Any:
    """The family's perception adapter (`decode` + `perceive`), as the runner builds it."""
    if isinstance(config, NavigationConfig):
        return NavigationPerception(agent_id, config)
    return ManipulationPerception(agent_id, config)


def task_features_space(size: int) -> spaces.Box:
    return spaces.Box(-1.0, 1.0, (size,), np.float32)


class TaskFeatureTracker(EpisodeMemoryTracker):
    """One agent's `AgentMemory` over an episode, fed by the family's perception each
    step, answering the task's memory features (see the module docstring)."""

    def __init__(self, agent_id: str, config: Any, settings: TaskFeatureSettings,
                 namespace: str, store_config: Mapping[str, Any] | None = None) -> None:
        store = dict(store_config or {})
        store.setdefault("graph_registry", {})  # a private graph: never a run's memory
        super().__init__(agent_id, settings, open_store("networkx", namespace, **store))
        self.model = feature_model(config, settings)
        self.perception = perception_for(agent_id, config)

    @property
    def size(self) -> int:
        return int(self.model.size)

    def _observe(self, obs: Mapping[str, Any], info: Mapping[str, Any], first: bool
                 ) -> np.ndarray:
        assert self.memory is not None
        info = {} if first else info  # the reset's info says nothing the view does not
        view = self.perception.decode(dict(obs))
        facts = self.perception.perceive(view, dict(info), self._step)
        # the agent's own cell on its event, so the memory's trail follows it
        facts = [f.model_copy(update={"place": view.position})
                 if f.kind == "event" and f.place is None else f for f in facts]
        if not any(f.kind == "event" for f in facts):
            facts.append(Fact(kind="event", subject="observe", outcome="success",
                              place=view.position))
        facts += self.model.notes(view, self.last_recall, info, self._step)
        self.memory.write(facts, self._step)
        self.last_recall = self.memory.retrieve(self.model.query(view),
                                                budget=self.settings.budget)
        return self.model.features(self.last_recall, view, self._step)
