"""Policies by name, as scenario files refer to them."""

from __future__ import annotations

from agents.policy import Policy
from agents.random_policy import RandomPolicy
from agents.scripted import ScriptedPlanner
from envs.crafting.rules import Rules

POLICY_NAMES: tuple[str, ...] = ("random", "scripted")


def make_policy(name: str, rules: Rules) -> Policy:
    """A fresh policy instance for one agent."""
    if name == "scripted":
        return ScriptedPlanner(rules)
    if name == "random":
        return RandomPolicy()
    raise ValueError(f"policy {name!r} is unknown; allowed: {', '.join(POLICY_NAMES)}")
