"""Benchmark suites: a grid of scenario x agents x ablation x seed, run resumably in parallel.

A suite is a TOML file in ``scenarios/suites/`` (or any path) naming base scenarios of any
family, team sizes, ablations (overrides deep-merged into the scenario's tables and
re-validated, so a bad override fails before anything runs), seeds and a step limit; see
``scenarios/suites/coop-diamond.toml`` and :class:`Suite`.

:func:`run_suite` expands the grid into cells and runs each one as
``run_episode(scenario, seed, out_dir=None)`` with the **direct executor** (the same node
functions as the LangGraph team graph, tested to give identical trajectories, without
LangGraph's per-node cost), serially, in spawned processes or as Ray tasks. Every finished
cell is appended to ``results.jsonl`` and flushed, so an interrupted run loses only the
cells that were running, and a rerun into the same directory runs only the missing (or
failed) cells. At the end it writes the tidy table ``results.csv`` (one row per cell),
``report.md`` and the plots (:mod:`sim.bench_report`).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from memsim.sim.output import TEAM_MILESTONES, EpisodeSummary, metrics_row
from memsim.sim.scenario import (
    SCENARIO_DIR,
    Scenario,
    ScenarioError,
    load_scenario,
    resolve_named_file,
    validate_scenario,
)

SUITE_DIR = SCENARIO_DIR / "suites"
"""Where bare suite names are looked up (``<name>.toml``)."""

LEDGER_FILE = "results.jsonl"
CSV_FILE = "results.csv"
PARQUET_FILE = "results.parquet"

_NAME = r"^[a-z0-9-]+$"
# Keys the grid itself sets: an ablation may not override them.
_GRID_KEYS = {("name",): "the suite runs each scenario under its own name",
              ("seeds",): "the suite's seeds", ("agents", "count"): "the suite's agents list"}
_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True)

HEAD_COLUMNS: tuple[str, ...] = (
    "suite", "scenario", "family", "agents", "ablation", "seed", "status", "steps",
    "goal_reached",
)
TAIL_COLUMNS: tuple[str, ...] = (
    "messages_sent", "messages_delivered", "messages_rejected", "memory_nodes", "wall_seconds",
)


class SuiteError(ScenarioError):
    """A suite file is unreadable or invalid; the message names the file and the field."""


class Baseline(BaseModel):
    """``[baseline]``: the cell group that "fewer steps than 1 agent" compares with."""

    model_config = _STRICT

    agents: int = Field(1, ge=1, le=64)
    ablation: str = "full"


class Reference(BaseModel):
    """``[reference]``: published "fewer steps than one agent" figures, by team size."""

    model_config = _STRICT

    source: str = Field(min_length=1)
    fewer_steps_percent: dict[Annotated[str, Field(pattern=r"^[1-9][0-9]*$")], float]


class Suite(BaseModel):
    """A benchmark grid: scenarios x agent counts x ablations x seeds."""

    model_config = _STRICT

    name: str = Field(pattern=_NAME, max_length=60)
    description: str = ""
    version: int = Field(ge=1)
    scenarios: list[str] = Field(min_length=1, description="scenario names or paths")
    agents: list[Annotated[int, Field(ge=1, le=64)]] = Field(
        default_factory=list, description="team sizes; empty: each scenario's own count")
    ablations: dict[str, dict[str, Any]] = Field(
        default_factory=lambda: {"full": {}}, min_length=1,
        description="name -> overrides of the scenario's tables; the first is the reference")
    seeds: int | list[Annotated[int, Field(ge=0)]] = Field(
        30, description="a count (seeds 0..N-1) or a list of seeds")
    max_steps: int | None = Field(None, ge=1, description="overrides the scenarios' max_steps")
    baseline: Baseline | None = None
    reference: Reference | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Suite:
        problems = []
        for name, overrides in self.ablations.items():
            if not re.match(_NAME, name):
                problems.append(f"ablations: name {name!r} must match {_NAME}")
            for path, why in _GRID_KEYS.items():
                if _get_path(overrides, path) is not None:
                    problems.append(f"ablations.{name}: {'.'.join(path)} is set by {why}")
        if isinstance(self.seeds, int) and self.seeds < 1:
            problems.append(f"seeds: must be >= 1 (got {self.seeds})")
        if isinstance(self.seeds, list) and len(set(self.seeds)) != len(self.seeds):
            problems.append("seeds: must not repeat")
        if len(set(self.agents)) != len(self.agents):
            problems.append("agents: must not repeat")
        if self.baseline is not None:
            if self.baseline.ablation not in self.ablations:
                problems.append(f"baseline.ablation: {self.baseline.ablation!r} is not an "
                                f"ablation; allowed: {', '.join(self.ablations)}")
            if self.agents and self.baseline.agents not in self.agents:
                problems.append(f"baseline.agents: {self.baseline.agents} is not in agents; "
                                f"allowed: {', '.join(map(str, self.agents))}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def seed_list(self) -> list[int]:
        """The seeds to run."""
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)

    def baseline_ablation(self) -> str:
        """The ablation of the baseline group (default: the first ablation)."""
        return self.baseline.ablation if self.baseline else next(iter(self.ablations))


def _get_path(data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = data
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def deep_merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` applied: tables merge key by key, other values replace."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# --------------------------------------------------------------------------- loading


def resolve_suite(name_or_path: str | Path) -> Path:
    """The suite file: a bare name in :data:`SUITE_DIR` or a path to a TOML file."""
    return resolve_named_file(name_or_path, SUITE_DIR, "suite", SuiteError)


def load_suite(name_or_path: str | Path) -> tuple[Suite, Path]:
    """Read and validate a suite file; returns the suite and its path."""
    path = resolve_suite(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(str(path), [f"invalid TOML: {exc}"]) from None
    try:
        return Suite.model_validate(data, strict=True), path
    except ValidationError as exc:
        raise SuiteError(str(path), _suite_problems(exc)) from None


def _suite_problems(exc: ValidationError) -> list[str]:
    """One ``<field.path>: <problem>`` line per error; unknown keys list the allowed ones."""
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        where = ".".join(str(p) for p in loc)
        if err["type"] == "extra_forbidden":
            model: Any = Suite
            if len(loc) == 2:
                model = {"baseline": Baseline, "reference": Reference}.get(str(loc[0]))
            allowed = f"; allowed: {', '.join(model.model_fields)}" if model else ""
            problems.append(f"{where}: unknown key{allowed}")
            continue
        msg = err["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {msg}" if where else msg)
    return problems


# --------------------------------------------------------------------------- the grid


@dataclass(frozen=True)
class Cell:
    """One episode of the grid; ``config`` is the validated scenario as plain data."""

    suite: str
    scenario: str
    family: str
    agents: int
    ablation: str
    seed: int
    config: dict[str, Any]
    config_hash: str

    @property
    def key(self) -> tuple[Any, ...]:
        """The identity of the cell in a results file (``config_hash`` changes when the
        cell's scenario does, so an edited ablation reruns)."""
        return (self.scenario, self.agents, self.ablation, self.seed, self.config_hash)

    def payload(self) -> dict[str, Any]:
        """Plain data for a worker process or a Ray task (spawn-safe: no objects)."""
        return {"suite": self.suite, "scenario": self.scenario, "family": self.family,
                "agents": self.agents, "ablation": self.ablation, "seed": self.seed,
                "config": self.config, "config_hash": self.config_hash}


def row_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """The cell identity of a results row."""
    return (row["scenario"], int(row["agents"]), row["ablation"], int(row["seed"]),
            row["config_hash"])


def cell_scenario(base: Scenario, agents: int, ablation: str, overrides: Mapping[str, Any],
                  max_steps: int | None, source: str) -> Scenario:
    """The validated scenario of one grid cell (any seed): base + agents + ablation.

    The cell runs under its own name (``<base>-<N>a-<ablation>``) so concurrent cells never
    share a memory namespace on a server backend; the executor is ``direct``.
    """
    data = deep_merge(base.model_dump(), overrides)
    data["name"] = f"{base.name}-{agents}a-{ablation}"
    data["agents"] = {**data["agents"], "count": agents}
    data["seeds"] = [0]
    if max_steps is not None:
        data["max_steps"] = max_steps
    data["run"] = {**data["run"], "executor": "direct", "checkpoint_every": 0}
    return validate_scenario(data, source=source)


def _config_hash(config: Mapping[str, Any]) -> str:
    """A digest of what determines a cell's episode (not its seed list or description)."""
    text = json.dumps({k: v for k, v in config.items() if k not in ("seeds", "description")},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _scenario_path(entry: str, suite_path: Path | None) -> str | Path:
    """A scenario entry: a bare name, or a path relative to the suite file."""
    if ("/" in entry or entry.endswith(".toml")) and suite_path is not None:
        path = Path(entry)
        return path if path.is_absolute() else suite_path.parent / path
    return entry


def expand_suite(suite: Suite, source: Path | None = None,
                 seeds: int | None = None) -> list[Cell]:
    """Every cell of the grid, in grid order; all scenarios are validated before returning.

    ``seeds`` (a count) replaces the suite's seeds with ``0..seeds-1``. Raises
    :class:`SuiteError` naming the suite file and, per bad cell, the ablation and field.
    """
    where = str(source) if source is not None else suite.name
    seed_list = list(range(seeds)) if seeds is not None else suite.seed_list()
    problems: list[str] = []
    cells: list[Cell] = []
    for entry in suite.scenarios:
        try:
            base = load_scenario(_scenario_path(entry, source))
        except ScenarioError as exc:
            problems.append(f"scenarios: {entry!r}: {exc}")
            continue
        for agents in suite.agents or [base.agents.count]:
            for ablation, overrides in suite.ablations.items():
                try:
                    scenario = cell_scenario(base, agents, ablation, overrides,
                                             suite.max_steps, where)
                except ScenarioError as exc:
                    problems.extend(f"ablations.{ablation} ({base.name}, {agents} agents): {p}"
                                    for p in exc.problems)
                    continue
                if scenario.memory.persist_across_episodes:
                    # Carried-over memory would make a cell depend on the cells run before it.
                    problems.append(f"ablations.{ablation} ({base.name}): memory."
                                    "persist_across_episodes must be false in a suite (every "
                                    "cell is an independent episode)")
                    continue
                config = scenario.model_dump()
                digest = _config_hash(config)
                for seed in seed_list:
                    cells.append(Cell(suite.name, base.name, scenario.env.family, agents,
                                      ablation, seed, {**config, "seeds": [seed]}, digest))
    if problems:
        raise SuiteError(where, problems)
    return cells


# --------------------------------------------------------------------------- one cell


def summary_row(cell: Mapping[str, Any], summary: EpisodeSummary) -> dict[str, Any]:
    """The results row of a finished cell (milestones not reached are empty)."""
    metrics = metrics_row(summary)
    row: dict[str, Any] = {k: cell[k] for k in HEAD_COLUMNS if k in cell}
    row.update(status="ok", steps=summary.steps, goal_reached=summary.goal_reached)
    row.update({k: v for k, v in metrics.items() if k.startswith("steps_to_")})
    # Families other than crafting have their own milestones: one column each too.
    row.update({f"steps_to_{m}": s for m, s in summary.milestones.items()
                if m not in TEAM_MILESTONES})
    row.update({k: metrics[k] for k in TAIL_COLUMNS})
    # Model usage (LLM agents), summed over agents: zeros for policies that report none.
    row.update({k: v for k, v in metrics.items() if k.startswith("llm_")})
    row.update(error="", config_hash=cell["config_hash"])
    return row


def failed_row(cell: Mapping[str, Any], error: str) -> dict[str, Any]:
    """The results row of a cell that raised: its identity and the error."""
    row: dict[str, Any] = {k: cell[k] for k in HEAD_COLUMNS if k in cell}
    row.update(status="failed", error=error, config_hash=cell["config_hash"])
    return row


def run_cell(cell: Mapping[str, Any]) -> dict[str, Any]:
    """Run one cell (plain data from :meth:`Cell.payload`) and return its results row.

    Module-level and fed plain data so it works in spawned processes and as a Ray task; an
    exception becomes a ``failed`` row with the error instead of propagating.
    """
    try:
        from memsim.sim.episode import run_episode

        scenario = validate_scenario(cell["config"], source=f"cell {cell['scenario']}")
        summary = run_episode(scenario, cell["seed"], out_dir=None)
        return summary_row(cell, summary)
    except Exception as exc:
        return failed_row(cell, f"{type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------- results files


def read_ledger(path: Path) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The rows of a ``results.jsonl``, by cell key; a later row of a cell replaces earlier.

    A torn last line (the process was killed mid-write) is ignored: that cell reruns.
    """
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    if not path.is_file():
        return rows
    with path.open(encoding="utf-8") as file:
        for line in file:
            try:
                row = json.loads(line)
                rows[row_key(row)] = row
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                continue
    return rows


class Ledger:
    """``results.jsonl`` opened for appending: one line per finished cell, synced to disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # A torn last line without a newline would glue onto the next row: end it first.
        torn = path.is_file() and path.stat().st_size > 0 and not path.read_bytes().endswith(
            b"\n")
        self._file = path.open("a", encoding="utf-8")
        if torn:
            self._file.write("\n")

    def write(self, row: Mapping[str, Any]) -> None:
        """Append one row and force it to disk (a crash after this keeps it)."""
        self._file.write(json.dumps(row, sort_keys=True) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def csv_columns(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The results table's columns: identity, milestone steps, comm/memory, LLM, error."""
    rows = list(rows)
    keys = {k for row in rows for k in row}
    seen_milestones = {k for k in keys if k.startswith("steps_to_")}
    milestones = [f"steps_to_{m}" for m in TEAM_MILESTONES if f"steps_to_{m}" in keys]
    milestones += sorted(seen_milestones - set(milestones))
    llm = sorted(k for k in keys if k.startswith("llm_"))
    return [*HEAD_COLUMNS, *milestones, *TAIL_COLUMNS, *llm, "error", "config_hash"]


def write_results(rows: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """``results.csv`` (and ``results.parquet`` when pyarrow is importable)."""
    columns = csv_columns(rows)
    path = out_dir / CSV_FILE
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
    written = [path]
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return written
    table = pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in rows])
    pq.write_table(table, out_dir / PARQUET_FILE)
    written.append(out_dir / PARQUET_FILE)
    return written


# --------------------------------------------------------------------------- execution


def _run_serial(todo: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for cell in todo:
        yield run_cell(cell)


def _run_processes(todo: list[dict[str, Any]], workers: int) -> Iterator[dict[str, Any]]:
    # Spawn, not fork: a forked child would inherit the parent's threads and open stores.
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
    futures: dict[Future[dict[str, Any]], dict[str, Any]] = {
        pool.submit(run_cell, cell): cell for cell in todo}
    try:
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    yield future.result()
                except Exception as exc:  # the worker process died (BrokenProcessPool)
                    yield failed_row(futures[future], f"{type(exc).__name__}: {exc}")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_ray(todo: list[dict[str, Any]], address: str, workers: int
             ) -> Iterator[dict[str, Any]]:
    import ray

    started = not ray.is_initialized()
    if started:
        if address == "local":
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    remote_cell = ray.remote(num_cpus=1)(run_cell)
    refs = {remote_cell.remote(cell): cell for cell in todo}
    pending = list(refs)
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                try:
                    yield ray.get(ref)
                except Exception as exc:  # the task's worker died
                    yield failed_row(refs[ref], f"{type(exc).__name__}: {exc}")
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if started:
            ray.shutdown()


def execute(todo: list[dict[str, Any]], workers: int = 1, ray_address: str | None = None
            ) -> Iterator[dict[str, Any]]:
    """Run cell payloads, yielding rows as cells finish: in this process (``workers=1``), in
    ``workers`` spawned processes, or as Ray tasks (``ray_address``: ``"local"`` starts a
    local instance with ``workers`` CPUs, else the address of a running cluster)."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if not todo:
        return iter(())
    if ray_address is not None:
        return _run_ray(todo, ray_address, workers)
    if workers == 1:
        return _run_serial(todo)
    return _run_processes(todo, workers)


def default_out_dir(suite: Suite) -> Path:
    """``runs/bench/<suite>/``: fixed per suite, so rerunning the same suite resumes it."""
    return Path("runs") / "bench" / suite.name


@dataclass
class SuiteResult:
    """What :func:`run_suite` did: the rows of the suite's cells (grid order) and counts."""

    suite: Suite
    out_dir: Path
    rows: list[dict[str, Any]]
    ran: int
    skipped: int
    files: list[Path]

    @property
    def failed(self) -> list[dict[str, Any]]:
        """Rows of cells that raised."""
        return [r for r in self.rows if r["status"] == "failed"]


def run_suite(
    suite: Suite | str | Path,
    seeds: int | None = None,
    workers: int = 1,
    ray_address: str | None = None,
    out_dir: Path | str | None = None,
    progress: bool = True,
    retry_failed: bool = True,
    console: Console | None = None,
    report: bool = True,
) -> SuiteResult:
    """Run every cell of a suite not already in ``out_dir/results.jsonl``; write the results
    table, the report and the plots (default ``out_dir``: ``runs/bench/<suite>/``).
    ``seeds`` (a count) replaces the suite's seeds.

    Cells that finished before (same scenario, agents, ablation, seed and scenario
    contents) are skipped; failed ones rerun unless ``retry_failed`` is false.
    """
    source: Path | None = None
    if not isinstance(suite, Suite):
        suite, source = load_suite(suite)
    cells = expand_suite(suite, source, seeds)
    out = Path(out_dir) if out_dir is not None else default_out_dir(suite)
    out.mkdir(parents=True, exist_ok=True)
    (out / "suite.json").write_text(suite.model_dump_json(indent=2) + "\n")
    ledger_path = out / LEDGER_FILE
    previous = read_ledger(ledger_path)
    finished = {k for k, r in previous.items() if r["status"] == "ok" or not retry_failed}
    # Seed-major order: an interrupted run has the same seeds for every group.
    order = sorted(range(len(cells)), key=lambda i: (cells[i].seed, i))
    todo = [cells[i].payload() for i in order if cells[i].key not in finished]
    skipped = len(cells) - len(todo)
    ran = 0
    ledger = Ledger(ledger_path)
    try:
        with _progress_bar(progress, console, suite.name, len(todo)) as advance:
            for row in execute(todo, workers, ray_address):
                ledger.write(row)
                ran += 1
                advance(row)
    finally:
        ledger.close()
        rows_by_key = read_ledger(ledger_path)
        rows = [rows_by_key[c.key] for c in cells if c.key in rows_by_key]
        files = write_results(rows, out)
    if report:
        from memsim.sim.bench_report import write_report

        files += write_report(suite, rows, out)
    return SuiteResult(suite, out, rows, ran, skipped, files)


@contextmanager
def _progress_bar(enabled: bool, console: Console | None, name: str, total: int
                  ) -> Iterator[Callable[[Mapping[str, Any]], None]]:
    """A rich progress bar over cells (hidden when disabled), as an ``advance(row)`` callback."""
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=not enabled or not total) as bar:
        task = bar.add_task(name, total=total, failed=0)
        failed = 0

        def advance(row: Mapping[str, Any]) -> None:
            nonlocal failed
            failed += row["status"] == "failed"
            bar.update(task, advance=1, failed=failed)

        yield advance


# --------------------------------------------------------------------------- CLI


def add_bench_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``memsim bench SUITE [--seeds N] [--workers N] [--ray ADDRESS] [--out DIR]``."""
    # Imported here so sim.cli can import this module at its top without a cycle.
    from memsim.sim.cli import _positive_int

    bench = subparsers.add_parser(
        "bench",
        help="run a benchmark suite (scenario x agents x ablation x seed), resumably",
        description="Run a benchmark suite's grid with the direct executor, in parallel "
        "processes or on Ray; write results.csv, report.md and plots. Rerunning into the "
        "same --out runs only the cells that are missing or failed.",
    )
    bench.add_argument("suite", metavar="SUITE",
                       help="suite name (in scenarios/suites) or path to a .toml file")
    bench.add_argument("--seeds", type=_positive_int, metavar="N",
                       help="run seeds 0..N-1 (overrides the suite's seeds)")
    bench.add_argument("--workers", type=_positive_int, default=os.cpu_count() or 1,
                       metavar="N", help="parallel episodes (default: CPU count)")
    bench.add_argument("--ray", metavar="ADDRESS", dest="ray_address",
                       help="run cells as Ray tasks: 'local' starts a local Ray instance, "
                       "else the address of a running cluster (e.g. ray://host:10001)")
    bench.add_argument("--out", type=Path, metavar="DIR",
                       help="results directory (default: runs/bench/<suite>/); reruns resume")
    bench.add_argument("--quiet", action="store_true", help="no progress bar or table")
    return bench


def cmd_bench(args: argparse.Namespace) -> int:
    """Run ``memsim bench``; exit 0 if every cell ran, 1 if any failed, 2 on a bad suite,
    130 when interrupted (finished cells are kept: rerun to continue)."""
    from memsim.sim.cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE

    console, err = Console(), Console(stderr=True)
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
        from memsim.sim.bench_report import summary_table

        console.print(summary_table(result.suite, result.rows))
    console.print(f"{result.ran} cells ran, {result.skipped} already done; results: {out_dir}",
                  highlight=False)
    for row in result.failed:
        err.print(f"failed: {row['scenario']} agents={row['agents']} ablation={row['ablation']} "
                  f"seed={row['seed']}: {row['error']}", highlight=False)
    return EXIT_FAILED if result.failed else EXIT_OK


