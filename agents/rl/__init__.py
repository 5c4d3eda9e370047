"""RL agents: flat observation encoding, memory features, training wrappers and `RLPolicy`.

    from memsim.agents.rl import make_rl_policy
    policy = make_rl_policy("runs/ppo_crafter.zip", memory_features=False)

Training helpers live in `sim.rl_training` (imports Stable-Baselines3 and SuperSuit);
settings are data in `agents/rl/rl.toml`.
"""

from memsim.agents.rl.encoding import (
    MemoryFeatureTracker,
    ObservationEncoder,
    check_kinds,
    feature_query,
    memory_features,
    memory_features_space,
)
from memsim.agents.rl.policy import (
    RLPolicy,
    load_model,
    make_rl_policy,
    make_rl_policy_from_table,
    model_input_size,
)
from memsim.agents.rl.settings import RLSettings, load_settings
from memsim.agents.rl.task_features import TaskFeatureTracker
from memsim.agents.rl.task_wrappers import (
    ScaledObservation,
    ScaledParallelEnv,
    TaskMemoryObservation,
    TaskMemoryParallelEnv,
)
from memsim.agents.rl.wrappers import (
    FlatObservation,
    FlatTeamEnv,
    MemoryFeatureObservation,
    encoder_for,
)

__all__ = [
    "FlatObservation",
    "FlatTeamEnv",
    "MemoryFeatureObservation",
    "MemoryFeatureTracker",
    "ObservationEncoder",
    "RLPolicy",
    "RLSettings",
    "ScaledObservation",
    "ScaledParallelEnv",
    "TaskFeatureTracker",
    "TaskMemoryObservation",
    "TaskMemoryParallelEnv",
    "check_kinds",
    "encoder_for",
    "feature_query",
    "load_model",
    "load_settings",
    "make_rl_policy",
    "make_rl_policy_from_table",
    "memory_features",
    "memory_features_space",
    "model_input_size",
]
