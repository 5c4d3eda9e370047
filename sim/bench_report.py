"""The benchmark report: per cell-group statistics, ``report.md`` and PNG plots.

Works on results rows as :mod:`sim.bench` writes them (or as read back from
``results.csv`` with :func:`read_results`). A *group* is one scenario x agent count x
ablation over its seeds. Steps to the goal are averaged over the seeds that reached it
(mean ± 95% t interval, :func:`sim.output.mean_ci`); the success rate has a 95% Wilson
score interval. "Fewer steps than 1 agent" is ``1 - mean / baseline mean`` against the
suite's baseline group of the same scenario (as DAMCS reports it), and "faster on seeds"
the share of shared seeds on which the group's episode was shorter than the baseline's.
"""

from __future__ import annotations

import csv
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from memsim.sim.families import family_milestones
from memsim.sim.output import mean_ci

if TYPE_CHECKING:
    from memsim.sim.suite import Suite

REPORT_FILE = "report.md"
PLOT_FILES = {
    "milestones": "milestones_by_team_size.png",
    "ablations": "ablations.png",
    "messages": "messages_per_step.png",
}
CONFIDENCE = 0.95


def _num(value: Any) -> float | None:
    """A number from a typed row or a CSV cell (empty: ``None``)."""
    if value is None or value == "":
        return None
    return float(value)


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a ``results.csv`` (values as text; the report functions accept that)."""
    with Path(path).open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def wilson_interval(successes: int, n: int, confidence: float = CONFIDENCE
                    ) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (sound at 0/n and n/n)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in 0..{n}, got {successes}")
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class GroupStats:
    """One cell group's figures (``None`` where there is nothing to average)."""

    scenario: str
    family: str
    agents: int
    ablation: str
    episodes: int  # cells that ran to the end (failed cells excluded)
    failed: int
    successes: int
    success_rate: float | None
    success_ci: tuple[float, float] | None
    steps_mean: float | None  # steps to the goal, over the episodes that reached it
    steps_ci: float | None  # half-width of the 95% interval
    steps_median: float | None
    fewer_steps_pct: float | None  # vs the baseline group of the same scenario
    faster_seeds_pct: float | None
    messages_per_step: float | None  # sent (attempted) per team step
    delivered_per_step: float | None

    @property
    def group(self) -> tuple[str, int, str]:
        """``(scenario, agents, ablation)``."""
        return (self.scenario, self.agents, self.ablation)


def _groups(rows: Iterable[Mapping[str, Any]]) -> dict[tuple[str, int, str], list[Mapping]]:
    groups: dict[tuple[str, int, str], list[Mapping[str, Any]]] = {}
    for row in rows:  # insertion order: the grid order of the results
        groups.setdefault((row["scenario"], int(row["agents"]), row["ablation"]), []).append(row)
    return groups


def _goal_steps(rows: Sequence[Mapping[str, Any]]) -> list[float]:
    return [float(r["steps"]) for r in rows if r["status"] == "ok" and _flag(r["goal_reached"])]


def group_stats(rows: Iterable[Mapping[str, Any]], baseline_agents: int | None = 1,
                baseline_ablation: str | None = None) -> list[GroupStats]:
    """Statistics per group, in the order groups first appear in ``rows``.

    The baseline is the group ``(scenario, baseline_agents, baseline_ablation)`` (default
    ablation: the first seen); ``baseline_agents=None`` turns the comparison off.
    """
    groups = _groups(rows)
    if baseline_ablation is None and groups:
        baseline_ablation = next(iter(groups))[2]
    stats = []
    for (scenario, agents, ablation), members in groups.items():
        ok = [r for r in members if r["status"] == "ok"]
        goal = _goal_steps(members)
        mean, half = mean_ci(goal, CONFIDENCE) if goal else (None, None)
        base_rows = groups.get((scenario, baseline_agents or 0, baseline_ablation or ""))
        is_base = (agents, ablation) == (baseline_agents, baseline_ablation)
        fewer = faster = None
        if base_rows is not None and not is_base:
            base_goal = _goal_steps(base_rows)
            if goal and base_goal:
                fewer = 100 * (1 - mean / statistics.fmean(base_goal))
            # Per seed: an episode that missed the goal ran to max_steps, so `steps` compares.
            base_steps = {r["seed"]: float(r["steps"]) for r in base_rows if r["status"] == "ok"}
            paired = [(float(r["steps"]), base_steps[r["seed"]]) for r in ok
                      if r["seed"] in base_steps]
            if paired:
                faster = 100 * sum(team < base for team, base in paired) / len(paired)
        sent, delivered = _per_step(ok, "messages_sent"), _per_step(ok, "messages_delivered")
        successes = len(goal)
        stats.append(GroupStats(
            scenario=scenario, family=str(members[0].get("family", "")), agents=agents,
            ablation=ablation, episodes=len(ok), failed=len(members) - len(ok),
            successes=successes,
            success_rate=successes / len(ok) if ok else None,
            success_ci=wilson_interval(successes, len(ok)) if ok else None,
            steps_mean=mean, steps_ci=half,
            steps_median=statistics.median(goal) if goal else None,
            fewer_steps_pct=fewer, faster_seeds_pct=faster,
            messages_per_step=statistics.fmean(sent) if sent else None,
            delivered_per_step=statistics.fmean(delivered) if delivered else None,
        ))
    return stats


