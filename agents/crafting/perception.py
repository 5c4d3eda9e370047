"""Perception for the crafting world: one agent's observation -> memory `Fact`s.

Only what the observation shows becomes a fact: the materials, creatures and teammates
in the local view (at world coordinates, from the agent's own position), the agent's own
inventory, and the outcome of its own last action. A `surveyed` fact for the view
rectangle lets memory close what used to be there and is gone (a cut tree, a moved cow).
The rules file supplies names and the recipe book (the game manual every player has).
"""

from __future__ import annotations

from typing import Any

from memsim.agents.crafting.view import CraftingDecoder, CraftingView
from memsim.envs.crafting.rules import Rules
from memsim.memory import Fact

Cell = tuple[int, int]
_SIGHTING_CACHE = 4096
# Floor materials are not worth remembering as entities; everything else is.
_STATIONS = ("table", "furnace")
_HAZARDS = ("lava",)


def material_category(name: str) -> str:
    if name in _STATIONS:
        return "station"
    if name in _HAZARDS:
        return "other"
    return "resource"


class CraftingPerception:
    """Decodes one agent's symbolic observations and turns them into facts. Keeps only its
    last inventory, so unchanged holdings are not rewritten every step."""

    def __init__(self, agent_id: str, rules: Rules) -> None:
        self.agent_id = agent_id
        self.rules = rules
        self._decoder = CraftingDecoder(rules)
        self._floor = {"outside", *rules.walkable}
        self._last_inventory: list[int] | None = None
        # Sightings (and surveys) repeat step after step; a fact is an immutable value, so
        # the same (kind, cell, category or extent) is validated once and reused (bounded:
        # cleared when full).
        self._sightings: dict[tuple[str, Cell, str | tuple[int, int]], Fact] = {}

    def reset(self) -> None:
        self._last_inventory = None

    def decode(self, obs: dict[str, Any]) -> CraftingView:
        return self._decoder.decode(obs)

    def _seen(self, kind: str, cell: Cell, category: str) -> Fact:
        key = (kind, cell, category)
        fact = self._sightings.get(key)
        if fact is None:
            if len(self._sightings) >= _SIGHTING_CACHE:
                self._sightings.clear()
            fact = self._sightings[key] = Fact(kind="seen_at", subject=kind, place=cell,
                                               category=category)  # type: ignore[arg-type]
        return fact

    def perceive(self, view: CraftingView, info: dict[str, Any], step: int) -> list[Fact]:
        facts = [self._survey(view.left, view.top, view.cols, view.rows)]
        floor = self._floor
        for cell, material in view.materials.items():
            if material not in floor:
                facts.append(self._seen(material, cell, material_category(material)))
            if cell not in view.objects:
                continue
            who = view.agents.get(cell)
            if who is not None:
                if who != self.agent_id:
                    facts.append(Fact(kind="seen_at", subject="agent", entity_id=who,
                                      place=cell, category="agent"))
            else:
                facts.append(self._seen(view.creatures[cell], cell, "creature"))
        facts += self._holdings(view)
        if info.get("action"):
            outcome = "success" if info.get("ok", True) else "failure"
            facts.append(Fact(kind="event", subject=info["action"], outcome=outcome,
                              text=(info.get("reason") or None), place=view.position))
        return facts

    def _survey(self, left: int, top: int, cols: int, rows: int) -> Fact:
        """Negative evidence: in this rectangle, whatever is not reported now is gone."""
        x0, y0 = max(0, left), max(0, top)
        extent = (left + cols - x0, top + rows - y0)
        key = ("surveyed", (x0, y0), extent)
        fact = self._sightings.get(key)
        if fact is None:
            if len(self._sightings) >= _SIGHTING_CACHE:
                self._sightings.clear()
            fact = self._sightings[key] = Fact(kind="surveyed", subject=self.agent_id,
                                               place=(x0, y0), extent=extent)
        return fact

    def _holdings(self, view: CraftingView) -> list[Fact]:
        inventory = list(view.inventory.values())
        last = self._last_inventory
        self._last_inventory = inventory
        return [
            Fact(kind="holds", subject=self.agent_id, object=item, count=count)
            for i, (item, count) in enumerate(view.inventory.items())
            if (last is None and count) or (last is not None and last[i] != count)
        ]


def recipe_facts(rules: Rules, agent_index: int = 0, n_agents: int = 1) -> list[Fact]:
    """The recipe book as facts: make, place and collect rules (prior knowledge). With the
    rules' ``[team] manual = "split"``, agent `agent_index` of `n_agents` gets only recipe
    k of the full book (in this order) for k % n_agents == agent_index; "full": all."""
    facts = []
    for name, rule in rules.make.items():
        facts.append(Fact(kind="recipe", subject=f"make_{name}", object=name,
                          requires=dict(rule.uses), nearby=rule.nearby, count=rule.gives))
    for name, rule in rules.place.items():
        facts.append(Fact(kind="recipe", subject=f"place_{name}", object=name,
                          requires=dict(rule.uses), nearby=rule.nearby, count=1))
    for material, rule in rules.collect.items():
        for item, amount in rule.receive.items():
            # Collecting needs the material itself next to you, and tools held (not used up).
            facts.append(Fact(kind="recipe", subject=f"collect_{item}_from_{material}",
                              object=item, nearby=(material, *rule.require), count=amount))
    if rules.manual == "split":
        return facts[agent_index % n_agents::n_agents]
    return facts
