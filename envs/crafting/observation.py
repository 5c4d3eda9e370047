"""What one agent perceives: its local egocentric view, its own body, nothing else.

Symbolic observations are a dict of small arrays (see `observation_space`); the text mode
describes the same content in plain language for LLM agents. Neither carries anything
outside the agent's view: no map, no other agent's inventory.

Grids are `(view_height, view_width)`, row-major: `grid[row, col]` is the cell
`(x + col - view_width // 2, y + row - view_height // 2)`, so the agent sits at the centre.
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np
from gymnasium import spaces

from memsim.envs.crafting.bodies import FACING_INDEX, FACING_NAMES
from memsim.envs.crafting.engine import CraftingWorld

TEXT_MAX_LENGTH = 4096
TEXT_CHARSET = string.printable


def observation_space(world: CraftingWorld) -> spaces.Dict:
    """The symbolic observation space of one agent."""
    r, c = world.config.view_height, world.config.view_width
    n_materials = len(world.rules.materials) + 1  # + "outside"
    n_objects = len(world.rules.objects) + 1  # + "nothing"
    max_item = max(world.rules.item_max(i) for i in world.rules.items)
    return spaces.Dict(
        {
            "materials": spaces.Box(0, n_materials - 1, (r, c), np.uint8),
            "objects": spaces.Box(0, n_objects - 1, (r, c), np.uint8),
            "agents": spaces.Box(0, 255, (r, c), np.uint8),  # agent index + 1, 0 = none
            "inventory": spaces.Box(0, max_item, (len(world.rules.item_names),), np.uint8),
            "vitals": spaces.Box(0, max_item, (len(world.rules.vitals),), np.uint8),
            "facing": spaces.Discrete(4),
            "position": spaces.Box(0, max(world.width, world.height) - 1, (2,), np.int32),
            "daylight": spaces.Box(0.0, 1.0, (1,), np.float32),
            "sleeping": spaces.Discrete(2),
            "last_action_ok": spaces.Discrete(2),
        }
    )


def text_space() -> spaces.Text:
    return spaces.Text(max_length=TEXT_MAX_LENGTH, charset=TEXT_CHARSET)


def _index(positions: list[int]) -> slice | np.ndarray:
    """Positions to pick from an array: a slice where they run consecutively (a view of a
    fresh array is as good as a copy, and cheaper), else an index array."""
    if positions and positions == list(range(positions[0], positions[0] + len(positions))):
        return slice(positions[0], positions[0] + len(positions))
    return np.array(positions, dtype=np.intp)


class Observer:
    """Builds observations for the agents of one world (precomputes index tables)."""

    def __init__(self, world: CraftingWorld) -> None:
        self.world = world
        self.half_w = world.config.view_width // 2
        self.half_h = world.config.view_height // 2
        self.held = _index([world.item_index[n] for n in world.rules.item_names])
        self.vitals = _index([world.item_index[n] for n in world.rules.vitals])

    def symbolic(self, index: int) -> dict[str, Any]:
        world = self.world
        agent = world.agents[index]
        p = world.pad
        top, left = agent.y + p - self.half_h, agent.x + p - self.half_w
        rows = slice(top, top + 2 * self.half_h + 1)
        cols = slice(left, left + 2 * self.half_w + 1)
        inventory = np.array(agent.inventory, dtype=np.uint8)
        return {
            "materials": world.mat[rows, cols].copy(),
            "objects": world.kind[rows, cols].copy(),
            "agents": world.who[rows, cols].copy(),
            "inventory": inventory[self.held],
            "vitals": inventory[self.vitals],
            "facing": FACING_INDEX[agent.facing],
            "position": np.array((agent.x, agent.y), dtype=np.int32),
            "daylight": np.array((world.daylight(),), dtype=np.float32),
            "sleeping": int(agent.sleeping),
            "last_action_ok": int(agent.last_ok),
        }

    def text(self, index: int) -> str:
        return describe(self.world, index, self.symbolic(index))


def _offset_words(dx: int, dy: int) -> str:
    parts = []
    if dx:
        parts.append(f"{abs(dx)} {'right' if dx > 0 else 'left'}")
    if dy:
        parts.append(f"{abs(dy)} {'down' if dy > 0 else 'up'}")
    return ", ".join(parts) if parts else "here"


def describe(world: CraftingWorld, index: int, obs: dict[str, Any]) -> str:
    """Plain-language rendering of one agent's symbolic observation (no extra facts)."""
    rules = world.rules
    agent = world.agents[index]
    half_h, half_w = obs["materials"].shape[0] // 2, obs["materials"].shape[1] // 2
    facing = FACING_NAMES[obs["facing"]]
    fdx, fdy = agent.facing
    ahead = int(obs["materials"][half_h + fdy, half_w + fdx])
    ahead_name = rules.materials[ahead - 1] if ahead else "the edge of the world"
    ahead_obj = int(obs["objects"][half_h + fdy, half_w + fdx])
    if ahead_obj:
        ahead_name = rules.objects[ahead_obj - 1]
        who = int(obs["agents"][half_h + fdy, half_w + fdx])
        if who:
            ahead_name = f"agent_{who - 1}"
    time_of_day = "day" if float(obs["daylight"][0]) >= 0.5 else "night"
    lines = [
        f"Step {world.step_count}, {time_of_day}. You are {agent.name} at "
        f"({int(obs['position'][0])}, {int(obs['position'][1])}), facing {facing} "
        f"toward {ahead_name}." + (" You are asleep." if obs["sleeping"] else ""),
        "Vitals: "
        + ", ".join(
            f"{name} {int(v)}/{rules.item_max(name)}"
            for name, v in zip(rules.vitals, obs["vitals"], strict=True)
        )
        + ".",
    ]
    held = [f"{n} {int(v)}" for n, v in zip(rules.item_names, obs["inventory"], strict=True) if v]
    lines.append("Inventory: " + (", ".join(held) if held else "empty") + ".")
    # Nearest instance of each visible material and object kind, with counts.
    seen: dict[str, tuple[int, int, int]] = {}  # name -> (distance, dx, dy) of nearest
    counts: dict[str, int] = {}
    rows, cols = obs["materials"].shape
    for row in range(rows):
        for col in range(cols):
            dx, dy = col - half_w, row - half_h
            if dx == 0 and dy == 0:
                continue
            names = []
            material = int(obs["materials"][row, col])
            if material and rules.materials[material - 1] not in ("grass",):
                names.append(rules.materials[material - 1])
            kind = int(obs["objects"][row, col])
            if kind:
                who = int(obs["agents"][row, col])
                names.append(f"agent_{who - 1}" if who else rules.objects[kind - 1])
            for name in names:
                counts[name] = counts.get(name, 0) + 1
                dist = abs(dx) + abs(dy)
                if name not in seen or dist < seen[name][0]:
                    seen[name] = (dist, dx, dy)
    if seen:
        parts = []
        for name in sorted(seen, key=lambda n: (seen[n][0], n)):
            _, dx, dy = seen[name]
            many = f" (x{counts[name]})" if counts[name] > 1 else ""
            parts.append(f"{name}{many} nearest {_offset_words(dx, dy)}")
        lines.append("You see: " + "; ".join(parts) + ".")
    else:
        lines.append("You see only grass.")
    result = "ok" if obs["last_action_ok"] else f"failed: {agent.last_reason}"
    lines.append(f"Last action: {agent.last_action} ({result}).")
    if agent.events:
        lines.append("Events: " + "; ".join(agent.events) + ".")
    text = "\n".join(lines)
    return text[:TEXT_MAX_LENGTH]
