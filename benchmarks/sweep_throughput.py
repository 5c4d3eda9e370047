"""Benchmark sweep throughput: episodes per minute with 1 and 2 worker processes.

    python benchmarks/sweep_throughput.py [--seeds 8] [--max-steps 300] [--agents 2]

Runs the same small fixed grid (the `damcs-diamond-1` task with N scripted agents, full
system, seeds 0..S-1, capped at --max-steps) through `sim.bench.run_suite` serially and with
2 spawned worker processes (fresh results directories, no report), and prints episodes per
minute for each and the speed-up. The 2-worker time includes starting the workers (each
imports the stack, ~1.5 s CPU), and the machine's load average is printed with each figure:
on a shared machine other processes take the second core. As a yardstick it also times a
pure-Python loop alone and in 2 processes at once: the most 2 workers could gain right now.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from memsim.sim.bench import run_suite
from memsim.sim.suite import Suite


def grid(seeds: int, max_steps: int, agents: int) -> Suite:
    """The fixed grid: one scenario, one team size, the full system, `seeds` seeds."""
    return Suite(name="sweep-throughput", version=1, scenarios=["damcs-diamond-1"],
                 agents=[agents], seeds=seeds, max_steps=max_steps)


def _burn(iterations: int) -> float:
    """Seconds for a pure-Python loop (the yardstick of what one core delivers)."""
    start = time.perf_counter()
    total = 0
    for i in range(iterations):
        total += i * i
    return time.perf_counter() - start


def machine_speedup(iterations: int = 10_000_000) -> float:
    """Throughput of the loop in 2 processes at once relative to 1 process alone."""
    alone = _burn(iterations)
    with ProcessPoolExecutor(2) as pool:
        together = max(pool.map(_burn, [iterations, iterations]))
    return 2 * alone / together


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--max-steps", type=int, default=300)
    parser.add_argument("--agents", type=int, default=2)
    args = parser.parse_args()

    suite = grid(args.seeds, args.max_steps, args.agents)
    rates: dict[int, float] = {}
    steps: dict[int, list[int]] = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory(prefix="memsim-sweep-") as out:
            start = time.perf_counter()
            result = run_suite(suite, workers=workers, out_dir=Path(out), progress=False,
                               report=False)
            wall = time.perf_counter() - start
        if result.failed:
            raise SystemExit(f"{len(result.failed)} cells failed: {result.failed[0]['error']}")
        rates[workers] = 60 * len(result.rows) / wall
        steps[workers] = [int(r["steps"]) for r in result.rows]
        print(f"{workers} worker{'s' if workers > 1 else ' '}: {len(result.rows)} episodes "
              f"({sum(steps[workers])} team steps) in {wall:6.1f} s = "
              f"{rates[workers]:6.1f} episodes/min (load average {os.getloadavg()[0]:.1f} on "
              f"{os.cpu_count()} CPUs)")
    same = "identical" if steps[1] == steps[2] else "DIFFERENT"
    print(f"speed-up with 2 workers: {rates[2] / rates[1]:.2f}x (per-cell steps {same}); "
          f"a pure-Python loop gets {machine_speedup():.2f}x from 2 processes on this "
          "machine now")


if __name__ == "__main__":
    main()
