"""Running benchmark suites (:mod:`memsim.sim.suite`) resumably, in parallel.

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

import csv
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from memsim.sim.families import family_milestones, family_named
from memsim.sim.output import EpisodeSummary, metrics_row
from memsim.sim.scenario import validate_scenario
from memsim.sim.suite import Suite, expand_suite, load_suite, row_key

LEDGER_FILE = "results.jsonl"
CSV_FILE = "results.csv"
PARQUET_FILE = "results.parquet"

HEAD_COLUMNS: tuple[str, ...] = (
    "suite", "scenario", "family", "agents", "ablation", "seed", "status", "steps",
    "goal_reached", "max_steps",
)
"""``max_steps`` is the cell's step limit: an episode that missed the goal counts as that
many steps in the report (a lower bound), which never has to guess it."""
TAIL_COLUMNS: tuple[str, ...] = (
    "messages_sent", "messages_delivered", "messages_rejected", "memory_nodes", "wall_seconds",
)


# --------------------------------------------------------------------------- one cell


def _identity(cell: Mapping[str, Any]) -> dict[str, Any]:
    """A row's identity columns and the cell's step limit."""
    row: dict[str, Any] = {k: cell[k] for k in HEAD_COLUMNS if k in cell}
    row["max_steps"] = cell["config"]["max_steps"]
    return row


def summary_row(cell: Mapping[str, Any], summary: EpisodeSummary) -> dict[str, Any]:
    """The results row of a finished cell (milestones not reached are empty)."""
    milestones = family_named(cell["family"]).milestones
    metrics = metrics_row(summary, milestones)
    row = _identity(cell)
    row.update(status="ok", steps=summary.steps, goal_reached=summary.goal_reached)
    row.update({k: v for k, v in metrics.items() if k.startswith("steps_to_")})
    # Achievements beyond the family's milestones (eat_cow, ...) get a column each too.
    row.update({f"steps_to_{m}": s for m, s in summary.milestones.items()
                if m not in milestones})
    row.update({k: metrics[k] for k in TAIL_COLUMNS})
    # Model usage (LLM agents), summed over agents: zeros for policies that report none.
    row.update({k: v for k, v in metrics.items() if k.startswith("llm_")})
    row.update(error="", config_hash=cell["config_hash"])
    return row


def failed_row(cell: Mapping[str, Any], error: str) -> dict[str, Any]:
    """The results row of a cell that raised: its identity and the error."""
    row = _identity(cell)
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
    milestones = list(dict.fromkeys(f"steps_to_{m}" for m in family_milestones(rows)
                                    if f"steps_to_{m}" in keys))
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
    seeds: int | Sequence[int] | None = None,
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
    ``seeds`` (a count or a list) replaces the suite's seeds.

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
        # Rows from before the max_steps column get it from their cell (same config hash).
        rows = [{**rows_by_key[c.key], "max_steps": c.config["max_steps"]} for c in cells
                if c.key in rows_by_key]
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
