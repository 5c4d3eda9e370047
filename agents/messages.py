"""The message vocabulary: what agents may say to each other, and what it means to memory.

A `Message` has a sender (bound by the runtime to the agent that sent it), recipients or
broadcast, a kind (inform / request / offer / accept / ack / plan) and a typed payload.
Each payload class owns its meaning: `summary()` is one line for prompts, logs and the
viewer; `facts(sender, step)` is what a receiver's memory stores (hearsay,
`told_by:<sender>`). The channel (`memsim.sim.comm`) validates, budgets and routes
messages; it knows nothing of what they say.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from memsim.memory import Fact, payload_to_facts
from memsim.memory.working import TEAMMATE_KIND

# Bounds on payload contents. They keep a single message from carrying an unbounded blob;
# the channel's byte budgets then bound the traffic per step.
MAX_NAME_CHARS = 64
MAX_TEXT_CHARS = 1000
MAX_PLAN_STEPS = 32
MAX_PLAN_STEP_CHARS = 200
MAX_EXPORT_NODES = 256
MAX_EXPORT_EDGES = 512

_Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]


class MessageKind(StrEnum):
    """What a message is for; constrains which payload types it may carry."""

    INFORM = "inform"
    REQUEST = "request"
    OFFER = "offer"
    ACCEPT = "accept"
    ACK = "ack"
    PLAN = "plan"


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def summary(self) -> str:
        """The payload in a few words (prompts, message logs, the viewer)."""
        raise NotImplementedError

    def facts(self, sender: str, step: int) -> list[Fact]:
        """What a receiver's memory stores from this payload, sent by `sender` and read
        at `step`: hearsay facts with provenance `told_by:<sender>`."""
        raise NotImplementedError


_TARGET = re.compile(r"^([A-Za-z][A-Za-z0-9_]{0,63})@(-?\d{1,9}),(-?\d{1,9})$")
_CLAIM_STATUS = {"claim": "set", "release": "released", "done": "completed"}
REQUEST_STEPS = 60
"""How long an item request without an `until` stands."""


def claim_goal(kind: str, x: int, y: int) -> str:
    """The goal text of a claim on a located target, as `GoalClaimPayload.target` reads it."""
    return f"{kind}@{x},{y}"


def _report(sender: str, text: str, about: str | None = None) -> list[Fact]:
    """A teammate's statement as one `report` fact."""
    return [Fact(kind="report", subject=sender, object=about, text=text,
                 provenance=f"told_by:{sender}")]


class MemoryExportPayload(_Payload):
    """A subgraph exported by the sender's memory (content defined by the memory library)."""

    type: Literal["memory_export"] = "memory_export"
    # JsonValue: the export must survive JSON encoding (budgets, snapshots, traces).
    nodes: list[dict[str, JsonValue]] = Field(default_factory=list, max_length=MAX_EXPORT_NODES)
    edges: list[dict[str, JsonValue]] = Field(default_factory=list, max_length=MAX_EXPORT_EDGES)
    source: _Name
    step: int = Field(ge=0)
    step_base: int = Field(0, ge=0, description="the sender memory's clock offset")

    @classmethod
    def from_export(cls, export: Mapping[str, Any]) -> MemoryExportPayload:
        """The payload for an `AgentMemory.export(...)` result."""
        return cls(nodes=export["nodes"], edges=export["edges"], source=export["source"],
                   step=export["step"], step_base=export.get("step_base", 0))

    def summary(self) -> str:
        return f"shared {len(self.nodes)} memory nodes"

    def facts(self, sender: str, step: int) -> list[Fact]:
        return payload_to_facts(
            {"nodes": self.nodes, "edges": self.edges, "step_base": self.step_base}, sender)


class ItemOfferPayload(_Payload):
    """An offer to give ``count`` of ``item``."""

    type: Literal["item_offer"] = "item_offer"
    item: _Name
    count: int = Field(ge=1)

    def summary(self) -> str:
        return f"offers {self.count} {self.item}"

    def facts(self, sender: str, step: int) -> list[Fact]:
        return _report(sender, f"offers {self.count} {self.item}", self.item)


class ItemRequestPayload(_Payload):
    """A request for ``count`` of ``item``."""

    type: Literal["item_request"] = "item_request"
    item: _Name
    count: int = Field(ge=1)
    until: int | None = Field(None, ge=0, description="the request stands until this step")

    def summary(self) -> str:
        return f"asks for {self.count} {self.item}"

    def facts(self, sender: str, step: int) -> list[Fact]:
        # Besides the report, the request is working memory: open until `until`.
        return [*_report(sender, f"requests {self.count} {self.item}", self.item),
                Fact(kind="commitment", subject=self.item, object="requested", agent=sender,
                     count=self.count, status="set", provenance=f"told_by:{sender}",
                     until=self.until if self.until is not None else step + REQUEST_STEPS)]


class RecipeRequestPayload(_Payload):
    """A question: how is ``item`` made (or collected)? Answered with a memory export."""

    type: Literal["recipe_request"] = "recipe_request"
    item: _Name

    def summary(self) -> str:
        return f"asks how to get {self.item}"

    def facts(self, sender: str, step: int) -> list[Fact]:
        return _report(sender, f"asks how to get {self.item}", self.item)


