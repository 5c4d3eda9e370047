"""Tests for the structured communication channel (sim/comm.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from memsim.agents.messages import (
    ALLOWED_PAYLOADS,
    GoalClaimPayload,
    ItemOfferPayload,
    ItemRequestPayload,
    LocationPayload,
    MemoryExportPayload,
    Message,
    MessageKind,
    PlanPayload,
    RecipeRequestPayload,
    TextPayload,
)
from memsim.sim.comm import COUNTER_NAMES, CommChannel, CommConfig, CommCounters

AGENTS = ["a", "b", "c"]

# One valid payload of every type, as plain dicts (what an LLM / scripted agent would emit).
PAYLOADS: dict[str, dict[str, Any]] = {
    "memory_export": {
        "type": "memory_export",
        "nodes": [{"id": "tree1", "kind": "entity", "pos": [3, 4]}],
        "edges": [{"src": "a", "dst": "tree1", "rel": "saw"}],
        "source": "a",
        "step": 2,
        "step_base": 0,
    },
    "item_offer": {"type": "item_offer", "item": "wood", "count": 2},
    "item_request": {"type": "item_request", "item": "stone", "count": 1, "until": 40},
    "recipe_request": {"type": "recipe_request", "item": "iron_pickaxe"},
    "location": {"type": "location", "entity": "water", "x": -1, "y": 7, "seen_step": 3},
    "goal_claim": {"type": "goal_claim", "goal": "collect_diamond", "status": "claim"},
    "plan": {"type": "plan", "steps": ["collect wood", "place table"]},
    "text": {"type": "text", "text": "meet at the lake"},
}
PAYLOAD_CLASSES = {
    "memory_export": MemoryExportPayload,
    "item_offer": ItemOfferPayload,
    "item_request": ItemRequestPayload,
    "recipe_request": RecipeRequestPayload,
    "location": LocationPayload,
    "goal_claim": GoalClaimPayload,
    "plan": PlanPayload,
    "text": TextPayload,
}
KIND_FOR = {
    ptype: next(k for k in MessageKind if ptype in ALLOWED_PAYLOADS[k]) for ptype in PAYLOADS
}


def msg(
    sender: str = "a",
    step: int = 0,
    kind: str = "offer",
    payload: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A message dict; defaults to a valid broadcast offer."""
    return {
        "sender": sender,
        "kind": kind,
        "payload": payload if payload is not None else PAYLOADS["item_offer"],
        "step": step,
        **extra,
    }


def text_msg(sender: str, step: int, text: str, **extra: Any) -> dict[str, Any]:
    return msg(sender, step, "inform", {"type": "text", "text": text}, **extra)


def counts_add_up(c: CommCounters, pending: int) -> None:
    assert c.sent == c.accepted + c.rejected_invalid + c.rejected_budget + c.rejected_disabled
    assert c.addressed + c.duplicated == (
        c.dropped_range + c.dropped_loss + c.delivered + c.expired + pending
    )


# ---------------------------------------------------------------------------- schema


@pytest.mark.parametrize("ptype", sorted(PAYLOADS))
def test_every_payload_type_validates_into_its_class(ptype: str) -> None:
    m = Message.model_validate(msg(kind=KIND_FOR[ptype], payload=PAYLOADS[ptype]))
    assert isinstance(m.payload, PAYLOAD_CLASSES[ptype])
    assert m.payload.model_dump() == PAYLOADS[ptype]


@pytest.mark.parametrize(
    ("ptype", "bad", "field"),
    [
        ("memory_export", {"step": -1}, "step"),
        ("memory_export", {"nodes": [{"id": {1, 2}}]}, "nodes"),
        ("memory_export", {"nodes": [{"i": n} for n in range(1000)]}, "nodes"),
        ("item_offer", {"count": 0}, "count"),
        ("item_offer", {"item": ""}, "item"),
        ("item_request", {"count": -3}, "count"),
        ("location", {"x": "left"}, "x"),
        ("location", {"seen_step": -1}, "seen_step"),
        ("goal_claim", {"status": "maybe"}, "status"),
        ("plan", {"steps": []}, "steps"),
        ("text", {"text": "x" * 5000}, "text"),
        ("text", {"colour": "red"}, "colour"),
    ],
)
def test_bad_payload_fields_are_rejected_by_name(
    ptype: str, bad: dict[str, Any], field: str
) -> None:
    ch = CommChannel(AGENTS)
    res = ch.send(msg(kind=KIND_FOR[ptype], payload={**PAYLOADS[ptype], **bad}), 0)
    assert not res.accepted
    assert res.error is not None
    assert res.error.startswith(f"payload.{ptype}.")
    assert field in res.error
    assert ch.metrics.total.rejected_invalid == 1


