"""The simulation's commands: ``memsim run SCENARIO``, ``memsim bench SUITE``, ``memsim
list`` and ``memsim graph``. The ``memsim`` console script (:mod:`memsim.cli`) adds the
viewer's commands and runs ``--viz`` / ``--record`` through the `make_watcher` hook, so this
package never imports the viewer.

Exit codes: 0 success, 1 an episode failed, 2 bad arguments or an invalid scenario (reported
before anything runs), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from memsim.memory.backends import BACKENDS
from memsim.sim.bench import default_out_dir, run_suite
from memsim.sim.memory_cli import add_memory_parser, cmd_memory
from memsim.sim.output import EpisodeSummary, MetricsWriter, print_summary
from memsim.sim.scenario import (
    EXECUTORS,
    SCENARIO_DIR,
    Scenario,
    ScenarioError,
    list_scenarios,
    load_scenario,
    scenario_dirs,
)
from memsim.sim.stores import MemoryStores
from memsim.sim.suite import expand_suite, load_suite, parse_seeds

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

RunEpisode = Callable[..., EpisodeSummary]


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None


def positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def non_negative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def add_commands(sub: Any) -> None:
    """Add the simulation's subcommands (run, graph, list, bench, memory) to `sub`, the
    ``add_subparsers()`` of the ``memsim`` parser."""

    run = sub.add_parser(
        "run",
        help="run a scenario's episodes (one per seed)",
        description="Run every seed of a scenario, write traces and metrics.csv, print a summary.",
    )
    run.add_argument(
        "scenario",
        metavar="SCENARIO",
        help="scenario name (NAME.toml in the current directory or ./scenarios/, else a "
        "shipped one: see `memsim list`) or path to a .toml file",
    )
    seeds = run.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=non_negative_int,
                       help="run only this seed (overrides the scenario's)")
    seeds.add_argument("--seeds", type=seeds_argument, metavar="SEEDS",
                       help="run these seeds instead of the scenario's: N (seeds 0..N-1), a "
                       "range A-B (both included), a list 3,5,8, or a mix 0-4,10")
    run.add_argument("--max-steps", type=positive_int, metavar="N",
                     help="step limit of each episode (overrides max_steps)")
    run.add_argument(
        "--agents", type=positive_int, help="number of agents (overrides agents.count)"
    )
    run.add_argument(
        "--policy", metavar="POLICY",
        help="every agent's policy (overrides agents.policy and agents.policies): a name "
        "from `memsim list` or a class by import path, package.module:MyPolicy",
    )
    run.add_argument(
        "--memory", metavar="BACKEND",
        help=f"memory backend (overrides memory.backend): {', '.join(BACKENDS)}, a "
        "memsim.stores entry point or package.module:MyStore",
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
    run.add_argument("--speed", type=positive_float, default=10.0,
                     help="--viz: team steps per second at the start (default 10)")
    run.add_argument("--no-hold", action="store_true",
                     help="--viz: close the window when the last episode ends (default: "
                     "keep its last frame up until you quit)")
    run.add_argument("--fps", type=positive_float, default=10.0,
                     help="--record: video frames per second (default 10)")

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
    add_memory_parser(sub)


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
    from memsim.agents.step import build_agent_graph
    from memsim.sim.team import build_team_graph

    try:
        graph, chain = build_team_graph(), build_agent_graph()
    except ModuleNotFoundError as exc:  # the langgraph extra
        Console(stderr=True).print(f"error: {escape(str(exc))}", highlight=False)
        return EXIT_USAGE
    # Two Mermaid documents: the team step (one agent_step per live agent, then env_step)
    # and the per-agent chain that each agent_step runs.
    print(graph.get_graph().draw_mermaid())
    print(chain.get_graph().draw_mermaid())
    return EXIT_OK


def _chance_shown(gym_id: str) -> str:
    """The env's stated chance level at its default level ("-": not a memory task)."""
    import gymnasium

    try:
        env = gymnasium.make(gym_id)
    except Exception as exc:  # a plug-in world that cannot be built: say so, list the rest
        return f"? ({type(exc).__name__})"
    chance = getattr(env.unwrapped, "chance_level", None)
    env.close()
    return "-" if chance is None else f"{chance:.3g}"


