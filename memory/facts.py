"""`Fact`: the unit an agent's perception (or a teammate) hands to memory.

Facts are world-agnostic: memory never interprets an observation, only these statements.

- `seen_at`: entity `subject` is at `place` (`category`, `entity_id` for movers optional).
- `gone_from`: entity `subject` is no longer at `place` (closes validity, keeps history).
- `surveyed`: agent `subject` looked at the rectangle at `place` (top-left) of size
  `extent` (w, h): whatever memory holds there that the same write does not report as
  `seen_at` is gone (negative evidence, so a perception adapter need not diff views).
- `explored`: agent `subject` explored the region holding `place` (no negative evidence:
  what a teammate's exploration says, without closing anything).
- `holds`: agent `subject` holds `count` (0 = none) of item `object`.
- `recipe`: skill `subject` makes `count` x `object` from `requires` {item: n}, near the
  `nearby` stations.
- `event`: action `subject` was taken with `outcome` (optional `reward`, target `object`,
  and `place`: where the agent stood, which extends its trail).
- `goal` / `subgoal`: `subject` was set / completed / failed / interrupted (`status`); a
  subgoal may list the items it still `needs` and the `place` it is going for; ending one,
  `text` says why (its summary ends with it).
- `report`: teammate `subject` said `text` (optionally `object`: what it is about).

Working memory (what an agent is doing with others, and has set aside):

- `claim`: `agent` goes for the `subject` at `place` (`status` set), or no longer does
  (`released`, `completed`), so teammates pick another target.
- `commitment`: this agent will `give` (`object`) `count` `subject` items to `agent`, or
  will `receive` them from it, or `agent` has `requested` them from the team, until step
  `until` (`status` set / completed / failed / released).
- `avoid`: the target `subject` at `place` is set aside until step `until` (`text`: why).

`provenance` is `observed`, `inferred` or `told_by:<agent>`; `observed_step` is when the
fact was true if that differs from the step it is written at (e.g. a teammate's report of
something seen earlier).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from memsim.memory.schema import CONTROL_CHARS, INT64_MAX, INT64_MIN, SchemaError

FactKind = Literal[
    "seen_at", "gone_from", "surveyed", "explored", "holds", "recipe", "event", "goal",
    "subgoal", "report", "claim", "commitment", "avoid",
]
Category = Literal["resource", "item", "station", "creature", "agent", "other"]
Outcome = Literal["success", "failure"]
Status = Literal["set", "completed", "failed", "interrupted", "released"]
Direction = Literal["give", "receive", "requested"]
Scalar = str | int | float | bool
Side = Annotated[int, Field(ge=1, le=256)]  # a surveyed rectangle's width or height
# Integers every store keeps exactly (64-bit signed).
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
Count = Annotated[int, Field(ge=0, le=INT64_MAX)]

FACT_KINDS: tuple[str, ...] = get_args(FactKind)
_DIRECTIONS: tuple[str, ...] = get_args(Direction)
_PROVENANCE = re.compile(r"^(observed|inferred|told_by:[A-Za-z0-9_.\-]+)$")
_NAME = re.compile(r"^(?!\s)[^@:\x00-\x1f\x7f-\x9f]{1,128}(?<!\s)$")
# Free text may hold tabs and newlines, no other control character.
_TEXT_CONTROL = CONTROL_CHARS

# Which fields each kind needs; checked after field validation so the message can name them.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "seen_at": ("place",),
    "gone_from": ("place",),
    "surveyed": ("place", "extent"),
    "explored": ("place",),
    "holds": ("object", "count"),
    "recipe": ("object",),
    "event": ("outcome",),
    "goal": ("status",),
    "subgoal": ("status",),
    "report": ("text",),
    "claim": ("place", "agent", "status"),
    "commitment": ("object", "agent", "count", "until", "status"),
    "avoid": ("place", "until"),
}


def check_name(value: str, field: str) -> str:
    """Validate a name used inside node ids (agent ids, kinds): raises SchemaError."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise SchemaError(
            f"{field} {value!r} must be a 1-128 character string, not starting with "
            "or ending with whitespace, with no '@' or ':' and no control character"
        )
    return value


