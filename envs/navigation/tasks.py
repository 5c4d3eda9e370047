"""Task generators: one function per task builds a `Layout` from the rules and a seeded rng.

A layout is everything that differs between tasks; the engine (`engine.py`) runs every
layout the same way: cue phase (`shown` entries per step) -> delay -> act phase (reach the
`targets` in order, each within its time limit - on entering its cell, or with
`check="deadline"` standing on it when the time is up; stepping on a `wrong` cell, or
onto a `choices` cell that is not the current target, fails the episode; stepping on a
`pit` sends the agent back to `home`, and a fall beyond `max_falls` fails; entering a
`progress` cell for the first time pays `progress_reward`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from memsim.envs.navigation.rules import NavRules, TaskRules

Cell = tuple[int, int]
Shown = tuple[int, int, int]  # (mark id, x, y)


@dataclass(frozen=True)
class Target:
    """A cell to reach during the act phase, named by a mark, within `limit` steps."""

    mark: int
    cell: Cell
    limit: int


@dataclass
class Layout:
    """One generated episode of a task (see the module docstring)."""

    terrain: np.ndarray  # (h, w) terrain ids: 1 floor, 2 wall
    marks: np.ndarray  # (h, w) scenery mark ids visible in local views (0 none)
    home: Cell  # where agents start (and where a pit sends them back to)
    cue_end: int  # first step of the delay phase
    act_start: int  # first step at which agents may move
    targets: list[Target]
    shown: dict[int, list[Shown]] = field(default_factory=dict)  # step -> cue entries
    wrong: frozenset[Cell] = frozenset()
    pits: frozenset[Cell] = frozenset()
    choices: frozenset[Cell] = frozenset()  # entering one that is not the target fails
    check: str = "reach"  # "reach": on entering the target; "deadline": when time is up
    max_falls: int | None = None  # falls into pits allowed (None: any number)
    # cells that pay `progress_reward` the first time an agent enters one in the act phase
    progress: frozenset[Cell] = frozenset()
    progress_reward: float = 0.0


def _room(width: int, height: int) -> np.ndarray:
    """Floor surrounded by one cell of wall."""
    terrain = np.full((height, width), 2, np.uint8)
    terrain[1:-1, 1:-1] = 1
    return terrain


def neighbourhood(rules: NavRules, task: TaskRules, level: dict[str, int],
                  rng: np.random.Generator, relay: bool) -> Layout:
    """A grid town of square blocks and one-cell streets; landmarks stand in the streets.
    The landmark map is shown during the cue; in the streets every landmark looks alike
    (the `sign` mark). The goals (landmarks) are named one at a time in the act phase,
    each to be reached within `trial_steps`; entering another landmark fails."""
    block, blocks = int(task.params["block"]), level["blocks"]
    size = blocks * (block + 1) + 3  # streets at 1, 1 + (block + 1), ...; a wall border
    terrain = np.full((size, size), 2, np.uint8)
    lines = [1 + k * (block + 1) for k in range(blocks + 1)]
    for line in lines:
        terrain[1:-1, line] = 1
        terrain[line, 1:-1] = 1
    streets = [(x, y) for y in range(size) for x in range(size)
               if terrain[y, x] == 1 and not (x in lines and y in lines)]
    picks = rng.choice(len(streets), level["n_landmarks"] + 1, replace=False)
    names = list(task.params["landmarks"])[: level["n_landmarks"]]
    marks = np.zeros_like(terrain)
    places = [streets[int(i)] for i in picks[:-1]]
    sign = rules.mark_ids[str(task.params.get("sign", ""))] if "sign" in task.params else 0
    for name, (x, y) in zip(names, places, strict=True):
        marks[y, x] = sign or rules.mark_ids[name]
    home = streets[int(picks[-1])]
    cue = [(rules.mark_ids[n], x, y) for n, (x, y) in zip(names, places, strict=True)]
    order = rng.permutation(len(names))[: level["goals"]]
    targets = [Target(rules.mark_ids[names[i]], places[i], level["trial_steps"]) for i in order]
    return Layout(terrain, marks, home, task.cue_steps, task.cue_steps + task.delay_steps,
                  targets, shown={t: list(cue) for t in range(task.cue_steps)},
                  choices=frozenset(places) if sign else frozenset())


def _neighbours(cell: Cell) -> tuple[Cell, Cell, Cell, Cell]:
    x, y = cell
    return ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1))


def induced_path(size: int, min_path: int, max_path: int, rng: np.random.Generator
                 ) -> list[Cell]:
    """A random induced path (it never touches itself: only consecutive cells are
    neighbours) from a random cell of the west column of a `size` x `size` arena (cells
    1..size) to the first cell of the east column it reaches, `min_path` to `max_path`
    cells long: a random walk that steps, uniformly, onto a free cell not next to the path
    so far, and starts again from a new west cell when it is stuck or too long or short."""
    while True:
        path = [(1, 1 + int(rng.integers(size)))]
        on_path = {path[0]}
        while path[-1][0] != size and len(path) < max_path:
            here = path[-1]
            options = [c for c in _neighbours(here)
                       if 1 <= c[0] <= size and 1 <= c[1] <= size and c not in on_path
                       and all(n == here or n not in on_path for n in _neighbours(c))]
            if not options:
                break
            path.append(options[int(rng.integers(len(options)))])
            on_path.add(path[-1])
        if path[-1][0] == size and len(path) >= min_path:
            return path


def mystery_path(rules: NavRules, task: TaskRules, level: dict[str, int],
                 rng: np.random.Generator, relay: bool) -> Layout:
    """An arena whose only safe cells form an invisible path from start to goal; any other
    cell is a pit that sends the agent back to the start (a fall beyond `max_falls` fails).
    The path cells are shown during the cue (to the observer alone in relay)."""
    size = level["size"]
    path = induced_path(size, level["min_path"], level["max_path"], rng)
    terrain = _room(size + 2, size + 2)
    marks = np.zeros_like(terrain)
    (sx, sy), (gx, gy) = path[0], path[-1]
    marks[sy, sx], marks[gy, gx] = rules.mark_ids["start"], rules.mark_ids["goal"]
    on_path = set(path)
    pits = frozenset((x, y) for y in range(1, size + 1) for x in range(1, size + 1)
                     if (x, y) not in on_path)
    cue_steps = task.relay_cue_steps if relay else task.cue_steps
    safe = rules.mark_ids["safe"]
    shown = {t: [(safe, x, y) for x, y in path] for t in range(cue_steps)}
    targets = [Target(rules.mark_ids["goal"], (gx, gy), level["trial_steps"])]
    return Layout(terrain, marks, (sx, sy), cue_steps, cue_steps + task.delay_steps, targets,
                  shown=shown, pits=pits, max_falls=level["max_falls"],
                  progress=frozenset(path[1:-1]),
                  progress_reward=float(task.params.get("progress_reward", 0.0)))


def object_permanence(rules: NavRules, task: TaskRules, level: dict[str, int],
                      rng: np.random.Generator, relay: bool) -> Layout:
    """Doors in the north wall of a room; an object is shown behind one of them, decoys
    appear during the delay, then the agent must walk through the object's door."""
    room, doors = int(task.params["room"]), level["doors"]
    terrain = _room(room + 2, room + 2)
    marks = np.zeros_like(terrain)
    xs = sorted({1 + round(i * (room - 1) / max(doors - 1, 1)) for i in range(doors)})
    cells = [(x, 0) for x in xs]
    for x, y in cells:
        terrain[y, x] = 1
        marks[y, x] = rules.mark_ids["door"]
    home = (room // 2 + 1, room // 2 + 1)
    chosen = cells[int(rng.integers(len(cells)))]
    obj = rules.mark_ids["object"]
    shown: dict[int, list[tuple[int, int, int]]] = {
        t: [(obj, *chosen)] for t in range(task.cue_steps)}
    decoys = [rules.mark_ids[d] for d in task.params["decoys"]]
    floor = [(x, y) for y in range(1, room + 1) for x in range(1, room + 1) if (x, y) != home]
    for t in range(task.cue_steps, task.cue_steps + task.delay_steps):
        picks = rng.choice(len(floor), int(task.params["decoys_per_step"]), replace=False)
        shown[t] = [(decoys[int(rng.integers(len(decoys)))], *floor[int(i)]) for i in picks]
    targets = [Target(obj, chosen, level["trial_steps"])]
    return Layout(terrain, marks, home, task.cue_steps, task.cue_steps + task.delay_steps,
                  targets, shown=shown, wrong=frozenset(c for c in cells if c != chosen))


def _ring(centre: Cell, radius: int) -> list[Cell]:
    """Cells at Chebyshev distance `radius` from `centre`, clockwise from the north-west."""
    cx, cy = centre
    top = [(cx - radius + i, cy - radius) for i in range(2 * radius)]
    right = [(cx + radius, cy - radius + i) for i in range(2 * radius)]
    bottom = [(cx + radius - i, cy + radius) for i in range(2 * radius)]
    left = [(cx - radius, cy + radius - i) for i in range(2 * radius)]
    return top + right + bottom + left


def ballet(rules: NavRules, task: TaskRules, level: dict[str, int],
           rng: np.random.Generator, relay: bool) -> Layout:
    """Dancers on a ring around the agent each dance in turn; after a delay the cue names
    a dance and the agent must reach the dancer who danced it (others fail the episode)."""
    room, n = int(task.params["room"]), level["dancers"]
    dance_steps, gap = int(task.params["dance_steps"]), int(task.params["gap_steps"])
    terrain = _room(room + 2, room + 2)
    marks = np.zeros_like(terrain)
    home = (room // 2 + 1, room // 2 + 1)
    ring = _ring(home, room // 2)
    offset = int(rng.integers(len(ring)))
    dancers = [ring[(offset + i * len(ring) // n) % len(ring)] for i in range(n)]
    for x, y in dancers:
        marks[y, x] = rules.mark_ids["dancer"]
    dances = [rules.mark_ids[d] for d in rng.choice(task.params["dances"], n, replace=False)]
    shown: dict[int, list[tuple[int, int, int]]] = {}
    for turn, who in enumerate(rng.permutation(n)):
        begin = turn * (dance_steps + gap)
        for t in range(begin, begin + dance_steps):
            shown[t] = [(dances[who], *dancers[who])]
    named = int(rng.integers(n))
    cue_end = n * (dance_steps + gap)
    targets = [Target(dances[named], dancers[named], level["trial_steps"])]
    return Layout(terrain, marks, home, cue_end, cue_end + task.delay_steps, targets, shown=shown,
                  wrong=frozenset(d for i, d in enumerate(dancers) if i != named))


def tile_options(here: Cell, arena: int, hop: int) -> list[Cell]:
    """The tiles a Mortar Mayhem command can name after `here` (each equally likely)."""
    return [(x, y) for y in range(1, arena + 1) for x in range(1, arena + 1)
            if 1 <= abs(x - here[0]) + abs(y - here[1]) <= hop]


def mortar_mayhem(rules: NavRules, task: TaskRules, level: dict[str, int],
                  rng: np.random.Generator, relay: bool) -> Layout:
    """Commands (tiles to move to, each near the previous) are shown one at a time; then
    they must be carried out in order, each within `command_steps`."""
    arena, n = int(task.params["arena"]), level["commands"]
    show, gap, hop = (int(task.params[k]) for k in ("show_steps", "gap_steps", "max_hop"))
    terrain = _room(arena + 2, arena + 2)
    home = (arena // 2 + 1, arena // 2 + 1)
    tiles: list[Cell] = []
    here = home
    for _ in range(n):
        options = tile_options(here, arena, hop)
        here = options[int(rng.integers(len(options)))]
        tiles.append(here)
    shown: dict[int, list[tuple[int, int, int]]] = {}
    for i, (x, y) in enumerate(tiles):
        for t in range(i * (show + gap), i * (show + gap) + show):
            shown[t] = [(rules.mark_ids[f"command_{i + 1}"], x, y)]
    targets = [Target(rules.mark_ids[f"command_{i + 1}"], tile, level["command_steps"])
               for i, tile in enumerate(tiles)]
    cue_end = n * (show + gap)
    return Layout(terrain, np.zeros_like(terrain), home, cue_end, cue_end + task.delay_steps,
                  targets, shown=shown, check=str(task.params.get("check", "reach")))


GENERATORS: dict[str, Callable[..., Layout]] = {
    "neighbourhood": neighbourhood,
    "mystery_path": mystery_path,
    "object_permanence": object_permanence,
    "ballet": ballet,
    "mortar_mayhem": mortar_mayhem,
}
