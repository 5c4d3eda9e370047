"""Load and check the manipulation worlds' rules file (`rules.toml`).

Every task's parameters (table and view sizes, cue / delay / action phase lengths, episode
lengths per difficulty level, item sets and colours) are data. Loading checks every name
against the palette and shape list and every size against the table, and names the
offending entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any

from memsim.envs.rules_common import check_names, load_rules_file, need, require_names

DEFAULT_RULES_PATH = Path(__file__).with_name("rules.toml")
ENGINES = ("shell", "select", "take_back", "colour_set", "intercept")
PHASES = ("cue", "delay", "action", "return", "over")
"""Phase names; the observation's `phase` is the index in this tuple."""


class RulesError(ValueError):
    """The rules file is inconsistent; the message names the entry."""


_need = partial(need, error=RulesError)
_check_names = partial(check_names, error=RulesError)
_require_names = partial(require_names, error=RulesError)


@dataclass(frozen=True)
class TaskRules:
    """One task's parameters (defaults already applied)."""

    name: str
    engine: str
    memory: str
    table: tuple[int, int]  # width, height
    view: tuple[int, int]
    cue_steps: int
    delay_steps: int
    levels: tuple[int, ...]
    episode_steps: tuple[int, ...]  # per level
    reward: float
    move_before_action: bool = True
    select_reward: float = 0.0
    progress_reward: float = 0.0
    approach_reward: float = 0.0
    colours: tuple[str, ...] = ()
    shapes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)  # engine-specific keys

    def max_steps(self, level: int) -> int:
        """The episode length for a difficulty level."""
        return self.episode_steps[self.levels.index(level)]

    def cue_length(self, level: int) -> int:
        """Steps the cue phase lasts at `level` (sequential cues show one item at a time)."""
        if self.engine == "colour_set" and self.extra["presentation"] == "sequential":
            return level * int(self.extra["item_steps"])
        return self.cue_steps

    def item(self, key: str) -> tuple[str, str]:
        """A (colour, shape) pair from an engine key such as `cup` or `ball`."""
        colour, shape = self.extra[key]
        return str(colour), str(shape)


@dataclass(frozen=True, eq=False)
class Rules:
    """The whole rules file, with name -> id tables."""

    actions: tuple[str, ...]
    colours: tuple[str, ...]  # id = index + 1
    shapes: tuple[str, ...]  # id = index + 1
    display_slots: int
    tasks: dict[str, TaskRules]
    render: dict[str, Any]
    source: str = ""
    colour_ids: dict[str, int] = field(init=False)
    shape_ids: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "colour_ids", {c: i + 1 for i, c in enumerate(self.colours)})
        object.__setattr__(self, "shape_ids", {s: i + 1 for i, s in enumerate(self.shapes)})

    def task(self, name: str) -> TaskRules:
        """The task called `name`; the error lists the known tasks."""
        if name not in self.tasks:
            raise RulesError(f"task {name!r} is unknown; allowed: {', '.join(self.tasks)}")
        return self.tasks[name]


def _pair(value: Any, where: str) -> tuple[int, int]:
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value)):
        raise RulesError(f"rules: {where} must be a list of two integers, got {value!r}")
    return int(value[0]), int(value[1])


# Keys a task may set; everything else in a task table is a typo.
_COMMON_KEYS = {"engine", "memory", "table", "view", "cue_steps", "delay_steps", "levels",
                "episode_steps", "reward", "colours", "shapes", "move_before_action",
                "select_reward", "progress_reward", "approach_reward"}
_ENGINE_KEYS: dict[str, set[str]] = {
    "shell": {"min_swaps", "cup", "ball"},
    "select": {"attribute"},
    "take_back": {"item"},
    "colour_set": {"presentation", "ordered", "item_steps", "distractors"},
    "intercept": {"ball"},
}


def _parse_task(name: str, spec: dict[str, Any], defaults: dict[str, Any],
                colours: tuple[str, ...], shapes: tuple[str, ...], slots: int) -> TaskRules:
    where = f"tasks.{name}"
    engine = _need(spec, "engine", where)
    if engine not in ENGINES:
        raise RulesError(f"rules: {where}.engine {engine!r} is unknown; allowed: {ENGINES}")
    unknown = set(spec) - _COMMON_KEYS - _ENGINE_KEYS[engine]
    if unknown:
        raise RulesError(f"rules: {where} has unknown key(s) {sorted(unknown)}; allowed: "
                         f"{sorted(_COMMON_KEYS | _ENGINE_KEYS[engine])}")
    merged = {**defaults, **spec}
    table = _pair(_need(merged, "table", where), f"{where}.table")
    view = _pair(_need(merged, "view", where), f"{where}.view")
    if min(table) < 3 or min(view) < 3 or view[0] % 2 == 0 or view[1] % 2 == 0:
        raise RulesError(f"rules: {where}: table sides must be >= 3 and view sides odd >= 3")
    levels = tuple(int(v) for v in _need(merged, "levels", where))
    episode = tuple(int(v) for v in _need(merged, "episode_steps", where))
    if not levels or len(levels) != len(episode) or len(set(levels)) != len(levels):
        raise RulesError(f"rules: {where}: levels must be distinct and as many as episode_steps")
    task_colours = tuple(merged.get("colours", ()))
    task_shapes = tuple(merged.get("shapes", ()))
    _check_names(task_colours, colours, f"{where}.colours")
    _check_names(task_shapes, shapes, f"{where}.shapes")
    extra = {k: v for k, v in spec.items() if k in _ENGINE_KEYS[engine]}
    for key in ("cup", "ball", "item"):
        if key in _ENGINE_KEYS[engine]:
            colour, shape = _need(extra, key, where)
            _check_names([colour], colours, f"{where}.{key}")
            _check_names([shape], shapes, f"{where}.{key}")
    task = TaskRules(
        name=name, engine=engine, memory=str(_need(merged, "memory", where)), table=table,
        view=view, cue_steps=int(_need(merged, "cue_steps", where)),
        delay_steps=int(_need(merged, "delay_steps", where)), levels=levels,
        episode_steps=episode, reward=float(_need(merged, "reward", where)),
        move_before_action=bool(merged.get("move_before_action", True)),
        select_reward=float(merged.get("select_reward", 0.0)),
        progress_reward=float(merged.get("progress_reward", 0.0)),
        approach_reward=float(merged.get("approach_reward", 0.0)),
        colours=task_colours, shapes=task_shapes, extra=extra,
    )
    _check_engine(task, slots, where)
    for level, steps in zip(levels, episode, strict=True):
        if steps <= task.cue_length(level) + task.delay_steps:
            raise RulesError(f"rules: {where}.episode_steps: {steps} leaves no action phase at "
                             f"level {level}")
    return task


