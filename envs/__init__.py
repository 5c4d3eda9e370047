"""memsim worlds. Importing this package registers the Gymnasium ids:

    import envs, gymnasium
    env = gymnasium.make("memsim/Crafter-v0")
"""

import gymnasium

if "memsim/Crafter-v0" not in gymnasium.registry:
    gymnasium.register(
        id="memsim/Crafter-v0",
        entry_point="envs.crafting.gym_env:CrafterEnv",
        max_episode_steps=None,
    )
