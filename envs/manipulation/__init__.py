"""Manipulation-memory worlds: 2D tabletop analogues of MIKASA-Robo's task families.

A gripper moves over a table grid and can touch, pick and place items of a colour and a
shape. Each task shows a cue, hides it, then asks the agent to act on it (see rules.toml).
`register()` adds one Gymnasium id per task, `memsim/<Task>-v0` (e.g. memsim/ShellGame-v0).
"""

from memsim.envs.base import register_gym_ids
from memsim.envs.manipulation.config import TASKS, ManipulationConfig
from memsim.envs.manipulation.engine import ActionError, ManipulationWorld
from memsim.envs.manipulation.env import (
    ManipulationParallelEnv,
    env,
    make_config,
    parallel_env,
    raw_env,
)
from memsim.envs.manipulation.gym_env import ManipulationEnv
from memsim.envs.manipulation.rules import Rules, RulesError, load_rules


def gym_id(task: str) -> str:
    """The Gymnasium id of a task: shell_game -> memsim/ShellGame-v0."""
    return "memsim/" + "".join(part.capitalize() for part in task.split("_")) + "-v0"


def register() -> list[str]:
    """Register `memsim/<Task>-v0` for every task (idempotent); returns the ids."""
    return register_gym_ids("memsim.envs.manipulation.gym_env:ManipulationEnv",
                            {gym_id(task): {"task": task} for task in TASKS},
                            lambda kwargs: max(load_rules().task(kwargs["task"]).episode_steps))


__all__ = [
    "TASKS",
    "ActionError",
    "ManipulationConfig",
    "ManipulationEnv",
    "ManipulationParallelEnv",
    "ManipulationWorld",
    "Rules",
    "RulesError",
    "env",
    "gym_id",
    "load_rules",
    "make_config",
    "parallel_env",
    "raw_env",
    "register",
]