def _check_engine(task: TaskRules, slots: int, where: str) -> None:
    """Engine-specific consistency: enough items, cells and rows for every level."""
    width, height = task.table
    cells = width * height
    if task.engine == "select":
        attribute = _need(task.extra, "attribute", where)
        if attribute not in ("colour", "shape"):
            raise RulesError(f"rules: {where}.attribute must be 'colour' or 'shape'")
        values = task.colours if attribute == "colour" else task.shapes
        if max(task.levels) > len(values) or max(task.levels) > cells:
            raise RulesError(f"rules: {where}: level {max(task.levels)} needs that many "
                             f"distinct {attribute}s; {len(values)} listed")
    elif task.engine == "colour_set":
        if task.extra.get("presentation") not in ("sequential", "simultaneous"):
            raise RulesError(f"rules: {where}.presentation must be 'sequential' or "
                             "'simultaneous'")
        if not isinstance(task.extra.get("ordered"), bool):
            raise RulesError(f"rules: {where}.ordered must be true or false")
        if task.extra["presentation"] == "sequential":
            int(_need(task.extra, "item_steps", where))
        elif max(task.levels) > slots:
            raise RulesError(f"rules: {where}: {max(task.levels)} items shown at once need "
                             f"that many display slots; display.slots = {slots}")
        if max(task.levels) > len(task.colours):
            raise RulesError(f"rules: {where}: level {max(task.levels)} needs that many colours")
    elif task.engine == "shell":
        if 2 * max(task.levels) - 1 > width or height < 3:
            raise RulesError(f"rules: {where}: {max(task.levels)} cups two cells apart need a "
                             f"table at least {2 * max(task.levels) - 1} wide and 3 high")
        if task.view[0] < 2 * max(task.levels) - 1 or task.view[1] < 3:
            raise RulesError(f"rules: {where}.view must show every cup and the rows beside them")
        # Swaps are drawn while one fits: a swap of n cups takes at most 2n steps and the
        # shuffle stops with under 4 steps (an adjacent swap) left, so at least
        # ceil((delay - 3) / 2n) swaps happen.
        min_swaps = int(_need(task.extra, "min_swaps", where))
        longest = 2 * max(task.levels)
        if -(-(task.delay_steps - 3) // longest) < min_swaps:
            raise RulesError(f"rules: {where}.delay_steps={task.delay_steps} cannot guarantee "
                             f"min_swaps={min_swaps} swaps of up to {longest} steps")
    elif task.engine == "intercept" and not all(1 <= v < task.cue_steps for v in task.levels):
        raise RulesError(f"rules: {where}.levels are steps per cell: each >= 1 and below "
                         f"cue_steps={task.cue_steps}, so the cue shows the ball move")


def parse_rules(data: dict[str, Any], source: str = "<dict>") -> Rules:
    """Build `Rules` from the parsed TOML tables, checking every cross-reference."""
    actions = tuple(_need(data, "actions", "top level"))
    required = ("noop", "up", "down", "left", "right", "touch", "pick", "place")
    _require_names(required, actions, "actions")
    colours = tuple(_need(data, "colours", "top level"))
    shapes = tuple(_need(data, "shapes", "top level"))
    _require_names(("cup", "ball"), shapes, "shapes")
    slots = int(_need(_need(data, "display", "top level"), "slots", "display"))
    defaults = dict(data.get("defaults", {}))
    render = dict(_need(data, "render", "top level"))
    if len(render.get("colours", ())) != len(colours):
        raise RulesError("rules: render.colours needs one RGB triple per colour")
    tasks = {name: _parse_task(name, dict(spec), defaults, colours, shapes, slots)
             for name, spec in _need(data, "tasks", "top level").items()}
    return Rules(actions=actions, colours=colours, shapes=shapes, display_slots=slots,
                 tasks=tasks, render=render, source=source)


@cache
def load_rules(path: str | Path = DEFAULT_RULES_PATH) -> Rules:
    """Read and check a rules file (cached per path; `Rules` is immutable)."""
    return load_rules_file(path, parse_rules, RulesError)
