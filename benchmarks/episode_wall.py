"""Wall time of one 6-agent scripted team-diamond episode (embedded memory, direct executor).

    python benchmarks/episode_wall.py [--seeds 5] [--repeat 3] [--scenario damcs-diamond-6]
                                      [--profile 15]

Runs the scenario's episodes in this process with the direct executor (the same node
functions as the LangGraph graph, without its per-node cost; this is how `memsim bench`
runs cells): one warm-up episode (imports, caches), then `--repeat` rounds over the seeds.
Prints per seed the steps, the first round's wall time and the fastest of the rounds, then
the median over seeds of both. The fastest of several runs is the usual estimate of what the
code costs on a machine whose speed varies (timeit reports it too); the first round is what a
single run sees. `--profile N` also runs the first seed under cProfile and prints the N
functions with the most own time and cumulative time.
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
    parser.add_argument("--repeat", type=int, default=3, help="rounds over the seeds")
    parser.add_argument("--scenario", default="damcs-diamond-6")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="profile the first seed and print the top N functions")
    args = parser.parse_args()

    scenario = load_scenario(args.scenario).with_overrides(executor="direct")
    print(f"{scenario.name}: {scenario.agents.count} agents, memory "
          f"{scenario.memory.backend if scenario.memory.enabled else 'off'}, direct executor, "
          f"{args.repeat} round(s) over seeds 0-{args.seeds - 1} after one warm-up episode")
    run_episode(scenario, args.seeds, out_dir=None)  # warm-up: a seed not measured
    walls: dict[int, list[float]] = {s: [] for s in range(args.seeds)}
    cpus: dict[int, list[float]] = {s: [] for s in range(args.seeds)}
    steps: dict[int, int] = {}
    for _ in range(args.repeat):
        for seed in range(args.seeds):
            start, cpu_start = time.perf_counter(), time.process_time()
            summary = run_episode(scenario, seed, out_dir=None)
            walls[seed].append(time.perf_counter() - start)
            cpus[seed].append(time.process_time() - cpu_start)
            steps[seed] = summary.steps
    for seed in range(args.seeds):
        print(f"  seed {seed}: {steps[seed]:5d} steps, first {walls[seed][0]:6.2f} s wall, "
              f"fastest {min(walls[seed]):6.2f} s wall ({min(cpus[seed]):6.2f} s CPU), "
              f"{1000 * min(walls[seed]) / steps[seed]:5.2f} ms/step")
    first = statistics.median(w[0] for w in walls.values())
    fastest = statistics.median(min(w) for w in walls.values())
    # CPU time is what the episode itself costs; wall time also counts other processes.
    print(f"load average (1 min) after the run: {os.getloadavg()[0]:.2f} on "
          f"{os.cpu_count()} CPUs; median steps {statistics.median(steps.values()):.0f}")
    print(f"median wall per episode, first round: {first:.2f} s")
    print(f"median wall per episode, fastest of {args.repeat}: {fastest:.2f} s "
          f"({'under' if fastest <= TARGET_SECONDS else 'OVER'} the {TARGET_SECONDS:g} s "
          f"target)")
    total_steps = sum(steps.values())
    total_wall = sum(min(w) for w in walls.values())
    print(f"team-steps per second (fastest rounds): {total_steps / total_wall:.0f} "
          f"({scenario.agents.count * total_steps / total_wall:.0f} agent-steps/s)")
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
