"""One manipulation-memory task as a single-agent Gymnasium env
(`gymnasium.make("memsim/ShellGame-v0")` and the other ids `register()` adds)."""

from __future__ import annotations

from typing import Any, ClassVar

from memsim.envs.base import RENDER_MODES, SingleAgentEnv
from memsim.envs.manipulation.env import ManipulationParallelEnv


class ManipulationEnv(SingleAgentEnv):
    """One agent, one tabletop memory task."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": list(RENDER_MODES), "render_fps": 5}
    parallel_env = ManipulationParallelEnv
    several_agents_hint = "envs.manipulation.parallel_env (relay variants)"
