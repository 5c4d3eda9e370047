"""Retrieval input (`RetrievalQuery`) and output (`Recall` and its typed records).

`Recall.render(max_tokens)` turns a recall into compact prompt text. Tokens are counted
approximately as `ceil(len(text) / 4)` (`approx_tokens`): about right for English and
code-like text with common BPE tokenisers, and needs no tokenizer download.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import zip_longest

from pydantic import BaseModel, ConfigDict, Field, model_validator

TRAIL_LENGTH = 32
"""How many of its last positions an agent's memory keeps (its trail)."""


def approx_tokens(text: str) -> int:
    """Approximate token count: ceil(characters / 4)."""
    return math.ceil(len(text) / 4)


class RetrievalQuery(BaseModel):
    """What to recall; every part is optional.

    - `needs`: items still needed -> recipes that make them, where to find them, who holds them.
    - `nearest` + `position`: kinds to locate -> nearest currently valid known places.
    - `who_holds`: items -> agents known to hold them.
    - `recent_failures`: the n most recent failed events (searched via chunk summaries).
    - `teammate_reports`: the n most recent facts learned from teammates (told_by).
    - `recent_summaries`: the n most recent consolidated chunk summaries.
    - `subgoals`: the n most recently ended subgoals, with their outcome and summary.

    Working memory (not capped by the retrieval budget: a policy acts on all of it):

    - `recipes`: every recipe the agent knows (the recipe book as learned so far).
    - `teammates`: every teammate's last known position.
    - `claims`, `commitments`, `avoid`: the open claims on targets (own and teammates'),
      the open item promises, the targets set aside.
    - `trail`: the agent's last n positions, newest first.
    - `frontier` + `position` + `bounds`: the n unexplored regions next to explored ones
      nearest the agent, inside a world of `bounds` (width, height) cells.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    needs: tuple[str, ...] = ()
    nearest: tuple[str, ...] = ()
    position: tuple[int, int] | None = None
    who_holds: tuple[str, ...] = ()
    recent_failures: int = Field(default=0, ge=0, le=64)
    teammate_reports: int = Field(default=0, ge=0, le=64)
    recent_summaries: int = Field(default=0, ge=0, le=64)
    per_kind: int = Field(default=3, ge=1, le=32)
    subgoals: int = Field(default=0, ge=0, le=32)
    recipes: bool = False
    teammates: bool = False
    claims: bool = False
    commitments: bool = False
    avoid: bool = False
    trail: int = Field(default=0, ge=0, le=TRAIL_LENGTH)
    frontier: int = Field(default=0, ge=0, le=64)
    bounds: tuple[int, int] | None = None

    @model_validator(mode="after")
    def _position_for_nearest(self) -> RetrievalQuery:
        if self.nearest and self.position is None:
            raise ValueError("position is required when nearest is given (the agent's (x, y))")
        if self.frontier and (self.position is None or self.bounds is None):
            raise ValueError("position and bounds are required when frontier is given")
        return self


@dataclass(frozen=True, slots=True)
class GoalRecord:
    node_id: str
    level: str  # "goal" or "subgoal"
    name: str
    status: str
    since: int
    needs: tuple[str, ...] = ()
    target: tuple[int, int] | None = None  # the place a subgoal goes for
    target_since: int = 0  # since when it goes for that place
    until: int | None = None  # when it ended
    summary: str = ""  # how it went (ended subgoals)


@dataclass(frozen=True, slots=True)
class PlaceRecord:
    node_id: str
    kind: str
    x: int
    y: int
    distance: int | None
    provenance: str
    confidence: float
    step: int  # valid_from


@dataclass(frozen=True, slots=True)
class HolderRecord:
    node_id: str  # the Agent node
    agent: str
    item: str
    count: int
    provenance: str
    step: int


@dataclass(frozen=True, slots=True)
class RecipeRecord:
    node_id: str
    name: str
    produces: str
    count: int
    requires: dict[str, int]
    nearby: tuple[str, ...]
    provenance: str
    step: int


@dataclass(frozen=True, slots=True)
class NeedRecord:
    item: str
    recipes: tuple[RecipeRecord, ...]
    sources: tuple[PlaceRecord, ...]
    holders: tuple[HolderRecord, ...]

    @property
    def node_ids(self) -> list[str]:
        return [r.node_id for r in (*self.recipes, *self.sources, *self.holders)]


@dataclass(frozen=True, slots=True)
class EventRecord:
    node_id: str
    action: str
    outcome: str
    reward: float
    target: str | None
    step: int
    chunk: str | None


@dataclass(frozen=True, slots=True)
class ReportRecord:
    node_id: str
    label: str
    summary: str
    provenance: str
    step: int


@dataclass(frozen=True, slots=True)
class SummaryRecord:
    node_id: str
    step_from: int
    step_to: int
    summary: str


@dataclass(frozen=True, slots=True)
class TeammateRecord:
    node_id: str
    agent: str
    x: int
    y: int
    step: int  # when it was there
    provenance: str


@dataclass(frozen=True, slots=True)
class ClaimRecord:
    node_id: str
    kind: str
    x: int
    y: int
    agent: str  # who claims it
    step: int
    provenance: str


@dataclass(frozen=True, slots=True)
class CommitmentRecord:
    node_id: str
    item: str
    direction: str  # "give": this agent gives to `agent`; "receive": it receives from it
    agent: str
    count: int
    until: int
    step: int
    provenance: str


@dataclass(frozen=True, slots=True)
class AvoidRecord:
    node_id: str
    kind: str
    x: int
    y: int
    until: int
    reason: str


@dataclass(frozen=True, slots=True)
class RegionRecord:
    node_id: str  # the region's id (it may not exist yet: nothing seen there)
    rx: int
    ry: int
    x: int  # its centre cell
    y: int
    distance: int


@dataclass
class Recall:
    """Typed retrieval result; `render` makes prompt text within a token budget."""

    goal: GoalRecord | None = None
    subgoal: GoalRecord | None = None
    needs: list[NeedRecord] = field(default_factory=list)
    nearest: list[PlaceRecord] = field(default_factory=list)
    holders: list[HolderRecord] = field(default_factory=list)
    failures: list[EventRecord] = field(default_factory=list)
    reports: list[ReportRecord] = field(default_factory=list)
    summaries: list[SummaryRecord] = field(default_factory=list)
    subgoals: list[GoalRecord] = field(default_factory=list)
    # working memory
    recipes: list[RecipeRecord] = field(default_factory=list)
    teammates: list[TeammateRecord] = field(default_factory=list)
    claims: list[ClaimRecord] = field(default_factory=list)
    commitments: list[CommitmentRecord] = field(default_factory=list)
    avoid: list[AvoidRecord] = field(default_factory=list)
    trail: list[tuple[int, int]] = field(default_factory=list)
    frontier: list[RegionRecord] = field(default_factory=list)
    explored: frozenset[tuple[int, int]] = frozenset()  # (rx, ry) the frontier grew from

    def node_ids(self) -> list[str]:
        """Every node id this recall refers to (used to bump use counts)."""
        ids = [g.node_id for g in (self.goal, self.subgoal) if g is not None]
        for need in self.needs:
            ids.extend(need.node_ids)
        for part in (self.nearest, self.holders, self.failures, self.reports, self.summaries,
                     self.subgoals, self.claims, self.commitments, self.avoid):
            ids.extend(r.node_id for r in part)
        return ids

    def __len__(self) -> int:
        return (
            len(self.needs)
            + len(self.nearest)
            + len(self.holders)
            + len(self.failures)
            + len(self.reports)
            + len(self.summaries)
        )

    def cap(self, budget: int) -> None:
        """Keep at most `budget` items, taken round-robin across parts so none starves."""
        parts = [
            self.needs,
            self.nearest,
            self.holders,
            self.failures,
            self.reports,
            self.summaries,
        ]
        kept: list[list] = [[] for _ in parts]
        left = budget
        for row in zip_longest(*parts):
            for i, item in enumerate(row):
                if item is not None and left > 0:
                    kept[i].append(item)
                    left -= 1
        for part, keep in zip(parts, kept, strict=True):
            part[:] = keep

    def merge_team(self, team: Recall, now: int | None = None, max_age: int = 300) -> None:
        """Merge what the team graph recalls for the same query into this recall.

        Places: a team place is added only where it helps: not already known, seen at most
        `max_age` steps before `now` (when given), and closer than the nearest own place
        of its kind (a far or stale sighting would only pull the agent away); then all
        nearest places are sorted by (distance, kind, x, y), an unknown distance as 0.
        Frontier: the regions next to what either explored that neither explored (the
        team graph knows what every agent explored, the agent what it saw this very step),
        nearest first. The other parts stay as they are."""
        own = {(p.kind, p.x, p.y) for p in self.nearest}
        best: dict[str, int] = {}
        for p in self.nearest:
            best[p.kind] = min(best.get(p.kind, 1 << 30), p.distance or 0)
        self.nearest += [
            p for p in team.nearest
            if (p.kind, p.x, p.y) not in own
            and (now is None or now - p.step <= max_age)
            and (p.distance or 0) < best.get(p.kind, 1 << 30)]
        self.nearest.sort(key=lambda p: (p.distance or 0, p.kind, p.x, p.y))
        if team.frontier or team.explored:
            explored = self.explored | team.explored
            k = max(len(self.frontier), len(team.frontier))
            regions = {(r.rx, r.ry): r for r in (*team.frontier, *self.frontier)}
            self.frontier = sorted((r for key, r in regions.items() if key not in explored),
                                   key=lambda r: (r.distance, r.ry, r.rx))[:k]
            self.explored = explored

    def lines(self) -> list[str]:
        """One line per item, most decision-relevant first."""
        out: list[str] = []
        if self.goal is not None:
            line = f"goal: {self.goal.name} (since {self.goal.since})"
            if self.subgoal is not None:
                line += f"; subgoal: {self.subgoal.name}"
                if self.subgoal.needs:
                    line += f" needs {', '.join(self.subgoal.needs)}"
            out.append(line)
        for need in self.needs:
            bits = [f"need {need.item}:"]
            for r in need.recipes:
                req = ", ".join(f"{k} x{v}" for k, v in r.requires.items()) or "nothing"
                near = f" near {', '.join(r.nearby)}" if r.nearby else ""
                bits.append(f"make via {r.name} from {req}{near};")
            bits.extend(f"at ({s.x},{s.y}) d={s.distance};" for s in need.sources)
            bits.extend(
                f"held by {h.agent} x{h.count} [{h.provenance}@{h.step}];" for h in need.holders
            )
            if len(bits) == 1:
                bits.append("nothing known")
            out.append(" ".join(bits).rstrip(";"))
        out.extend(
            f"{p.kind} at ({p.x},{p.y}) d={p.distance} [{p.provenance}@{p.step}]"
            for p in self.nearest
        )
        out.extend(
            f"{h.agent} holds {h.item} x{h.count} [{h.provenance}@{h.step}]" for h in self.holders
        )
        out.extend(
            f"failed {e.action}" + (f" on {e.target}" if e.target else "") + f" at step {e.step}"
            for e in self.failures
        )
        out.extend(f"{r.provenance}@{r.step}: {r.summary}" for r in self.reports)
        out.extend(f"steps {s.step_from}-{s.step_to}: {s.summary}" for s in self.summaries)
        out.extend(f"subgoal {g.summary or g.name + ' ' + g.status}" for g in self.subgoals)
        out.extend(f"{c.agent} claims {c.kind} at ({c.x},{c.y}) [{c.provenance}@{c.step}]"
                   for c in self.claims)
        out.extend(f"{'give' if c.direction == 'give' else 'receive'} {c.count} {c.item} "
                   f"{'to' if c.direction == 'give' else 'from'} {c.agent} until step {c.until}"
                   for c in self.commitments)
        out.extend(f"{t.agent} at ({t.x},{t.y}) [{t.provenance}@{t.step}]"
                   for t in self.teammates)
        return out

    def render(self, max_tokens: int) -> str:
        """Compact text of whole lines whose `approx_tokens` total is <= max_tokens."""
        if max_tokens < 0:
            raise ValueError(f"max_tokens must be >= 0, got {max_tokens}")
        kept: list[str] = []
        for line in self.lines():
            candidate = "\n".join([*kept, line])
            if approx_tokens(candidate) > max_tokens:
                break
            kept.append(line)
        return "\n".join(kept)
