"""Navigation memory worlds: neighbourhood, mystery_path, object_permanence, ballet and
mortar_mayhem, each single-agent or as a relay (one agent sees the cue, another acts).

`register()` registers one Gymnasium id per task (`memsim/<Task>-v0`, from `rules.toml`).
"""

import gymnasium

from memsim.envs.navigation.config import NavigationConfig
from memsim.envs.navigation.engine import ActionError, NavigationWorld
from memsim.envs.navigation.env import (
    NavigationParallelEnv,
    env,
    make_config,
    parallel_env,
    raw_env,
)
from memsim.envs.navigation.gym_env import NavigationGymEnv
from memsim.envs.navigation.rules import TASK_NAMES, NavRules, RulesError, load_rules


def register() -> list[str]:
    """Register `memsim/<Task>-v0` for every task (idempotent); returns the ids."""
    ids = []
    for task in TASK_NAMES:
        gym_id = load_rules().tasks[task].gym_id
        if gym_id not in gymnasium.registry:
            gymnasium.register(id=gym_id,
                               entry_point="memsim.envs.navigation.gym_env:NavigationGymEnv",
                               kwargs={"task": task}, max_episode_steps=None)
        ids.append(gym_id)
    return ids


__all__ = [
    "TASK_NAMES",
    "ActionError",
    "NavRules",
    "NavigationConfig",
    "NavigationGymEnv",
    "NavigationParallelEnv",
    "NavigationWorld",
    "RulesError",
    "env",
    "load_rules",
    "make_config",
    "parallel_env",
    "raw_env",
    "register",
]