def test_count_zero_error_names_count_field() -> None:
    bad = {"type": "item_offer", "item": "wood", "count": 0}
    res = CommChannel(AGENTS).send(msg(payload=bad), 0)
    assert res.error == (
        "payload.item_offer.count: Input should be greater than or equal to 1 (got 0)"
    )


def test_unknown_payload_type_names_the_tag() -> None:
    res = CommChannel(AGENTS).send(msg(payload={"type": "gossip", "text": "x"}), 0)
    assert not res.accepted and res.error is not None
    assert res.error.startswith("payload:") and "gossip" in res.error


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"kind": "shout"}, "kind"),
        ({"ttl": 0}, "ttl"),
        ({"step": -1}, "step"),
        ({"sender": ""}, "sender"),
        ({"recipients": []}, "recipients"),
        ({"recipients": ["b", "b"]}, "recipients"),
        ({"recipients": ["a", "b"]}, "recipients"),  # includes the sender
        ({"priority": 5}, "priority"),
    ],
)
def test_bad_message_fields_are_rejected_by_name(bad: dict[str, Any], field: str) -> None:
    ch = CommChannel(AGENTS)
    res = ch.send({**msg(), **bad}, 0)
    assert not res.accepted and res.error is not None
    assert res.error.startswith(f"{field}:"), res.error


def test_missing_field_is_named() -> None:
    raw = msg()
    del raw["kind"]
    res = CommChannel(AGENTS).send(raw, 0)
    assert res.error == "kind: Field required"


@pytest.mark.parametrize("kind", list(MessageKind))
@pytest.mark.parametrize("ptype", sorted(PAYLOADS))
def test_kind_payload_compatibility(kind: MessageKind, ptype: str) -> None:
    raw = msg(kind=kind.value, payload=PAYLOADS[ptype])
    allowed = ptype in ALLOWED_PAYLOADS[kind]
    if allowed:
        Message.model_validate(raw)
    else:
        with pytest.raises(ValidationError, match=f"kind '{kind.value}' allows payload types"):
            Message.model_validate(raw)


def test_kind_rules_spot_checks() -> None:
    # The rules that matter for trading and planning, stated directly.
    assert ALLOWED_PAYLOADS[MessageKind.OFFER] == {"item_offer"}
    assert "item_request" in ALLOWED_PAYLOADS[MessageKind.REQUEST]
    assert "plan" in ALLOWED_PAYLOADS[MessageKind.PLAN]
    assert "item_offer" not in ALLOWED_PAYLOADS[MessageKind.REQUEST]


def test_messages_are_frozen() -> None:
    m = Message.model_validate(msg())
    with pytest.raises(ValidationError):
        m.sender = "b"  # type: ignore[misc]


def test_sender_may_not_set_msg_id_or_mismatched_step() -> None:
    ch = CommChannel(AGENTS)
    assert ch.send(msg(msg_id=7), 0).error == "msg_id: assigned by the channel; leave it unset"
    res = ch.send(msg(step=3), 4)
    assert res.error is not None and res.error.startswith("step:")
    raw = msg()
    del raw["step"]  # dict senders may omit the step; the channel fills it in
    assert ch.send(raw, 4).accepted


def test_non_message_input_is_rejected_not_raised() -> None:
    ch = CommChannel(AGENTS)
    res = ch.send(["not", "a", "message"], 0)  # type: ignore[arg-type]
    assert not res.accepted and res.error is not None and res.error.startswith("message:")
    assert ch.metrics.total.rejected_invalid == 1


# ---------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"loss_prob": 1.5}, "loss_prob"),
        ({"duplicate_prob": -0.1}, "duplicate_prob"),
        ({"delay_steps": -1}, "delay_steps"),
        ({"max_messages_per_step": 0}, "max_messages_per_step"),
        ({"max_bytes_per_step": 0}, "max_bytes_per_step"),
        ({"max_payload_bytes": 0}, "max_payload_bytes"),
        ({"range_limit": -2}, "range_limit"),
        ({"delay": 2}, "delay"),
    ],
)
def test_invalid_config_names_field(bad: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=f"^invalid comm config: {field}: ") as info:
        CommConfig.from_mapping(bad)
    if field == "loss_prob":
        assert "less than or equal to 1 (got 1.5)" in str(info.value)


def test_channel_rejects_bad_agent_ids() -> None:
    with pytest.raises(ValueError, match="agent_ids"):
        CommChannel(["a", "a"])
    with pytest.raises(ValueError, match="agent_ids"):
        CommChannel([])


