"""Chance levels of the manipulation tasks: the best success rate a policy without memory
can reach (its action a function of the current observation alone, however clever).

Grippers stay put until their acting phase, so a memoryless agent cannot keep the cue in
where it stands; once the cue is gone nothing it sees says what was shown. Per task:

- select (remember_color, remember_shape): one guess among the `level` items: 1/level.
- shell: the ball is under each of the `level` identical cups with equal probability
  whatever the swaps: 1/level.
- colour_set: the shown colours are a uniformly random `level`-subset of the n items on the
  table (`level` + distractors). Unordered: one guessed subset, 1/C(n, level); ordered
  (chain_of_colors): one guessed sequence, 1/P(n, level). A memoryless agent can do this
  well (it can touch the items by a fixed rule on what it sees).
- take_back: once the item is on the mark the agent knows the mark (it stands on it) but
  not the origin; origin and mark are drawn uniformly among the ordered pairs of distinct
  cells (not the centre) at least `TAKE_BACK_APART` apart, so the best guess gives
  E_mark[1/|origins(mark)|] = (marks with an origin) / (valid pairs). An upper bound: it
  assumes the guessed origin is always reached.
- intercept: the ball is hidden from the first acting step, so a memoryless agent's plan is
  one (cell, step) fixed in advance (its observation after the cue depends on nothing
  random). The chance is max over cells c and steps t with c reachable from the centre by
  t of P(ball at c at t), enumerated exactly over the generator's accepted draws
  (direction, meeting cell, phase offset: uniform, by rejection).
"""

from __future__ import annotations

from math import comb, perm

from memsim.envs.manipulation.config import ManipulationConfig
from memsim.envs.manipulation.engine import INTERCEPT_MARGIN, TAKE_BACK_APART


def take_back_chance(width: int, height: int) -> float:
    """(marks with at least one origin) / (valid (origin, mark) pairs)."""
    centre = (width // 2, height // 2)
    cells = [(x, y) for y in range(height) for x in range(width) if (x, y) != centre]
    origins = {m: sum(1 for o in cells if o != m and abs(o[0] - m[0]) + abs(o[1] - m[1])
                      >= TAKE_BACK_APART) for m in cells}
    pairs = sum(origins.values())
    return sum(1 for n in origins.values() if n) / pairs


def intercept_chance(width: int, height: int, period: int, cue_end: int, episode_steps: int,
                     margin: int) -> float:
    """max over reachable (cell, step) of P(ball there then) (see the module docstring)."""
    cx, cy = width // 2, height // 2
    directions = [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if (dx, dy) != (0, 0)]
    counts: dict[tuple[int, int, int], int] = {}
    accepted = 0
    for dx, dy in directions:
        for my in range(height):
            for mx in range(width):
                for offset in range(period):
                    meet = cue_end + margin + abs(mx - cx) + abs(my - cy) + offset
                    x0, y0 = mx - dx * (meet // period), my - dy * (meet // period)
                    if not (0 <= x0 < width and 0 <= y0 < height and meet < episode_steps):
                        continue
                    accepted += 1
                    for t in range(cue_end, episode_steps):
                        x, y = x0 + dx * (t // period), y0 + dy * (t // period)
                        if not (0 <= x < width and 0 <= y < height):
                            break
                        if abs(x - cx) + abs(y - cy) <= t - cue_end:
                            counts[(x, y, t)] = counts.get((x, y, t), 0) + 1
    return max(counts.values()) / accepted


def chance_level(config: ManipulationConfig) -> float:
    """The chance level of `config`'s task at its level (see the module docstring)."""
    task = config.rules.task(config.task)
    level = config.level
    if task.engine in ("select", "shell"):
        return 1 / level
    if task.engine == "colour_set":
        items = level + min(int(task.extra["distractors"]), len(task.colours) - level)
        return 1 / (perm(items, level) if task.extra["ordered"] else comb(items, level))
    if task.engine == "take_back":
        return take_back_chance(*task.table)
    if task.engine == "intercept":
        return intercept_chance(*task.table, level, task.cue_length(level),
                                config.episode_steps, INTERCEPT_MARGIN[config.relay])
    raise ValueError(f"no chance level for engine {task.engine!r} (task {task.name})")
