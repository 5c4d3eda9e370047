"""The benchmark report: ``report.md``, the console summary table and the plots.

The numbers come from :mod:`sim.bench_stats` (censored steps, seeded bootstrap intervals,
IQM, paired comparisons) and the figures from :mod:`sim.bench_plots`. Per scenario and
team size the report has a table of groups and a table of paired comparisons with the
reference ablation; then the team-size comparison ("fewer steps than 1 agent"), the
suite's published reference figures, steps to each milestone, where each paired
difference arises (phase by phase between milestones), an aggregate over scenarios
(suites with several), failed cells and the plots; a "how to read this" section explains
them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from memsim.sim.bench_milestones import PhaseComparison, milestone_stats, phase_comparisons
from memsim.sim.bench_plots import (
    PLOT_FILES,
    plot_messages,
    plot_milestones,
    plot_paired,
    plot_steps,
    plot_success,
)
from memsim.sim.bench_stats import (
    MIN_INTERVAL_N,
    N_RESAMPLES,
    AggregateStats,
    Estimate,
    GroupStats,
    PairedComparison,
    aggregate_stats,
    group_stats,
    paired_comparisons,
    read_results,
)
from memsim.sim.suite import format_seeds

if TYPE_CHECKING:
    from memsim.sim.suite import Suite

__all__ = ["PLOT_FILES", "REPORT_FILE", "read_results", "render_report", "summary_table",
           "write_report"]

REPORT_FILE = "report.md"
Row = Mapping[str, Any]


# --------------------------------------------------------------------------- formatting


def _digits(values: Any) -> int:
    """Steps get one decimal while all are below 100, none from 100 on."""
    return 0 if max((abs(v) for v in values), default=0) >= 100 else 1


def _num(value: float, digits: int, signed: bool = False) -> str:
    return f"{value:{'+' if signed else ''}.{digits}f}".replace("-", "−")


def _est(e: Estimate | None, signed: bool = False, scale: float = 1.0, unit: str = "",
         fmt: Any = None) -> str:
    """``value [low, high]`` (the interval is not symmetric, so no ±)."""
    if e is None:
        return "-"
    digits = _digits(scale * v for v in (e.value, e.low, e.high) if v is not None)
    show = fmt or (lambda v: _num(v, digits, signed))
    text = show(scale * e.value) + unit
    if e.has_interval:
        text += f" [{show(scale * e.low)}, {show(scale * e.high)}]"  # type: ignore[operator]
    return text


def _ratio(e: Estimate | None) -> str:
    return _est(e, fmt=lambda v: f"{v:.2f}")


def _percent(e: Estimate | None) -> str:
    return _est(e, unit="%", fmt=lambda v: f"{v:.0f}".replace("-", "−"))


def _points(e: Estimate | None) -> str:
    """A difference of rates in percentage points."""
    return _est(e, scale=100, unit=" pp", fmt=lambda v: f"{v:+.0f}".replace("-", "−"))


def _success(s: GroupStats) -> str:
    if s.success_rate is None or s.success_ci is None:
        return "-"
    low, high = s.success_ci
    return f"{100 * s.success_rate:.0f}% ({100 * low:.0f}-{100 * high:.0f}%)"


def _plain(value: float | None, digits: int = 0, suffix: str = "") -> str:
    return "-" if value is None else f"{value:.{digits}f}{suffix}"


def _steps(value: float | None) -> str:
    return "-" if value is None else _num(value, _digits([value]))


def _agents_label(agents: int) -> str:
    return f"{agents} agent" + ("s" if agents > 1 else "")


def _baseline_label(suite: Suite) -> str:
    return _agents_label(suite.baseline.agents if suite.baseline else 1)


def _compared(s: GroupStats) -> str:
    return f"{s.fewer_pairs} paired seeds" if s.fewer_pairs else "unpaired"


def _table(header: Sequence[str], align: str, rows: Sequence[Sequence[str]]) -> list[str]:
    """A markdown table; ``align`` has one letter per column: ``l`` or ``r``."""
    marks = ["---:" if a == "r" else "---" for a in align]
    return ["| " + " | ".join(header) + " |", "|" + "|".join(marks) + "|",
            *("| " + " | ".join(str(c).replace("|", "/") for c in row) + " |" for row in rows)]


# --------------------------------------------------------------------------- sections


def how_to_read(suite: Suite) -> list[str]:
    """The report's explanation of its numbers."""
    ref, base = suite.reference_ablation(), _baseline_label(suite)
    return [
        "## How to read this", "",
        "- **Failures count.** An episode that did not reach the goal counts as its step "
        "limit (`max_steps`, a column of results.csv). For a failed episode that is a lower "
        "bound (it would have needed at least that many steps), so every steps figure is a "
        "lower bound for groups with failures: read it together with the success rate.",
        "- **Groups** (one scenario, team size and ablation over its seeds): success rate "
        "with a 95% Wilson interval; mean steps with a 95% bootstrap interval (BCa, "
        f"{N_RESAMPLES + 1:,} resamples of the seeds, fixed random seed: the same numbers on "
        "every run); the median; the IQM (interquartile mean: the mean of the middle 50% of "
        "episodes, robust to a few very long ones) with a 95% stratified-bootstrap interval as "
        "in rliable (Agarwal et al. 2021). n is the number of episodes; cells that raised an "
        "error are not episodes (see Failed cells). Intervals are `[low, high]`: they are not "
        f"symmetric. Fewer than {MIN_INTERVAL_N} values get no bootstrap interval (and no "
        "verdict), and with few seeds (under about 20) bootstrap intervals tend to be too "
        "narrow.",
        f"- **Paired comparisons.** Every group of a scenario and team size runs the same "
        f"seeds (the same worlds), so each ablation is compared with `{ref}` seed by seed: "
        f"Δ steps is the mean over seeds of (ablation − {ref}), positive when the ablation "
        f"needed more steps; the ratio is the ablation's mean steps / {ref}'s on the same "
        "seeds; Δ success is the difference in success rate in percentage points. Only seeds "
        "present in both groups count (pairs). The verdict is \"worse\" or \"better\" only "
        "when the 95% interval excludes zero, otherwise \"no significant difference\", which "
        "is not evidence of no effect: the interval shows how large an effect the data still "
        "allow.",
        f"- **Team size.** \"Fewer steps than {base}\" is 1 − (the group's mean steps / "
        f"{base}'s) in the same scenario, paired by seed over the seeds both ran (else "
        f"unpaired), with a 95% bootstrap interval; \"shorter on seeds\" is the share of those "
        f"seeds on which the team's episode was shorter than {base}'s.",
        "- **Plots** draw intervals of quantities that cannot be negative (steps, rates) "
        "clipped at 0 (rates also at 100%); each caption gives n and what its bars are.",
    ]


