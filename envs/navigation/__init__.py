"""Navigation memory worlds: neighbourhood, mystery_path, object_permanence, ballet and
mortar_mayhem, each single-agent or as a relay (one agent sees the cue, another acts).

`register()` registers one Gymnasium id per task (`memsim/<Task>-v0`, from `rules.toml`).
"""

from memsim.envs.base import register_gym_ids
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
    return register_gym_ids("memsim.envs.navigation.gym_env:NavigationGymEnv",
                            {load_rules().tasks[task].gym_id: {"task": task}
                             for task in TASK_NAMES}, longest_episode)


def longest_episode(kwargs: dict) -> int:
    """The longest a task's episode can last: its default step limit at its hardest level,
    with the most items (the limit of its Gymnasium id)."""
    spec = load_rules().tasks[kwargs["task"]]
    counts = [None, spec.n_items_range[1]] if spec.n_items_key else [None]
    longest = 0
    for level in range(1, len(spec.levels) + 1):
        for n_items in counts:
            try:
                env = NavigationParallelEnv(kwargs, difficulty=level, n_items=n_items)
            except ValueError:  # more items than this level allows
                continue
            longest = max(longest, env.max_steps)
    return longest


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
