"""Tests for run outputs (sim/output.py): traces, metrics CSV, confidence intervals, summary."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from memsim.sim.comm import CommConfig
from memsim.sim.families import CRAFTING_MILESTONES as TEAM_MILESTONES
from memsim.sim.output import (
    USAGE_KEYS,
    EpisodeSummary,
    MetricsWriter,
    TraceWriter,
    mean_ci,
    metrics_columns,
    print_summary,
    read_trace,
    t_critical,
    trace_path,
)

METRICS_COLUMNS = metrics_columns(TEAM_MILESTONES)


@dataclass
class _Decision:
    action: str
    ok: bool


def summary(seed: int, milestones: dict[str, int], **kw: object) -> EpisodeSummary:
    base: dict[str, object] = {
        "scenario": "demo",
        "seed": seed,
        "n_agents": 2,
        "steps": 100 + seed,
        "goal_reached": "collect_diamond" in milestones,
        "milestones": milestones,
        "messages": {"sent": 10, "delivered": 8, "rejected_budget": 2, "rejected_invalid": 1},
        "memory_nodes": {"agent_0": 40, "agent_1": 60},
        "wall_seconds": 1.23456,
    }
    base.update(kw)
    return EpisodeSummary(**base)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- traces


def test_trace_path() -> None:
    assert trace_path(Path("runs/x"), 4) == Path("runs/x/trace-seed4.jsonl")


def test_trace_round_trip_with_numpy_values(tmp_path: Path) -> None:
    path = trace_path(tmp_path / "sub", 0)
    with TraceWriter(path) as trace:
        trace.write_step(
            0,
            {
                "agent_0": {
                    "action": "do",
                    "ok": np.bool_(True),
                    "reward": np.float32(0.5),
                    "retrieved": np.array([3, 4], dtype=np.int64),
                    "pos": (np.int16(2), np.int16(5)),
                    "view": np.zeros((2, 2), dtype=np.uint8),
                    "decision": _Decision("noop", False),
                },
            },
            comm={"sent": np.int64(1), "config": CommConfig(delay_steps=2)},
            team={"milestones": {"collect_wood": np.int32(0)}},
        )
        trace.write_step(1, {"agent_0": {"action": "noop"}})
        assert trace.lines == 2
    records = list(read_trace(path))
    assert [r["step"] for r in records] == [0, 1]
    agent = records[0]["agents"]["agent_0"]
    assert agent["ok"] is True and agent["reward"] == 0.5
    assert agent["retrieved"] == [3, 4] and agent["pos"] == [2, 5]
    assert agent["view"] == [[0, 0], [0, 0]]
    assert agent["decision"] == {"action": "noop", "ok": False}
    assert records[0]["comm"]["sent"] == 1
    assert records[0]["comm"]["config"]["delay_steps"] == 2
    assert records[0]["team"] == {"milestones": {"collect_wood": 0}}
    # comm and team default to empty objects so every line has the same shape
    assert records[1] == {
        "step": 1,
        "agents": {"agent_0": {"action": "noop"}},
        "comm": {},
        "team": {},
    }
    # one JSON document per line
    assert len(path.read_text().splitlines()) == 2


def test_trace_rejects_unserialisable_values_without_a_partial_line(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with TraceWriter(path) as trace:
        trace.write_step(0, {"a": {"x": 1}})
        with pytest.raises(TypeError, match="object is not JSON-serialisable"):
            trace.write_step(1, {"a": {"x": object()}})
    assert [r["step"] for r in read_trace(path)] == [0]


def test_trace_write_after_close_fails(tmp_path: Path) -> None:
    trace = TraceWriter(tmp_path / "t.jsonl")
    trace.close()
    trace.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        trace.write_step(0, {})


def test_read_trace_names_a_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"step": 0, "agents": {}}\n{not json\n')
    with pytest.raises(ValueError, match=r"t.jsonl:2: invalid trace line"):
        list(read_trace(path))


# ----------------------------------------------------------------------------- metrics


def test_metrics_columns() -> None:
    assert METRICS_COLUMNS[:5] == ("scenario", "seed", "agents", "steps", "goal_reached")
    assert [c for c in METRICS_COLUMNS if c.startswith("steps_to_")] == [
        f"steps_to_{m}" for m in TEAM_MILESTONES
    ]
    assert "steps_to_collect_diamond" in METRICS_COLUMNS
    n = len(USAGE_KEYS)
    assert METRICS_COLUMNS[-n - 5:-n] == (
        "messages_sent",
        "messages_delivered",
        "messages_rejected",
        "memory_nodes",
        "wall_seconds",
    )
    assert METRICS_COLUMNS[-n:] == tuple(f"llm_{k}" for k in USAGE_KEYS)
    assert metrics_columns(("success",))[5] == "steps_to_success"


def test_metrics_csv_rows(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    with MetricsWriter(path, TEAM_MILESTONES) as metrics:
        metrics.write(summary(0, {"collect_wood": 5, "collect_diamond": 90}))
        # flushed per row: readable before close
        assert len(path.read_text().splitlines()) == 2
        metrics.write(summary(1, {"collect_wood": 7}, messages={}, memory_nodes={}))
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == METRICS_COLUMNS
        rows = list(reader)
    assert len(rows) == 2
    first, second = rows
    assert (first["scenario"], first["seed"], first["agents"]) == ("demo", "0", "2")
    assert (first["steps"], first["goal_reached"]) == ("100", "True")
    assert first["steps_to_collect_wood"] == "5" and first["steps_to_collect_diamond"] == "90"
    assert first["steps_to_place_table"] == ""  # not reached
    assert (first["messages_sent"], first["messages_delivered"]) == ("10", "8")
    assert first["messages_rejected"] == "3"  # budget + invalid
    assert first["memory_nodes"] == "100"  # summed over agents
    assert first["wall_seconds"] == "1.235"
    assert second["goal_reached"] == "False" and second["steps_to_collect_diamond"] == ""
    assert (second["messages_sent"], second["memory_nodes"]) == ("0", "0")


# ----------------------------------------------------------------------------- statistics


@pytest.mark.parametrize(
    ("confidence", "df", "table_value"),
    # two-sided critical values from a standard t table
    [
        (0.95, 1, 12.706),
        (0.95, 2, 4.303),
        (0.95, 3, 3.182),
        (0.95, 9, 2.262),
        (0.95, 19, 2.093),
        (0.95, 30, 2.042),
        (0.99, 5, 4.032),
        (0.90, 10, 1.812),
    ],
)
def test_t_critical_matches_the_table(confidence: float, df: int, table_value: float) -> None:
    assert t_critical(confidence, df) == pytest.approx(table_value, abs=5e-4)


def test_t_critical_approaches_the_normal_quantile() -> None:
    assert t_critical(0.95, 5000) == pytest.approx(1.960, abs=1e-3)


@pytest.mark.parametrize(("confidence", "df"), [(0.0, 3), (1.0, 3), (0.95, 0)])
def test_t_critical_rejects_bad_arguments(confidence: float, df: int) -> None:
    with pytest.raises(ValueError):
        t_critical(confidence, df)


def test_mean_ci_hand_computed() -> None:
    # values 10, 12, 14, 16: mean 13, sample sd sqrt(20/3) = 2.5820, sem = 1.2910,
    # t(0.975, 3) = 3.1824 -> half-width 4.1085
    mean, half = mean_ci([10, 12, 14, 16])
    assert mean == 13
    assert half == pytest.approx(4.1085, abs=1e-4)


def test_mean_ci_edge_cases() -> None:
    assert mean_ci([7]) == (7, None)
    assert mean_ci([5, 5, 5]) == (5, 0)
    with pytest.raises(ValueError):
        mean_ci([])


# ----------------------------------------------------------------------------- summary table


def table_cells(line: str) -> list[str]:
    """The stripped cells of one rendered table row ([] for rules and titles)."""
    parts = line.replace("┃", "│").split("│")
    return [p.strip() for p in parts[1:-1]] if len(parts) > 2 else []


def render(summaries: list[EpisodeSummary]) -> str:
    console = Console(record=True, width=400, color_system=None)
    print_summary(summaries, console, TEAM_MILESTONES)
    return console.export_text()


def test_summary_with_several_seeds_has_ci_row() -> None:
    text = render(
        [
            summary(0, {"collect_wood": 10, "collect_diamond": 100}),
            summary(1, {"collect_wood": 20, "collect_diamond": 200}),
            summary(2, {"collect_wood": 30}),
        ]
    )
    rows = {cells[0]: cells for cells in map(table_cells, text.splitlines()) if cells}
    header = rows["team milestone"]
    assert header == ["team milestone", "seed 0", "seed 1", "seed 2", "mean ± 95% CI"]
    # wood: 10, 20, 30 -> mean 20, sd 10, sem 5.774, t(2) = 4.303 -> 24.8
    assert rows["wood"] == ["wood", "10", "20", "30", "20.0 ± 24.8 (3/3)"]
    # diamond reached by 2 of 3: 100, 200 -> mean 150, sem 50, t(1) = 12.706 -> 635.3
    assert rows["diamond"] == ["diamond", "100", "200", "—", "150.0 ± 635.3 (2/3)"]
    assert rows["table"][-1] == "— (0/3)"  # never reached
    assert rows["goal reached"] == ["goal reached", "yes", "yes", "no", "2/3"]
    # steps 100, 101, 102 -> mean 101, sd 1, sem 0.577, t(2) = 4.303 -> 2.5
    assert rows["steps"] == ["steps", "100", "101", "102", "101.0 ± 2.5"]
    assert rows["msgs sent/deliv"][1] == "10/8"
    assert rows["memory nodes"][1] == "100"


def test_summary_with_many_seeds_shows_the_aggregate() -> None:
    text = render([summary(i, {"collect_wood": 10 + i}) for i in range(12)])
    rows = {cells[0]: cells for cells in map(table_cells, text.splitlines()) if cells}
    assert rows["team milestone"][-2:] == ["(+4 seeds)", "mean ± 95% CI"]
    assert rows["wood"][-1].endswith("(12/12)")


def test_summary_single_seed_has_no_ci_row() -> None:
    text = render([summary(0, {"collect_wood": 10})])
    assert "mean ± 95% CI" not in text
    assert "demo" in text and "wood_pickaxe" in text


def test_llm_usage_is_summed_over_agents_in_metrics_and_shown_in_the_summary(
    tmp_path: Path,
) -> None:
    usage = {"agent_0": {"calls": 5, "prompt_tokens": 1000, "parse_failures": 1},
             "agent_1": {"calls": 5, "prompt_tokens": 900, "completion_tokens": 50}}
    path = tmp_path / "metrics.csv"
    with MetricsWriter(path, TEAM_MILESTONES) as metrics:
        metrics.write(summary(0, {}, usage=usage))
        metrics.write(summary(1, {}))
    with path.open(newline="") as f:
        with_usage, without = list(csv.DictReader(f))
    assert (with_usage["llm_calls"], with_usage["llm_prompt_tokens"]) == ("10", "1900")
    assert (with_usage["llm_completion_tokens"], with_usage["llm_parse_failures"]) == ("50", "1")
    assert without["llm_calls"] == "0"
    console = Console(record=True, width=200)
    print_summary([summary(0, {}, usage=usage)], console, TEAM_MILESTONES)
    text = console.export_text()
    assert "llm calls" in text and "1900" in text
    console = Console(record=True, width=200)
    print_summary([summary(0, {})], console, TEAM_MILESTONES)
    assert "llm calls" not in console.export_text()


def test_metrics_for_another_world_use_its_milestones(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    with MetricsWriter(path, milestones=("success",)) as metrics:
        metrics.write(summary(0, {"success": 42}))
    with path.open(newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["steps_to_success"] == "42" and "steps_to_collect_wood" not in row
