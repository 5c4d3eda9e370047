"""Chance levels of the navigation tasks: the best success rate a policy without memory
can reach (its action a function of the current observation alone, however clever).

After the cue, nothing in a memoryless agent's observation says where the answer is, and
agents cannot move before the act phase (so they cannot keep the cue in where they stand).
Per task, at one level (`TaskRules.level`):

- object_permanence: the object is behind one of the doors, each equally likely: 1/doors.
- ballet: the named dance was danced by one of the dancers, each equally likely:
  1/dancers.
- neighbourhood: every landmark looks alike in the streets and entering one that is not
  the goal fails, so each goal is a guess among the signs: the first among n, each later
  one among the n - 1 others than the one the agent stands on (it cannot tell which of
  those it already reached): 1/n x (1/(n-1))^(goals-1). An upper bound: it also assumes
  the signs are found in time.
- mortar_mayhem: a command is checked when its time is up, so each is one guess among the
  tiles the generator could have drawn from where the agent stands (the previous tile):
  the exact expectation over the generator's tile chain of the product of 1/options.
- mystery_path: the path is shown only during the cue and an agent gets `max_falls` + 1
  attempts. A memoryless attempt is a route chosen from what the agent sees (start and
  goal); paths are induced (only consecutive cells touch), so a route succeeds only if it
  is the path itself. With A attempts no policy beats trying the A most likely paths for
  its start and goal: the chance is E[sum of the A largest P(path | start, goal)],
  estimated from `samples` seeded draws of the task's own path generator (an upper bound).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from collections import Counter, defaultdict
from functools import cache
from math import prod
from pathlib import Path

import numpy as np

from memsim.envs.navigation.rules import NavRules, TaskRules
from memsim.envs.navigation.tasks import induced_path, tile_options

MYSTERY_SAMPLES = 100_000
MYSTERY_SEED = 12345


def mortar_mayhem_chance(arena: int, hop: int, commands: int) -> float:
    """E over the tile chain of prod_k 1/|options(tile_{k-1})| (tile_0: the arena centre)."""
    home = (arena // 2 + 1, arena // 2 + 1)
    weight: dict[tuple[int, int], float] = {home: 1.0}
    for _ in range(commands):
        nxt: dict[tuple[int, int], float] = defaultdict(float)
        for cell, w in weight.items():
            options = tile_options(cell, arena, hop)
            for option in options:  # drawn with 1/len, guessed right with 1/len
                nxt[option] += w / len(options) ** 2
        weight = nxt
    return float(sum(weight.values()))


SHIPPED = Path(__file__).with_name("chance_levels.json")
"""The figures for the shipped levels, computed once (`mystery_path_chance` keys), so a
fresh install does not spend a minute on them; tests check they match the generator."""


def _cache_file() -> Path:
    root = os.environ.get("MEMSIM_CACHE_DIR") or Path.home() / ".cache" / "memsim"
    return Path(root) / "chance_levels.json"


@cache
def mystery_path_chance(size: int, min_path: int, max_path: int, attempts: int,
                        samples: int = MYSTERY_SAMPLES, seed: int = MYSTERY_SEED) -> float:
    """E[sum of the `attempts` most likely paths' P(path | start, goal)], estimated from
    `samples` paths of the generator (seeded: the same number every time). It takes about a
    minute, so the shipped levels' figures come with the package (`SHIPPED`) and others are
    kept in `~/.cache/memsim/chance_levels.json` (or `$MEMSIM_CACHE_DIR`), keyed by the
    arguments and the generator's source."""
    key = mystery_path_key(size, min_path, max_path, attempts, samples, seed)
    shipped = json.loads(SHIPPED.read_text())
    if isinstance(shipped.get(key), float):
        return float(shipped[key])
    path = _cache_file()
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    if isinstance(known.get(key), float):
        return float(known[key])
    value = _sample_mystery_path(size, min_path, max_path, attempts, samples, seed)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({**known, key: value}, indent=1))
        tmp.replace(path)
    except OSError:
        pass  # a read-only home: computed again next time
    return value


def mystery_path_key(size: int, min_path: int, max_path: int, attempts: int,
                     samples: int = MYSTERY_SAMPLES, seed: int = MYSTERY_SEED) -> str:
    """The key of a Mystery Path chance figure: its arguments and the generator's source
    (a changed generator makes every stored figure stale)."""
    source = hashlib.sha256(inspect.getsource(induced_path).encode()).hexdigest()[:16]
    return f"mystery_path:{size}:{min_path}:{max_path}:{attempts}:{samples}:{seed}:{source}"


def _sample_mystery_path(size: int, min_path: int, max_path: int, attempts: int,
                         samples: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    by_ends: dict[tuple, Counter] = defaultdict(Counter)
    for _ in range(samples):
        path = tuple(induced_path(size, min_path, max_path, rng))
        by_ends[(path[0], path[-1])][path] += 1
    top = sum(sum(n for _, n in paths.most_common(attempts)) for paths in by_ends.values())
    return top / samples


def chance_level(rules: NavRules, task: TaskRules, level: dict[str, int]) -> float:
    """The chance level of `task` at `level` (see the module docstring)."""
    name = task.name
    if name == "object_permanence":
        room, doors = int(task.params["room"]), level["doors"]
        return 1 / len({1 + round(i * (room - 1) / max(doors - 1, 1)) for i in range(doors)})
    if name == "ballet":
        return 1 / level["dancers"]
    if name == "neighbourhood":
        n, goals = level["n_landmarks"], level["goals"]
        return 1 / n * prod(1 / (n - 1) for _ in range(goals - 1))
    if name == "mortar_mayhem":
        return mortar_mayhem_chance(int(task.params["arena"]), int(task.params["max_hop"]),
                                    level["commands"])
    if name == "mystery_path":
        return mystery_path_chance(level["size"], level["min_path"], level["max_path"],
                                   level["max_falls"] + 1, samples=MYSTERY_SAMPLES)
    raise ValueError(f"no chance level for task {name!r}")
