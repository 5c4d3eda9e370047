"""What one agent observes: its local view, its position, the phase, and the cue if shown.

Symbolic observation (a `gymnasium.spaces.Dict`):

- ``terrain`` (view, view) uint8: 0 outside the world, 1 floor, 2 wall;
- ``marks`` (view, view) uint8: scenery mark ids (rules ``[marks]`` order + 1; 0 none);
- ``agents`` (view, view) uint8: teammate index + 1 (0 none; the agent itself not shown);
- ``shown`` (max_shown, 3) int32: the cue rows (mark id, x, y) shown now; unused rows are
  (0, -1, -1). Empty outside cue/delay phases and, in relay, for every agent but the observer;
- ``target`` Discrete: the mark id to reach now (0 before the act phase);
- ``phase`` Discrete(3): 0 cue, 1 delay, 2 act; ``time_left`` (1,) int32: steps left in the
  cue/delay phases or until the current target's time limit;
- ``position`` (2,) int32: (x, y); ``reset_from`` (2,) int32: the pit cell the last move
  fell into, (-1, -1) if none.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from memsim.envs.navigation.engine import PHASES, NavigationWorld


def observation_space(world: NavigationWorld) -> spaces.Dict:
    """The symbolic observation space (grid sizes depend only on the task level)."""
    view, rules = world.task.view, world.rules
    side = max(world.grid.terrain.shape)
    return spaces.Dict({
        "terrain": spaces.Box(0, len(rules.terrain), (view, view), np.uint8),
        "marks": spaces.Box(0, len(rules.marks), (view, view), np.uint8),
        "agents": spaces.Box(0, world.config.n_agents, (view, view), np.uint8),
        "shown": spaces.Box(-1, max(side, len(rules.marks)), (rules.max_shown, 3), np.int32),
        "target": spaces.Discrete(len(rules.marks) + 1),
        "phase": spaces.Discrete(len(PHASES)),
        # every phase and target time limit is fixed by the task level, so this bounds it
        "time_left": spaces.Box(0, world.default_max_steps(), (1,), np.int32),
        "position": spaces.Box(0, side - 1, (2,), np.int32),
        "reset_from": spaces.Box(-1, side - 1, (2,), np.int32),
    })


def _window(array: np.ndarray, x: int, y: int, view: int, fill: int) -> np.ndarray:
    """The (view, view) window of `array` centred on (x, y), `fill` outside."""
    half = view // 2
    padded = np.pad(array, half, constant_values=fill)
    return padded[y: y + view, x: x + view].copy()


def observe(world: NavigationWorld, index: int) -> dict[str, Any]:
    """The symbolic observation of agent `index` now."""
    grid, body, view = world.grid, world.agents[index], world.task.view
    who = np.zeros_like(grid.marks)
    for other, mate in enumerate(world.agents):
        if other != index:
            who[mate.y, mate.x] = other + 1
    shown = np.zeros((world.rules.max_shown, 3), np.int32)
    shown[:, 1:] = -1
    rows = world.shown(index)[: world.rules.max_shown]
    if rows:
        shown[: len(rows)] = np.array(rows, np.int32)
    return {
        "terrain": _window(grid.terrain, body.x, body.y, view, 0),
        "marks": _window(grid.marks, body.x, body.y, view, 0),
        "agents": _window(who, body.x, body.y, view, 0),
        "shown": shown,
        "target": np.int64(world.current_target()),
        "phase": np.int64(world.phase()),
        "time_left": np.array([world.time_left()], np.int32),
        "position": np.array([body.x, body.y], np.int32),
        "reset_from": np.array(body.reset_from, np.int32),
    }


def describe(world: NavigationWorld, index: int) -> str:
    """The same observation in plain language (for LLM agents)."""
    obs, rules = observe(world, index), world.rules
    x, y = (int(v) for v in obs["position"])
    half = world.task.view // 2
    lines = [f"You are agent_{index} at ({x},{y}). Phase: {PHASES[int(obs['phase'])]}, "
             f"{int(obs['time_left'][0])} steps left."]
    if int(obs["target"]):
        lines.append(f"Reach: {rules.mark_name(int(obs['target']))}.")
    if tuple(obs["reset_from"]) != (-1, -1):
        fx, fy = (int(v) for v in obs["reset_from"])
        lines.append(f"You fell into a pit at ({fx},{fy}) and are back at the start.")
    shown = [f"{rules.mark_name(int(m))} at ({int(sx)},{int(sy)})"
             for m, sx, sy in obs["shown"] if m]
    if shown:
        lines.append("Shown: " + "; ".join(shown) + ".")
    walls, marks = [], []
    for row in range(obs["terrain"].shape[0]):
        for col in range(obs["terrain"].shape[1]):
            cx, cy = x - half + col, y - half + row
            if obs["terrain"][row, col] == 2:
                walls.append(f"({cx},{cy})")
            if obs["marks"][row, col]:
                marks.append(f"{rules.mark_name(int(obs['marks'][row, col]))} at ({cx},{cy})")
    if marks:
        lines.append("In view: " + "; ".join(marks) + ".")
    if walls:
        lines.append("Walls at " + " ".join(walls) + ".")
    return "\n".join(lines)
