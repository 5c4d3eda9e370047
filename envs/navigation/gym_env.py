"""One agent in a navigation memory task as a Gymnasium env
(`gymnasium.make("memsim/Ballet-v0", difficulty=2)`; ids in `rules.toml`)."""

from __future__ import annotations

from typing import Any, ClassVar

from memsim.envs.base import RENDER_MODES, SingleAgentEnv
from memsim.envs.navigation.env import NavigationParallelEnv


class NavigationGymEnv(SingleAgentEnv):
    """The single-agent variant of a navigation task (no relay)."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": list(RENDER_MODES), "render_fps": 5}
    parallel_env = NavigationParallelEnv
    several_agents_hint = "envs.navigation.parallel_env"
