"""Train one shared PPO policy for every agent of multi-agent Multi-Agent Crafter.

    python examples/train_ppo_team.py --timesteps 20000 --agents 2 --out runs/ppo_team.zip

The `ParallelEnv` is wrapped with flat per-agent observations (`agents.rl.FlatTeamEnv`,
which also keeps agents that died or finished as zero observations until the episode
ends), turned into a vector env with one slot per agent by SuperSuit's
`pettingzoo_env_to_vec_env_v1`, and several team worlds are stepped together with
`concat_vec_envs_v1`; PPO learns from every agent's experience with one set of weights.
Prints the mean per-agent episode reward before and after, and saves the model, which
`agents.rl.make_rl_policy` loads for any number of agents.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from memsim.agents.rl.settings import load_settings
from memsim.sim.cli import positive_int
from memsim.sim.rl_training import TrainingResult, make_team_vec_env, train_ppo


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--timesteps", type=positive_int, default=20_000,
                   help="agent-steps (summed over agents and worlds)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--agents", type=positive_int, default=None, help="agents per world")
    p.add_argument("--worlds", type=positive_int, default=None, help="team worlds stepped together")
    p.add_argument("--out", type=Path, default=Path("runs/ppo_team.zip"), help="model .zip")
    p.add_argument("--memory-features", action="store_true",
                   help="each agent keeps a real AgentMemory; append its memory features")
    p.add_argument("--settings", type=Path, default=None, help="RL settings TOML")
    p.add_argument("--eval-episodes", type=positive_int, default=None)
    p.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads")
    return p


def main(argv: list[str] | None = None) -> TrainingResult:
    args = parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = load_settings(args.settings)
    team = settings.team.model_copy(update={
        k: v for k, v in (("n_agents", args.agents), ("num_vec_envs", args.worlds))
        if v is not None})
    settings = settings.model_copy(update={"team": team})
    env = make_team_vec_env(settings, args.memory_features)
    eval_env = make_team_vec_env(settings, args.memory_features, num_vec_envs=1)
    result = train_ppo(env, eval_env, settings, args.timesteps, args.seed, args.out,
                       args.eval_episodes)
    memory = "with" if args.memory_features else "without"
    print(f"shared-policy PPO, {team.n_agents} agents x {team.num_vec_envs} worlds, {memory} "
          f"memory features, obs size {result.obs_size}, {result.timesteps} agent-steps in "
          f"{result.seconds:.1f} s")
    print(f"mean per-agent episode reward, deterministic: before {result.reward_before:.3f}, "
          f"after {result.reward_after:.3f}")
    print(f"mean per-agent episode reward, sampled:       before {result.sampled_before:.3f}, "
          f"after {result.sampled_after:.3f}")
    print(f"saved {result.model_path}")
    return result


if __name__ == "__main__":
    main()
