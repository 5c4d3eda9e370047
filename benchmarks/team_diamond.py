"""Steps to the team diamond: scripted teams of 1, 2 and 6 agents, and the ablations.

    python benchmarks/team_diamond.py [--seeds 20] [--max-steps 5000] [--workers 2]

Runs the shipped DAMCS scenarios (`damcs-diamond-1`, `-2`, `-6`, `-6-nomem`, `-6-nocomm`)
with the direct executor (the same node functions as the LangGraph graph, tested to give
identical trajectories) over the given seeds, in parallel processes, and prints per
scenario the success rate and the mean steps to the diamond with a 95% confidence
interval over the seeds that reached it, plus the reduction versus one agent.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

from sim.episode import run_episode
from sim.output import mean_ci
from sim.scenario import load_scenario

SCENARIOS = (
    "damcs-diamond-1",
    "damcs-diamond-2",
    "damcs-diamond-6",
    "damcs-diamond-6-nomem",
    "damcs-diamond-6-nocomm",
)


def one(name: str, seed: int, max_steps: int) -> tuple[str, int, bool, int, float]:
    scenario = load_scenario(name).with_overrides(executor="direct")
    scenario = scenario.model_copy(update={"max_steps": max_steps})
    summary = run_episode(scenario, seed=seed, out_dir=None)
    return name, seed, summary.goal_reached, summary.steps, summary.wall_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--max-steps", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scenarios", nargs="*", default=list(SCENARIOS))
    args = parser.parse_args()

    start = time.perf_counter()
    jobs = [(name, seed, args.max_steps) for name in args.scenarios for seed in range(args.seeds)]
    with ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(one, *zip(*jobs, strict=True)))
    print(f"{'scenario':<24}{'success':>9}{'mean steps':>12}{'95% CI':>10}{'median':>8}"
          f"{'fewer steps':>12}")
    base = None
    for name in args.scenarios:
        rows = [r for r in results if r[0] == name]
        steps = [r[3] for r in rows if r[2]]
        mean, half = mean_ci(steps) if steps else (float("nan"), None)
        median = statistics.median(steps) if steps else float("nan")
        if name == "damcs-diamond-1":
            base = mean
        change = f"{100 * (1 - mean / base):>+10.0f}%" if base and steps else f"{'-':>11}"
        ci = f"±{half:.0f}" if half is not None else "-"
        print(f"{name:<24}{len(steps):>5}/{len(rows):<3}{mean:>12.0f}{ci:>10}{median:>8.0f}"
              f"{change:>12}")
    print(f"({args.seeds} seeds, max {args.max_steps} steps, "
          f"{time.perf_counter() - start:.0f} s wall on {args.workers} workers; "
          "'fewer steps' is the reduction in mean steps versus one agent)")


if __name__ == "__main__":
    main()
