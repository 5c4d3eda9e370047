"""The ``memsim`` command line: ``memsim run SCENARIO``, ``memsim bench SUITE``,
``memsim list`` and ``memsim graph``; the viewer's ``memsim run SCENARIO --viz | --record
OUT``, ``memsim view TRACE`` and ``memsim snapshot``.

Exit codes: 0 success, 1 an episode failed, 2 bad arguments or an invalid scenario (reported
before anything runs), 130 interrupted.

The viewer (`viz`, pygame) is imported only by the commands and flags that use it, so a
plain run never loads pygame.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from memsim.sim.bench import add_bench_parser, cmd_bench
from memsim.sim.output import EpisodeSummary, MetricsWriter, print_summary
from memsim.sim.scenario import (
    EXECUTORS,
    MEMORY_BACKENDS,
    Scenario,
    ScenarioError,
    list_scenarios,
    load_scenario,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

RunEpisode = Callable[..., EpisodeSummary]


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None


def _positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _seed(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="memsim",
        description="Run multi-agent memory/communication scenarios.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run a scenario's episodes (one per seed)",
        description="Run every seed of a scenario, write traces and metrics.csv, print a summary.",
    )
    run.add_argument(
        "scenario",
        metavar="SCENARIO",
        help="scenario name (see `memsim list`) or path to a .toml file",
    )
    run.add_argument("--seed", type=_seed, help="run only this seed (overrides the scenario's)")
    run.add_argument(
        "--agents", type=_positive_int, help="number of agents (overrides agents.count)"
    )
    run.add_argument(
        "--memory", choices=MEMORY_BACKENDS, help="memory backend (overrides memory.backend)"
    )
    run.add_argument(
        "--executor", choices=EXECUTORS, help="team-step executor (overrides run.executor)"
    )
    run.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="output directory (default: runs/<scenario>/<UTC timestamp>/)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bars or summary table")
    run.add_argument(
        "--resume",
        type=Path,
        metavar="CHECKPOINT",
        help="continue from a checkpoint-seed<N>.pkl written with run.checkpoint_every "
        "(give --seed N too)",
    )
    shown = run.add_mutually_exclusive_group()
    shown.add_argument(
        "--viz", action="store_true",
        help="watch the run live in a window (seeds one after another; space pauses, "
        "n steps, +/- speed, q quits); traces and metrics are written as usual",
    )
    shown.add_argument(
        "--record", type=Path, metavar="OUT",
        help="also write a video of each episode: OUT.mp4 or OUT.gif (with several seeds "
        "OUT-seed<N>.mp4 per seed)",
    )
    run.add_argument("--speed", type=_positive_float, default=10.0,
                     help="--viz: team steps per second at the start (default 10)")
    run.add_argument("--no-hold", action="store_true",
                     help="--viz: close the window when the last episode ends (default: "
                     "keep its last frame up until you quit)")
    run.add_argument("--fps", type=_positive_float, default=10.0,
                     help="--record: video frames per second (default 10)")

    view = sub.add_parser(
        "view",
        help="replay a run's trace in a window",
        description="Replay trace-seed<N>.jsonl (re-run from the scenario.json beside it) in "
        "a window: space pauses, n / right steps on, b / left steps back, q quits.",
    )
    view.add_argument("trace", type=Path, metavar="TRACE", help="a trace-seed<N>.jsonl file")
    view.add_argument("--speed", type=_positive_float, default=10.0,
                      help="team steps per second (default 10)")

    snap = sub.add_parser(
        "snapshot",
        help="save one step of a run's trace as a PNG",
        description="Replay a trace to step N (after N team steps) and save the viewer's "
        "frame as a PNG.",
    )
    snap.add_argument("trace", type=Path, metavar="TRACE", help="a trace-seed<N>.jsonl file")
    snap.add_argument("--step", type=_seed, required=True, metavar="N",
                      help="the frame: after N team steps (0 = the start)")
    snap.add_argument("out", type=Path, metavar="OUT.png", help="the image to write")
    snap.add_argument("--follow", metavar="AGENT", help="the agent to follow (default agent_0)")

    sub.add_parser(
        "graph",
        help="print the team-step LangGraph graph (Mermaid)",
        description="Print the compiled team-step graph, with the per-agent subgraph, as "
        "Mermaid text (paste into any Mermaid renderer).",
    )
    sub.add_parser(
        "list",
        help="list the worlds and the shipped scenarios",
        description="List every world family's tasks (with Gymnasium ids) and the shipped "
        "scenarios with their descriptions.",
    )
    add_bench_parser(sub)
    return parser


def _default_out_dir(scenario: Scenario) -> Path:
    """``runs/<name>/<UTC timestamp>/``, suffixed if a run in the same second exists."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = Path("runs") / scenario.name / stamp
    candidate, n = base, 1
    while candidate.exists():
        candidate = base.with_name(f"{stamp}-{n}")
        n += 1
    return candidate