def _per_step(rows: Sequence[Mapping[str, Any]], column: str) -> list[float]:
    return [float(r[column]) / float(r["steps"]) for r in rows
            if _num(r.get("steps")) and _num(r.get(column)) is not None]


def milestone_means(rows: Iterable[Mapping[str, Any]], ablation: str
                    ) -> dict[str, dict[int, dict[str, tuple[float, float | None, int]]]]:
    """``{scenario: {agents: {milestone: (mean, ci half-width, reached)}}}`` for one
    ablation, over the episodes that reached each milestone (milestones nobody reached
    are left out)."""
    result: dict[str, dict[int, dict[str, tuple[float, float | None, int]]]] = {}
    for (scenario, agents, abl), members in _groups(rows).items():
        if abl != ablation:
            continue
        ok = [r for r in members if r["status"] == "ok"]
        per = result.setdefault(scenario, {}).setdefault(agents, {})
        for column in _milestone_columns(members):
            reached = [float(r[column]) for r in ok if _num(r.get(column)) is not None]
            if reached:
                mean, half = mean_ci(reached, CONFIDENCE)
                per[column.removeprefix("steps_to_")] = (mean, half, len(reached))
    return result


def _milestone_columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The milestone columns to plot: the families' milestones when present (other
    achievements, such as eat_cow, are in the table but not on the path to the goal),
    else every ``steps_to_*`` column."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update((k, None) for k in row if k.startswith("steps_to_"))
    path = [f"steps_to_{m}" for m in family_milestones(rows) if f"steps_to_{m}" in columns]
    return list(dict.fromkeys(path)) or list(columns)


# --------------------------------------------------------------------------- text


def _fmt(value: float | None, digits: int = 0, suffix: str = "") -> str:
    return "-" if value is None else f"{value:.{digits}f}{suffix}"


def _fmt_steps(s: GroupStats) -> str:
    if s.steps_mean is None:
        return "-"
    return _fmt(s.steps_mean) + ("" if s.steps_ci is None else f" ± {s.steps_ci:.0f}")


def _fmt_success(s: GroupStats) -> str:
    if s.success_rate is None or s.success_ci is None:
        return "-"
    low, high = s.success_ci
    return f"{100 * s.success_rate:.0f}% ({100 * low:.0f}-{100 * high:.0f}%)"


def _agents_label(agents: int) -> str:
    return f"{agents} agent" + ("s" if agents > 1 else "")


def _baseline_label(suite: Suite) -> str:
    return _agents_label(suite.baseline.agents if suite.baseline else 1)


def comparison_paragraph(suite: Suite, stats: Sequence[GroupStats]) -> str:
    """Our "fewer steps than the baseline" next to the suite's published reference figures."""
    if suite.reference is None:
        return ""
    ablation = suite.baseline_ablation()
    by_group = {s.group: s for s in stats}
    sentences = []
    for size_text, theirs in sorted(suite.reference.fewer_steps_percent.items(),
                                    key=lambda kv: int(kv[0])):
        size = int(size_text)
        ours = [by_group[g] for g in by_group if g[1:] == (size, ablation)]
        if not ours:
            sentences.append(f"With {size} agents: not in these results ({suite.reference.source}"
                             f" reports {theirs:.0f}% fewer steps).")
            continue
        for s in ours:
            if s.fewer_steps_pct is None:
                sentences.append(f"With {size} agents ({s.scenario}): no comparison (the team or "
                                 f"the baseline never reached the goal); "
                                 f"{suite.reference.source} reports {theirs:.0f}%.")
                continue
            gap = s.fewer_steps_pct - theirs
            relation = ("the same" if round(gap) == 0 else
                        f"{abs(gap):.0f} points {'more' if gap > 0 else 'less'} than theirs")
            sentences.append(
                f"With {size} agents ({s.scenario}, {ablation}), the team needed "
                f"{s.fewer_steps_pct:.0f}% fewer steps than {_baseline_label(suite)} (mean "
                f"{_fmt_steps(s)} steps over {s.successes}/{s.episodes} seeds; shorter episodes "
                f"on {_fmt(s.faster_seeds_pct, 0, '%')} of seeds); {suite.reference.source} "
                f"reports {theirs:.0f}%: ours is {relation}.")
    return " ".join(sentences)


