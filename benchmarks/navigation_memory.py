"""Navigation memory tasks: success of the scripted solver with memory on and off.

    python benchmarks/navigation_memory.py [--seeds 20] [--difficulty 1]

For every task, single-agent and relay, runs the scripted team (`agents.navigation_solver`)
over seeds 0..N-1 with networkx memory and with memory off, and prints the success rates
next to the chance level of a blind guess. `run_team_episode` builds the team with the
runner's `build_team` and steps it with the direct executor; `success_rates` is what the
tests call.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from memsim.envs.navigation import TASK_NAMES, NavigationConfig, load_rules
from memsim.envs.navigation.chance import chance_level
from memsim.sim.comm import CommConfig
from memsim.sim.episode import build_team, make_executor
from memsim.sim.scenario import MemoryConfig
from memsim.sim.team import TeamRuntime, TeamState

RETRIEVE_BUDGET = 64  # two kinds x 32 places (the mystery path's safe cells and pits)


def run_team_episode(
    config: NavigationConfig,
    seed: int,
    memory: bool,
    before_step: Callable[[TeamRuntime, TeamState], None] | None = None,
    executor: str = "direct",
) -> dict[str, Any]:
    """One episode of scripted agents, built by the runner (`sim.episode.build_team`);
    returns outcome, steps, every step's actions and the messages accepted (and
    rejected). `before_step(team, state)` runs before every team step (tests use it to
    tamper with memory); `executor` is "direct" or "langgraph"."""
    actions: list[dict[str, str]] = []
    team, state = build_team(
        config, ["scripted"] * config.n_agents, seed,
        MemoryConfig(enabled=memory, retrieve_budget=RETRIEVE_BUDGET), CommConfig(),
        namespace=f"nav/{config.task}/seed{seed}",
        on_step=lambda record: actions.append({a: r["action"] for a, r in record.agents.items()}))
    stepper = make_executor(executor, team)
    try:
        while not state["done"]:
            if before_step is not None:
                before_step(team, state)
            state = stepper.step(state)
    finally:
        stepper.close()
        team.close()
    env, total = team.env, team.comm.metrics.total
    return {"outcome": env.world.outcome or "timeout", "steps": env.world.step_count,
            "actions": actions, "messages": total.accepted, "rejected": total.sent - total.accepted}


def success_rates(task: str, seeds: list[int] | range, memory: bool, relay: bool = False,
                  difficulty: int = 1) -> float:
    """Fraction of `seeds` on which the scripted team succeeds at `task`."""
    config = NavigationConfig(task=task, n_agents=2 if relay else 1, relay=relay,
                              difficulty=difficulty)
    wins = [run_team_episode(config, seed, memory)["outcome"] == "success" for seed in seeds]
    return sum(wins) / len(wins)


def chance(task: str, difficulty: int) -> float:
    """The task's chance level at `difficulty`, as the environment states it."""
    rules = load_rules()
    spec = rules.tasks[task]
    return chance_level(rules, spec, spec.level(difficulty))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--difficulty", type=int, default=1)
    args = parser.parse_args()
    seeds = range(args.seeds)
    print(f"difficulty {args.difficulty}, seeds 0..{args.seeds - 1}")
    print(f"{'task':<20} {'variant':<8} {'memory on':>10} {'memory off':>11} {'chance':>7} "
          f"{'seconds':>8}")
    for task in TASK_NAMES:
        for relay in (False, True):
            began = time.perf_counter()
            on = success_rates(task, seeds, True, relay, args.difficulty)
            off = success_rates(task, seeds, False, relay, args.difficulty)
            guess = chance(task, args.difficulty)
            print(f"{task:<20} {'relay' if relay else 'single':<8} {on:>10.2f} {off:>11.2f} "
                  f"{guess:>7.3f} "
                  f"{time.perf_counter() - began:>8.1f}")


if __name__ == "__main__":
    main()