# ---------------------------------------------------------------------------- routing


def test_unknown_sender_and_recipient() -> None:
    ch = CommChannel(AGENTS)
    res = ch.send(msg(sender="zed"), 0)
    assert not res.accepted and res.error is not None
    assert res.error.startswith("sender: unknown agent 'zed'") and "a, b, c" in res.error
    res = ch.send(msg(recipients=["b", "q"]), 0)
    assert res.error is not None and res.error.startswith("recipients:") and "'q'" in res.error
    assert ch.metrics.total.rejected_invalid == 2
    # an unknown claimed sender cannot be attributed per agent; a known one can
    assert ch.metrics.per_agent["a"].rejected_invalid == 1


def test_broadcast_reaches_everyone_but_sender_and_direct_only_recipients() -> None:
    ch = CommChannel(AGENTS)
    b = ch.send(msg(sender="a"), 0)
    d = ch.send(text_msg("b", 0, "psst", recipients=["c"]), 0)
    assert b.accepted and d.accepted and b.msg_id != d.msg_id
    inbox = ch.deliver(1)
    assert [m.msg_id for m in inbox["a"]] == []
    assert [m.msg_id for m in inbox["b"]] == [b.msg_id]
    assert [m.msg_id for m in inbox["c"]] == [b.msg_id, d.msg_id]
    assert ch.metrics.total.addressed == 3 and ch.metrics.total.delivered == 3


def test_delivery_is_next_step_not_before_and_only_once() -> None:
    ch = CommChannel(AGENTS)
    assert ch.send(msg(step=5), 5).accepted
    assert ch.deliver(5) == {"a": [], "b": [], "c": []}
    inbox = ch.deliver(6)
    assert len(inbox["b"]) == 1 and inbox["b"][0].step == 5
    assert ch.deliver(6)["b"] == []
    assert ch.deliver(7)["b"] == []


def test_delivered_message_equals_sent_one_with_id() -> None:
    ch = CommChannel(AGENTS)
    original = Message.model_validate(msg(kind="plan", payload=PAYLOADS["plan"]))
    res = ch.send(original, 0)
    got = ch.deliver(1)["b"][0]
    assert got == original.model_copy(update={"msg_id": res.msg_id})


def test_inbox_order_is_step_then_sender_then_id() -> None:
    ch = CommChannel(AGENTS)
    ch.send(text_msg("c", 0, "c0", ttl=5), 0)
    ch.send(text_msg("b", 0, "b0-first", ttl=5), 0)
    ch.send(text_msg("b", 0, "b0-second", ttl=5), 0)
    ch.send(text_msg("c", 1, "c1", ttl=5), 1)
    ch.send(text_msg("b", 1, "b1", ttl=5), 1)
    # inbox not read at steps 1 and 2, so both steps' messages arrive together
    texts = [m.payload.text for m in ch.deliver(3)["a"]]  # type: ignore[union-attr]
    assert texts == ["b0-first", "b0-second", "c0", "b1", "c1"]


def test_delay_steps() -> None:
    ch = CommChannel(AGENTS, CommConfig(delay_steps=2))
    ch.send(msg(ttl=3), 0)
    assert ch.deliver(1)["b"] == [] and ch.deliver(2)["b"] == []
    assert len(ch.deliver(3)["b"]) == 1


def test_ttl_expiry_in_transit_and_when_not_read() -> None:
    # delay 2 with ttl 2: the message is stale (step 3 > 0 + 2) when it arrives
    ch = CommChannel(AGENTS, CommConfig(delay_steps=2))
    ch.send(msg(ttl=2), 0)
    assert ch.deliver(3) == {"a": [], "b": [], "c": []}
    assert ch.metrics.total.expired == 2 and ch.metrics.total.delivered == 0
    # no delay, ttl 3: still deliverable at step 3 if the inbox was not read earlier, not at 4
    ch = CommChannel(AGENTS)
    ch.send(msg(ttl=3), 0)
    ch.send(msg(sender="b", ttl=3), 0)
    assert len(ch.deliver(3)["c"]) == 2
    ch.send(msg(step=3, ttl=3), 3)
    assert ch.deliver(7)["b"] == []
    assert ch.metrics.per_agent["b"].expired == 1
    counts_add_up(ch.metrics.total, ch.pending)


