"""Cost of one team step: LangGraph team graph vs the direct executor (same node functions).

    python benchmarks/team_step.py [--agents 6] [--steps 300]

Scripted agents with networkx memory and comm on, monsters off; prints milliseconds per
team step and per agent-step for each executor (environment step included).
"""

from __future__ import annotations

import argparse
import time

from memsim.envs.crafting import CraftingConfig
from memsim.sim.comm import CommConfig
from memsim.sim.episode import build_team, make_executor, run_team
from memsim.sim.scenario import MemoryConfig


def ms_per_step(executor: str, n_agents: int, steps: int, seed: int = 0) -> float:
    config = CraftingConfig(n_agents=n_agents, zombies=False, skeletons=False,
                            team_goal=None, max_steps=steps + 1)
    runtime, state = build_team(config, ["scripted"] * n_agents, seed, MemoryConfig(),
                                CommConfig(), namespace=f"bench-{executor}")
    run = make_executor(executor, runtime)
    state = run_team(runtime, state, run, 20)  # warm-up
    start = time.perf_counter()
    state = run_team(runtime, state, run, 20 + steps)
    return (time.perf_counter() - start) * 1000 / (state["team_step"] - 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=6)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    print(f"{'executor':<12}{'ms/team step':>14}{'ms/agent-step':>15}")
    for executor in ("langgraph", "direct"):
        ms = ms_per_step(executor, args.agents, args.steps)
        print(f"{executor:<12}{ms:>14.2f}{ms / args.agents:>15.2f}")
    print(f"({args.agents} scripted agents, networkx memory, comm on, {args.steps} steps)")


if __name__ == "__main__":
    main()
