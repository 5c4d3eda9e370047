"""Memory-grounded skills that a policy chooses by name (a model, or uniformly at random).

`skill_library(scripted)` gives the world family's skill library for one agent, built over
that family's scripted policy (whose executors the skills reuse); `RandomSkillPolicy` is
the random-skill baseline; the LLM skill policy is `agents.llm.skill_policy`. Settings:
`agents/skills/skills.toml`.
"""

from __future__ import annotations

from typing import Any

from memsim.agents.skills.base import (
    ActiveSkill,
    Option,
    Outcome,
    SkillLibrary,
    SkillStep,
    Turn,
    load_skill_settings,
)
from memsim.agents.skills.random_skills import RandomSkillPolicy
from memsim.agents.skills.runner import SkillRunner


def skill_library(scripted: Any) -> SkillLibrary:
    """The skill library over a family's scripted policy (its type says the family)."""
    from memsim.agents.crafting.planner import ScriptedPlanner
    from memsim.agents.manipulation.solver import ManipulationSolver
    from memsim.agents.navigation.solver import NavigationSolver

    if isinstance(scripted, ScriptedPlanner):
        from memsim.agents.skills.crafting import CraftingSkills

        return CraftingSkills(scripted)
    if isinstance(scripted, NavigationSolver):
        from memsim.agents.skills.navigation import NavigationSkills

        return NavigationSkills(scripted)
    if isinstance(scripted, ManipulationSolver):
        from memsim.agents.skills.manipulation import ManipulationSkills

        return ManipulationSkills(scripted)
    raise ValueError(f"no skills for a world whose scripted policy is "
                     f"{type(scripted).__name__}")


__all__ = [
    "ActiveSkill",
    "Option",
    "Outcome",
    "RandomSkillPolicy",
    "SkillLibrary",
    "SkillRunner",
    "SkillStep",
    "Turn",
    "load_skill_settings",
    "skill_library",
]
