"""World speed of several code versions, paired in one run: git revisions against each other
and against PyPI crafter.

    python benchmarks/env_versions.py [--rev 00c6eea --rev HEAD] [--reps 3] [--seconds 4]

Each revision is checked out into a temporary git worktree and imported from there (the
repository's layout before the `memsim` namespace too). Every measurement runs in its
own process: random actions, 1 and 6 agents, episodes reset as they end, steps per
second of process CPU time (less swayed by other work on the machine than the wall
clock); the versions take turns, `--reps` times, and the medians are printed with the
ratio to crafter measured the same way in the same run. The working tree counts as the
revision `.` (the default set is the start of round 2, and `.`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The children: steps/s of CPU time, measured by env_throughput.py's own loops (imported
# from this checkout's benchmarks/, while the world is imported from the revision's tree).
CHILD = f"""
import sys, time
sys.path.insert(0, {str(ROOT / "benchmarks")!r})
from env_throughput import mac_steps_per_second
print(mac_steps_per_second(int(sys.argv[1]), float(sys.argv[2]), clock=time.process_time))
"""

CRAFTER = f"""
import sys, time
sys.path.insert(0, {str(ROOT / "benchmarks")!r})
from env_throughput import crafter_steps_per_second
rate = crafter_steps_per_second(float(sys.argv[1]), clock=time.process_time)
if rate is None:
    sys.exit("crafter is not installed")
print(rate)
"""


def checkout(rev: str, scratch: Path) -> tuple[dict[str, str], Path]:
    """The environment and working directory that import revision `rev`."""
    env = dict(os.environ, MEMSIM_NUMBA="1")
    if rev == ".":
        return env, ROOT
    tree = scratch / rev.replace("/", "_")
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(tree), rev],
                   check=True, capture_output=True)
    # The `memsim` namespace is this folder; a link named memsim makes it importable
    # without installing, while the old layout imports `envs` from the tree itself.
    (scratch / f"{tree.name}-ns").mkdir()
    (scratch / f"{tree.name}-ns" / "memsim").symlink_to(tree)
    env["PYTHONPATH"] = os.pathsep.join([str(scratch / f"{tree.name}-ns"), str(tree)])
    return env, scratch  # not the tree: the installed memsim must not shadow it


def run(code: str, args: list[str], env: dict[str, str], cwd: Path) -> float:
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=cwd,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"measurement failed:\n{done.stderr[-2000:]}")
    return float(done.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", action="append", help="git revision ('.' = working tree)")
    parser.add_argument("--reps", type=int, default=3, help="turns per version")
    parser.add_argument("--seconds", type=float, default=4.0, help="CPU seconds per run")
    args = parser.parse_args()
    revs = args.rev or ["00c6eea", "."]
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        try:
            where = {rev: checkout(rev, scratch) for rev in revs}
            rates: dict[tuple[str, int], list[float]] = {}
            crafter: list[float] = []
            for _ in range(args.reps):
                for rev, (env, cwd) in where.items():
                    for n_agents in (1, 6):
                        rate = run(CHILD, [str(n_agents), str(args.seconds)], env, cwd)
                        rates.setdefault((rev, n_agents), []).append(rate)
                try:
                    crafter.append(run(CRAFTER, [str(4 * args.seconds)], dict(os.environ), scratch))
                except SystemExit:
                    crafter = []
        finally:
            for rev in revs:
                if rev != ".":
                    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                                    str(scratch / rev.replace("/", "_"))], capture_output=True)
    base = statistics.median(crafter) if crafter else None
    print(f"{'revision':<14}{'1 agent steps/s':>17}{'x crafter':>11}{'6 agents agent-steps/s':>25}")
    for rev in revs:
        one = statistics.median(rates[(rev, 1)])
        six = 6 * statistics.median(rates[(rev, 6)])
        ratio = f"{one / base:>11.1f}" if base else f"{'-':>11}"
        print(f"{rev:<14}{one:>17.0f}{ratio}{six:>25.0f}")
    print(f"crafter: {base:.0f} steps/s" if base else "crafter: not installed")
    print(f"(medians of {args.reps} turns of {args.seconds:g} CPU seconds; MEMSIM_NUMBA=1)")


if __name__ == "__main__":
    main()
