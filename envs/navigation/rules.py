"""Load and check the navigation worlds' rules file (`rules.toml`).

The engine and the task generators read every size, phase length, time limit, item set and
colour from `NavRules`; loading checks every cross-reference (a landmark or dance that is
not a mark, a level without the key `n_items` overrides, an even view) and names the entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any, Literal, get_args

from memsim.envs.rules_common import check_names, load_rules_file, need, require_names

DEFAULT_RULES_PATH = Path(__file__).with_name("rules.toml")

TaskName = Literal["neighbourhood", "mystery_path", "object_permanence", "ballet", "mortar_mayhem"]
TASK_NAMES: tuple[str, ...] = get_args(TaskName)

# Task-level keys that name marks, per task: each listed name must be a mark.
_MARK_LISTS: dict[str, tuple[str, ...]] = {
    "neighbourhood": ("landmarks",),
    "object_permanence": ("decoys",),
    "ballet": ("dances",),
}
# Scalar keys every level of a task must have (the generators read them).
_LEVEL_KEYS: dict[str, tuple[str, ...]] = {
    "neighbourhood": ("blocks", "n_landmarks", "goals", "trial_steps"),
    "mystery_path": ("size", "min_path", "max_path", "max_falls", "trial_steps"),
    "object_permanence": ("doors", "trial_steps"),
    "ballet": ("dancers", "trial_steps"),
    "mortar_mayhem": ("commands", "command_steps"),
}
# Marks the generators place by name.
_REQUIRED_MARKS = ("start", "goal", "safe", "pit", "door", "object", "dancer")
# How a task's targets are checked: on entering the target's cell, or when its time is up.
CHECKS = ("reach", "deadline")


class RulesError(ValueError):
    """The rules file is inconsistent; the message names the entry."""


_need = partial(need, error=RulesError)
_check_names = partial(check_names, error=RulesError)
_require_names = partial(require_names, error=RulesError)


Colour = tuple[int, int, int]


@dataclass(frozen=True, eq=False)
class TaskRules:
    """One task's parameters: task-level keys in `params`, one dict per difficulty level."""

    name: str
    gym_id: str
    view: int
    cue_steps: int
    delay_steps: int
    relay_cue_steps: int
    n_items_key: str
    n_items_range: tuple[int, int]
    params: dict[str, Any]
    levels: tuple[dict[str, int], ...]

    def level(self, difficulty: int, n_items: int | None = None) -> dict[str, int]:
        """The parameters of a difficulty level (1-based), with `n_items` applied."""
        if not 1 <= difficulty <= len(self.levels):
            raise ValueError(
                f"difficulty={difficulty} is not a level of {self.name}; "
                f"allowed: 1..{len(self.levels)}"
            )
        chosen = dict(self.levels[difficulty - 1])
        if n_items is not None:
            chosen[self.n_items_key] = n_items
        return chosen


@dataclass(frozen=True, eq=False)
class NavRules:
    """Everything the navigation engine needs, with name <-> id tables built once."""

    actions: tuple[str, ...]
    moves: tuple[tuple[int, int], ...]
    terrain: tuple[str, ...]  # id = index + 1; 0 = outside
    terrain_colours: tuple[Colour, ...]
    marks: tuple[str, ...]  # id = index + 1; 0 = nothing
    mark_colours: tuple[Colour, ...]
    colours: dict[str, Any]
    max_shown: int
    observer: int
    relay_messages: int  # cue rows a scripted relay observer sends per step
    tasks: dict[str, TaskRules]
    source: str = ""
    mark_ids: dict[str, int] = field(init=False)
    terrain_ids: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mark_ids", {m: i + 1 for i, m in enumerate(self.marks)})
        object.__setattr__(self, "terrain_ids", {t: i + 1 for i, t in enumerate(self.terrain)})

    def mark_name(self, mark_id: int) -> str:
        """The name of a mark id ("" for 0, nothing)."""
        return self.marks[mark_id - 1] if mark_id > 0 else ""


def _colour(value: Any, where: str) -> Colour:
    if (not isinstance(value, list) or len(value) != 3
            or not all(isinstance(c, int) and 0 <= c <= 255 for c in value)):
        raise RulesError(f"rules: {where} must be [r, g, b] with ints 0..255, got {value!r}")
    return (value[0], value[1], value[2])


def _nonneg(table: dict[str, Any], key: str, where: str) -> int:
    value = _need(table, key, where)
    if not isinstance(value, int) or value < 0:
        raise RulesError(f"rules: {where}.{key} must be an int >= 0, got {value!r}")
    return value