def _id_part(value: str | None) -> str | None:
    # '@' and ':' build node ids, so names that go into ids may not contain them.
    if value is not None and not _NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} must be 1-128 characters, not start or end with whitespace, "
            "and contain no '@' or ':' and no control character"
        )
    return value


def _text(value: str | None) -> str | None:
    bad = _TEXT_CONTROL.search(value) if value is not None else None
    if bad:
        raise ValueError(f"must not contain control characters other than tab and newline, "
                         f"got {bad.group()!r}")
    return value


class Fact(BaseModel):
    """One typed statement for memory (see the module table for the vocabulary)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    kind: FactKind
    subject: str = Field(min_length=1, max_length=128)
    object: str | None = Field(default=None, min_length=1, max_length=128)
    place: tuple[Int64, Int64] | None = None
    extent: tuple[Side, Side] | None = None
    category: Category | None = None
    entity_id: str | None = Field(default=None, min_length=1, max_length=128)
    count: Count | None = None
    requires: dict[str, Count] = Field(default_factory=dict)
    nearby: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    outcome: Outcome | None = None
    reward: float | None = None
    status: Status | None = None
    text: str | None = Field(default=None, max_length=1024)
    agent: str | None = Field(default=None, min_length=1, max_length=128)  # another agent
    until: int | None = Field(default=None, ge=0)  # working memory: the step it lasts to
    provenance: str = "observed"
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    observed_step: Count | None = None

    @field_validator("subject", "object", "entity_id", "agent")
    @classmethod
    def _name_shape(cls, value: str | None, info: ValidationInfo) -> str | None:
        # A report's object is only what it is about (free text, never part of an id).
        if info.field_name == "object" and info.data.get("kind") == "report":
            return _text(value)
        return _id_part(value)

    @field_validator("text")
    @classmethod
    def _text_shape(cls, value: str | None) -> str | None:
        return _text(value)

    @field_validator("nearby", "needs")
    @classmethod
    def _names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            _id_part(name)
        return value

    @field_validator("provenance")
    @classmethod
    def _provenance_shape(cls, value: str) -> str:
        if not _PROVENANCE.match(value):
            raise ValueError(
                f"provenance {value!r} is not allowed; allowed: 'observed', 'inferred', "
                "'told_by:<agent id>'"
            )
        return value

    @field_validator("requires")
    @classmethod
    def _positive_requirements(cls, value: dict[str, int]) -> dict[str, int]:
        for item, count in value.items():
            _id_part(item)
            if count < 1:
                raise ValueError(f"requires[{item!r}] must be >= 1, got {count}")
        return value

    @model_validator(mode="after")
    def _kind_fields(self) -> Fact:
        missing = [f for f in _REQUIRED[self.kind] if getattr(self, f) is None]
        if missing:
            raise ValueError(
                f"fact kind {self.kind!r} requires field(s) {missing}; "
                f"required for {self.kind!r}: subject, {', '.join(_REQUIRED[self.kind])}"
            )
        if self.kind == "commitment" and self.object not in _DIRECTIONS:
            raise ValueError(f"commitment object {self.object!r} is not allowed; allowed: "
                             f"{', '.join(_DIRECTIONS)}")
        return self

    @property
    def teller(self) -> str | None:
        """The agent id in `told_by:<agent>` provenance, else None."""
        return self.provenance[8:] if self.provenance.startswith("told_by:") else None

    def told_by(self, agent_id: str) -> Fact:
        """This fact re-stamped as hearsay from `agent_id` (unless already hearsay)."""
        if self.teller is not None:
            return self
        return self.model_copy(update={"provenance": f"told_by:{agent_id}"})
