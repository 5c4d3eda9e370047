"""Building blocks of the example PPO scripts (`examples/train_ppo_*.py`): the wrapped
training envs, the PPO model from settings, and the mean episode reward.

Single agent: ``gymnasium.make("memsim/Crafter-v0")`` ▸ `FlatObservation` (or
`MemoryFeatureObservation`) ▸ SB3 `Monitor`. Team: `CraftingParallelEnv` ▸ `FlatTeamEnv`
(flat obs per agent, dropped-out agents padded) ▸ SuperSuit `pettingzoo_env_to_vec_env_v1`
(one vector slot per agent, so one shared policy plays every agent) ▸
`concat_vec_envs_v1` (several team worlds) ▸ SB3 `VecMonitor`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import supersuit
from stable_baselines3 import PPO
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecMonitor
from supersuit.vector.sb3_vector_wrapper import SB3VecEnvWrapper

import memsim.envs  # noqa: F401 - registers memsim/Crafter-v0
from memsim.agents.rl.settings import RLSettings
from memsim.agents.rl.wrappers import FlatObservation, FlatTeamEnv, MemoryFeatureObservation
from memsim.envs.crafting import CraftingParallelEnv

# Evaluation worlds are seeded apart from the training worlds.
EVAL_SEED_OFFSET = 10_000


def make_crafter_env(settings: RLSettings, memory_features: bool = False,
                     **env_overrides: Any) -> gym.Env:
    """The single-agent crafting env with flat observations (plus memory features)."""
    config = settings.env_config(n_agents=1, **env_overrides)
    env = gym.make("memsim/Crafter-v0", config=config)
    if memory_features:
        env = MemoryFeatureObservation(env, settings.memory_features, settings.encoding)
    else:
        env = FlatObservation(env, settings.encoding)
    return Monitor(env)


def make_crafter_vec_env(settings: RLSettings, memory_features: bool = False,
                         **env_overrides: Any) -> VecEnv:
    """`make_crafter_env` as a one-env SB3 `VecEnv` (what PPO and the evaluation use)."""
    return DummyVecEnv([lambda: make_crafter_env(settings, memory_features, **env_overrides)])


def make_team_parallel_env(settings: RLSettings, memory_features: bool = False,
                           **env_overrides: Any) -> FlatTeamEnv:
    """The multi-agent crafting env with flat per-agent observations."""
    config = settings.env_config(n_agents=settings.team.n_agents, **env_overrides)
    memory = settings.memory_features if memory_features else None
    return FlatTeamEnv(CraftingParallelEnv(config), settings.encoding, memory)


class SeededSB3VecEnv(SB3VecEnvWrapper):
    """SuperSuit's SB3 adapter with SB3's seeding contract: `seed(s)` makes the next
    `reset()` seed team world i with s + i. (SuperSuit's own adapter forwards `seed` to
    its `ConcatVecEnv`, which has no `seed`, so `PPO(seed=...)` fails on it.)"""

    def __init__(self, venv: Any) -> None:
        super().__init__(venv)
        self._next_seed: int | None = None

    def seed(self, seed: int | None = None) -> list[int | None]:
        self._next_seed = seed
        return [None if seed is None else seed + i for i in range(self.num_envs)]

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        if seed is not None:
            self._next_seed = seed
        seed, self._next_seed = self._next_seed, None
        observations, self.reset_infos = self.venv.reset(seed=seed, options=options)
        return observations

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        # SB3 asks every vec env for its render_mode; SuperSuit's ConcatVecEnv has no
        # get_attr, so answer that one here.
        if attr_name == "render_mode":
            return [self.render_mode] * self.num_envs
        return super().get_attr(attr_name, indices)


def make_team_vec_env(settings: RLSettings, memory_features: bool = False,
                      num_vec_envs: int | None = None, **env_overrides: Any) -> VecEnv:
    """`num_vec_envs` team worlds as one SB3 `VecEnv` with a slot per agent per world."""
    parallel = make_team_parallel_env(settings, memory_features, **env_overrides)
    vec = supersuit.pettingzoo_env_to_vec_env_v1(parallel)
    copies = num_vec_envs if num_vec_envs is not None else settings.team.num_vec_envs
    # num_cpus=0: step the copies in this process (no worker processes to manage).
    vec = supersuit.concat_vec_envs_v1(vec, copies, num_cpus=0, base_class="gymnasium")
    return VecMonitor(SeededSB3VecEnv(vec))


def new_ppo(env: VecEnv | gym.Env, settings: RLSettings, seed: int, **overrides: Any) -> PPO:
    """A fresh PPO (MLP policy, CPU) with the `[ppo]` settings; overrides win."""
    kwargs = {**settings.ppo.kwargs(), **overrides}
    n_envs = env.num_envs if isinstance(env, VecEnv) else 1
    # PPO needs a minibatch no larger than one rollout (n_steps * n_envs).
    kwargs["batch_size"] = min(kwargs["batch_size"], kwargs["n_steps"] * n_envs)
    return PPO("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **kwargs)


def mean_episode_reward(model: Any, env: VecEnv, episodes: int, seed: int,
                        deterministic: bool = True) -> tuple[float, float]:
    """Mean and standard deviation of the episode reward (per agent in team envs) over
    `episodes` episodes, on worlds seeded from `seed` (reseeded each call, so two calls
    compare the same worlds)."""
    env.seed(seed)
    mean, std = evaluate_policy(model, env, n_eval_episodes=episodes,
                                deterministic=deterministic, warn=False)
    return float(mean), float(std)


@dataclass(frozen=True)
class TrainingResult:
    """What a training run did: mean episode reward before and after training, acting
    deterministically (as `RLPolicy` does by default) and sampling (as PPO trains), and
    where the model was saved."""

    timesteps: int
    reward_before: float
    reward_after: float
    sampled_before: float
    sampled_after: float
    model_path: Path
    obs_size: int
    seconds: float


def train_ppo(env: VecEnv, eval_env: VecEnv, settings: RLSettings, timesteps: int, seed: int,
              out: str | Path, episodes: int | None = None) -> TrainingResult:
    """Train a fresh PPO on `env` for `timesteps` steps and save it to `out` (a ``.zip``);
    the mean episode reward on `eval_env` is measured before and after, on the same worlds."""
    if timesteps < 1:
        raise ValueError(f"timesteps must be >= 1, got {timesteps}")
    path = Path(out)
    if path.suffix != ".zip":
        raise ValueError(f"out {str(path)!r}: the model is saved as a .zip; name it *.zip")
    episodes = episodes if episodes is not None else settings.eval.episodes
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    start = time.perf_counter()
    model = new_ppo(env, settings, seed)
    eval_seed = seed + EVAL_SEED_OFFSET

    def evaluate() -> tuple[float, float]:
        greedy, _ = mean_episode_reward(model, eval_env, episodes, eval_seed)
        sampled, _ = mean_episode_reward(model, eval_env, episodes, eval_seed,
                                         deterministic=False)
        return greedy, sampled

    before, sampled_before = evaluate()
    model.learn(total_timesteps=timesteps)
    after, sampled_after = evaluate()
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return TrainingResult(int(model.num_timesteps), before, after, sampled_before,
                          sampled_after, path, int(env.observation_space.shape[0]),
                          time.perf_counter() - start)
