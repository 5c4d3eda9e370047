"""Wall time of one 6-agent scripted team-diamond episode (embedded memory, direct executor).

    python benchmarks/episode_wall.py [--seeds 5] [--scenario damcs-diamond-6] [--profile 15]

Runs the scenario's episodes one after another in this process with the direct executor
(the same node functions as the LangGraph graph, without its per-node cost; this is how
`memsim bench` runs cells) and prints per seed the steps and wall time, then the median wall
time per episode and team-steps per second. `--profile N` also runs the first seed under
cProfile and prints the N functions with the most own time and cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import time

from memsim.sim.episode import run_episode
from memsim.sim.scenario import load_scenario

TARGET_SECONDS = 1.2  # issue 12: median per 6-agent episode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1")
    parser.add_argument("--scenario", default="damcs-diamond-6")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="profile the first seed and print the top N functions")
    args = parser.parse_args()

    scenario = load_scenario(args.scenario).with_overrides(executor="direct")
    walls, cpus, steps = [], [], []
    print(f"{scenario.name}: {scenario.agents.count} agents, memory "
          f"{scenario.memory.backend if scenario.memory.enabled else 'off'}, direct executor")
    for seed in range(args.seeds):
        start, cpu_start = time.perf_counter(), time.process_time()
        summary = run_episode(scenario, seed, out_dir=None)
        wall = time.perf_counter() - start
        walls.append(wall)
        cpus.append(time.process_time() - cpu_start)
        steps.append(summary.steps)
        print(f"  seed {seed}: {summary.steps:5d} steps, goal {summary.goal_reached!s:5}, "
              f"{wall:6.2f} s wall ({cpus[-1]:6.2f} s CPU), "
              f"{1000 * wall / summary.steps:5.2f} ms/step")
    median = statistics.median(walls)
    # CPU time is what the episode itself costs; wall time also counts other processes.
    print(f"load average (1 min) during the run: {os.getloadavg()[0]:.2f} on "
          f"{os.cpu_count()} CPUs; median CPU per episode: {statistics.median(cpus):.2f} s")
    print(f"median wall per episode: {median:.2f} s "
          f"({'under' if median < TARGET_SECONDS else 'OVER'} the {TARGET_SECONDS:g} s target; "
          f"the aim is well under it); median steps {statistics.median(steps):.0f}")
    print(f"team-steps per second: {sum(steps) / sum(walls):.0f} "
          f"({scenario.agents.count * sum(steps) / sum(walls):.0f} agent-steps/s)")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        run_episode(scenario, 0, out_dir=None)
        profiler.disable()
        stats = pstats.Stats(profiler)
        for key in ("tottime", "cumulative"):
            print(f"\n--- seed 0, top {args.profile} by {key} ---")
            stats.sort_stats(key).print_stats(args.profile)


if __name__ == "__main__":
    main()
