"""Steps to milestones and where paired differences arise, per group of a suite's
results rows (see :mod:`sim.bench_stats` for the estimators and the censoring rules).

- :func:`milestone_stats`: mean steps to first reach each milestone of a group, a
  milestone not reached counting as the step limit.
- :func:`phase_comparisons`: an ablation against the reference, paired by seed, phase by
  phase between milestones (the phases add up to the difference in steps).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from memsim.sim.bench_stats import (
    Estimate,
    Row,
    against_reference,
    by_group,
    censored_steps,
    mean_interval,
    milestone_steps,
    num,
    ok_rows,
    paired_difference,
    paired_rows,
)
from memsim.sim.families import family_milestones


@dataclass(frozen=True)
class MilestoneStats:
    """Steps to a milestone in one group: a milestone not reached counts as the limit."""

    milestone: str
    reached: int
    episodes: int
    steps: Estimate  # mean censored steps to it, BCa bootstrap interval


def milestone_columns(rows: Sequence[Row]) -> list[str]:
    """The milestone columns to report: the families' milestones when present (other
    achievements, such as eat_cow, are in the table but not on the path to the goal),
    else every ``steps_to_*`` column."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update((k, None) for k in row if k.startswith("steps_to_"))
    path = [f"steps_to_{m}" for m in family_milestones(rows) if f"steps_to_{m}" in columns]
    return list(dict.fromkeys(path)) or list(columns)


def milestone_stats(rows: Iterable[Row], ablation: str
                    ) -> dict[str, dict[int, list[MilestoneStats]]]:
    """``{scenario: {agents: [MilestoneStats, ...]}}`` for one ablation, milestones in
    their order; every episode counts (a milestone not reached at the step limit)."""
    result: dict[str, dict[int, list[MilestoneStats]]] = {}
    for (scenario, agents, abl), members in by_group(rows).items():
        ok = ok_rows(members)
        if abl != ablation or not ok:
            continue
        per = result.setdefault(scenario, {}).setdefault(agents, [])
        for column in milestone_columns(members):
            reached = sum(num(r.get(column)) is not None for r in ok)
            per.append(MilestoneStats(column.removeprefix("steps_to_"), reached, len(ok),
                                      mean_interval([milestone_steps(r, column) for r in ok])))
    return result


def phase_ends(row: Row, columns: Sequence[str]) -> list[float]:
    """When each phase of an episode ended: phase k ends once every milestone up to the
    k-th (in `columns` order) has been reached (censored at the limit), the last phase at
    the goal (censored steps). Non-decreasing, so phase lengths are never negative even
    when the team reached a later milestone first."""
    ends = list(np.maximum.accumulate([milestone_steps(row, c) for c in columns]))
    return [*map(float, ends), max(float(ends[-1]) if ends else 0.0, censored_steps(row))]


def phase_lengths(row: Row, columns: Sequence[str]) -> list[float]:
    """The length of each phase of :func:`phase_ends` (they add up to censored steps)."""
    ends = phase_ends(row, columns)
    return [b - a for a, b in zip([0.0, *ends[:-1]], ends, strict=True)]


@dataclass(frozen=True)
class PhaseComparison:
    """Where an ablation gains or loses steps against the reference, paired by seed: the
    mean difference in each phase's length (they add up to the difference in steps)."""

    scenario: str
    agents: int
    ablation: str
    reference: str
    pairs: int
    phases: tuple[tuple[str, Estimate], ...]  # (the milestone a phase ends at, Δ length)


def phase_comparisons(rows: Iterable[Row], reference: str) -> list[PhaseComparison]:
    """Every other ablation against ``reference`` within its scenario and team size: the
    paired difference of each phase's length (phases end at the milestones, then the
    goal; see :func:`phase_ends`)."""
    result = []
    for (scenario, agents, ablation), members, base in against_reference(rows, reference):
        pairs, _ = paired_rows(ok_rows(members), ok_rows(base))
        columns = milestone_columns([*members, *base])
        if not pairs or not columns:
            continue
        names = [c.removeprefix("steps_to_") for c in columns] + ["goal"]

        mine = [phase_lengths(a, columns) for a, _ in pairs]
        theirs = [phase_lengths(b, columns) for _, b in pairs]
        if not any(m[-1] or t[-1] for m, t in zip(mine, theirs, strict=True)):
            names.pop()  # the goal is the last milestone: no phase after it
        result.append(PhaseComparison(
            scenario=scenario, agents=agents, ablation=ablation, reference=reference,
            pairs=len(pairs), phases=tuple(
                (name, paired_difference([m[k] for m in mine], [t[k] for t in theirs]))
                for k, name in enumerate(names))))
    return result
