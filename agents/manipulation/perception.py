"""Perception for the manipulation worlds: one agent's observation -> memory `Fact`s.

Only what the observation shows becomes a fact, at table coordinates:

- every visible item: `seen_at` of kind `<colour>_<shape>` (e.g. `red_cube`) at its cell;
- every cue on the display: `seen_at` of kind `cue_<colour>_<shape>` at its slot, which
  `cue_place` puts on the row just past the table (slot k at (k, table height));
- the outcome of its own last action as an `event`.

No `surveyed` facts: a cue that is merely hidden (a ball under a cup, a blank display)
must stay remembered, and the tasks never need memory to learn that something is gone.
The adapter keeps nothing between steps.
"""

from __future__ import annotations

from typing import Any

from memsim.envs.manipulation.config import ManipulationConfig
from memsim.memory import Fact


def item_kind(colour: str, shape: str) -> str:
    """The memory kind of a table item: `<colour>_<shape>`."""
    return f"{colour}_{shape}"


def cue_kind(colour: str, shape: str) -> str:
    """The memory kind of a cue shown on the display: `cue_<colour>_<shape>`."""
    return f"cue_{colour}_{shape}"


def cue_place(config: ManipulationConfig, slot: int) -> tuple[int, int]:
    """Where display slot `slot` is: the row just past the table's far edge."""
    return slot, config.rules.task(config.task).table[1]


class ManipulationPerception:
    """Turns one agent's symbolic observations into facts (stateless between steps)."""

    def __init__(self, agent_id: str, config: ManipulationConfig) -> None:
        self.agent_id = agent_id
        self.config = config
        rules = config.rules
        self._colours = rules.colours
        self._shapes = rules.shapes
        self._view = rules.task(config.task).view

    def reset(self) -> None:
        """Nothing to forget: the adapter keeps no state between steps."""

    def perceive(self, obs: dict[str, Any], info: dict[str, Any], step: int) -> list[Fact]:
        facts: list[Fact] = []
        vw, vh = self._view
        px, py = int(obs["position"][0]), int(obs["position"][1])
        left, top = px - vw // 2, py - vh // 2
        colours, shapes = obs["colour"], obs["shape"]
        for row, col in zip(*colours.nonzero(), strict=True):
            kind = item_kind(self._colours[int(colours[row, col]) - 1],
                             self._shapes[int(shapes[row, col]) - 1])
            facts.append(Fact(kind="seen_at", subject=kind, category="item",
                              place=(left + int(col), top + int(row))))
        for slot in obs["cue_colour"].nonzero()[0]:
            kind = cue_kind(self._colours[int(obs["cue_colour"][slot]) - 1],
                            self._shapes[int(obs["cue_shape"][slot]) - 1])
            facts.append(Fact(kind="seen_at", subject=kind, category="other",
                              place=cue_place(self.config, int(slot))))
        if info.get("action"):
            outcome = "success" if info.get("ok", True) else "failure"
            facts.append(Fact(kind="event", subject=info["action"], outcome=outcome,
                              text=(info.get("reason") or None)))
        return facts
