"""Run outputs: per-step JSONL traces, per-episode metrics CSV and the summary table.

The episode runner fills an :class:`EpisodeSummary` per episode and writes its decision trace
with :class:`TraceWriter`; the CLI collects summaries into ``metrics.csv``
(:class:`MetricsWriter`) and prints them with :func:`print_summary`.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import statistics
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import numpy as np
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

USAGE_KEYS: tuple[str, ...] = (
    "decisions",
    "calls",
    "prompt_tokens",
    "completion_tokens",
    "parse_failures",
    "retries",
    "fallbacks",
    "cache_hits",
    "latency_s",
    "messages_written",
    "messages_rejected",
    "choices",
)
"""Model-usage counters a policy may report (LLM and skill agents), summed over agents per
episode: agent-steps decided, model calls, tokens, answers that could not be used,
messages the model wrote and those its memory check rejected, skill choices made."""


def metrics_columns(milestones: Sequence[str]) -> tuple[str, ...]:
    """The ``metrics.csv`` header for a world whose team milestones are `milestones`."""
    return (
        "scenario",
        "seed",
        "agents",
        "steps",
        "goal_reached",
        *(f"steps_to_{m}" for m in milestones),
        "messages_sent",
        "messages_delivered",
        "messages_rejected",
        "memory_nodes",
        "wall_seconds",
        *(f"llm_{k}" for k in USAGE_KEYS),
    )


@dataclass
class EpisodeSummary:
    """What one episode produced; returned by ``sim.episode.run_episode``.

    ``milestones`` maps a team achievement to the first step any agent reached it;
    ``messages`` holds the comm channel's total counters (``sent``, ``delivered``,
    ``rejected_*`` ... as in ``sim.comm.CommCounters``); ``memory_nodes`` is the node
    count of each agent's memory at the end; ``usage`` holds, per agent whose policy
    reports it, model-usage counters (``USAGE_KEYS``: LLM calls, tokens, parse failures...).
    """

    scenario: str
    seed: int
    n_agents: int
    steps: int
    goal_reached: bool
    family: str = ""
    milestones: dict[str, int] = field(default_factory=dict)
    per_agent_achievements: dict[str, dict[str, int]] = field(default_factory=dict)
    messages: dict[str, int] = field(default_factory=dict)
    memory_nodes: dict[str, int] = field(default_factory=dict)
    wall_seconds: float = 0.0
    out_dir: str | None = None
    usage: dict[str, dict[str, float]] = field(default_factory=dict)

    def usage_total(self, key: str) -> float:
        """One usage counter summed over agents (0 when no policy reports usage)."""
        return sum(u.get(key, 0) for u in self.usage.values())

    @property
    def messages_rejected(self) -> int:
        """All rejections (invalid, over budget, comm disabled) together."""
        return sum(v for k, v in self.messages.items() if k.startswith("rejected"))

    @property
    def total_memory_nodes(self) -> int:
        """Memory nodes summed over agents."""
        return sum(self.memory_nodes.values())


# --------------------------------------------------------------------------- traces


def to_jsonable(value: Any) -> Any:
    """``json.dumps`` fallback: numpy scalars/arrays, pydantic models, dataclasses, enums."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"trace value of type {type(value).__name__} is not JSON-serialisable")


