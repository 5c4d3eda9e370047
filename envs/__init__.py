"""memsim worlds. Importing this package registers the Gymnasium ids:

    import memsim, gymnasium
    env = gymnasium.make("memsim/Crafter-v0")
    env = gymnasium.make("memsim/Ballet-v0")  # navigation memory tasks: see envs.navigation
"""

from memsim.envs.base import register_gym_ids as _register_gym_ids
from memsim.envs.manipulation import register as _register_manipulation
from memsim.envs.navigation import register as _register_navigation

_register_gym_ids("memsim.envs.crafting.gym_env:CrafterEnv", {"memsim/Crafter-v0": {}})

_register_navigation()  # memsim/{Neighbourhood,MysteryPath,ObjectPermanence,Ballet,MortarMayhem}-v0
_register_manipulation()  # memsim/{ShellGame,RememberColor,...,Intercept}-v0
