"""World families: how the runner builds each kind of world and its agents' parts.

A family joins an environment package (`envs/<family>`) to its agent-side adapters
(`agents/<family>/perception.py`, its scripted policy). The runner and the scenario schema
look families up here and know nothing else about a world. The built-in ones are in
`FAMILIES`; others come from outside memsim (see `family_named`):

- a ``memsim.worlds`` entry point naming a `WorldFamily` (or a callable returning one);
- an import path in a scenario, ``family = "my_package.worlds:GRID"``;
- `register_family(family)` in code, before the scenario is loaded.

What a family's environment must offer is `envs.base.MemsimWorld`;
`memsim.testing.check_world_family` checks a family against the whole contract.
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
from memsim.plugins import (
    PluginError,
    describe,
    is_import_path,
    load_entry_point,
    load_object,
    plugin_names,
)


@dataclass(frozen=True)
class WorldFamily:
    """Everything the runner needs to build one family's world and agents.

    Invariants (`memsim.testing.check_world_family` checks them): `config_model` is a
    pydantic model with at least ``n_agents``, ``max_steps`` and ``team_goal`` fields and
    defaults for everything else, or the scenario's ``[env]`` gives them; `make_env`
    returns a PettingZoo ``ParallelEnv`` that is a `MemsimWorld` (agents ``agent_0`` ..,
    the same `Discrete` action space for all, the step infos of `envs.base.INFO_KEYS`);
    the same seed gives the same world; `make_perception(agent_id, env)` returns a
    `Perception` whose `decode` gives a view with a ``position`` and whose facts are
    `memsim.memory.Fact`s; `make_scripted(env, agent_id)` returns a `Policy` (the
    ``scripted`` policy; any working policy, even a random one, will do); `world_id` is a
    stable string per (config, seed). The family's `name` is what ``[env] family`` says.
    """

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


_REGISTERED: dict[str, WorldFamily] = {}  # register_family, import paths and entry points


def register_family(family: WorldFamily) -> WorldFamily:
    """Make `family` known by its name (a scenario's ``[env] family``) in this process.
    Registering the same family again is a no-op; another one under a taken name is an
    error. `memsim bench` runs cells in other processes, which know only entry points and
    import paths: name a family one of those ways for a benchmark."""
    if not isinstance(family, WorldFamily):
        raise PluginError(f"register_family: {describe(family)} is not a WorldFamily")
    known = FAMILIES.get(family.name) or _REGISTERED.get(family.name)
    if known is not None and known is not family:
        raise PluginError(f"world family {family.name!r} is already registered "
                          f"({describe(known.make_env)}); choose another name")
    _REGISTERED[family.name] = family
    return family


def family_plugins() -> dict[str, str]:
    """The ``memsim.worlds`` entry points: name -> ``package.module:Name``."""
    return plugin_names("worlds", FAMILIES)


def family_names() -> list[str]:
    """Every family name a scenario may use now: built in, registered, entry points."""
    return [*FAMILIES, *(n for n in _REGISTERED if n not in FAMILIES),
            *(n for n in family_plugins() if n not in _REGISTERED)]


def _as_family(source: str, value: Any) -> WorldFamily:
    if not isinstance(value, WorldFamily) and callable(value):
        value = value()
    if not isinstance(value, WorldFamily):
        raise PluginError(f"world family {source!r} is a {type(value).__name__}, not a "
                          f"WorldFamily (memsim.WorldFamily, or a callable returning one)")
    return value


def family_named(name: str) -> WorldFamily:
    """The family called `name`: built in, registered, a ``memsim.worlds`` entry point,
    or an import path (``"package.module:FAMILY"``); the error lists the known ones."""
    family = FAMILIES.get(name) or _REGISTERED.get(name)
    if family is not None:
        return family
    if is_import_path(name):
        family = _as_family(name, load_object(name))
        register_family(family)
        return family
    if name in family_plugins():
        family = _as_family(name, load_entry_point("worlds", name))
        if family.name != name:
            raise PluginError(f"memsim.worlds entry point {name!r} gives a family named "
                              f"{family.name!r}: the two names must match")
        return register_family(family)
    raise ValueError(f"env family {name!r} is unknown; allowed: "
                     f"{', '.join(family_names())} (or 'package.module:FAMILY')")


def all_families() -> dict[str, WorldFamily]:
    """Every family known now, entry points loaded (for listings)."""
    for name in family_plugins():
        if name not in _REGISTERED:
            family_named(name)
    return {**FAMILIES, **_REGISTERED}


def family_milestones(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The milestones of the families of these result rows (by their ``family``), in
    order, each once; unknown families contribute none."""
    out: dict[str, None] = {}
    for name in dict.fromkeys(str(row.get("family", "")) for row in rows):
        known = FAMILIES.get(name) or _REGISTERED.get(name)
        if known is not None:
            out.update((m, None) for m in known.milestones)
    return list(out)


def family_of(config: BaseModel) -> WorldFamily:
    """The family whose config model `config` is (built in or registered)."""
    for family in (*FAMILIES.values(), *_REGISTERED.values()):
        if type(config) is family.config_model:
            return family
    raise TypeError(f"{type(config).__name__} is not the config of a known env family "
                    f"({', '.join(family_names())})")
