"""How the crafting world describes itself to a language model: the world text
(`prompts/world.txt`) with the recipe book from the rules file."""

from __future__ import annotations

from pathlib import Path
from string import Template

from memsim.agents.llm.prompt import WorldBrief
from memsim.envs.crafting.rules import Rules

PROMPTS_DIR = Path(__file__).parent / "prompts"


def manual(rules: Rules) -> str:
    """The recipe book in a few lines: what `do` collects, what placing and making need."""
    lines = []
    for material, rule in rules.collect.items():
        gets = ", ".join(f"{k} {v}" for k, v in rule.receive.items()) or "nothing"
        needs = f" (needs {', '.join(rule.require)})" if rule.require else ""
        lines.append(f"- do on {material} gives {gets}{needs}")
    for name, rule in rules.place.items():
        uses = ", ".join(f"{k} {v}" for k, v in rule.uses.items())
        near = f", near {', '.join(rule.nearby)}" if rule.nearby else ""
        lines.append(f"- place_{name}: uses {uses}{near}")
    for name, rule in rules.make.items():
        uses = ", ".join(f"{k} {v}" for k, v in rule.uses.items())
        lines.append(f"- make_{name}: uses {uses}, near {', '.join(rule.nearby)}")
    return "\n".join(lines)


def crafting_brief(rules: Rules) -> WorldBrief:
    """The crafting world for the system prompt: how it works and its recipes."""
    template = Template((PROMPTS_DIR / "world.txt").read_text(encoding="utf-8"))
    text = template.substitute(recipes="Recipes:\n" + manual(rules)).strip()
    return WorldBrief(text, tuple(rules.item_names))