def group_section(stats: Sequence[GroupStats], comparisons: Sequence[PairedComparison],
                  reference: str) -> list[str]:
    """One scenario and team size: the groups, then the paired comparisons."""
    first = stats[0]
    lines = [f"## {first.scenario}, {_agents_label(first.agents)}", ""]
    lines += _table(
        ["ablation", "n", "success (95% CI)", "mean steps [95% CI]", "median",
         "IQM [95% CI]", "messages sent / delivered per step"], "lrrrrrr",
        [[s.ablation, str(s.episodes), _success(s), _est(s.steps), _steps(s.steps_median),
          _est(s.steps_iqm),
          f"{_plain(s.messages_per_step, 3)} / {_plain(s.delivered_per_step, 3)}"]
         for s in stats])
    if comparisons:
        lines += ["", f"Paired with `{reference}` on the same seeds (ablation − {reference}):",
                  ""]
        lines += _table(
            ["ablation", "pairs", "Δ steps [95% CI]", "steps ratio [95% CI]", "verdict (steps)",
             "Δ success [95% CI]", "verdict (success)"], "lrrrlrl",
            [[c.ablation, str(c.pairs), _est(c.difference, signed=True), _ratio(c.ratio),
              c.verdict, _points(c.success_difference), c.success_verdict]
             for c in comparisons])
        left_out = sum(c.left_out for c in comparisons)
        if left_out:
            lines += ["", f"{left_out} episodes left out of the pairs: their seed ran in one "
                          "of the two groups only."]
    return [*lines, ""]


def team_size_section(suite: Suite, stats: Sequence[GroupStats]) -> list[str]:
    """"Fewer steps than the baseline team size", with intervals."""
    shown = [s for s in stats if s.fewer_steps is not None]
    if not shown:
        return []
    base = _baseline_label(suite)
    lines = [f"## Team size: fewer steps than {base} ({suite.baseline_ablation()})", ""]
    return lines + _table(
        ["scenario", "agents", "ablation", f"fewer steps than {base} [95% CI]", "compared",
         "shorter on seeds"], "lrlrrr",
        [[s.scenario, str(s.agents), s.ablation, _percent(s.fewer_steps), _compared(s),
          _plain(s.faster_seeds_pct, 0, "%")] for s in shown]) + [""]