class LocationPayload(_Payload):
    """Where ``entity`` was seen, and when."""

    type: Literal["location"] = "location"
    entity: _Name
    x: int
    y: int
    seen_step: int = Field(ge=0)

    def summary(self) -> str:
        return f"{self.entity} at ({self.x},{self.y}) seen step {self.seen_step}"

    def facts(self, sender: str, step: int) -> list[Fact]:
        told, when = f"told_by:{sender}", min(self.seen_step, step)
        if self.entity == sender:  # where the sender itself is: a teammate's position
            return [Fact(kind="seen_at", subject=TEAMMATE_KIND, entity_id=sender,
                         place=(self.x, self.y), category="agent", provenance=told,
                         observed_step=when)]
        return [Fact(kind="seen_at", subject=self.entity, place=(self.x, self.y),
                     category="resource", provenance=told, observed_step=when)]


class GoalClaimPayload(_Payload):
    """Claim, release or report done on a team goal, so agents do not duplicate work."""

    type: Literal["goal_claim"] = "goal_claim"
    goal: Annotated[str, Field(min_length=1, max_length=MAX_PLAN_STEP_CHARS)]
    status: Literal["claim", "release", "done"]

    def summary(self) -> str:
        return f"{self.status} {self.goal}"

    def target(self) -> tuple[str, int, int] | None:
        """(kind, x, y) when the goal names a located target as `<kind>@<x>,<y>`."""
        found = _TARGET.match(self.goal)
        return None if found is None else (found[1], int(found[2]), int(found[3]))

    def facts(self, sender: str, step: int) -> list[Fact]:
        facts = _report(sender, f"{self.status} {self.goal}", self.goal)
        target = self.target()
        if target is not None:
            kind, x, y = target
            facts.append(Fact(kind="claim", subject=kind, place=(x, y), agent=sender,
                              status=_CLAIM_STATUS[self.status],
                              provenance=f"told_by:{sender}"))
        return facts


class PlanPayload(_Payload):
    """An ordered list of intended steps."""

    type: Literal["plan"] = "plan"
    steps: list[Annotated[str, Field(min_length=1, max_length=MAX_PLAN_STEP_CHARS)]] = Field(
        min_length=1, max_length=MAX_PLAN_STEPS
    )

    def summary(self) -> str:
        return "plan: " + "; ".join(self.steps)

    def facts(self, sender: str, step: int) -> list[Fact]:
        return _report(sender, "plan: " + "; ".join(self.steps)[:1000])


class TextPayload(_Payload):
    """Free text of bounded length, for LLM agents."""

    type: Literal["text"] = "text"
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)

    def summary(self) -> str:
        return self.text

    def facts(self, sender: str, step: int) -> list[Fact]:
        return _report(sender, self.text)


Payload = Annotated[
    MemoryExportPayload
    | ItemOfferPayload
    | ItemRequestPayload
    | RecipeRequestPayload
    | LocationPayload
    | GoalClaimPayload
    | PlanPayload
    | TextPayload,
    Field(discriminator="type"),
]

# Which payload types each kind may carry. An offer must say what is offered, a plan must be a
# plan or a goal claim; inform is for facts, accept/ack refer back to a trade or a goal.
ALLOWED_PAYLOADS: dict[MessageKind, frozenset[str]] = {
    MessageKind.INFORM: frozenset({"memory_export", "location", "goal_claim", "text"}),
    MessageKind.REQUEST: frozenset({"item_request", "recipe_request", "location", "text"}),
    MessageKind.OFFER: frozenset({"item_offer"}),
    MessageKind.ACCEPT: frozenset({"item_offer", "item_request", "goal_claim"}),
    MessageKind.ACK: frozenset({"item_offer", "item_request", "goal_claim", "text"}),
    MessageKind.PLAN: frozenset({"plan", "goal_claim"}),
}


class Message(BaseModel):
    """One message on the channel. ``recipients=None`` means broadcast to every other agent.

    ``msg_id`` is assigned by the channel on acceptance; senders leave it unset.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    sender: _Name
    recipients: list[_Name] | None = Field(default=None, min_length=1)
    kind: MessageKind
    payload: Payload
    step: int = Field(ge=0)
    ttl: int = Field(default=1, ge=1)
    msg_id: int | None = Field(default=None, ge=0)

    @field_validator("recipients")
    @classmethod
    def _recipients_distinct(
        cls, value: list[str] | None, info: ValidationInfo
    ) -> list[str] | None:
        if value is None:
            return value
        if len(set(value)) != len(value):
            raise ValueError("must be distinct")
        sender = info.data.get("sender")
        if sender is not None and sender in value:
            raise ValueError(f"must not include the sender {sender!r}")
        return value

    @field_validator("payload")
    @classmethod
    def _payload_fits_kind(cls, value: _Payload, info: ValidationInfo) -> _Payload:
        kind = info.data.get("kind")
        if kind is None:  # kind itself failed validation; that error is reported already
            return value
        allowed = ALLOWED_PAYLOADS[kind]
        ptype = value.type  # type: ignore[attr-defined]
        if ptype not in allowed:
            raise ValueError(
                f"kind {kind.value!r} allows payload types {sorted(allowed)}, got {ptype!r}"
            )
        return value

    def facts(self, step: int) -> list[Fact]:
        """What the receiver's memory stores from this message when read at `step`."""
        return self.payload.facts(self.sender, step)  # type: ignore[attr-defined]

    def size_bytes(self) -> int:
        """Size of the message's JSON encoding in bytes (what the byte budgets count)."""
        return len(self.model_dump_json().encode("utf-8"))


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem, ``<field.path>: <problem> (got <value>)``, joined by ``; ``."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "message"
        msg = err["msg"].removeprefix("Value error, ")
        inp = err.get("input")
        if err["type"] != "missing" and isinstance(inp, str | int | float | bool | None):
            got = repr(inp)
            msg = f"{msg} (got {got[:40] + '...' if len(got) > 40 else got})"
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)
