"""Perception for the navigation worlds: one agent's observation -> memory `Fact`s.

Only what the observation shows becomes a fact, at world coordinates:

- walls and scenery marks (doors, dancers, landmarks, start, goal) in the local view;
- each cue row being shown (the object behind its door, a dancer's dance, a command's
  tile, a landmark on the town map, a safe path cell) as `seen_at <mark name>`;
- the agent's own cell as `seen_at safe` (it stands there, so it is not a pit), and the
  pit its last move fell into as `seen_at pit`;
- the outcome of its own last action as an `event`, where it now stands (its trail).

No `surveyed` fact is ever written: every cue is hidden after its phase although it is
still true, so negative evidence over the view would wrongly close it. Nothing in these
worlds moves but the agents, so no remembered fact goes stale. The adapter keeps no state
between steps.
"""

from __future__ import annotations

from typing import Any

from memsim.agents.navigation.view import NavigationView, decode_navigation
from memsim.envs.navigation.config import NavigationConfig
from memsim.envs.navigation.rules import NavRules, load_rules
from memsim.memory import Fact

WALL = 2  # terrain id of a wall (rules.toml lists floor, then wall)


def navigation_rules(config: NavigationConfig) -> NavRules:
    """The rules a config refers to (its own file or the default)."""
    return load_rules(config.rules_path) if config.rules_path else load_rules()


class NavigationPerception:
    """Turns one agent's symbolic navigation observations into facts."""

    def __init__(self, agent_id: str, config: NavigationConfig) -> None:
        self.agent_id = agent_id
        self.rules = navigation_rules(config)

    def reset(self) -> None:
        """Nothing to forget: the adapter is stateless."""

    def decode(self, obs: dict[str, Any]) -> NavigationView:
        return decode_navigation(obs, self.rules)

    def perceive(self, view: NavigationView, info: dict[str, Any], step: int) -> list[Fact]:
        rules = self.rules
        facts = [Fact(kind="seen_at", subject="safe", place=view.position, category="other")]
        facts += [Fact(kind="seen_at", subject="wall", category="other", place=cell)
                  for cell, _ in view.cells("terrain", WALL)]
        facts += [Fact(kind="seen_at", subject=rules.mark_name(mark), place=cell,
                       category="other") for cell, mark in view.cells("marks")]
        facts += [Fact(kind="seen_at", subject=rules.mark_name(mark), place=(x, y),
                       category="other") for mark, x, y in view.shown]
        if view.reset_from is not None:
            facts.append(Fact(kind="seen_at", subject="pit", place=view.reset_from,
                              category="other"))
        if info.get("action"):
            outcome = "success" if info.get("ok", True) else "failure"
            facts.append(Fact(kind="event", subject=info["action"], outcome=outcome,
                              place=view.position, text=info.get("reason") or None))
        return facts
