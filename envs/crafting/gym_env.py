"""Single-agent Multi-Agent Crafter as a Gymnasium env (`gymnasium.make("memsim/Crafter-v0")`)."""

from __future__ import annotations

from memsim.envs.base import SingleAgentEnv
from memsim.envs.crafting.env import CraftingParallelEnv


class CrafterEnv(SingleAgentEnv):
    """One agent in a crafting world: the Crafter task with memsim's engine."""

    parallel_env = CraftingParallelEnv
    several_agents_hint = "envs.crafting.parallel_env"