def _cmd_list(console: Console) -> int:
    from memsim.agents.registry import POLICY_NAMES, policy_plugins
    from memsim.memory.backends import store_plugins
    from memsim.plugins import PluginError, describe
    from memsim.sim.families import FAMILIES, all_families

    try:
        families = all_families()
    except PluginError as exc:  # a broken world plug-in: list the rest, say which
        Console(stderr=True).print(f"warning: {escape(str(exc))}", highlight=False)
        families = dict(FAMILIES)
    worlds = Table(title=escape("memsim worlds ([env] family and task)"))
    worlds.add_column("family", style="bold")
    worlds.add_column("task")
    worlds.add_column("Gymnasium id (after `import memsim`)")
    worlds.add_column("chance (default level)", justify="right")
    for family in families.values():
        for task, gym_id in family.tasks().items():
            worlds.add_row(family.name, task, gym_id, _chance_shown(gym_id))
        if family.name not in FAMILIES and not family.tasks():
            worlds.add_row(family.name, "", "", "")
    console.print(worlds)
    plugins = Table(title=escape("policies, world families and memory stores"))
    plugins.add_column("kind", style="bold")
    plugins.add_column("name", style="bold")
    plugins.add_column("from")
    for name in POLICY_NAMES:
        plugins.add_row("policy", name, "built in")
    for name, value in policy_plugins().items():
        plugins.add_row("policy", name, f"entry point {value}")
    for name, family in families.items():
        where = "built in" if name in FAMILIES else describe(family.make_env)
        plugins.add_row("world", name, escape(where))
    for name in BACKENDS:
        plugins.add_row("store", name, "built in")
    for name, value in store_plugins().items():
        plugins.add_row("store", name, f"entry point {value}")
    console.print(plugins)
    console.print("Plug-ins by import path are accepted too: policy = "
                  "\"package.module:MyPolicy\" (see the README, 'Bring your own agent').",
                  highlight=False)
    table = Table(title="memsim scenarios")
    table.add_column("name", style="bold")
    table.add_column("description")
    table.add_column("where")
    seen: set[str] = set()
    for directory in scenario_dirs():
        where = "shipped" if directory == SCENARIO_DIR else str(directory)
        for name, description in list_scenarios(directory):
            if name not in seen:  # the first directory with a name is the one run
                seen.add(name)
                table.add_row(name, escape(description), escape(where))
    console.print(table)
    return EXIT_OK


MakeWatcher = Callable[[argparse.Namespace, Scenario], Any]
"""Builds the viewer side of ``--viz`` / ``--record`` (``memsim.viz.run.RunWatcher``):
``episode_kwargs(seed)``, ``finish()``, ``stopped`` and ``close()``. Raises ValueError for a
bad argument."""


