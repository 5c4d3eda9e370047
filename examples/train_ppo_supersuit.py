"""Train PPO on any memsim world through SuperSuit's standard pipeline, unmodified.

    python examples/train_ppo_supersuit.py --world navigation --task ballet --relay \\
        --timesteps 20000

`FlatObservations` gives every agent one flat float32 `Box` (the worlds observe `Dict`s),
and from there it is the pipeline SuperSuit documents: `black_death_v3` (agents that died
or finished see zeros until the episode ends) ▸ `pettingzoo_env_to_vec_env_v1` (one vector
slot per agent) ▸ `concat_vec_envs_v1` (several worlds stepped together) ▸ SB3 `PPO`, one
set of weights shared by every agent. `--wrappers` adds SuperSuit's observation wrappers
(`normalize_obs_v0`, `frame_stack_v1`, `dtype_v0`) on top. Prints the mean per-agent
episode reward of a random and of the trained policy.

One catch, SuperSuit's and not memsim's: `PPO(seed=...)` calls the vector env's `seed`,
which SuperSuit 3.x's concatenated env lacks; seed torch and numpy with
`set_random_seed` instead (or use `memsim.sim.rl_training.SeededSB3VecEnv`, which seeds
each world).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import supersuit as ss
from stable_baselines3 import PPO
from stable_baselines3.common.utils import set_random_seed
from stable_baselines3.common.vec_env import VecMonitor

from memsim.envs import crafting, manipulation, navigation
from memsim.envs.flat import FlatObservations
from memsim.sim.cli import positive_int

WORLDS = {"crafting": crafting, "navigation": navigation, "manipulation": manipulation}


def make_env(world: str, wrappers: bool = False, **config: Any) -> Any:
    """The flat, black-death-wrapped ParallelEnv of one world."""
    env = FlatObservations(WORLDS[world].parallel_env(**config))
    if wrappers:
        env = ss.normalize_obs_v0(ss.dtype_v0(env, np.float32), env_min=0.0, env_max=1.0)
        env = ss.frame_stack_v1(env, 2)
    return ss.black_death_v3(env)


def vec_env(env: Any, worlds: int) -> Any:
    vec = ss.pettingzoo_env_to_vec_env_v1(env)
    return VecMonitor(ss.concat_vec_envs_v1(vec, worlds, num_cpus=0,
                                            base_class="stable_baselines3"))


def mean_reward(model: PPO | None, env: Any, episodes: int, seed: int) -> float:
    """Mean per-agent episode reward over `episodes` (a random policy when model is None)."""
    totals: list[float] = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + 1000 + episode)
        total = dict.fromkeys(env.possible_agents, 0.0)
        while env.agents:
            actions = {a: (int(model.predict(obs[a], deterministic=True)[0]) if model else
                           int(env.action_space(a).sample())) for a in env.agents}
            obs, rewards, _, _, _ = env.step(actions)
            for agent, reward in rewards.items():
                total[agent] += reward
        totals += total.values()
    return float(np.mean(totals))


def main(argv: list[str] | None = None) -> tuple[float, float]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--world", choices=sorted(WORLDS), default="navigation")
    p.add_argument("--task", default="ballet", help="the task (navigation, manipulation)")
    p.add_argument("--relay", action="store_true", help="a relay team (memory tasks)")
    p.add_argument("--agents", type=positive_int, default=2, help="agents (crafting)")
    p.add_argument("--timesteps", type=positive_int, default=20_000)
    p.add_argument("--worlds", type=positive_int, default=4, help="worlds stepped together")
    p.add_argument("--wrappers", action="store_true", help="add normalize / frame stack")
    p.add_argument("--episodes", type=positive_int, default=10, help="evaluation episodes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="save the model (.zip)")
    args = p.parse_args(argv)
    if args.world == "crafting":
        config: dict[str, Any] = {"n_agents": args.agents, "width": 32, "height": 32,
                                  "max_steps": 500}
    else:
        config = {"task": args.task, "relay": args.relay}
    env = make_env(args.world, args.wrappers, **config)
    set_random_seed(args.seed)  # not PPO(seed=...): see the module docstring
    model = PPO("MlpPolicy", vec_env(env, args.worlds), n_steps=256, batch_size=256,
                verbose=0, device="cpu")
    before = mean_reward(None, make_env(args.world, args.wrappers, **config), args.episodes,
                         args.seed)
    model.learn(args.timesteps)
    after = mean_reward(model, make_env(args.world, args.wrappers, **config), args.episodes,
                        args.seed)
    if args.out is not None:
        model.save(args.out)
    print(f"PPO on {args.world} {config}: {args.timesteps} agent-steps; mean per-agent "
          f"episode reward: random {before:.3f}, trained {after:.3f}")
    return before, after


if __name__ == "__main__":
    main()
