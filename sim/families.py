"""World families: how the runner builds each kind of world and its agents' parts.

A family joins an environment package (`envs/<family>`) to its agent-side adapters
(`agents/perception/<family>`, its scripted policy). The runner and the scenario schema
look families up here and know nothing else about a world; a new family is one entry in
`FAMILIES` (see `envs/base.py` for what its environment must offer).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from memsim.agents.llm.prompt import WorldBrief

from memsim.agents.crafting.beliefs import Recipe
from memsim.agents.crafting.perception import CraftingPerception, recipe_facts
from memsim.agents.crafting.planner import ScriptedPlanner
from memsim.agents.manipulation.perception import ManipulationPerception
from memsim.agents.manipulation.solver import ManipulationSolver
from memsim.agents.navigation.perception import NavigationPerception
from memsim.agents.navigation.solver import NavigationSolver
from memsim.agents.policy import Policy
from memsim.envs.base import MemsimWorld
from memsim.envs.crafting import CraftingConfig, CraftingParallelEnv, load_rules
from memsim.envs.manipulation import TASKS as MANIPULATION_TASKS
from memsim.envs.manipulation import ManipulationConfig, ManipulationParallelEnv
from memsim.envs.manipulation import register as register_manipulation
from memsim.envs.navigation import TASK_NAMES as NAVIGATION_TASKS
from memsim.envs.navigation import NavigationConfig, NavigationParallelEnv
from memsim.envs.navigation import register as register_navigation
from memsim.memory import Fact


@dataclass(frozen=True)
class WorldFamily:
    """Everything the runner needs to build one family's world and agents."""

    name: str
    config_model: type[BaseModel]  # the world config; a scenario's [env] table validates here
    make_env: Callable[[Any], MemsimWorld]
    make_perception: Callable[[str, Any], Any]  # (agent_id, env) -> perception adapter
    # (env, agent_id) -> the family's scripted policy for that agent
    make_scripted: Callable[[Any, str], Policy]
    prior_facts: Callable[[Any, str], list[Fact]]  # (env, agent_id) -> known at step 0
    world_id: Callable[[Any, int], str]  # (config, seed) -> id of the world generated
    milestones: tuple[str, ...] = ("success",)  # team achievements reported, in order
    tasks: Callable[[], dict[str, str]] = dict  # task name -> its Gymnasium id
    # (env) -> the kinds agents publish to a team graph (memory.shared)
    published: Callable[[Any], frozenset[str]] = lambda env: frozenset()
    # (env) -> how the world describes itself to a language model (None: generically)
    llm_brief: Callable[[Any], WorldBrief] | None = None


CRAFTING_MILESTONES: tuple[str, ...] = load_rules().milestones


def _manual(env: Any, agent_id: str) -> list[Fact]:
    """The recipes one agent is born knowing (the rules' `[team] manual` says whether each
    agent gets the whole book or its share)."""
    return recipe_facts(env.world.rules, env.possible_agents.index(agent_id),
                        len(env.possible_agents))


def _crafting_planner(env: Any, agent_id: str) -> ScriptedPlanner:
    """The planner of one agent: the recipes it is born knowing, what its role cannot do,
    the world's size."""
    manual = [Recipe.of_fact(f) for f in _manual(env, agent_id)]
    cannot = env.world.rules.cannot(env.roles.get(agent_id))
    return ScriptedPlanner(env.world.rules, manual, cannot,
                           bounds=(env.config.width, env.config.height))


def _crafting_brief(env: Any) -> WorldBrief:
    from memsim.agents.crafting.prompt import crafting_brief  # the LLM stack loads when used

    return crafting_brief(env.world.rules)


def _crafting_world_id(config: CraftingConfig, seed: int) -> str:
    return f"crafting:{config.width}x{config.height}:seed{seed}"


CRAFTING = WorldFamily(
    name="crafting",
    config_model=CraftingConfig,
    make_env=CraftingParallelEnv,
    make_perception=lambda agent_id, env: CraftingPerception(agent_id, env.world.rules),
    make_scripted=lambda env, agent_id: _crafting_planner(env, agent_id),
    prior_facts=lambda env, agent_id: _manual(env, agent_id),
    world_id=_crafting_world_id,
    milestones=CRAFTING_MILESTONES,
    tasks=lambda: {"team_diamond": "memsim/Crafter-v0"},
    llm_brief=lambda env: _crafting_brief(env),
    published=lambda env: env.world.rules.published,
)

NAVIGATION = WorldFamily(
    name="navigation",
    config_model=NavigationConfig,
    make_env=NavigationParallelEnv,
    make_perception=lambda agent_id, env: NavigationPerception(agent_id, env.config),
    make_scripted=lambda env, agent_id: NavigationSolver(env.config),
    prior_facts=lambda env, agent_id: [],
    world_id=lambda config, seed: f"navigation:{config.task}:d{config.difficulty}:seed{seed}",
    tasks=lambda: dict(zip(NAVIGATION_TASKS, register_navigation(), strict=True)),
)

MANIPULATION = WorldFamily(
    name="manipulation",
    config_model=ManipulationConfig,
    make_env=ManipulationParallelEnv,
    make_perception=lambda agent_id, env: ManipulationPerception(agent_id, env.config),
    make_scripted=lambda env, agent_id: ManipulationSolver(env.config),
    prior_facts=lambda env, agent_id: [],
    world_id=lambda config, seed: f"manipulation:{config.task}:d{config.level}:seed{seed}",
    tasks=lambda: dict(zip(MANIPULATION_TASKS, register_manipulation(), strict=True)),
)

FAMILIES: dict[str, WorldFamily] = {
    family.name: family for family in (CRAFTING, NAVIGATION, MANIPULATION)
}


def family_named(name: str) -> WorldFamily:
    """The family called `name`; the error lists the known ones."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"env family {name!r} is unknown; allowed: "
                         f"{', '.join(sorted(FAMILIES))}") from None


def family_milestones(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The milestones of the families of these result rows (by their ``family``), in
    order, each once; unknown families contribute none."""
    out: dict[str, None] = {}
    for name in dict.fromkeys(str(row.get("family", "")) for row in rows):
        if name in FAMILIES:
            out.update((m, None) for m in FAMILIES[name].milestones)
    return list(out)


def family_of(config: BaseModel) -> WorldFamily:
    """The family whose config model `config` is."""
    for family in FAMILIES.values():
        if type(config) is family.config_model:
            return family
    raise TypeError(f"{type(config).__name__} is not the config of a known env family "
                    f"({', '.join(sorted(FAMILIES))})")
