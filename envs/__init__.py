"""memsim worlds. Importing this package registers the Gymnasium ids:

    import memsim, gymnasium
    env = gymnasium.make("memsim/Crafter-v0")
    env = gymnasium.make("memsim/Ballet-v0")  # navigation memory tasks: see envs.navigation
"""

import gymnasium

from memsim.envs.manipulation import register as _register_manipulation
from memsim.envs.navigation import register as _register_navigation

if "memsim/Crafter-v0" not in gymnasium.registry:
    gymnasium.register(
        id="memsim/Crafter-v0",
        entry_point="memsim.envs.crafting.gym_env:CrafterEnv",
        max_episode_steps=None,
    )

_register_navigation()  # memsim/{Neighbourhood,MysteryPath,ObjectPermanence,Ballet,MortarMayhem}-v0
_register_manipulation()  # memsim/{ShellGame,RememberColor,...,Intercept}-v0
