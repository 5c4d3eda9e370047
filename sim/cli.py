"""The ``memsim`` command line: ``memsim run SCENARIO`` and ``memsim list``.

Exit codes: 0 success, 1 an episode failed, 2 bad arguments or an invalid scenario (reported
before anything runs), 130 interrupted.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sim.output import EpisodeSummary, MetricsWriter, print_summary
from sim.scenario import (
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

    sub.add_parser(
        "graph",
        help="print the team-step LangGraph graph (Mermaid)",
        description="Print the compiled team-step graph, with the per-agent subgraph, as "
        "Mermaid text (paste into any Mermaid renderer).",
    )
    sub.add_parser(
        "list",
        help="list the shipped scenarios",
        description="List the shipped scenarios with their descriptions.",
    )
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
    from sim.episode import run_episode

    return run_episode


def _cmd_graph() -> int:
    from sim.team import build_team_graph

    print(build_team_graph().get_graph(xray=1).draw_mermaid())
    return EXIT_OK


def _cmd_list(console: Console) -> int:
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

    out_dir = args.out if args.out is not None else _default_out_dir(scenario)
    out_dir.mkdir(parents=True, exist_ok=True)
    # The resolved scenario (after overrides) next to the results, so a run can be reproduced.
    (out_dir / "scenario.json").write_text(scenario.model_dump_json(indent=2) + "\n")

    summaries: list[EpisodeSummary] = []
    milestones = scenario.family.milestones
    with MetricsWriter(out_dir / "metrics.csv", milestones) as metrics:
        for seed in scenario.seeds:
            try:
                summary = _run_one(run_episode, scenario, seed, out_dir, console, args.quiet,
                                   args.resume)
            except KeyboardInterrupt:
                err.print(f"interrupted during seed {seed}; results so far are in {out_dir}")
                return EXIT_INTERRUPTED
            except Exception as exc:  # report which seed failed, keep earlier rows
                err.print(
                    f"error: {scenario.name} seed {seed} failed: {type(exc).__name__}: {exc}",
                    highlight=False,
                )
                return EXIT_FAILED
            metrics.write(summary)
            summaries.append(summary)
    if not args.quiet:
        print_summary(summaries, console, milestones)
    console.print(f"results: {out_dir}", highlight=False)
    return EXIT_OK


def _run_one(
    run_episode: RunEpisode,
    scenario: Scenario,
    seed: int,
    out_dir: Path,
    console: Console,
    quiet: bool,
    resume: Path | None = None,
) -> EpisodeSummary:
    extra = {"resume": resume} if resume is not None else {}
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
    if args.command == "graph":
        return _cmd_graph()
    return _cmd_run(args, console, err)


if __name__ == "__main__":
    raise SystemExit(main())
