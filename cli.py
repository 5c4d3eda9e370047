"""The ``memsim`` console script: the simulation's commands (`memsim.sim.cli`: run, list,
graph, bench) and the viewer's (`memsim.viz`: ``run --viz | --record OUT``, ``view TRACE``,
``snapshot TRACE --step N OUT.png``).

It lives at the top of the package because it joins the two: `sim` may not import the
viewer. The viewer (pygame) is imported only by the commands and flags that use it, so a
plain run never loads pygame.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from memsim.plugins import missing_extra
from memsim.sim import cli as sim_cli
from memsim.sim.scenario import Scenario


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="memsim",
        description="Run multi-agent memory/communication scenarios.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sim_cli.add_commands(sub)
    view = sub.add_parser(
        "view",
        help="replay a run's trace in a window",
        description="Replay trace-seed<N>.jsonl (re-run from the scenario.json beside it) in "
        "a window: space pauses, n / right steps on, b / left steps back, q quits.",
    )
    view.add_argument("trace", type=Path, metavar="TRACE", help="a trace-seed<N>.jsonl file")
    view.add_argument("--speed", type=sim_cli.positive_float, default=10.0,
                      help="team steps per second (default 10)")
    snap = sub.add_parser(
        "snapshot",
        help="save one step of a run's trace as a PNG",
        description="Replay a trace to step N (after N team steps) and save the viewer's "
        "frame as a PNG.",
    )
    snap.add_argument("trace", type=Path, metavar="TRACE", help="a trace-seed<N>.jsonl file")
    snap.add_argument("--step", type=sim_cli.non_negative_int, required=True, metavar="N",
                      help="the frame: after N team steps (0 = the start)")
    snap.add_argument("out", type=Path, metavar="OUT.png", help="the image to write")
    snap.add_argument("--follow", metavar="AGENT", help="the agent to follow (default agent_0)")
    return parser


def _run_watcher(args: argparse.Namespace, scenario: Scenario) -> Any:
    """The viewer side of ``--viz`` / ``--record`` (`viz.run.RunWatcher`): imported here,
    so only these runs load pygame. Raises ValueError for a bad --record path."""
    try:
        from memsim.viz.run import RunWatcher, check_video_path
        from memsim.viz.viewer import display_problem
    except ModuleNotFoundError as exc:
        raise missing_extra(exc, "viz", "--viz / --record") from exc

    if args.viz:
        problem = display_problem()  # before the run starts, not a window that never shows
        if problem is not None:
            raise ValueError(f"--viz cannot open a window ({problem}); write the run to a "
                             "video instead: --record OUT.mp4 (or OUT.gif)")
    if args.record is not None:
        try:
            check_video_path(args.record)  # before pygame opens anything
        except ValueError as exc:
            raise ValueError(f"--record: {exc}") from None
    return RunWatcher(scenario, viz=args.viz, record=args.record, speed=args.speed,
                      fps=args.fps, hold=not args.no_hold)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``memsim`` console script; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2): return instead of exiting
        return int(exc.code or 0)
    if args.command in ("view", "snapshot"):
        try:
            from memsim.viz import run as viz_run
        except ModuleNotFoundError as exc:
            print(f"error: {missing_extra(exc, 'viz', f'memsim {args.command}')}",
                  file=sys.stderr)
            return sim_cli.EXIT_USAGE
        if args.command == "view":
            return viz_run.cmd_view(args.trace, speed=args.speed)
        return viz_run.cmd_snapshot(args.trace, args.step, args.out, follow=args.follow)
    return sim_cli.run_command(args, make_watcher=_run_watcher)


if __name__ == "__main__":
    raise SystemExit(main())
