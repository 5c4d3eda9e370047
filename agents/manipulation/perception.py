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

from memsim.agents.manipulation.view import (
    ManipulationDecoder,
    ManipulationView,
)
from memsim.envs.manipulation.config import ManipulationConfig
from memsim.memory import Fact


def cue_place(config: ManipulationConfig, slot: int) -> tuple[int, int]:
    """Where display slot `slot` is: the row just past the table's far edge."""
    return slot, config.rules.task(config.task).table[1]


class ManipulationPerception:
    """Decodes one agent's symbolic observations and turns them into facts (stateless
    between steps)."""

    def __init__(self, agent_id: str, config: ManipulationConfig) -> None:
        self.agent_id = agent_id
        self.config = config
        self._decoder = ManipulationDecoder(config)

    def reset(self) -> None:
        """Nothing to forget: the adapter keeps no state between steps."""

    def decode(self, obs: dict[str, Any]) -> ManipulationView:
        return self._decoder.decode(obs)

    def perceive(self, view: ManipulationView, info: dict[str, Any], step: int) -> list[Fact]:
        facts = [Fact(kind="seen_at", subject=item.kind, category="item", place=cell)
                 for cell, item in view.items.items()]
        facts += [Fact(kind="seen_at", subject=kind, category="other",
                       place=cue_place(self.config, slot)) for slot, kind in view.cues]
        if info.get("action"):
            outcome = "success" if info.get("ok", True) else "failure"
            facts.append(Fact(kind="event", subject=info["action"], outcome=outcome,
                              text=(info.get("reason") or None)))
        return facts
