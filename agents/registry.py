"""Policies by name, as scenario files refer to them.

``scripted`` is each world family's own scripted policy (the runner passes its factory);
the others work in any world. The skill policies (``llm-skills``, ``random-skills``) choose
among the family's skills (`agents.skills`), built over its scripted policy. A policy that
needs settings (an LLM endpoint, an RL model file) gets them from the scenario table of
the same name (``llm-skills`` reads ``[llm]``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from memsim.agents.policy import Policy
from memsim.agents.random_policy import RandomPolicy

if TYPE_CHECKING:
    from memsim.agents.llm.prompt import WorldBrief

POLICY_NAMES: tuple[str, ...] = ("random", "scripted", "rl", "llm", "llm-skills",
                                 "random-skills")


def make_policy(
    name: str,
    scripted: Callable[[], Policy],
    settings: Mapping[str, Any] | None = None,
    brief: WorldBrief | None = None,
) -> Policy:
    """A fresh policy instance for one agent. `scripted` builds the world's scripted
    policy; `settings` is the scenario's table for this policy (if any); `brief` is how the
    world family describes itself to a language model."""
    if name == "scripted":
        return scripted()
    if name == "random":
        return RandomPolicy()
    if name == "rl":
        from memsim.agents.rl import make_rl_policy_from_table  # torch / SB3 load only when used

        return make_rl_policy_from_table(dict(settings or {}))
    if name == "llm":
        from memsim.agents.llm import LLMConfig, LLMPolicy  # openai loads only when used

        return LLMPolicy(LLMConfig.from_sources(settings), brief)
    if name in ("llm-skills", "random-skills"):
        from memsim.agents.skills import RandomSkillPolicy, skill_library

        library = skill_library(scripted())
        if name == "random-skills":
            return RandomSkillPolicy(library)
        from memsim.agents.llm import LLMConfig
        from memsim.agents.llm.skill_policy import LLMSkillPolicy

        return LLMSkillPolicy(LLMConfig.from_sources(settings), library)
    raise ValueError(f"policy {name!r} is unknown; allowed: {', '.join(POLICY_NAMES)}")
