"""Success rates of the scripted manipulation solver with memory on and off, per task.

    .venv/bin/python benchmarks/manipulation_memory.py --seeds 20
    .venv/bin/python benchmarks/manipulation_memory.py --tasks shell_game intercept --relay

With memory the solver should solve (nearly) every seed; with memory off it can only
guess, so its rate falls to about chance (printed alongside for comparison).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable
from typing import Any

from memsim.envs.manipulation import TASKS, ManipulationConfig
from memsim.envs.manipulation.chance import chance_level
from memsim.memory import AgentMemory, open_store
from memsim.sim.comm import CommConfig
from memsim.sim.episode import build_team, make_executor
from memsim.sim.scenario import MemoryConfig


def run_team_episode(config: ManipulationConfig, seed: int, memory: bool = True,
                     comm: bool = True, forget_in: str | None = None) -> str:
    """One episode of a solver team, built by the runner (`sim.episode.build_team`) and
    stepped with the direct executor. `forget_in`: at the first step of that phase
    ("action", "return") every agent's memory is swapped for an empty one (a policy that
    kept the cue in Python would not notice). Returns "success", "failure" or "timeout"."""
    team, state = build_team(config, ["scripted"] * config.n_agents, seed,
                             MemoryConfig(enabled=memory), CommConfig(enabled=comm),
                             namespace=f"manip/{config.task}/seed{seed}")
    executor = make_executor("direct", team)
    forgotten = False
    try:
        while not state.get("done"):
            if memory and not forgotten and team.env.world.phase() == forget_in:
                forgotten = True
                for agent_id, runtime in team.agents.items():
                    blank = open_store("networkx", f"forgot/{agent_id}", graph_registry={})
                    runtime.memory = AgentMemory(blank, agent_id)
                    runtime.pending_notes = []  # notes not yet written are memory too
            state = executor.step(state)
    finally:
        team.close()
    return team.env.outcome or "timeout"


def success_rate(config: ManipulationConfig, seeds: Iterable[int], memory: bool,
                 **options: Any) -> float:
    """Fraction of `seeds` the solver team solves (options go to `run_team_episode`)."""
    outcomes = [run_team_episode(config, s, memory, **options) == "success" for s in seeds]
    return sum(outcomes) / len(outcomes)


def success_rates(task: str, seeds: Iterable[int], memory: bool,
                  difficulty: int | None = None, relay: bool = False) -> float:
    """Success rate of `task` (at `difficulty`; relay: one observer and one actor)."""
    config = ManipulationConfig(task=task, difficulty=difficulty,  # type: ignore[arg-type]
                                relay=relay, n_agents=2 if relay else 1)
    return success_rate(config, seeds, memory)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--tasks", nargs="*", default=list(TASKS))
    parser.add_argument("--relay", action="store_true", help="observer + actor variants")
    args = parser.parse_args()
    seeds = list(range(args.seeds))
    print(f"{'task':<18}{'level':>6}{'memory on':>11}{'memory off':>12}{'chance':>9}{'s':>7}")
    for task in args.tasks:
        for level in ManipulationConfig(task=task).rules.task(task).levels:
            config = ManipulationConfig(task=task, difficulty=level, relay=args.relay,
                                        n_agents=2 if args.relay else 1)
            start = time.perf_counter()
            on = success_rate(config, seeds, True)
            off = success_rate(config, seeds, False)
            odds = chance_level(config)
            shown = f"{odds:.3f}"
            print(f"{task:<18}{level:>6}{on:>11.2f}{off:>12.2f}{shown:>9}"
                  f"{time.perf_counter() - start:>7.1f}", flush=True)


if __name__ == "__main__":
    main()
