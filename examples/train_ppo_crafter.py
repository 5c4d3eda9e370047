"""Train Stable-Baselines3 PPO on single-agent Multi-Agent Crafter (flat observations).

    python examples/train_ppo_crafter.py --timesteps 20000 --seed 0 --out runs/ppo_crafter.zip
    python examples/train_ppo_crafter.py --memory-features --out runs/ppo_crafter_mem.zip

Prints the mean episode reward of the untrained and the trained policy, acting greedily
(as `RLPolicy` does by default) and sampling (as PPO trains), on the same evaluation
worlds, and saves the model, which `agents.rl.make_rl_policy` loads (pass the same
--memory-features). World and PPO settings come from `agents/rl/rl.toml` (or --settings);
CPU only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from memsim.agents.rl.settings import load_settings
from memsim.sim.cli import positive_int
from memsim.sim.rl_training import TrainingResult, make_crafter_vec_env, train_ppo


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--timesteps", type=positive_int, default=20_000, help="environment steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("runs/ppo_crafter.zip"), help="model .zip")
    p.add_argument("--memory-features", action="store_true",
                   help="append memory features from a real AgentMemory to the observation")
    p.add_argument("--settings", type=Path, default=None, help="RL settings TOML")
    p.add_argument("--eval-episodes", type=positive_int, default=None)
    p.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads")
    return p


def main(argv: list[str] | None = None) -> TrainingResult:
    args = parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = load_settings(args.settings)
    env = make_crafter_vec_env(settings, args.memory_features)
    eval_env = make_crafter_vec_env(settings, args.memory_features)
    result = train_ppo(env, eval_env, settings, args.timesteps, args.seed, args.out,
                       args.eval_episodes)
    memory = "with" if args.memory_features else "without"
    print(f"PPO, single agent, {memory} memory features, obs size {result.obs_size}, "
          f"{result.timesteps} steps in {result.seconds:.1f} s")
    print(f"mean episode reward, deterministic: before {result.reward_before:.3f}, "
          f"after {result.reward_after:.3f}")
    print(f"mean episode reward, sampled:       before {result.sampled_before:.3f}, "
          f"after {result.sampled_after:.3f}")
    print(f"saved {result.model_path}")
    return result


if __name__ == "__main__":
    main()
