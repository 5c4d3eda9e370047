"""memsim worlds. Importing this package registers the Gymnasium ids:

    import memsim, gymnasium
    env = gymnasium.make("memsim/Crafter-v0")
    env = gymnasium.make("memsim/Ballet-v0")  # navigation memory tasks: see envs.navigation

`FlatObservations` turns any world's observations into one flat `Box` (for SuperSuit and
Stable-Baselines3).
"""

from memsim.envs.base import register_gym_ids as _register_gym_ids
from memsim.envs.crafting.config import CraftingConfig as _CraftingConfig
from memsim.envs.flat import FlatObservations
from memsim.envs.manipulation import register as _register_manipulation
from memsim.envs.navigation import register as _register_navigation

_register_gym_ids("memsim.envs.crafting.gym_env:CrafterEnv", {"memsim/Crafter-v0": {}},
                  lambda kwargs: _CraftingConfig.model_fields["max_steps"].default)

_register_navigation()  # memsim/{Neighbourhood,MysteryPath,ObjectPermanence,Ballet,MortarMayhem}-v0
_register_manipulation()  # memsim/{ShellGame,RememberColor,...,Intercept}-v0

__all__ = ["FlatObservations"]