class _OutputFile:
    """An output file that is a context manager and closes idempotently."""

    path: Path
    _file: IO[str] | None

    def close(self) -> None:
        """Flush and close the file (idempotent)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class TraceWriter(_OutputFile):
    """Append one JSON line per team step: ``{"step", "agents", "comm", "team"}``.

    Written through: each line is flushed as it is written, so a killed run leaves every
    finished step on disk (:meth:`sync` also asks the OS to, before a checkpoint is saved).
    ``resume_from=N`` continues an existing trace: its lines of steps before ``N`` are kept
    as they are, the file is cut after them (the resumed run writes those steps again,
    identically) and new lines are appended; without an existing file a new one starts at
    step ``N``. Without it the file is started anew. Use as a context manager (or call
    :meth:`close`).
    """

    def __init__(self, path: str | Path, resume_from: int | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lines = 0
        if resume_from is not None and self.path.exists():
            self.lines = _cut_trace(self.path, resume_from)
            self._file: IO[str] | None = self.path.open("a", encoding="utf-8")
        else:
            self._file = self.path.open("w", encoding="utf-8")

    def sync(self) -> None:
        """Make every line written so far durable (flush and fsync)."""
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())

    def write_step(
        self,
        step: int,
        agents: Mapping[str, Mapping[str, Any]],
        comm: Mapping[str, Any] | None = None,
        team: Mapping[str, Any] | None = None,
    ) -> None:
        """Record one team step; ``agents`` maps agent id to its decision record."""
        if self._file is None:
            raise ValueError(f"trace {self.path} is closed")
        record = {"step": step, "agents": agents, "comm": comm or {}, "team": team or {}}
        # Serialise first so a bad value cannot leave half a line in the file.
        line = json.dumps(record, default=to_jsonable, separators=(",", ":"))
        self._file.write(line + "\n")
        self._file.flush()
        self.lines += 1


def _cut_trace(path: Path, step: int) -> int:
    """Cut a trace file after its last line of a step before `step` (also dropping a torn
    last line); return how many lines it keeps."""
    keep_bytes, kept = 0, 0
    with path.open("rb") as file:
        for raw in file:
            try:
                record = json.loads(raw)
            except ValueError:
                break  # a line torn by a kill: everything from here is written again
            if not raw.endswith(b"\n") or not isinstance(record, dict) or not isinstance(
                    record.get("step"), int) or record["step"] >= step:
                break
            keep_bytes += len(raw)
            kept += 1
    os.truncate(path, keep_bytes)
    return kept



def trace_path(out_dir: str | Path, seed: int) -> Path:
    """Where an episode's trace goes in a run directory: ``<out_dir>/trace-seed<N>.jsonl``."""
    return Path(out_dir) / f"trace-seed{seed}.jsonl"


def read_trace(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield the step records of a trace written by :class:`TraceWriter`."""
    with Path(path).open(encoding="utf-8") as file:
        for lineno, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: invalid trace line: {exc}") from None


# --------------------------------------------------------------------------- metrics


def metrics_row(
    summary: EpisodeSummary, milestones: Sequence[str]
) -> dict[str, Any]:
    """One ``metrics.csv`` row (keys are ``metrics_columns(milestones)``; unreached
    milestones empty)."""
    row: dict[str, Any] = {
        "scenario": summary.scenario,
        "seed": summary.seed,
        "agents": summary.n_agents,
        "steps": summary.steps,
        "goal_reached": summary.goal_reached,
    }
    for m in milestones:
        row[f"steps_to_{m}"] = summary.milestones.get(m, "")
    row["messages_sent"] = summary.messages.get("sent", 0)
    row["messages_delivered"] = summary.messages.get("delivered", 0)
    row["messages_rejected"] = summary.messages_rejected
    row["memory_nodes"] = summary.total_memory_nodes
    row["wall_seconds"] = round(summary.wall_seconds, 3)
    for key in USAGE_KEYS:
        row[f"llm_{key}"] = round(summary.usage_total(key), 3)
    return row


class MetricsWriter(_OutputFile):
    """``metrics.csv``: a header, then one row per episode, flushed as each is written."""

    def __init__(self, path: str | Path, milestones: Sequence[str],
                 append: bool = False) -> None:
        """`append`: add rows to an existing file with the same columns (a resumed run)
        instead of starting it anew."""
        self.path = Path(path)
        self.milestones = tuple(milestones)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        columns = metrics_columns(self.milestones)
        header = ",".join(columns)
        keep = append and self.path.is_file() and _first_line(self.path) == header
        self._file: IO[str] | None = self.path.open("a" if keep else "w", encoding="utf-8",
                                                    newline="")
        self._writer = csv.DictWriter(self._file, fieldnames=columns)
        if not keep:
            self._writer.writeheader()

    def write(self, summary: EpisodeSummary) -> None:
        """Append the row of one episode (flushed, so a later crash keeps it)."""
        if self._file is None:
            raise ValueError(f"metrics file {self.path} is closed")
        self._writer.writerow(metrics_row(summary, self.milestones))
        self._file.flush()



def _first_line(path: Path) -> str:
    with path.open(encoding="utf-8", newline="") as file:
        return file.readline().rstrip("\r\n")


# --------------------------------------------------------------------------- statistics


def t_critical(confidence: float, df: int) -> float:
    """Two-sided critical value of Student's t: ``P(|T| <= t) = confidence``."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if df < 1:
        raise ValueError(f"df must be >= 1, got {df}")
    from scipy.stats import t  # imported here: most runs never print a summary

    return float(t.ppf(0.5 + confidence / 2, df))


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float | None]:
    """Mean and half-width of its t confidence interval (``None`` with fewer than 2 values)."""
    if not values:
        raise ValueError("mean_ci needs at least one value")
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, None
    sem = statistics.stdev(values) / math.sqrt(len(values))
    return mean, t_critical(confidence, len(values) - 1) * sem