def test_range_limit_is_chebyshev() -> None:
    ch = CommChannel(["a", "b", "c", "d"], CommConfig(range_limit=2))
    pos = {"a": (0, 0), "b": (2, 2), "c": (3, 0)}  # b at Chebyshev 2 (Euclid 2.83), c at 3
    ch.send(msg(), 0, positions=pos)
    inbox = ch.deliver(1)
    assert len(inbox["b"]) == 1 and inbox["c"] == [] and inbox["d"] == []  # d: no position
    t = ch.metrics.total
    assert t.dropped_range == 2 and t.delivered == 1
    assert ch.metrics.per_agent["c"].dropped_range == 1


def test_range_limit_needs_positions() -> None:
    ch = CommChannel(AGENTS, CommConfig(range_limit=3))
    with pytest.raises(ValueError, match="positions"):
        ch.send(msg(), 0)


def test_steps_must_not_go_back() -> None:
    ch = CommChannel(AGENTS)
    ch.deliver(4)
    with pytest.raises(ValueError, match="step"):
        ch.send(msg(step=3), 3)
    with pytest.raises(ValueError, match="step"):
        ch.deliver(-1)


# ---------------------------------------------------------------------------- budgets


def test_budget_by_count_resets_each_step() -> None:
    ch = CommChannel(AGENTS, CommConfig(max_messages_per_step=2))
    results = [ch.send(msg(), 0).accepted for _ in range(3)]
    assert results == [True, True, False]
    assert ch.send(msg(sender="b"), 0).accepted  # budgets are per agent
    res = ch.send(msg(), 0)
    assert res.error is not None and "max_messages_per_step=2" in res.error
    assert ch.send(msg(step=1), 1).accepted
    assert ch.metrics.per_agent["a"].rejected_budget == 2


