"""One manipulation-memory task as a single-agent Gymnasium env
(`gymnasium.make("memsim/ShellGame-v0")` and the other ids `register()` adds)."""

from __future__ import annotations

from typing import Any, ClassVar

from memsim.envs.base import SingleAgentEnv
from memsim.envs.manipulation.env import ManipulationParallelEnv


class ManipulationEnv(SingleAgentEnv):
    """One agent, one tabletop memory task."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 5}
    parallel_env = ManipulationParallelEnv
    several_agents_hint = "envs.manipulation.parallel_env (relay variants)"