# --------------------------------------------------------------------------- summary table


def _short(milestone: str) -> str:
    """Column label: ``make_wood_pickaxe`` -> ``wood_pickaxe``, ``place_table`` -> ``table``."""
    for prefix in ("collect_", "place_", "make_"):
        if milestone.startswith(prefix):
            return milestone.removeprefix(prefix)
    return milestone


def _fmt_ci(values: Sequence[float]) -> str:
    mean, half = mean_ci(values)
    return f"{mean:.1f}" if half is None else f"{mean:.1f} ± {half:.1f}"


MAX_SEED_COLUMNS = 8  # more seeds: only the aggregate column (every seed is in metrics.csv)


def summary_table(
    summaries: Sequence[EpisodeSummary], milestones: Sequence[str]
) -> Table:
    """The summary as a rich table: one row per team milestone (and steps, goal, messages,
    memory, LLM usage when any), one column per seed (up to `MAX_SEED_COLUMNS`), and with
    several seeds a last column with the mean ± 95% CI over the seeds that reached it
    (reached / seeds)."""
    title = ", ".join(sorted({s.scenario for s in summaries})) or "no episodes"
    table = Table(title=f"{title}: steps to each team milestone", show_lines=False)
    shown = list(summaries[:MAX_SEED_COLUMNS])
    many = len(summaries) > 1
    table.add_column("team milestone")
    for s in shown:
        table.add_column(f"seed {s.seed}", justify="right")
    if len(summaries) > len(shown):
        table.add_column(f"(+{len(summaries) - len(shown)} seeds)", justify="center")
    if many:
        table.add_column("mean ± 95% CI", justify="right", style="bold")
    hidden = ["…"] if len(summaries) > len(shown) else []
    n = len(summaries)

    def row(label: str, cells: list[str], aggregate: str) -> None:
        table.add_row(label, *cells, *hidden, *([aggregate] if many else []))

    row("steps", [str(s.steps) for s in shown], _fmt_ci([s.steps for s in summaries]))
    row("goal reached", ["yes" if s.goal_reached else "no" for s in shown],
        f"{sum(s.goal_reached for s in summaries)}/{n}")
    table.add_section()
    for m in milestones:
        # Only seeds that reached the milestone have a step count; the rate says how many.
        reached = [s.milestones[m] for s in summaries if m in s.milestones]
        row(_short(m), [str(s.milestones[m]) if m in s.milestones else "—" for s in shown],
            f"{_fmt_ci(reached)} ({len(reached)}/{n})" if reached else f"— (0/{n})")
    table.add_section()
    row("msgs sent/deliv",
        [f"{s.messages.get('sent', 0)}/{s.messages.get('delivered', 0)}" for s in shown],
        _fmt_ci([s.messages.get("sent", 0) for s in summaries]))
    row("memory nodes", [str(s.total_memory_nodes) for s in shown],
        _fmt_ci([s.total_memory_nodes for s in summaries]))
    if any(s.usage for s in summaries):
        table.add_section()
        for key, label in (("calls", "llm calls"), ("prompt_tokens", "tokens in"),
                           ("completion_tokens", "tokens out"),
                           ("parse_failures", "parse failures"), ("fallbacks", "fallbacks"),
                           ("choices", "skill choices"),
                           ("messages_rejected", "said, not sent")):
            values = [s.usage_total(key) for s in summaries]
            row(label, [f"{s.usage_total(key):.0f}" for s in shown], _fmt_ci(values))
    return table


def print_summary(
    summaries: Sequence[EpisodeSummary],
    console: Console,
    milestones: Sequence[str],
) -> None:
    """Print per-seed milestone steps, messages and memory size, plus mean ± 95% CI."""
    console.print(summary_table(summaries, milestones))
