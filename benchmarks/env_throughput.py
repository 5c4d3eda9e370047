"""Environment throughput: PyPI `crafter` vs Multi-Agent Crafter (MAC), one process, one run.

    python benchmarks/env_throughput.py [--seconds 5] [--no-crafter]

Random actions, symbolic observations, no rendering, default 64x64 world with cows,
zombies and skeletons on (as in Crafter). Episodes that end are reset (reset time is
included, as it is for crafter). Prints steps/s, agent-steps/s, the ratio to crafter,
and world-generation time. Targets (issue 2): MAC 1 agent >= 50x crafter; 6 agents
>= 20,000 agent-steps/s on one core; generation of a 64x64 world < 50 ms.

Steady state: world generation uses its numba kernel from the first world when numba is
installed (MEMSIM_NUMBA=1; a process otherwise switches after 200 worlds, see
envs/crafting/noise.py), and both noise implementations' generation times are printed.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable

from memsim.envs.crafting import CraftingConfig, parallel_env
from memsim.envs.crafting.rules import load_rules
from memsim.envs.crafting.worldgen import generate_world

Clock = Callable[[], float]


def crafter_steps_per_second(seconds: float, clock: Clock = time.perf_counter) -> float | None:
    """PyPI crafter's steps per second of `clock` over `seconds` (None: not installed)."""
    try:
        import crafter
    except ImportError:
        return None
    env = crafter.Env(seed=0)
    env.reset()
    rng = random.Random(0)
    n_actions = env.action_space.n
    steps, start = 0, clock()
    while clock() - start < seconds:
        _, _, done, _ = env.step(rng.randrange(n_actions))
        steps += 1
        if done:
            env.reset()
    return steps / (clock() - start)


def mac_steps_per_second(n_agents: int, seconds: float, clock: Clock = time.perf_counter,
                         **overrides: object) -> float:
    """MAC's steps per second of `clock` over `seconds`. Imports nothing newer than the
    crafting env itself, so `env_versions.py` runs it against older revisions too."""
    env = parallel_env(CraftingConfig(n_agents=n_agents, **overrides))
    env.reset(seed=0)
    rng = random.Random(0)
    n_actions = len(env.action_names)
    steps, episodes, start = 0, 0, clock()
    while clock() - start < seconds:
        env.step({agent: rng.randrange(n_actions) for agent in env.agents})
        steps += 1
        if not env.agents:
            episodes += 1
            env.reset(seed=episodes)
    return steps / (clock() - start)


def worldgen_ms(compiled: bool, repeats: int = 30) -> tuple[float, float]:
    rules = load_rules()
    generate_world(rules, 64, 64, 6, 0, compiled)  # the kernel's first call loads it
    times = []
    for seed in range(repeats):
        start = time.perf_counter()
        generate_world(rules, 64, 64, 6, seed, compiled)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="time per measurement")
    parser.add_argument("--no-crafter", action="store_true", help="skip the crafter baseline")
    args = parser.parse_args()
    os.environ.setdefault("MEMSIM_NUMBA", "1")  # steady state: the kernel from world one
    from memsim.envs.crafting.noise import compiled_octave  # not in older revisions

    base = None if args.no_crafter else crafter_steps_per_second(args.seconds)
    print(f"{'environment':<34}{'steps/s':>10}{'agent-steps/s':>15}{'x crafter':>11}")
    if base is None:
        print(f"{'crafter (PyPI, 1 agent)':<34}{'not installed (pip install crafter)':>36}")
    else:
        print(f"{'crafter (PyPI, 1 agent)':<34}{base:>10.0f}{base:>15.0f}{1.0:>11.1f}")
    for n_agents in (1, 2, 6):
        for label, overrides in (
            ("", {}),
            (", no monsters", {"zombies": False, "skeletons": False}),
        ):
            rate = mac_steps_per_second(n_agents, args.seconds, **overrides)
            ratio = f"{rate / base:>11.1f}" if base else f"{'-':>11}"
            name = f"MAC {n_agents} agent{'s' if n_agents > 1 else ''}{label}"
            print(f"{name:<34}{rate:>10.0f}{rate * n_agents:>15.0f}{ratio}")
    kinds = [("numpy", False)] + ([("numba", True)] if compiled_octave() else [])
    for kind, compiled in kinds:
        median, worst = worldgen_ms(compiled)
        print(f"world generation 64x64, {kind} noise: median {median:.1f} ms, "
              f"max {worst:.1f} ms (30 seeds)")
    if len(kinds) == 1:
        print("(the steps above used numpy noise: numba is not installed or MEMSIM_NUMBA=0)")


if __name__ == "__main__":
    main()