def _runner() -> RunEpisode:
    """``sim.episode.run_episode``, imported when needed (the runner pulls in the whole stack)."""
    from memsim.sim.episode import run_episode

    return run_episode


def _cmd_graph() -> int:
    from memsim.sim.team import build_team_graph

    print(build_team_graph().get_graph(xray=1).draw_mermaid())
    return EXIT_OK


def _cmd_list(console: Console) -> int:
    from memsim.sim.families import FAMILIES

    worlds = Table(title="memsim worlds ([env] family and task)")
    worlds.add_column("family", style="bold")
    worlds.add_column("task")
    worlds.add_column("Gymnasium id (after `import envs`)")
    for family in FAMILIES.values():
        for task, gym_id in family.tasks().items():
            worlds.add_row(family.name, task, gym_id)
    console.print(worlds)
    table = Table(title="memsim scenarios")
    table.add_column("name", style="bold")
    table.add_column("description")
    for name, description in list_scenarios():
        table.add_row(name, description)
    console.print(table)
    return EXIT_OK


def _cmd_run(args: argparse.Namespace, console: Console, err: Console) -> int:
    try:
        scenario = load_scenario(args.scenario).with_overrides(
            seed=args.seed, agents=args.agents, memory_backend=args.memory, executor=args.executor
        )
    except ScenarioError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return EXIT_USAGE
    if args.resume is not None and len(scenario.seeds) != 1:
        err.print("error: --resume continues one episode: give --seed N too", highlight=False)
        return EXIT_USAGE
    if args.resume is not None and not args.resume.is_file():
        err.print(f"error: --resume: no such checkpoint file {str(args.resume)!r}",
                  highlight=False)
        return EXIT_USAGE
    try:
        run_episode = _runner()
    except ImportError as exc:
        err.print(f"error: the episode runner is not available: {exc}", highlight=False)
        return EXIT_FAILED

    watcher = None
    if args.viz or args.record is not None:
        try:
            watcher = _run_watcher(args, scenario)
        except ValueError as exc:
            err.print(f"error: {exc}", highlight=False)
            return EXIT_USAGE
        except Exception as exc:  # pygame missing, no display for the window
            err.print(f"error: cannot start the viewer: {type(exc).__name__}: {exc}",
                      highlight=False)
            return EXIT_FAILED

    out_dir = args.out if args.out is not None else _default_out_dir(scenario)
    out_dir.mkdir(parents=True, exist_ok=True)
    # The resolved scenario (after overrides) next to the results, so a run can be reproduced.
    (out_dir / "scenario.json").write_text(scenario.model_dump_json(indent=2) + "\n")

    summaries: list[EpisodeSummary] = []
    milestones = scenario.family.milestones
    with MetricsWriter(out_dir / "metrics.csv", milestones) as metrics:
        for seed in scenario.seeds:
            shown = watcher.episode_kwargs(seed) if watcher is not None else {}
            try:
                summary = _run_one(run_episode, scenario, seed, out_dir, console, args.quiet,
                                   args.resume, shown)
            except KeyboardInterrupt:
                _close_watcher(watcher)
                err.print(f"interrupted during seed {seed}; results so far are in {out_dir}")
                return EXIT_INTERRUPTED
            except Exception as exc:  # report which seed failed, keep earlier rows
                _close_watcher(watcher)
                failure = f"{scenario.name} seed {seed} failed: {type(exc).__name__}: {exc}"
                err.print(escape(f"error: {failure}"), highlight=False)
                return EXIT_FAILED
            metrics.write(summary)
            summaries.append(summary)
            if watcher is not None and _seed_shown(watcher, console):
                break  # the viewer window was closed: run no more seeds
    _close_watcher(watcher)
    if not args.quiet:
        print_summary(summaries, console, milestones)
    console.print(f"results: {out_dir}", highlight=False)
    return EXIT_OK


