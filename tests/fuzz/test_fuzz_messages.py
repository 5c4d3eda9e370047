"""Fuzz: whatever a policy sends, the channel never raises, and what it accepts every
receiver can store (the channel validates against the receiver memory's own schema)."""

from __future__ import annotations

from typing import Any

from fuzz_strategies import examples, floats, ints, json_like, text
from hypothesis import event, given, settings
from hypothesis import strategies as st

from memsim.agents.messages import ALLOWED_PAYLOADS, MessageKind
from memsim.agents.step import inbox_facts
from memsim.memory import AgentMemory, open_store
from memsim.sim.comm import CommChannel, CommConfig

AGENTS = ["agent_0", "agent_1", "agent_2"]
LABELS = ["Entity", "Recipe", "Agent", "Place", "Goal", "entity", ""]

name = st.one_of(st.sampled_from(["tree", "iron", "wood", "table", "agent_1"]), text)
number = st.one_of(st.integers(0, 50), st.integers(0, 50), ints, floats, text, st.none())


@st.composite
def export_node(draw: Any) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(json_like)  # not even a node
    props = draw(st.dictionaries(
        st.sampled_from(["instance", "kind", "x", "y", "valid_from", "valid_to", "confidence",
                         "category", "name", "produces", "count", "requires_items",
                         "requires_counts", "nearby", "bad key"]),
        st.one_of(number, name, st.booleans(), st.lists(st.one_of(name, ints), max_size=3)),
        max_size=8))
    if draw(st.booleans()):  # mostly well-formed located entities, to reach the fact checks
        props.update(instance=True, kind=draw(name), x=draw(ints), y=draw(ints))
    return {"id": draw(st.one_of(st.sampled_from(["ent:x", "rec:r", "agent:agent_1",
                                                  "kind:wood"]), text)),
            "label": draw(st.sampled_from(LABELS)), "props": props}


export_edge = st.one_of(json_like, st.fixed_dictionaries({
    "src": st.sampled_from(["agent:agent_1", "ent:x", "x"]),
    "type": st.sampled_from(["HOLDS", "PRODUCES", "REQUIRES", "bad"]),
    "dst": st.sampled_from(["kind:wood", "ent:x", "y"]),
    "props": st.one_of(st.dictionaries(st.sampled_from(["count", "valid_from", "valid_to",
                                                        "confidence"]), number, max_size=3),
                       json_like),
}))

payloads = st.one_of(
    st.fixed_dictionaries({"type": st.just("memory_export"),
                           "nodes": st.lists(export_node(), max_size=4),
                           "edges": st.lists(export_edge, max_size=3),
                           "source": name, "step": ints, "step_base": ints}),
    st.fixed_dictionaries({"type": st.sampled_from(["item_offer", "item_request"]),
                           "item": name, "count": number}),
    st.fixed_dictionaries({"type": st.just("location"), "entity": name, "x": number,
                           "y": number, "seen_step": number}),
    st.fixed_dictionaries({"type": st.just("goal_claim"), "goal": text,
                           "status": st.sampled_from(["claim", "release", "done", "x"])}),
    st.fixed_dictionaries({"type": st.just("plan"), "steps": st.lists(text, max_size=4)}),
    st.fixed_dictionaries({"type": st.just("text"), "text": text}),
    json_like,
)



@st.composite
def messages(draw: Any) -> dict[str, Any]:
    """Mostly well-formed envelopes (a kind that allows the payload type), so the payload
    checks are reached; sometimes junk in any field."""
    payload = draw(payloads)
    ptype = payload.get("type") if isinstance(payload, dict) else None
    kinds = [k.value for k in MessageKind if ptype in ALLOWED_PAYLOADS[k]]
    junk = draw(st.integers(0, 9)) == 0
    message: dict[str, Any] = {
        "kind": draw(text) if junk or not kinds else draw(st.sampled_from(kinds)),
        "payload": payload,
    }
    if draw(st.booleans()):
        message["sender"] = draw(st.sampled_from(["agent_0", "agent_0", "agent_1", ""]))
    if draw(st.booleans()):
        message["recipients"] = draw(st.one_of(
            st.none(), st.lists(st.sampled_from(["agent_1", "agent_2", "x"]), min_size=1,
                                max_size=2, unique=True)))
    if junk:
        message.update(draw(st.dictionaries(st.sampled_from(["step", "ttl", "msg_id", "x"]),
                                            number, max_size=2)))
    return message


@settings(max_examples=examples(400))
@given(batch=st.lists(messages(), min_size=1, max_size=4))
def test_the_channel_never_raises_and_receivers_can_store_what_it_accepts(
        batch: list[dict[str, Any]]) -> None:
    channel = CommChannel(AGENTS, CommConfig(max_messages_per_step=64))
    results = [channel.send(m, 0, sender="agent_0") for m in batch]
    for result in results:
        assert result.accepted or result.error
        event("accepted" if result.accepted else "rejected")
    metrics = channel.metrics.total
    assert metrics.sent == len(batch) == metrics.accepted + metrics.rejected_invalid + \
        metrics.rejected_budget
    assert channel.metrics.per_agent["agent_1"].sent == 0  # nobody spoke for agent_1
    for agent, inbox in channel.deliver(1).items():
        assert all(m.sender == "agent_0" for m in inbox)
        dropped: list[Any] = []
        facts = inbox_facts(inbox, 1, dropped)
        assert dropped == []
        memory = AgentMemory(open_store("networkx", f"fuzz/{agent}", graph_registry={}), agent)
        memory.write(facts, 1)  # what was accepted, the receiver's memory stores
