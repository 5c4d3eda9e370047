"""One agent's navigation observation, decoded once per agent-step into world cells."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from memsim.envs.navigation.rules import NavRules

Cell = tuple[int, int]


@dataclass(slots=True)
class NavigationView:
    """What one agent sees: its square local view (terrain and marks), the cue rows shown
    now, the task phase and target, and where its last move reset it from."""

    x: int
    y: int
    terrain: np.ndarray  # the local view, row by row, centred on the agent
    marks: np.ndarray
    phase: int
    target_id: int  # the mark id the act phase asks for
    target: str  # its name
    shown: list[tuple[int, int, int]]  # (mark id, x, y) of each cue row shown now
    reset_from: Cell | None  # the pit cell the last move fell into, if it did
    _cells: dict[tuple[str, int | None], list[tuple[Cell, int]]] = field(default_factory=dict)

    @property
    def position(self) -> Cell:
        return (self.x, self.y)

    @property
    def half(self) -> int:
        return self.terrain.shape[0] // 2

    def cells(self, layer: str, value: int | None = None) -> list[tuple[Cell, int]]:
        """(world cell, value) of the `layer` ("terrain" or "marks") cells that are non-zero
        (or equal `value`), row by row; computed once per view."""
        key = (layer, value)
        found = self._cells.get(key)
        if found is None:
            grid = self.terrain if layer == "terrain" else self.marks
            hits = np.nonzero(grid == value) if value is not None else np.nonzero(grid)
            half = self.half
            found = self._cells[key] = [
                ((self.x - half + int(c), self.y - half + int(r)), int(grid[r, c]))
                for r, c in zip(*hits, strict=True)]
        return found

    def in_view(self, cell: Cell) -> bool:
        half = self.half
        return abs(cell[0] - self.x) <= half and abs(cell[1] - self.y) <= half


def decode_navigation(obs: dict[str, Any], rules: NavRules) -> NavigationView:
    """The typed view of one symbolic navigation observation."""
    fx, fy = (int(v) for v in obs["reset_from"])
    target = int(obs["target"])
    return NavigationView(
        x=int(obs["position"][0]), y=int(obs["position"][1]),
        terrain=obs["terrain"], marks=obs["marks"], phase=int(obs["phase"]),
        target_id=target, target=rules.mark_name(target),
        shown=[(int(m), int(x), int(y)) for m, x, y in obs["shown"] if m],
        reset_from=None if (fx, fy) == (-1, -1) else (fx, fy),
    )