def _run_watcher(args: argparse.Namespace, scenario: Scenario) -> Any:
    """The viewer side of ``--viz`` / ``--record`` (`viz.run.RunWatcher`): imported here,
    so only these runs load pygame. Raises ValueError for a bad --record path."""
    from memsim.viz.run import RunWatcher, check_video_path

    if args.record is not None:
        try:
            check_video_path(args.record)  # before pygame opens anything
        except ValueError as exc:
            raise ValueError(f"--record: {exc}") from None
    return RunWatcher(scenario, viz=args.viz, record=args.record, speed=args.speed,
                      fps=args.fps, hold=not args.no_hold)


def _seed_shown(watcher: Any, console: Console) -> bool:
    """After a seed under --viz / --record: finish its video; True if the user quit."""
    video = watcher.finish()
    if video is not None:
        console.print(f"video: {video}", highlight=False)
    return bool(watcher.stopped)


def _close_watcher(watcher: Any) -> None:
    if watcher is not None:
        watcher.close()


def _cmd_view(args: argparse.Namespace) -> int:
    from memsim.viz.run import cmd_view

    return cmd_view(args.trace, speed=args.speed)


def _cmd_snapshot(args: argparse.Namespace) -> int:
    from memsim.viz.run import cmd_snapshot

    return cmd_snapshot(args.trace, args.step, args.out, follow=args.follow)


def _run_one(
    run_episode: RunEpisode,
    scenario: Scenario,
    seed: int,
    out_dir: Path,
    console: Console,
    quiet: bool,
    resume: Path | None = None,
    shown: dict[str, Any] | None = None,
) -> EpisodeSummary:
    extra: dict[str, Any] = {"resume": resume} if resume is not None else {}
    extra.update(shown or {})  # --viz / --record: the watch and render mode
    if quiet:
        return run_episode(scenario, seed=seed, out_dir=out_dir, progress=None, **extra)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(f"{scenario.name} seed {seed}", total=scenario.max_steps)

        def progress(step: int, max_steps: int) -> None:
            bar.update(task, completed=step, total=max_steps)

        summary = run_episode(scenario, seed=seed, out_dir=out_dir, progress=progress, **extra)
        # Episodes can end early (goal reached): show them as finished at their last step.
        bar.update(task, completed=summary.steps, total=summary.steps)
    return summary


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``memsim`` console script; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2): return instead of exiting
        return int(exc.code or 0)
    console, err = Console(), Console(stderr=True)
    if args.command == "list":
        return _cmd_list(console)
    if args.command == "bench":
        return cmd_bench(args)
    if args.command == "graph":
        return _cmd_graph()
    if args.command == "view":
        return _cmd_view(args)
    if args.command == "snapshot":
        return _cmd_snapshot(args)
    return _cmd_run(args, console, err)


if __name__ == "__main__":
    raise SystemExit(main())
