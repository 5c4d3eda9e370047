"""Structured communication channel between agents.

Agents talk only through this channel (plus the explicit team memory). Every message is a
validated pydantic schema (:class:`~memsim.agents.messages.Message`, the vocabulary lives
with the agents) with a typed payload; the channel routes it
(direct or broadcast), enforces per-agent rate and size budgets and an optional range limit,
injects seeded loss / duplication / delay, and delivers it at the earliest on the next step.
Everything it does is counted in :attr:`CommChannel.metrics`.

Semantics, in one place:

* **Delivery.** A message accepted at step ``t`` is scheduled for step ``t + 1 + delay_steps``
  and handed out by the first :meth:`CommChannel.deliver` call whose step is at or past that.
  Each copy is delivered once (an inbox is consumed when read).
* **TTL.** ``ttl`` counts from the *send* step: a copy can be delivered at step ``s`` only if
  ``s <= message.step + ttl``. With ``delay_steps >= ttl`` a message goes stale in transit and
  is counted as ``expired`` instead of delivered (the sender cannot see the channel's delay).
* **Range.** ``range_limit`` is a **Chebyshev** distance in grid cells
  (``max(|dx|, |dy|)``, the shape of a grid agent's square local view), measured between the
  sender's and each recipient's positions at send time. A recipient without a known position
  is out of range.
* **Faults.** Loss and duplication are drawn per (message, recipient) copy from one seeded
  ``numpy.random.Generator``: for each recipient, in the channel's agent order, one draw for
  loss and one for duplication (both always drawn, so the stream does not depend on outcomes).
  A duplicate is a second copy with the same ``msg_id`` in the same inbox, so receivers can
  de-duplicate.
* **Identity.** The runtime passes ``sender=`` (the agent whose decision this is): a message
  that names another agent as its sender is rejected as forged (``rejected_invalid``,
  charged to the real sender; the named agent's budget is untouched); a dict without a
  sender gets the real one.
* **Meaning.** A message is accepted only if the receiver's memory can store what it says:
  the channel builds ``message.facts(step)`` (the same facts the receiver's ``read_inbox``
  builds) and rejects the message with the reason if that fails.
* **Counters.** ``sent == accepted + rejected_invalid + rejected_budget + rejected_disabled``
  (per message). Delivery-side counters are per (message, recipient) copy:
  ``addressed + duplicated == dropped_range + dropped_loss + delivered + expired + pending``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from memsim.agents.messages import Message, format_validation_error


class CommConfig(BaseModel):
    """Channel settings: budgets are per agent per step; probabilities are per recipient copy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    max_messages_per_step: int = Field(default=8, ge=1, le=10_000)
    max_bytes_per_step: int = Field(default=16_384, ge=1, le=2**31 - 1)
    max_payload_bytes: int = Field(default=8_192, ge=1, le=2**31 - 1)
    range_limit: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    delay_steps: int = Field(default=0, ge=0, le=1_000_000)
    loss_prob: float = Field(default=0.0, ge=0.0, le=1.0)
    duplicate_prob: float = Field(default=0.0, ge=0.0, le=1.0)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> CommConfig:
        """Build from e.g. a scenario's ``[comm]`` table; raise ``ValueError`` naming bad fields."""
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            raise ValueError(f"invalid comm config: {format_validation_error(exc)}") from None


@dataclass(frozen=True)
class SendResult:
    """Outcome of :meth:`CommChannel.send`. Loss and range drops are not revealed to senders."""

    accepted: bool
    msg_id: int | None = None
    error: str | None = None
    size_bytes: int = 0


@dataclass
class CommCounters:
    """Channel counters. Send-side fields count messages; delivery-side fields count copies."""

    sent: int = 0
    accepted: int = 0
    rejected_invalid: int = 0
    rejected_budget: int = 0
    rejected_disabled: int = 0
    bytes_sent: int = 0
    addressed: int = 0
    dropped_loss: int = 0
    dropped_range: int = 0
    duplicated: int = 0
    delivered: int = 0
    expired: int = 0