def _seed_range(rows: Sequence[Mapping[str, Any]]) -> str:
    seeds = sorted({int(r["seed"]) for r in rows})
    if not seeds:
        return "none"
    if seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else str(seeds[0])
    return ", ".join(map(str, seeds))


def render_report(suite: Suite, rows: Sequence[Mapping[str, Any]],
                  stats: Sequence[GroupStats], plots: Sequence[Path] = ()) -> str:
    """``report.md``: the group table, the reference comparison, failed cells, plots."""
    failed = [r for r in rows if r["status"] == "failed"]
    base = _baseline_label(suite)
    lines = [
        f"# Benchmark suite `{suite.name}`",
        "",
        *([suite.description, ""] if suite.description else []),
        f"{len(rows)} cells ({len(rows) - len(failed)} ran, {len(failed)} failed; seeds "
        f"{_seed_range(rows)}), each one episode run with the direct executor (the "
        "LangGraph node functions without LangGraph, tested to give identical "
        "trajectories). Steps to the goal are "
        "over the seeds that reached it (mean ± 95% t interval); success rates have a 95% "
        f"Wilson interval; \"fewer steps\" is 1 − mean / mean of {base} "
        f"({suite.baseline_ablation()}) in the same scenario; \"faster on seeds\" is the "
        f"share of seeds on which the team's episode was shorter than {base}'s. Messages "
        "delivered count copies (a broadcast reaches every teammate), so they can exceed "
        "those sent.",
        "",
        "| scenario | agents | ablation | reached | success (95% CI) | mean steps ± CI | "
        f"median | fewer steps than {base} | faster on seeds | messages sent / delivered "
        "per step |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in stats:
        lines.append(
            f"| {s.scenario} | {s.agents} | {s.ablation} | {s.successes}/{s.episodes} | "
            f"{_fmt_success(s)} | {_fmt_steps(s)} | {_fmt(s.steps_median, 1)} | "
            f"{_fmt(s.fewer_steps_pct, 0, '%')} | {_fmt(s.faster_seeds_pct, 0, '%')} | "
            f"{_fmt(s.messages_per_step, 3)} / {_fmt(s.delivered_per_step, 3)} |")
    paragraph = comparison_paragraph(suite, stats)
    if paragraph:
        lines += ["", f"## Against {suite.reference.source if suite.reference else ''}", "",
                  paragraph]
    if failed:
        lines += ["", f"## Failed cells ({len(failed)})", "",
                  "| scenario | agents | ablation | seed | error |", "|---|---:|---|---:|---|"]
        lines += [f"| {r['scenario']} | {r['agents']} | {r['ablation']} | {r['seed']} | "
                  f"{str(r['error']).replace('|', '/')} |" for r in failed]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots]
    return "\n".join(lines) + "\n"


def summary_table(suite: Suite, rows: Sequence[Mapping[str, Any]]) -> Table:
    """The group statistics as a rich table (for the terminal)."""
    table = Table(title=f"suite {suite.name}: steps to the goal")
    for name in ("scenario", "agents", "ablation", "reached", "success (95% CI)",
                 "mean steps ± CI", "median", f"fewer than {_baseline_label(suite)}",
                 "failed"):
        table.add_column(name, justify="left" if name in ("scenario", "ablation") else "right")
    base = suite.baseline.agents if suite.baseline else 1
    for s in group_stats(rows, base, suite.baseline_ablation()):
        table.add_row(s.scenario, str(s.agents), s.ablation, f"{s.successes}/{s.episodes}",
                      _fmt_success(s), _fmt_steps(s), _fmt(s.steps_median, 1),
                      _fmt(s.fewer_steps_pct, 0, "%"), str(s.failed))
    return table


# --------------------------------------------------------------------------- plots


