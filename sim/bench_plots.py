"""The benchmark's plots (matplotlib, Agg): small multiples, one panel per scenario (or per
scenario and team size), at most :data:`MAX_COLUMNS` panels a row, a legend outside the
panels, and a caption saying what the points or bars are, what the error bars are and n.

Error bars of quantities that cannot be negative (steps, rates) are clipped at 0 (rates
also at 1) by :func:`error_bar_extents`; the bar data each plot draws comes from a pure
function (:func:`success_bars`, :func:`steps_bars`, :func:`milestone_lines`,
:func:`paired_points`) so tests can check the numbers given to matplotlib.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memsim.sim.bench_milestones import MilestoneStats
from memsim.sim.bench_stats import Estimate, GroupStats, PairedComparison

PLOT_FILES = {
    "success": "success_by_ablation.png",
    "steps": "steps_by_ablation.png",
    "paired": "paired_differences.png",
    "milestones": "milestones_by_team_size.png",
    "messages": "messages_per_step.png",
}
MAX_COLUMNS = 3
PANEL = (4.8, 3.4)  # inches per panel
DPI = 100
CHARS_PER_INCH = 12  # caption characters a line per inch of figure width (10 pt)


def error_bar_extents(values: Sequence[float], lows: Sequence[float | None],
                      highs: Sequence[float | None], floor: float | None = 0.0,
                      ceiling: float | None = None) -> tuple[list[float], list[float]]:
    """Matplotlib's ``yerr`` (lengths below and above each value) for intervals
    ``[low, high]``, the drawn interval clipped to ``[floor, ceiling]`` (``None``: no
    clipping; no interval: no bar)."""
    below, above = [], []
    for value, low, high in zip(values, lows, highs, strict=True):
        if low is None or high is None:
            below.append(0.0)
            above.append(0.0)
            continue
        if floor is not None:
            low = max(low, floor)
        if ceiling is not None:
            high = min(high, ceiling)
        below.append(max(0.0, value - low))
        above.append(max(0.0, high - value))
    return below, above


@dataclass(frozen=True)
class Bars:
    """One series of a panel: positions, heights and error-bar lengths as drawn."""

    label: str
    xs: list[float]
    heights: list[float]
    below: list[float]
    above: list[float]

    @property
    def bottoms(self) -> list[float]:
        """Where each error bar starts."""
        return [h - b for h, b in zip(self.heights, self.below, strict=True)]

    @property
    def tops(self) -> list[float]:
        """Where each error bar ends."""
        return [h + a for h, a in zip(self.heights, self.above, strict=True)]


def _agents_label(agents: int) -> str:
    return f"{agents} agent" + ("s" if agents > 1 else "")


def _n_text(ns: Sequence[int], unit: str) -> str:
    ns = [n for n in ns if n]
    if not ns:
        return f"n = 0 {unit}"
    low, high = min(ns), max(ns)
    return f"n = {low} {unit}" if low == high else f"n = {low}-{high} {unit}"


def _grouped_bars(stats: Sequence[GroupStats], scenario: str, value: Any,
                  floor: float | None, ceiling: float | None) -> tuple[list[str], list[Bars]]:
    """Bars per team size over the scenario's ablations; ``value(s)`` gives
    ``(height, low, high)`` or ``None`` (no bar)."""
    mine = [s for s in stats if s.scenario == scenario]
    ablations = list(dict.fromkeys(s.ablation for s in mine))
    sizes = sorted({s.agents for s in mine})
    width = 0.8 / max(1, len(sizes))
    series = []
    for i, agents in enumerate(sizes):
        group = {s.ablation: s for s in mine if s.agents == agents}
        xs, heights, lows, highs = [], [], [], []
        for a, ablation in enumerate(ablations):
            got = value(group[ablation]) if ablation in group else None
            if got is None:
                continue
            xs.append(a + (i - (len(sizes) - 1) / 2) * width)
            heights.append(got[0])
            lows.append(got[1])
            highs.append(got[2])
        below, above = error_bar_extents(heights, lows, highs, floor, ceiling)
        series.append(Bars(_agents_label(agents), xs, heights, below, above))
    return ablations, series


def success_bars(stats: Sequence[GroupStats], scenario: str) -> tuple[list[str], list[Bars]]:
    """Success rate (%) per ablation and team size with its Wilson interval, in [0, 100]."""
    def value(s: GroupStats) -> tuple[float, float, float] | None:
        if s.success_rate is None or s.success_ci is None:
            return None
        return 100 * s.success_rate, 100 * s.success_ci[0], 100 * s.success_ci[1]

    return _grouped_bars(stats, scenario, value, 0.0, 100.0)


def steps_bars(stats: Sequence[GroupStats], scenario: str) -> tuple[list[str], list[Bars]]:
    """IQM of censored steps per ablation and team size with its interval, clipped at 0."""
    def value(s: GroupStats) -> tuple[float, float | None, float | None] | None:
        return None if s.steps_iqm is None else (s.steps_iqm.value, s.steps_iqm.low,
                                                 s.steps_iqm.high)

    return _grouped_bars(stats, scenario, value, 0.0, None)


def milestone_lines(by_agents: dict[int, list[MilestoneStats]]) -> tuple[list[str], list[Bars]]:
    """Mean censored steps to each milestone, one series per team size, clipped at 0."""
    order = list(dict.fromkeys(m.milestone for per in by_agents.values() for m in per))
    series = []
    for agents, per in sorted(by_agents.items()):
        heights = [m.steps.value for m in per]
        below, above = error_bar_extents(heights, [m.steps.low for m in per],
                                         [m.steps.high for m in per])
        series.append(Bars(_agents_label(agents), [order.index(m.milestone) for m in per],
                           heights, below, above))
    return order, series


def paired_points(comparisons: Sequence[PairedComparison]) -> tuple[list[str], Bars]:
    """Mean paired steps difference per ablation with its interval (not clipped: a
    difference can be negative); labels carry the number of pairs."""
    shown = [c for c in comparisons if c.difference is not None]
    labels = [f"{c.ablation} (n={c.pairs})" for c in shown]
    diffs: list[Estimate] = [c.difference for c in shown]  # type: ignore[misc]
    values = [d.value for d in diffs]
    below, above = error_bar_extents(values, [d.low for d in diffs], [d.high for d in diffs],
                                     floor=None)
    return labels, Bars("mean difference", list(range(len(shown))), values, below, above)


# --------------------------------------------------------------------------- figures


def _panels(count: int) -> tuple[Any, list[Any]]:
    """A figure of ``count`` panels, ``MAX_COLUMNS`` a row; unused axes hidden."""
    from matplotlib.figure import Figure  # a bare Figure: no pyplot global state

    ncols = max(1, min(MAX_COLUMNS, count))
    nrows = max(1, math.ceil(count / ncols))
    # At least two panels wide, so the caption has room on a one-panel figure.
    fig = Figure(figsize=(PANEL[0] * max(ncols, 2), PANEL[1] * nrows + 1.2),
                 layout="constrained")
    axes = list(fig.subplots(nrows, ncols, squeeze=False).flat)
    for ax in axes[count:]:
        ax.set_visible(False)
    return fig, axes[:max(count, 1)]


def _finish(fig: Any, axes: Sequence[Any], title: str, caption: str, path: Path) -> Path:
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 6))
    chars = int(fig.get_figwidth() * CHARS_PER_INCH)
    fig.suptitle(textwrap.fill(title, chars) + "\n" + textwrap.fill(caption, chars),
                 fontsize=10)
    # The caption is also in the PNG's text chunks (Title, Description) for tools and tests.
    fig.savefig(path, dpi=DPI, metadata={"Title": title, "Description": caption})
    return path


def _bar_panel(ax: Any, ablations: list[str], series: Sequence[Bars], ylabel: str) -> None:
    width = 0.8 / max(1, len(series))
    for bars in series:
        errors = [bars.below, bars.above] if any(bars.below + bars.above) else None
        ax.bar(bars.xs, bars.heights, width, yerr=errors, capsize=3, label=bars.label)
    ax.set_xticks(range(len(ablations)), ablations, rotation=25, ha="right", fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)


def _scenarios(stats: Sequence[GroupStats]) -> list[str]:
    return list(dict.fromkeys(s.scenario for s in stats))


def plot_success(stats: Sequence[GroupStats], path: Path) -> Path:
    """Success rate by ablation and team size, one panel per scenario."""
    scenarios = _scenarios(stats)
    fig, axes = _panels(len(scenarios))
    for ax, scenario in zip(axes, scenarios, strict=False):
        _bar_panel(ax, *success_bars(stats, scenario), "success rate (%)")
        ax.set_ylim(0, 105)
        ax.set_title(scenario, fontsize=9)
    return _finish(fig, axes, "Success rate by ablation",
                   "bars: 95% Wilson interval, drawn within 0-100%; "
                   + _n_text([s.episodes for s in stats], "episodes per group"), path)


def plot_steps(stats: Sequence[GroupStats], path: Path) -> Path:
    """IQM of censored steps by ablation and team size, one panel per scenario."""
    scenarios = _scenarios(stats)
    fig, axes = _panels(len(scenarios))
    for ax, scenario in zip(axes, scenarios, strict=False):
        _bar_panel(ax, *steps_bars(stats, scenario), "steps (IQM, failures at the limit)")
        ax.set_title(scenario, fontsize=9)
    return _finish(fig, axes, "Steps to the goal by ablation: interquartile mean; a failed "
                   "episode counts as the step limit (a lower bound)",
                   "bars: 95% stratified-bootstrap CI of the IQM (seeds resampled), clipped "
                   "at 0; " + _n_text([s.episodes for s in stats], "seeds per group"), path)


def plot_paired(comparisons: Sequence[PairedComparison], path: Path) -> Path:
    """Per scenario and team size: each ablation's mean paired difference in steps from the
    reference ablation, with its interval and a zero line."""
    keys = list(dict.fromkeys((c.scenario, c.agents) for c in comparisons))
    fig, axes = _panels(len(keys))
    for ax, (scenario, agents) in zip(axes, keys, strict=False):
        mine = [c for c in comparisons if (c.scenario, c.agents) == (scenario, agents)]
        labels, points = paired_points(mine)
        ax.errorbar(points.heights, points.xs, xerr=[points.below, points.above], fmt="o",
                    capsize=3, label="mean difference")
        ax.axvline(0, color="grey", linewidth=1, linestyle="--")
        ax.set_yticks(points.xs, labels, fontsize=8)
        ax.set_ylim(-0.7, max(len(labels), 1) - 0.3)
        ax.invert_yaxis()
        ax.set_xlabel("steps: ablation − reference (same seed)", fontsize=8)
        ax.set_title(f"{scenario}, {_agents_label(agents)}", fontsize=9)
    reference = comparisons[0].reference if comparisons else "reference"
    return _finish(fig, axes, f"Paired difference in steps from {reference} (failures at the "
                   "step limit); right of 0: more steps than " + reference,
                   "points: mean over seeds of (ablation − reference); bars: 95% bootstrap "
                   "CI (BCa, seeds resampled); " + _n_text([c.pairs for c in comparisons],
                                                           "pairs per ablation"), path)


def plot_milestones(milestones: dict[str, dict[int, list[MilestoneStats]]], ablation: str,
                    path: Path) -> Path:
    """Mean steps to each milestone by team size, one panel per scenario."""
    fig, axes = _panels(len(milestones))
    for ax, (scenario, by_agents) in zip(axes, milestones.items(), strict=False):
        order, series = milestone_lines(by_agents)
        for line in series:
            ax.errorbar(line.xs, line.heights, yerr=[line.below, line.above], marker="o",
                        capsize=3, label=line.label)
        ax.set_xticks(range(len(order)), order, rotation=35, ha="right", fontsize=7)
        ax.set_ylim(bottom=0)
        ax.set_ylabel("team step first reached", fontsize=8)
        ax.set_title(f"{scenario} ({ablation})", fontsize=9)
    ns = [m.episodes for per in milestones.values() for ms in per.values() for m in ms]
    return _finish(fig, axes, "Steps to each milestone by team size: mean; a milestone not "
                   "reached counts as the step limit (a lower bound)",
                   "bars: 95% bootstrap CI of the mean (BCa, seeds resampled), clipped at 0; "
                   + _n_text(ns, "episodes per point"), path)


def plot_messages(stats: Sequence[GroupStats], path: Path) -> Path:
    """Messages sent (bars) and delivered (dots) per team step, one panel per scenario."""
    scenarios = _scenarios(stats)
    fig, axes = _panels(len(scenarios))

    def value(column: str) -> Any:
        return lambda s: None if getattr(s, column) is None else (getattr(s, column), None, None)

    for ax, scenario in zip(axes, scenarios, strict=False):
        ablations, sent = _grouped_bars(stats, scenario, value("messages_per_step"), 0.0, None)
        _, delivered = _grouped_bars(stats, scenario, value("delivered_per_step"), 0.0, None)
        _bar_panel(ax, ablations, sent, "messages per team step")
        for i, dots in enumerate(delivered):
            ax.plot(dots.xs, dots.heights, "k.", label="delivered (copies)" if i == 0 else None)
        ax.set_title(scenario, fontsize=9)
    return _finish(fig, axes, "Messages per team step (mean over episodes)",
                   "bars: sent; dots: delivered copies (a broadcast reaches every teammate); "
                   "no error bars; " + _n_text([s.episodes for s in stats],
                                              "episodes per group"), path)
