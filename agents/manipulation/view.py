"""One agent's manipulation observation, decoded once per agent-step into table cells."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from memsim.envs.manipulation.config import ManipulationConfig
from memsim.envs.manipulation.rules import PHASES

Cell = tuple[int, int]


def item_kind(colour: str, shape: str) -> str:
    """The memory kind of a table item: `<colour>_<shape>`."""
    return f"{colour}_{shape}"


def cue_kind(colour: str, shape: str) -> str:
    """The memory kind of a cue shown on the display: `cue_<colour>_<shape>`."""
    return f"cue_{colour}_{shape}"


@dataclass(frozen=True, slots=True)
class SeenItem:
    """An item in view: its colour, shape and how it just moved (0: it did not)."""

    colour: str
    shape: str
    moved: int

    @property
    def kind(self) -> str:
        return item_kind(self.colour, self.shape)


@dataclass(slots=True)
class ManipulationView:
    """What one gripper sees: items and table marks in view, the cue display, its body."""

    x: int
    y: int
    items: dict[Cell, SeenItem]  # row by row
    marks: list[Cell]  # target marks on the table in view, row by row
    cues: list[tuple[int, str]]  # (display slot, cue kind) of the cues shown now
    phase: str
    phase_step: int
    holding: bool

    @property
    def position(self) -> Cell:
        return (self.x, self.y)


class ManipulationDecoder:
    """Decodes symbolic manipulation observations with the task's rules (names, view size)."""

    def __init__(self, config: ManipulationConfig) -> None:
        rules = config.rules
        self._colours = rules.colours
        self._shapes = rules.shapes
        self._view = rules.task(config.task).view

    def decode(self, obs: dict[str, Any]) -> ManipulationView:
        vw, vh = self._view
        x, y = int(obs["position"][0]), int(obs["position"][1])
        left, top = x - vw // 2, y - vh // 2
        colours, shapes, moved = obs["colour"], obs["shape"], obs["moved"]
        items = {
            (left + int(c), top + int(r)): SeenItem(self._colours[int(colours[r, c]) - 1],
                                                    self._shapes[int(shapes[r, c]) - 1],
                                                    int(moved[r, c]))
            for r, c in zip(*shapes.nonzero(), strict=True)
        }
        marks = [(left + int(c), top + int(r))
                 for r, c in zip(*np.nonzero(obs["table"] == 2), strict=True)]
        cues = [(int(slot), cue_kind(self._colours[int(obs["cue_colour"][slot]) - 1],
                                     self._shapes[int(obs["cue_shape"][slot]) - 1]))
                for slot in obs["cue_colour"].nonzero()[0]]
        return ManipulationView(x, y, items, marks, cues, PHASES[int(obs["phase"])],
                                int(obs["phase_step"][0]), bool(obs["holding"][0]))
