"""One agent's crafting observation, decoded once per agent-step into world coordinates.

Perception, the planner, prompts and the viewer all read this `CraftingView` instead of
parsing the symbolic observation's grids themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from memsim.envs.crafting.rules import Rules

Cell = tuple[int, int]
DIRECTIONS: dict[str, Cell] = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
"""Move names and their (dx, dy), in the order of the observation's `facing` index."""


@dataclass(slots=True)
class CraftingView:
    """What one agent sees: its local view at world coordinates and its own body."""

    x: int
    y: int
    left: int  # the view rectangle: top-left world cell and size
    top: int
    cols: int
    rows: int
    materials: dict[Cell, str]  # every view cell, row by row ("outside" beyond the map)
    creatures: dict[Cell, str]  # creature kind by cell
    agents: dict[Cell, str]  # agent id by cell (this agent included)
    objects: dict[Cell, str]  # creatures and agents: what stands on a cell
    inventory: dict[str, int]  # every item, in the rules' item order
    vitals: dict[str, int]
    vital_max: dict[str, int]
    facing: Cell
    sleeping: bool

    @property
    def position(self) -> Cell:
        return (self.x, self.y)


class CraftingDecoder:
    """Decodes symbolic crafting observations with the world's rules (names, item order)."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self._materials = ("outside", *rules.materials)
        self._objects = ("nothing", *rules.objects)
        self._facings = tuple(DIRECTIONS.values())
        self._vital_max = {name: rules.item_max(name) for name in rules.vitals}

    def decode(self, obs: dict[str, Any]) -> CraftingView:
        materials, objects, agents = obs["materials"], obs["objects"], obs["agents"]
        rows, cols = materials.shape
        x, y = int(obs["position"][0]), int(obs["position"][1])
        left, top = x - cols // 2, y - rows // 2
        names = self._materials
        cells: dict[Cell, str] = {}
        creatures: dict[Cell, str] = {}
        who: dict[Cell, str] = {}
        things: dict[Cell, str] = {}
        material_rows, object_rows, agent_rows = (materials.tolist(), objects.tolist(),
                                                  agents.tolist())
        for r in range(rows):
            material_row, object_row, agent_row = material_rows[r], object_rows[r], agent_rows[r]
            for c in range(cols):
                cell = (left + c, top + r)
                cells[cell] = names[material_row[c]]
                kind = object_row[c]
                if kind:
                    agent = agent_row[c]
                    if agent:
                        who[cell] = things[cell] = f"agent_{agent - 1}"
                    else:
                        creatures[cell] = things[cell] = self._objects[kind]
        inventory = dict(zip(self.rules.item_names, obs["inventory"].tolist(), strict=True))
        vitals = dict(zip(self.rules.vitals, obs["vitals"].tolist(), strict=True))
        return CraftingView(x, y, left, top, cols, rows, cells, creatures, who, things,
                            inventory, vitals, self._vital_max,
                            self._facings[int(obs["facing"])], bool(obs["sleeping"]))