def _task(name: str, spec: dict[str, Any], marks: dict[str, int]) -> TaskRules:
    where = f"tasks.{name}"
    view = _nonneg(spec, "view", where)
    if view < 3 or view % 2 == 0:
        raise RulesError(f"rules: {where}.view must be odd and >= 3, got {view}")
    levels = _need(spec, "levels", where)
    if not isinstance(levels, list) or not levels:
        raise RulesError(f"rules: {where}.levels must be a non-empty array of tables")
    for i, level in enumerate(levels, start=1):
        for key in _LEVEL_KEYS[name]:
            _nonneg(level, key, f"{where}.levels[{i}]")
    for key in _MARK_LISTS.get(name, ()):
        _check_names(_need(spec, key, where), marks, f"{where}.{key}")
    if "sign" in spec:
        _check_names([spec["sign"]], marks, f"{where}.sign")
    if spec.get("check", "reach") not in CHECKS:
        raise RulesError(f"rules: {where}.check must be one of {list(CHECKS)}, "
                         f"got {spec['check']!r}")
    n_key = spec.get("n_items_key", "")
    low, high = spec.get("n_items_range", [0, 0])
    if n_key and (n_key not in _LEVEL_KEYS[name] or not 1 <= low <= high):
        raise RulesError(f"rules: {where}.n_items_key {n_key!r} must be one of "
                         f"{list(_LEVEL_KEYS[name])} with 1 <= n_items_range[0] <= [1]")
    cue = _nonneg(spec, "cue_steps", where) if "cue_steps" in spec else 0
    reserved = {"gym_id", "view", "levels", "cue_steps", "delay_steps", "relay_cue_steps",
                "n_items_key", "n_items_range"}
    return TaskRules(
        name=name,
        gym_id=str(_need(spec, "gym_id", where)),
        view=view,
        cue_steps=cue,
        delay_steps=_nonneg(spec, "delay_steps", where),
        relay_cue_steps=int(spec.get("relay_cue_steps", cue)),
        n_items_key=n_key,
        n_items_range=(int(low), int(high)),
        params={k: v for k, v in spec.items() if k not in reserved},
        levels=tuple(dict(level) for level in levels),
    )


def _check_counts(tasks: dict[str, TaskRules], marks: dict[str, int], max_shown: int) -> None:
    """Item sets must be large enough for the largest level or n_items allowed."""
    def most(task: TaskRules, key: str) -> int:
        top = max(level[key] for level in task.levels)
        return max(top, task.n_items_range[1]) if task.n_items_key == key else top

    hood = tasks["neighbourhood"]
    if most(hood, "n_landmarks") > len(hood.params["landmarks"]):
        raise RulesError("rules: tasks.neighbourhood.landmarks has fewer names than "
                         "the largest level's n_landmarks")
    for level in hood.levels:
        if level["goals"] > level["n_landmarks"]:
            raise RulesError("rules: tasks.neighbourhood.levels: goals must be <= n_landmarks "
                             "(each goal is a different landmark)")
    if most(tasks["mystery_path"], "max_path") > max_shown:
        raise RulesError("rules: tasks.mystery_path.levels: max_path must be <= "
                         "observation.max_shown (the cue shows the whole path)")
    for level in tasks["mystery_path"].levels:
        if not level["size"] <= level["min_path"] <= level["max_path"]:
            raise RulesError("rules: tasks.mystery_path.levels: need size <= min_path <= "
                             "max_path (a path crosses the arena from west to east)")
    if most(tasks["ballet"], "dancers") > len(tasks["ballet"].params["dances"]):
        raise RulesError("rules: tasks.ballet.dances has fewer dances than dancers allowed")
    commands = most(tasks["mortar_mayhem"], "commands")
    _require_names([f"command_{i}" for i in range(1, commands + 1)], marks,
                   f"marks (mortar_mayhem allows {commands} commands)")


def parse_rules(data: dict[str, Any], source: str = "<dict>") -> NavRules:
    """Build `NavRules` from the parsed TOML tables, checking every cross-reference."""
    actions = dict(_need(data, "actions", "top level"))
    moves = []
    for name, delta in actions.items():
        if (not isinstance(delta, list) or len(delta) != 2
                or sum(abs(int(d)) for d in delta) > 1):
            raise RulesError(f"rules: actions.{name} must be [dx, dy] of one step, got {delta!r}")
        moves.append((int(delta[0]), int(delta[1])))
    terrain = dict(_need(data, "terrain", "top level"))
    if list(terrain)[:2] != ["floor", "wall"]:
        raise RulesError("rules: terrain must list 'floor' then 'wall' first")
    marks = dict(_need(data, "marks", "top level"))
    mark_ids = {m: i + 1 for i, m in enumerate(marks)}
    _require_names(_REQUIRED_MARKS, marks, "marks")
    tasks_table = dict(_need(data, "tasks", "top level"))
    missing = [t for t in TASK_NAMES if t not in tasks_table]
    unknown = [t for t in tasks_table if t not in TASK_NAMES]
    if missing or unknown:
        raise RulesError(f"rules: tasks must be exactly {list(TASK_NAMES)}; "
                         f"missing {missing}, unknown {unknown}")
    tasks = {name: _task(name, tasks_table[name], mark_ids) for name in TASK_NAMES}
    observation = _need(data, "observation", "top level")
    relay = _need(data, "relay", "top level")
    _check_counts(tasks, mark_ids, _nonneg(observation, "max_shown", "observation"))
    return NavRules(
        actions=tuple(actions),
        moves=tuple(moves),
        terrain=tuple(terrain),
        terrain_colours=tuple(_colour(c, f"terrain.{t}") for t, c in terrain.items()),
        marks=tuple(marks),
        mark_colours=tuple(_colour(c, f"marks.{m}") for m, c in marks.items()),
        colours=dict(_need(data, "colours", "top level")),
        max_shown=_nonneg(observation, "max_shown", "observation"),
        observer=_nonneg(relay, "observer", "relay"),
        relay_messages=max(1, _nonneg(relay, "messages_per_step", "relay")),
        tasks=tasks,
        source=source,
    )


@cache
def load_rules(path: str | Path = DEFAULT_RULES_PATH) -> NavRules:
    """Read and check a rules file (cached per path; `NavRules` is treated as immutable)."""
    return load_rules_file(path, parse_rules, RulesError)