def comparison_paragraph(suite: Suite, stats: Sequence[GroupStats]) -> str:
    """Our "fewer steps than the baseline" next to the suite's published reference figures."""
    if suite.reference is None:
        return ""
    ablation, source = suite.baseline_ablation(), suite.reference.source
    sentences = []
    for size_text, theirs in sorted(suite.reference.fewer_steps_percent.items(),
                                    key=lambda kv: int(kv[0])):
        size = int(size_text)
        ours = [s for s in stats if (s.agents, s.ablation) == (size, ablation)]
        if not ours:
            sentences.append(f"With {size} agents: not in these results ({source} reports "
                             f"{theirs:.0f}% fewer steps).")
        for s in ours:
            if s.fewer_steps is None:
                sentences.append(f"With {size} agents ({s.scenario}): no comparison (no "
                                 f"{_baseline_label(suite)} group); {source} reports "
                                 f"{theirs:.0f}%.")
                continue
            e = s.fewer_steps
            where = ("no interval (too few seeds)" if not e.has_interval else
                     "inside our 95% interval" if e.low <= theirs <= e.high  # type: ignore
                     else "above our 95% interval" if theirs > e.high  # type: ignore
                     else "below our 95% interval")
            sentences.append(
                f"With {size} agents ({s.scenario}, {ablation}): {_percent(e)} fewer steps "
                f"than {_baseline_label(suite)} (negative: more; {_compared(s)}; failures "
                f"counted at the step limit; {s.successes}/{s.episodes} reached the goal); "
                f"{source} reports {theirs:.0f}% fewer, {where}.")
    return " ".join(sentences)


def milestone_section(rows: Sequence[Row], ablation: str) -> list[str]:
    """Steps to each milestone by team size (the reference ablation)."""
    data = milestone_stats(rows, ablation)
    sizes = sorted({a for per in data.values() for a in per})
    table = []
    for scenario, by_agents in data.items():
        cells = {a: {m.milestone: m for m in ms} for a, ms in by_agents.items()}
        order = list(dict.fromkeys(m.milestone for ms in by_agents.values() for m in ms))
        for milestone in order:
            row = [scenario, milestone]
            for a in sizes:
                m = cells.get(a, {}).get(milestone)
                row.append("-" if m is None else f"{_est(m.steps)} ({m.reached}/{m.episodes})")
            table.append(row)
    if not table:
        return []
    return [f"## Steps to each milestone ({ablation})", "",
            "Mean steps to first reach each milestone with a 95% bootstrap interval (BCa); a "
            "milestone not reached counts as the step limit (a lower bound). In brackets "
            "after it: the episodes that reached the milestone / all episodes.", "",
            *_table(["scenario", "milestone", *map(_agents_label, sizes)],
                    "ll" + "r" * len(sizes), table), ""]


def phase_section(phases: Sequence[PhaseComparison]) -> list[str]:
    """Per ablation: the paired difference of each phase's length, by scenario and team
    size (where the difference in steps arises)."""
    if not phases:
        return []
    reference = phases[0].reference
    lines = [f"## Where the difference arises: phases, paired with `{reference}`", "",
             "A phase ends once the team has reached every milestone up to the one named "
             "(in the order listed; censored at the step limit), the last at the goal. Each "
             f"cell is the mean over seeds of (the ablation's phase length − `{reference}`'s) "
             "with its 95% BCa bootstrap interval; a row's cells add up to its Δ steps "
             "above. Positive: the ablation took longer in that phase.", ""]
    for ablation in dict.fromkeys(p.ablation for p in phases):
        mine = [p for p in phases if p.ablation == ablation]
        names = list(dict.fromkeys(n for p in mine for n, _ in p.phases))
        rows = []
        for p in mine:
            cells = dict(p.phases)
            rows.append([p.scenario, str(p.agents), str(p.pairs),
                         *(_est(cells[n], signed=True) if n in cells else "-" for n in names)])
        lines += [f"`{ablation}` − `{reference}`:", "",
                  *_table(["scenario", "agents", "pairs", *names], "lrr" + "r" * len(names),
                          rows), ""]
    return lines


def aggregate_section(aggregates: Sequence[AggregateStats]) -> list[str]:
    """Per team size and ablation over scenarios (suites with several scenarios)."""
    return ["## Across scenarios", "",
            "Per team size and ablation over every scenario that has it: success rate and "
            "the IQM of steps / step limit (0-1, so tasks of different lengths compare; "
            "failures count as 1), with 95% stratified-bootstrap intervals (seeds resampled "
            "within each scenario, as rliable).", "",
            *_table(["agents", "ablation", "scenarios", "episodes", "success [95% CI]",
                     "IQM of steps / limit [95% CI]"], "rlrrrr",
                    [[str(a.agents), a.ablation, str(a.scenarios), str(a.success.n),
                      _est(a.success, scale=100, unit="%", fmt=lambda v: f"{v:.0f}"),
                      _est(a.steps_iqm, fmt=lambda v: f"{v:.2f}")] for a in aggregates]), ""]


