"""Perception for the navigation worlds: one agent's observation -> memory `Fact`s.

Only what the observation shows becomes a fact, at world coordinates:

- walls and scenery marks (doors, dancers, landmarks, start, goal) in the local view;
- each cue row being shown (the object behind its door, a dancer's dance, a command's
  tile, a landmark on the town map, a safe path cell) as `seen_at <mark name>`;
- the agent's own cell as `seen_at safe` (it stands there, so it is not a pit), and the
  pit its last move fell into as `seen_at pit`;
- the outcome of its own last action as an `event`.

No `surveyed` fact is ever written: every cue is hidden after its phase although it is
still true, so negative evidence over the view would wrongly close it. Nothing in these
worlds moves but the agents, so no remembered fact goes stale. The adapter keeps no state
between steps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

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

    def perceive(self, obs: dict[str, Any], info: dict[str, Any], step: int) -> list[Fact]:
        rules = self.rules
        px, py = (int(v) for v in obs["position"])
        half = obs["terrain"].shape[0] // 2
        facts = [Fact(kind="seen_at", subject="safe", place=(px, py), category="other")]
        rows, cols = np.nonzero(obs["terrain"] == WALL)
        facts += [Fact(kind="seen_at", subject="wall", category="other",
                       place=(px - half + int(c), py - half + int(r)))
                  for r, c in zip(rows, cols, strict=True)]
        marks = obs["marks"]
        rows, cols = np.nonzero(marks)
        facts += [Fact(kind="seen_at", subject=rules.mark_name(int(marks[r, c])),
                       place=(px - half + int(c), py - half + int(r)), category="other")
                  for r, c in zip(rows, cols, strict=True)]
        facts += [Fact(kind="seen_at", subject=rules.mark_name(int(mark)), place=(int(x), int(y)),
                       category="other") for mark, x, y in obs["shown"] if mark]
        fx, fy = (int(v) for v in obs["reset_from"])
        if (fx, fy) != (-1, -1):
            facts.append(Fact(kind="seen_at", subject="pit", place=(fx, fy), category="other"))
        if info.get("action"):
            outcome = "success" if info.get("ok", True) else "failure"
            facts.append(Fact(kind="event", subject=info["action"], outcome=outcome,
                              text=info.get("reason") or None))
        return facts