def _figure(nrows: int, ncols: int, width: float, height: float) -> Any:
    # A bare Figure renders with the Agg canvas and leaves pyplot's global state alone.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def plot_milestones(rows: Sequence[Mapping[str, Any]], ablation: str, path: Path) -> Path:
    """Steps to each milestone by team size (one panel per scenario, error bars: 95% CI)."""
    data = milestone_means(rows, ablation)
    fig, axes = _figure(max(1, len(data)), 1, 9, 4)
    for ax, (scenario, by_agents) in zip(axes[:, 0], data.items(), strict=False):
        order = list(dict.fromkeys(m for per in by_agents.values() for m in per))
        for agents, per in sorted(by_agents.items()):
            xs = [order.index(m) for m in per]
            ax.errorbar(xs, [v[0] for v in per.values()],
                        yerr=[v[1] or 0 for v in per.values()], marker="o", capsize=3,
                        label=_agents_label(agents))
        ax.set_xticks(range(len(order)), order, rotation=30, ha="right")
        ax.set_ylabel("team step first reached")
        ax.set_title(f"{scenario} ({ablation}): steps to each milestone")
        ax.legend()
    fig.savefig(path, dpi=100)
    return path


def plot_ablations(stats: Sequence[GroupStats], path: Path) -> Path:
    """Success rate and mean steps to the goal by ablation, one bar per team size."""
    scenarios = list(dict.fromkeys(s.scenario for s in stats))
    fig, axes = _figure(max(1, len(scenarios)), 2, 6, 4)
    for row, scenario in enumerate(scenarios):
        mine = [s for s in stats if s.scenario == scenario]
        ablations = list(dict.fromkeys(s.ablation for s in mine))
        sizes = sorted({s.agents for s in mine})
        width = 0.8 / len(sizes)
        for i, agents in enumerate(sizes):
            group = {s.ablation: s for s in mine if s.agents == agents}
            xs = [a + (i - (len(sizes) - 1) / 2) * width for a in range(len(ablations))]
            rates = [100 * (group[a].success_rate or 0) if a in group else 0 for a in ablations]
            low = [r - 100 * group[a].success_ci[0] if a in group and group[a].success_ci
                   else 0 for a, r in zip(ablations, rates, strict=True)]
            high = [100 * group[a].success_ci[1] - r if a in group and group[a].success_ci
                    else 0 for a, r in zip(ablations, rates, strict=True)]
            axes[row, 0].bar(xs, rates, width, yerr=[low, high], capsize=3,
                             label=_agents_label(agents))
            steps = [group[a].steps_mean or 0 if a in group else 0 for a in ablations]
            errs = [group[a].steps_ci or 0 if a in group else 0 for a in ablations]
            axes[row, 1].bar(xs, steps, width, yerr=errs, capsize=3, label=_agents_label(agents))
        for ax, label in zip(axes[row], ("success rate (%)", "mean steps to goal"), strict=True):
            ax.set_xticks(range(len(ablations)), ablations, rotation=20, ha="right")
            ax.set_ylabel(label)
            ax.set_title(scenario)
            ax.legend()
    fig.savefig(path, dpi=100)
    return path


def plot_messages(stats: Sequence[GroupStats], path: Path) -> Path:
    """Messages sent and delivered per team step, per group."""
    fig, axes = _figure(1, 1, max(6, 0.6 * len(stats)), 4)
    ax = axes[0, 0]
    labels = [f"{s.scenario}\n{s.agents}a {s.ablation}" for s in stats]
    xs = range(len(stats))
    ax.bar([x - 0.2 for x in xs], [s.messages_per_step or 0 for s in stats], 0.4, label="sent")
    ax.bar([x + 0.2 for x in xs], [s.delivered_per_step or 0 for s in stats], 0.4,
           label="delivered")
    ax.set_xticks(xs, labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("messages per team step")
    ax.legend()
    fig.savefig(path, dpi=100)
    return path


def write_report(suite: Suite, rows: Sequence[Mapping[str, Any]], out_dir: Path
                 ) -> list[Path]:
    """Write the plots and ``report.md`` for a suite's results rows; return their paths."""
    out_dir = Path(out_dir)
    base = suite.baseline.agents if suite.baseline else 1
    stats = group_stats(rows, base, suite.baseline_ablation())
    plots: list[Path] = []
    if any(r["status"] == "ok" for r in rows):
        plots = [
            plot_milestones(rows, suite.baseline_ablation(), out_dir / PLOT_FILES["milestones"]),
            plot_ablations(stats, out_dir / PLOT_FILES["ablations"]),
            plot_messages(stats, out_dir / PLOT_FILES["messages"]),
        ]
    report = out_dir / REPORT_FILE
    report.write_text(render_report(suite, rows, stats, plots), encoding="utf-8")
    return [*plots, report]