def render_report(suite: Suite, rows: Sequence[Row], stats: Sequence[GroupStats],
                  comparisons: Sequence[PairedComparison] = (),
                  plots: Sequence[Path] = ()) -> str:
    """``report.md``: groups and paired comparisons per scenario and team size, team size,
    the reference figures, milestones, across scenarios, failed cells, plots."""
    failed = [r for r in rows if r["status"] == "failed"]
    reference = suite.reference_ablation()
    limits = sorted({s.max_steps for s in stats if s.max_steps is not None})
    lines = [
        f"# Benchmark suite `{suite.name}`", "",
        *([suite.description, ""] if suite.description else []),
        f"{len(rows)} cells ({len(rows) - len(failed)} ran, {len(failed)} failed; seeds "
        f"{format_seeds(sorted({int(r['seed']) for r in rows})) or 'none'}), each one "
        "episode run with the direct executor (the LangGraph node functions without "
        "LangGraph, tested to give identical trajectories). Step limit: "
        f"{', '.join(f'{v:.0f}' for v in limits) or '-'}. Reference ablation: `{reference}`.",
        "", *how_to_read(suite), "",
    ]
    keys = list(dict.fromkeys((s.scenario, s.agents) for s in stats))
    for key in keys:
        lines += group_section([s for s in stats if (s.scenario, s.agents) == key],
                               [c for c in comparisons if (c.scenario, c.agents) == key],
                               reference)
    lines += team_size_section(suite, stats)
    paragraph = comparison_paragraph(suite, stats)
    if paragraph and suite.reference is not None:
        lines += [f"## Against {suite.reference.source}", "", paragraph, ""]
    lines += milestone_section(rows, reference)
    lines += phase_section(phase_comparisons(rows, reference))
    if len({s.scenario for s in stats}) > 1:
        lines += aggregate_section(aggregate_stats(rows))
    if failed:
        lines += [f"## Failed cells ({len(failed)})", "",
                  *_table(["scenario", "agents", "ablation", "seed", "error"], "lrlrl",
                          [[r["scenario"], str(r["agents"]), r["ablation"], str(r["seed"]),
                            str(r["error"])] for r in failed]), ""]
    if plots:
        lines += ["## Plots", "", *(f"![{p.stem}]({p.name})" for p in plots), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def summary_table(suite: Suite, rows: Sequence[Row]) -> Table:
    """The key numbers of the report as a rich table (for the terminal)."""
    reference = suite.reference_ablation()
    base = suite.baseline.agents if suite.baseline else 1
    stats = group_stats(rows, base, suite.baseline_ablation())
    paired = {(c.scenario, c.agents, c.ablation): c
              for c in paired_comparisons(rows, reference)}
    table = Table(title=f"suite {suite.name}: steps to the goal (failures at the step "
                        "limit), 95% bootstrap intervals")
    for name in ("scenario", "agents", "ablation", "n", "success (95% CI)", "mean steps",
                 "median", "IQM", f"Δ steps vs {reference} (pairs)", "verdict",
                 f"fewer than {_baseline_label(suite)}", "failed"):
        table.add_column(name, justify="left" if name in ("scenario", "ablation", "verdict")
                         else "right")
    for s in stats:
        c = paired.get(s.group)
        table.add_row(s.scenario, str(s.agents), s.ablation, str(s.episodes), _success(s),
                      _est(s.steps), _steps(s.steps_median), _est(s.steps_iqm),
                      "-" if c is None else f"{_est(c.difference, signed=True)} ({c.pairs})",
                      "-" if c is None else c.verdict, _percent(s.fewer_steps), str(s.failed))
    return table


def write_report(suite: Suite, rows: Sequence[Row], out_dir: Path) -> list[Path]:
    """Write the plots and ``report.md`` for a suite's results rows; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    reference = suite.reference_ablation()
    base = suite.baseline.agents if suite.baseline else 1
    stats = group_stats(rows, base, suite.baseline_ablation())
    comparisons = paired_comparisons(rows, reference)
    plots: list[Path] = []
    if any(s.episodes for s in stats):
        shown = [s for s in stats if s.episodes]
        plots = [plot_success(shown, out_dir / PLOT_FILES["success"]),
                 plot_steps(shown, out_dir / PLOT_FILES["steps"])]
        if comparisons:
            plots.append(plot_paired(comparisons, out_dir / PLOT_FILES["paired"]))
        plots += [plot_milestones(milestone_stats(rows, reference), reference,
                                  out_dir / PLOT_FILES["milestones"]),
                  plot_messages(shown, out_dir / PLOT_FILES["messages"])]
    report = out_dir / REPORT_FILE
    report.write_text(render_report(suite, rows, stats, comparisons, plots), encoding="utf-8")
    return [*plots, report]
