"""Multi-Agent Crafter: N agents gather, craft up a tech tree and get a diamond as a team."""

from memsim.envs.crafting.config import CraftingConfig
from memsim.envs.crafting.engine import ActionError, CraftingWorld
from memsim.envs.crafting.env import CraftingParallelEnv, env, make_config, parallel_env, raw_env
from memsim.envs.crafting.gym_env import CrafterEnv
from memsim.envs.crafting.rules import Rules, RulesError, load_rules

__all__ = [
    "ActionError",
    "CrafterEnv",
    "CraftingConfig",
    "CraftingParallelEnv",
    "CraftingWorld",
    "Rules",
    "RulesError",
    "env",
    "load_rules",
    "make_config",
    "parallel_env",
    "raw_env",
]