def _cmd_run(args: argparse.Namespace, console: Console, err: Console,
             make_watcher: MakeWatcher | None) -> int:
    try:
        scenario = load_scenario(args.scenario).with_overrides(
            seed=args.seed, seeds=args.seeds, max_steps=args.max_steps, agents=args.agents,
            policy=args.policy, memory_backend=args.memory, executor=args.executor,
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
        err.print(escape(f"error: the episode runner is not available: {exc}"), highlight=False)
        return EXIT_FAILED

    watcher = None
    if args.viz or args.record is not None:
        if make_watcher is None:
            err.print("error: --viz / --record need the viewer (run the memsim command)",
                      highlight=False)
            return EXIT_USAGE
        try:
            watcher = make_watcher(args, scenario)
        except ValueError as exc:
            err.print(escape(f"error: {exc}"), highlight=False)
            return EXIT_USAGE
        except Exception as exc:  # pygame missing, no display for the window
            err.print(escape(f"error: cannot start the viewer: {type(exc).__name__}: {exc}"),
                      highlight=False)
            return EXIT_FAILED

    out_dir = args.out if args.out is not None else _default_out_dir(scenario)
    out_dir.mkdir(parents=True, exist_ok=True)
    # The resolved scenario (after overrides) next to the results, so a run can be reproduced.
    (out_dir / "scenario.json").write_text(scenario.model_dump_json(indent=2) + "\n")

    summaries: list[EpisodeSummary] = []
    milestones = scenario.family.milestones
    stores = MemoryStores(scenario.memory)  # one per run: memory may persist across seeds
    stores.record(out_dir, scenario.name)  # memory.json: the run id (memsim memory show|delete)
    if scenario.memory.enabled and scenario.memory.backend != "networkx":
        console.print(f"memory: {scenario.memory.backend}, run id {stores.run_id} (namespaces "
                      f"{scenario.name}/{stores.run_id}/...)", highlight=False, soft_wrap=True)
    # A resumed run adds its row to the directory's metrics.csv (and continues the trace).
    with MetricsWriter(out_dir / "metrics.csv", milestones,
                       append=args.resume is not None) as metrics:
        for seed in scenario.seeds:
            shown = watcher.episode_kwargs(seed) if watcher is not None else {}
            try:
                summary = _run_one(run_episode, scenario, seed, out_dir, console, args.quiet,
                                   args.resume, {**shown, "stores": stores})
            except KeyboardInterrupt:
                _close_watcher(watcher)
                err.print(f"interrupted during seed {seed}; results so far are in {out_dir}")
                return EXIT_INTERRUPTED
            except Exception as exc:  # report which seed failed, keep earlier rows
                _close_watcher(watcher)
                failure = f"{scenario.name} seed {seed} failed: {type(exc).__name__}: {exc}"
                err.print(escape(f"error: {failure}"), highlight=False)
                _print_resume_hint(err, args.scenario, seed, out_dir)
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


def _print_resume_hint(err: Console, scenario: str, seed: int, out_dir: Path) -> None:
    """After a failed seed: the trace is on disk up to the last finished step; say how to
    continue from the last checkpoint, when there is one."""
    checkpoint = out_dir / f"checkpoint-seed{seed}.pkl"
    if checkpoint.is_file():
        err.print(escape(f"the trace is on disk up to the last finished step; continue from "
                         f"the last checkpoint with: memsim run {scenario} --seed {seed} "
                         f"--resume {checkpoint} --out {out_dir}"), highlight=False)


def _seed_shown(watcher: Any, console: Console) -> bool:
    """After a seed under --viz / --record: finish its video; True if the user quit."""
    video = watcher.finish()
    if video is not None:
        console.print(f"video: {video}", highlight=False)
    return bool(watcher.stopped)


def _close_watcher(watcher: Any) -> None:
    if watcher is not None:
        watcher.close()


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
    extra.update(shown or {})  # the memory stores; --viz / --record: watch and render mode
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


def run_command(args: argparse.Namespace, make_watcher: MakeWatcher | None = None) -> int:
    """Run a parsed simulation command (`add_commands`); returns the exit code."""
    console, err = Console(), Console(stderr=True)
    if args.command == "list":
        return _cmd_list(console)
    if args.command == "bench":
        return cmd_bench(args)
    if args.command == "graph":
        return _cmd_graph()
    if args.command == "memory":
        return cmd_memory(args)
    return _cmd_run(args, console, err, make_watcher)


def add_bench_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``memsim bench SUITE [--seeds SEEDS] [--workers N] [--ray ADDRESS] [--out DIR]``."""
    bench = subparsers.add_parser(
        "bench",
        help="run a benchmark suite (scenario x agents x ablation x seed), resumably",
        description="Run a benchmark suite's grid with the direct executor, in parallel "
        "processes or on Ray; write results.csv, report.md and plots. Rerunning into the "
        "same --out runs only the cells that are missing or failed.",
    )
    bench.add_argument("suite", metavar="SUITE",
                       help="suite name (in scenarios/suites) or path to a .toml file")
    bench.add_argument("--seeds", type=seeds_argument, metavar="SEEDS",
                       help="the seeds to run instead of the suite's: N (seeds 0..N-1), a "
                       "range A-B (both included), a list 3,5,8, or a mix 0-4,10")
    bench.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1,
                       metavar="N", help="parallel episodes (default: CPU count)")
    bench.add_argument("--ray", metavar="ADDRESS", dest="ray_address",
                       help="run cells as Ray tasks: 'local' starts a local Ray instance, "
                       "else the address of a running cluster (e.g. ray://host:10001)")
    bench.add_argument("--out", type=Path, metavar="DIR",
                       help="results directory (default: runs/bench/<suite>/); reruns resume")
    bench.add_argument("--quiet", action="store_true", help="no progress bar or table")
    return bench


def seeds_argument(text: str) -> list[int]:
    """``--seeds``: a count, a range, a list or a mix (:func:`sim.suite.parse_seeds`)."""
    try:
        return parse_seeds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_bench(args: argparse.Namespace) -> int:
    """Run ``memsim bench``; exit 0 if every cell ran, 1 if any failed, 2 on a bad suite,
    130 when interrupted (finished cells are kept: rerun to continue)."""
    console, err = Console(), Console(stderr=True)
    if importlib.util.find_spec("matplotlib") is None:
        err.print("[bold red]error:[/] " + escape("memsim bench draws its plots with "
                  "matplotlib: pip install 'memsim[bench]' (or matplotlib)"), highlight=False)
        return EXIT_USAGE
    try:
        suite, source = load_suite(args.suite)
        expand_suite(suite, source, args.seeds)  # validate every cell before running any
    except ScenarioError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return EXIT_USAGE
    out_dir = args.out if args.out is not None else default_out_dir(suite)
    try:
        result = run_suite(source, seeds=args.seeds, workers=args.workers,
                           ray_address=args.ray_address, out_dir=out_dir,
                           progress=not args.quiet, console=console)
    except KeyboardInterrupt:
        err.print(f"interrupted; finished cells are in {out_dir}: rerun to continue",
                  highlight=False)
        return EXIT_INTERRUPTED
    if not args.quiet:
        from memsim.sim.bench_report import summary_table  # scipy, matplotlib: bench only

        console.print(summary_table(result.suite, result.rows))
    console.print(f"{result.ran} cells ran, {result.skipped} already done; results: {out_dir}",
                  highlight=False)
    for row in result.failed:
        err.print(f"failed: {row['scenario']} agents={row['agents']} ablation={row['ablation']} "
                  f"seed={row['seed']}: {row['error']}", highlight=False)
    return EXIT_FAILED if result.failed else EXIT_OK