@dataclass
class CommMetrics:
    """Totals plus a per-agent breakdown.

    Per agent, send-side counters belong to the sender and delivery-side counters to the
    recipient. Rejections whose sender is not a known agent appear only in ``total``.
    """

    total: CommCounters = field(default_factory=CommCounters)
    per_agent: dict[str, CommCounters] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "total": asdict(self.total),
            "per_agent": {a: asdict(c) for a, c in self.per_agent.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CommMetrics:
        """Inverse of :meth:`as_dict`."""
        return cls(
            total=CommCounters(**data["total"]),
            per_agent={a: CommCounters(**c) for a, c in data["per_agent"].items()},
        )


@dataclass(frozen=True)
class _Copy:
    """One scheduled delivery of a message to one recipient."""

    deliver_at: int
    recipient: str
    msg_id: int


SNAPSHOT_VERSION = 1


class CommChannel:
    """Validated, budgeted, fault-injecting message passing between a fixed set of agents."""

    def __init__(self, agent_ids: Iterable[str], config: CommConfig | None = None, seed: int = 0):
        ids = list(agent_ids)
        if not ids:
            raise ValueError("agent_ids: need at least one agent")
        if len(set(ids)) != len(ids):
            raise ValueError(f"agent_ids: must be distinct, got {ids}")
        for a in ids:
            if not isinstance(a, str) or not a:
                raise ValueError(f"agent_ids: each id must be a non-empty string, got {a!r}")
        self._agent_ids: tuple[str, ...] = tuple(ids)
        self._agent_set = frozenset(ids)
        self._config = config if config is not None else CommConfig()
        self._seed = seed
        self._rng = np.random.default_rng(seed)
        self._next_msg_id = 0
        self._clock = 0
        # agent -> (step, messages, bytes) used in that step; reset when the step changes
        self._usage: dict[str, tuple[int, int, int]] = {}
        self._messages: dict[int, Message] = {}
        self._pending: list[_Copy] = []
        self._metrics = CommMetrics(per_agent={a: CommCounters() for a in ids})

    # ------------------------------------------------------------------ properties
    @property
    def agent_ids(self) -> tuple[str, ...]:
        """The agents this channel connects, in the order used for fault draws."""
        return self._agent_ids

    @property
    def config(self) -> CommConfig:
        """The channel's (immutable) configuration."""
        return self._config

    @property
    def metrics(self) -> CommMetrics:
        """A copy of the counters (mutating it does not affect the channel)."""
        return CommMetrics.from_dict(self._metrics.as_dict())

    @property
    def pending(self) -> int:
        """Number of message copies scheduled but not yet delivered or expired."""
        return len(self._pending)

    # ------------------------------------------------------------------ sending
    def send(
        self,
        raw: Message | Mapping[str, Any],
        step: int,
        positions: Mapping[str, tuple[int, int]] | None = None,
        sender: str | None = None,
    ) -> SendResult:
        """Validate, budget, route and schedule one message sent at ``step``.

        A bad message never raises: it is rejected with ``error="<field>: <problem>"`` and
        counted. ``sender``: the agent actually sending (the runtime knows it); a message
        claiming another sender is rejected as forged. Programming errors of the caller
        (negative or backwards ``step``, missing ``positions`` when a range limit is set,
        an unknown ``sender``) do raise ``ValueError``.
        """
        step = self._advance_clock(step, "send")
        cfg = self._config
        if cfg.range_limit is not None and positions is None:
            raise ValueError("positions: required when comm range_limit is set")
        if sender is not None and sender not in self._agent_set:
            raise ValueError(f"sender: {sender!r} is not an agent of this channel; "
                             f"known agents: {', '.join(self._agent_ids)}")
        claimed = sender if sender is not None else self._claimed_sender(raw)
        self._count_send("sent", claimed)
        if not cfg.enabled:
            self._count_send("rejected_disabled", claimed)
            return SendResult(accepted=False, error="comm disabled")

        msg, error = self._validate(raw, step, sender)
        if msg is None:
            self._count_send("rejected_invalid", claimed)
            return SendResult(accepted=False, error=error)

        payload_bytes = len(msg.payload.model_dump_json().encode("utf-8"))
        size = msg.size_bytes()
        used_step, used_n, used_bytes = self._usage.get(msg.sender, (step, 0, 0))
        if used_step != step:
            used_n, used_bytes = 0, 0
        budget_error = None
        if payload_bytes > cfg.max_payload_bytes:
            budget_error = (
                f"payload: {payload_bytes} bytes exceeds max_payload_bytes={cfg.max_payload_bytes}"
            )
        elif used_n + 1 > cfg.max_messages_per_step:
            budget_error = (
                f"budget: {msg.sender!r} already sent {used_n} messages at step {step}; "
                f"max_messages_per_step={cfg.max_messages_per_step}"
            )
        elif used_bytes + size > cfg.max_bytes_per_step:
            budget_error = (
                f"budget: {msg.sender!r} would send {used_bytes + size} bytes at step {step}; "
                f"max_bytes_per_step={cfg.max_bytes_per_step}"
            )
        if budget_error is not None:
            self._count_send("rejected_budget", msg.sender)
            return SendResult(accepted=False, error=budget_error, size_bytes=size)

        self._usage[msg.sender] = (step, used_n + 1, used_bytes + size)
        msg_id = self._next_msg_id
        self._next_msg_id += 1
        msg = msg.model_copy(update={"msg_id": msg_id})
        self._count_send("accepted", msg.sender)
        self._count_send("bytes_sent", msg.sender, size)
        self._schedule(msg, positions)
        return SendResult(accepted=True, msg_id=msg_id, size_bytes=size)

    def _validate(
        self, raw: Message | Mapping[str, Any], step: int, sender: str | None = None
    ) -> tuple[Message | None, str | None]:
        if isinstance(raw, Message):
            data: dict[str, Any] = raw.model_dump()
        elif isinstance(raw, Mapping):
            data = dict(raw)
            data.setdefault("step", step)  # convenience for dict senders
            if sender is not None:
                data.setdefault("sender", sender)
        else:
            return None, f"message: expected a Message or a dict, got {type(raw).__name__}"
        if sender is not None and data.get("sender") != sender:
            claimed = _short(repr(data.get("sender")))
            return None, (f"sender: {sender!r} cannot send as {claimed}; a message's sender "
                          "is the agent that sends it (forged)")
        try:
            # Re-validating a Message too: it may have been built with model_construct, and the
            # copy keeps the channel's state independent of the sender's object.
            msg = Message.model_validate(data)
        except ValidationError as exc:
            return None, format_validation_error(exc)
        if msg.msg_id is not None:
            return None, "msg_id: assigned by the channel; leave it unset"
        if msg.step != step:
            return None, f"step: message step {msg.step} does not match the send step {step}"
        known = ", ".join(self._agent_ids)
        if msg.sender not in self._agent_set:
            return None, f"sender: unknown agent {msg.sender!r}; known agents: {known}"
        if msg.recipients is not None:
            unknown = [r for r in msg.recipients if r not in self._agent_set]
            if unknown:
                return None, f"recipients: unknown agent(s) {unknown}; known agents: {known}"
        error = _unreadable(msg, step)
        return (None, error) if error is not None else (msg, None)

    def _schedule(self, msg: Message, positions: Mapping[str, tuple[int, int]] | None) -> None:
        cfg = self._config
        wanted = set(msg.recipients) if msg.recipients is not None else None
        targets = [
            a
            for a in self._agent_ids
            if a != msg.sender and (wanted is None or a in wanted)
        ]
        deliver_at = msg.step + 1 + cfg.delay_steps
        scheduled = False
        for r in targets:
            self._count_recv("addressed", r)
            if cfg.range_limit is not None and not _in_range(
                positions or {}, msg.sender, r, cfg.range_limit
            ):
                self._count_recv("dropped_range", r)
                continue
            lost = self._rng.random() < cfg.loss_prob
            dup = self._rng.random() < cfg.duplicate_prob
            if lost:
                self._count_recv("dropped_loss", r)
                continue
            copies = 2 if dup else 1
            if dup:
                self._count_recv("duplicated", r)
            for _ in range(copies):
                self._pending.append(_Copy(deliver_at, r, msg.msg_id))  # type: ignore[arg-type]
            scheduled = True
        if scheduled:
            self._messages[msg.msg_id] = msg  # type: ignore[index]

    # ------------------------------------------------------------------ delivering
    def deliver(self, step: int) -> dict[str, list[Message]]:
        """Each agent's inbox at ``step``: due, unexpired copies, each handed out once.

        Ordered by (send step, sender, msg_id). A disabled channel delivers nothing.
        """
        step = self._advance_clock(step, "deliver")
        inbox: dict[str, list[Message]] = {a: [] for a in self._agent_ids}
        if not self._config.enabled:
            return inbox
        keep: list[_Copy] = []
        for c in self._pending:
            if c.deliver_at > step:
                keep.append(c)
                continue
            msg = self._messages[c.msg_id]
            if step > msg.step + msg.ttl:
                self._count_recv("expired", c.recipient)
            else:
                self._count_recv("delivered", c.recipient)
                inbox[c.recipient].append(msg)
        self._pending = keep
        live = {c.msg_id for c in keep}
        self._messages = {i: m for i, m in self._messages.items() if i in live}
        for msgs in inbox.values():
            msgs.sort(key=lambda m: (m.step, m.sender, m.msg_id))
        return inbox

    # ------------------------------------------------------------------ state
    def snapshot(self) -> dict[str, Any]:
        """The full channel state as JSON-serialisable data (see :meth:`restore`)."""
        return {
            "version": SNAPSHOT_VERSION,
            "agent_ids": list(self._agent_ids),
            "config": self._config.model_dump(mode="json"),
            "seed": self._seed,
            "rng": _jsonable_rng_state(self._rng.bit_generator.state),
            "next_msg_id": self._next_msg_id,
            "clock": self._clock,
            "usage": {a: list(u) for a, u in self._usage.items()},
            "messages": [m.model_dump(mode="json") for m in self._messages.values()],
            "pending": [[c.deliver_at, c.recipient, c.msg_id] for c in self._pending],
            "metrics": self._metrics.as_dict(),
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Replace this channel's state with a :meth:`snapshot` of a channel of the same shape.

        Raises ``ValueError`` if the snapshot's agents or config differ from this channel's.
        """
        if state.get("version") != SNAPSHOT_VERSION:
            raise ValueError(
                f"version: unsupported comm snapshot version {state.get('version')!r}; "
                f"expected {SNAPSHOT_VERSION}"
            )
        if list(state["agent_ids"]) != list(self._agent_ids):
            raise ValueError(
                f"agent_ids: snapshot has {state['agent_ids']}, channel has {list(self._agent_ids)}"
            )
        if CommConfig.model_validate(state["config"]) != self._config:
            raise ValueError("config: snapshot was taken with a different CommConfig")
        rng = np.random.default_rng()
        rng.bit_generator.state = state["rng"]
        messages = [Message.model_validate(m) for m in state["messages"]]
        self._rng = rng
        self._seed = state["seed"]
        self._next_msg_id = int(state["next_msg_id"])
        self._clock = int(state["clock"])
        self._usage = {a: (int(u[0]), int(u[1]), int(u[2])) for a, u in state["usage"].items()}
        self._messages = {m.msg_id: m for m in messages}  # type: ignore[misc]
        self._pending = [_Copy(int(s), str(r), int(i)) for s, r, i in state["pending"]]
        self._metrics = CommMetrics.from_dict(state["metrics"])

    @classmethod
    def from_snapshot(cls, state: Mapping[str, Any]) -> CommChannel:
        """A new channel continuing exactly where the snapshotted one stopped."""
        channel = cls(
            state["agent_ids"], CommConfig.model_validate(state["config"]), seed=state["seed"]
        )
        channel.restore(state)
        return channel

    # ------------------------------------------------------------------ helpers
    def _advance_clock(self, step: int, what: str) -> int:
        if isinstance(step, bool) or not isinstance(step, int | np.integer) or step < 0:
            raise ValueError(f"step: {what} needs an integer step >= 0, got {step!r}")
        if step < self._clock:
            raise ValueError(
                f"step: {what} at step {step} after step {self._clock}; steps must not go back"
            )
        self._clock = int(step)
        return self._clock

    def _claimed_sender(self, raw: object) -> str | None:
        """The sender a (possibly invalid) message claims, if it is a known agent."""
        sender = raw.get("sender") if isinstance(raw, Mapping) else getattr(raw, "sender", None)
        return sender if isinstance(sender, str) and sender in self._agent_set else None

    def _count_send(self, name: str, sender: str | None, amount: int = 1) -> None:
        _bump(self._metrics.total, name, amount)
        if sender is not None:
            _bump(self._metrics.per_agent[sender], name, amount)

    def _count_recv(self, name: str, recipient: str) -> None:
        _bump(self._metrics.total, name, 1)
        _bump(self._metrics.per_agent[recipient], name, 1)


COUNTER_NAMES: tuple[str, ...] = tuple(f.name for f in fields(CommCounters))


def _unreadable(msg: Message, step: int) -> str | None:
    """Why a receiver's memory could not store what `msg` says (None: it can)."""
    try:
        msg.facts(step)
    except ValidationError as exc:
        return f"payload: not storable in memory: {format_validation_error(exc)}"
    except (ValueError, LookupError, TypeError, RecursionError) as exc:
        # SchemaError (a ValueError) from the memory layer names the field itself.
        return f"payload: not storable in memory: {_short(str(exc), 300)}"
    return None


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _bump(counters: CommCounters, name: str, amount: int) -> None:
    setattr(counters, name, getattr(counters, name) + amount)


def _in_range(
    positions: Mapping[str, tuple[int, int]], sender: str, recipient: str, limit: float
) -> bool:
    """Chebyshev distance between two agents' cells is within ``limit``; unknown = out."""
    a = positions.get(sender)
    b = positions.get(recipient)
    if a is None or b is None:
        return False
    return max(abs(a[0] - b[0]), abs(a[1] - b[1])) <= limit


def _jsonable_rng_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """A deep, JSON-safe copy of numpy's bit-generator state (plain dicts and ints)."""
    return json.loads(json.dumps(dict(state)))


__all__ = [
    "COUNTER_NAMES",
    "CommChannel",
    "CommConfig",
    "CommCounters",
    "CommMetrics",
    "SendResult",
]