def test_budget_by_bytes() -> None:
    size = Message.model_validate(msg()).size_bytes()
    assert size == len(Message.model_validate(msg()).model_dump_json())
    ch = CommChannel(AGENTS, CommConfig(max_bytes_per_step=2 * size + size // 2))
    assert [ch.send(msg(), 0).size_bytes for _ in range(2)] == [size, size]
    res = ch.send(msg(), 0)
    assert not res.accepted and res.error is not None and "max_bytes_per_step" in res.error
    assert ch.metrics.total.bytes_sent == 2 * size
    assert ch.metrics.total.rejected_budget == 1


def test_max_payload_bytes() -> None:
    ch = CommChannel(AGENTS, CommConfig(max_payload_bytes=100))
    res = ch.send(text_msg("a", 0, "x" * 200), 0)
    assert not res.accepted and res.error is not None
    assert res.error.startswith("payload:") and "max_payload_bytes=100" in res.error
    assert ch.send(text_msg("a", 0, "short"), 0).accepted


# ---------------------------------------------------------------------------- faults


def _run_faulty(seed: int, n: int = 200, **cfg: Any) -> list[list[int | None]]:
    ch = CommChannel(AGENTS, CommConfig(max_messages_per_step=n, **cfg), seed=seed)
    out = []
    for step in range(3):
        for i in range(n // 3):
            ch.send(text_msg(AGENTS[i % 3], step, f"m{i}"), step)
        inbox = ch.deliver(step + 1)
        out.append([m.msg_id for a in AGENTS for m in inbox[a]])
    return out


def test_faults_are_seeded() -> None:
    cfg = {"loss_prob": 0.3, "duplicate_prob": 0.2}
    assert _run_faulty(7, **cfg) == _run_faulty(7, **cfg)
    assert _run_faulty(7, **cfg) != _run_faulty(8, **cfg)


def test_loss_and_duplication_rates() -> None:
    n = 3000
    ch = CommChannel(AGENTS, CommConfig(max_messages_per_step=n, max_bytes_per_step=10**7,
                                        loss_prob=0.25, duplicate_prob=0.1), seed=123)
    for i in range(n):
        ch.send(text_msg(AGENTS[i % 3], 0, "hi"), 0)
    inbox = ch.deliver(1)
    t = ch.metrics.total
    assert t.addressed == 2 * n
    assert 0.22 < t.dropped_loss / t.addressed < 0.28
    survived = t.addressed - t.dropped_loss
    assert 0.08 < t.duplicated / survived < 0.12
    assert t.delivered == survived + t.duplicated == sum(len(v) for v in inbox.values())
    # a duplicate is the same message (same id) twice in one inbox
    ids = [m.msg_id for m in inbox["a"]]
    assert len(ids) - len(set(ids)) == ch.metrics.per_agent["a"].duplicated
    counts_add_up(t, ch.pending)


def test_certain_loss_delivers_nothing() -> None:
    ch = CommChannel(AGENTS, CommConfig(loss_prob=1.0))
    assert ch.send(msg(), 0).accepted  # the sender cannot tell
    assert ch.deliver(1) == {"a": [], "b": [], "c": []}
    assert ch.metrics.total.dropped_loss == 2


# ---------------------------------------------------------------------------- disabled


def test_disabled_channel_accepts_and_delivers_nothing() -> None:
    ch = CommChannel(AGENTS, CommConfig(enabled=False))
    res = ch.send(msg(), 0)
    assert res == type(res)(accepted=False, error="comm disabled")
    ch.send({"garbage": True}, 0)  # counted as disabled, not invalid: nothing is examined
    assert ch.deliver(1) == {"a": [], "b": [], "c": []}
    t = ch.metrics.total
    assert (t.sent, t.rejected_disabled, t.rejected_invalid, t.accepted) == (2, 2, 0, 0)
    assert ch.metrics.per_agent["a"].rejected_disabled == 1


# ---------------------------------------------------------------------------- metrics


def test_metrics_add_up_under_everything() -> None:
    cfg = CommConfig(max_messages_per_step=1, max_bytes_per_step=600, range_limit=4,
                     delay_steps=1, loss_prob=0.2, duplicate_prob=0.2)
    ch = CommChannel(AGENTS, cfg, seed=3)
    payloads = sorted(PAYLOADS)
    for step in range(30):
        pos = {a: (step % 7 * i, i) for i, a in enumerate(AGENTS)}
        for i in range(5):
            sender = AGENTS[(step + i) % 3]
            ptype = payloads[(step * 5 + i) % len(payloads)]
            raw = msg(sender, step, KIND_FOR[ptype], PAYLOADS[ptype], ttl=1 + i % 3)
            if i == 4:
                raw["payload"] = {"type": "item_offer", "item": "wood", "count": 0}
            ch.send(raw, step, positions=pos)
        ch.deliver(step)
    m = ch.metrics
    t = m.total
    assert all(getattr(t, n) > 0 for n in COUNTER_NAMES if n != "rejected_disabled"), t
    counts_add_up(t, ch.pending)
    for name in COUNTER_NAMES:  # every sender here is known, so per-agent sums equal totals
        assert sum(getattr(c, name) for c in m.per_agent.values()) == getattr(t, name)
    json.dumps(m.as_dict())


def test_metrics_property_is_a_copy() -> None:
    ch = CommChannel(AGENTS)
    ch.metrics.total.sent = 99
    assert ch.metrics.total.sent == 0


# ---------------------------------------------------------------------------- snapshot


def _drive(ch: CommChannel, steps: range) -> list[dict[str, list[dict[str, Any]]]]:
    """Send a varied stream and record every inbox, as JSON."""
    log = []
    for step in steps:
        for i in range(4):
            sender = AGENTS[(step + i) % 3]
            rec = None if i % 2 else [AGENTS[(step + i + 1) % 3]]
            ch.send(text_msg(sender, step, f"{step}-{i}", recipients=rec, ttl=1 + i), step)
        inbox = ch.deliver(step)
        log.append({a: [m.model_dump(mode="json") for m in v] for a, v in inbox.items()})
    return log


def test_snapshot_restore_gives_identical_future() -> None:
    cfg = CommConfig(delay_steps=1, loss_prob=0.3, duplicate_prob=0.3)
    reference = CommChannel(AGENTS, cfg, seed=11)
    _drive(reference, range(0, 10))
    state = json.loads(json.dumps(reference.snapshot()))  # must survive a JSON file
    assert reference.pending > 0  # the snapshot really carries in-flight messages
    expected = _drive(reference, range(10, 25))

    resumed = CommChannel.from_snapshot(state)
    assert _drive(resumed, range(10, 25)) == expected
    assert resumed.metrics == reference.metrics

    # restore into an existing channel (different seed) overrides its RNG and state too
    other = CommChannel(AGENTS, cfg, seed=999)
    other.restore(state)
    assert _drive(other, range(10, 25)) == expected


def test_restore_rejects_mismatched_channel() -> None:
    state = CommChannel(AGENTS, CommConfig(delay_steps=1)).snapshot()
    with pytest.raises(ValueError, match="agent_ids"):
        CommChannel(["a", "b"], CommConfig(delay_steps=1)).restore(state)
    with pytest.raises(ValueError, match="config"):
        CommChannel(AGENTS, CommConfig(delay_steps=2)).restore(state)
    with pytest.raises(ValueError, match="version"):
        CommChannel(AGENTS, CommConfig(delay_steps=1)).restore({**state, "version": 0})
