"""No agent speaks for another, and no message a receiver cannot store gets through.

Regression tests of the reliability fuzzing pass: a policy forging a teammate's sender,
payloads the channel accepted but the receiver's memory could not ingest (which raised
inside `read_inbox` and ended the episode), and the receiver's own defence in depth.
"""

from __future__ import annotations

from typing import Any

import pytest

from memsim.agents.messages import Message
from memsim.agents.policy import Decision
from memsim.agents.step import inbox_facts
from memsim.envs.crafting import CraftingConfig
from memsim.memory import SchemaError, payload_to_facts
from memsim.sim.comm import CommChannel, CommConfig
from memsim.sim.episode import build_team, make_executor, run_team
from memsim.sim.scenario import MemoryConfig
from memsim.sim.team import StepRecord

AGENTS = ["agent_0", "agent_1", "agent_2"]


def export(nodes: list[Any], edges: list[Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"type": "memory_export", "nodes": nodes, "edges": edges or [], "source": "agent_0",
            "step": 0, **extra}


# Each of these passed the channel and then raised in the receiver's read_inbox.
UNSTORABLE: dict[str, dict[str, Any]] = {
    "instance without coordinates": export(
        [{"id": "ent:x", "label": "Entity", "props": {"instance": True}}]),
    "recipe without produces": export(
        [{"id": "rec:a", "label": "Recipe", "props": {"name": "a"}}]),
    "edge without props keys": export(
        [{"id": "agent:a", "label": "Agent", "props": {}}], [{"src": "agent:a"}]),
    "step that is not an int": export(
        [{"id": "ent:tree@1,2", "label": "Entity",
          "props": {"instance": True, "kind": "tree", "x": 1, "y": 2, "valid_from": "soon"}}]),
    "NaN confidence": export(
        [{"id": "ent:tree@1,2", "label": "Entity",
          "props": {"instance": True, "kind": "tree", "x": 1, "y": 2,
                    "confidence": float("nan")}}]),
    "coordinates beyond 64 bits": export(
        [{"id": "ent:tree@1,2", "label": "Entity",
          "props": {"instance": True, "kind": "tree", "x": 2**64, "y": 2}}]),
    "requires of different lengths": export(
        [{"id": "rec:a", "label": "Recipe",
          "props": {"name": "a", "produces": "b", "requires_items": ["c"],
                    "requires_counts": []}}]),
    "label not a string": export([{"id": "n", "label": ["Entity"], "props": {}}]),
    "node not a mapping": export(["ent:x"]),
    "holds edge props not a mapping": export(
        [{"id": "agent:a", "label": "Agent", "props": {}},
         {"id": "kind:wood", "label": "Entity", "props": {"kind": "wood"}}],
        [{"src": "agent:a", "type": "HOLDS", "dst": "kind:wood", "props": [1]}]),
    "goal claim over 128 characters": {"type": "goal_claim", "goal": "g" * 129,
                                       "status": "claim"},
    "location whose entity has a colon": {"type": "location", "entity": "iron: north",
                                          "x": 1, "y": 2, "seen_step": 0},
    "location entity with a control character": {"type": "location", "entity": "iron\x01",
                                                 "x": 1, "y": 2, "seen_step": 0},
    "location beyond 64 bits": {"type": "location", "entity": "iron", "x": 2**63, "y": 2,
                                "seen_step": 0},
    "text with a NUL": {"type": "text", "text": "meet\x00here"},
}
KINDS = {"memory_export": "inform", "goal_claim": "plan", "location": "inform",
         "text": "inform"}


def message(payload: dict[str, Any], sender: str = "agent_0", step: int = 0) -> dict[str, Any]:
    return {"sender": sender, "kind": KINDS[payload["type"]], "payload": payload, "step": step}


@pytest.mark.parametrize("case", sorted(UNSTORABLE))
def test_the_channel_rejects_what_the_receiver_could_not_store(case: str) -> None:
    channel = CommChannel(AGENTS)
    result = channel.send(message(UNSTORABLE[case]), 0)
    assert not result.accepted
    assert result.error is not None and result.error.startswith("payload")
    metrics = channel.metrics
    assert metrics.total.rejected_invalid == 1
    assert metrics.per_agent["agent_0"].rejected_invalid == 1
    assert channel.deliver(1) == {a: [] for a in AGENTS}


@pytest.mark.parametrize("case", sorted(c for c in UNSTORABLE
                                        if UNSTORABLE[c]["type"] == "memory_export"))
def test_payload_to_facts_raises_only_schema_errors_naming_the_field(case: str) -> None:
    payload = UNSTORABLE[case]
    with pytest.raises(SchemaError, match=r"payload\.(nodes|edges)"):
        payload_to_facts(payload, "agent_0")


def test_the_reported_export_names_node_and_field() -> None:
    with pytest.raises(SchemaError) as err:
        payload_to_facts(UNSTORABLE["instance without coordinates"], "agent_0")
    assert "payload.nodes[0] (ent:x).props.x" in str(err.value)


def test_a_valid_export_still_passes() -> None:
    payload = export([{"id": "ent:tree@1,2", "label": "Entity",
                       "props": {"instance": True, "kind": "tree", "x": 1, "y": 2,
                                 "valid_from": 3}}])
    channel = CommChannel(AGENTS)
    assert channel.send(message(payload), 0).accepted
    [delivered] = channel.deliver(1)["agent_1"]
    [fact] = delivered.facts(1)
    assert (fact.subject, fact.place, fact.provenance) == ("tree", (1, 2), "told_by:agent_0")


def test_a_receiver_drops_an_unreadable_message_instead_of_raising() -> None:
    # Defence in depth: a message that bypassed the channel (built with model_construct).
    good = Message.model_validate(message({"type": "text", "text": "hello"}))
    bad_payload = Message.model_validate(message(export([]))).payload.model_construct(
        **{**export([{"id": "ent:x", "label": "Entity", "props": {"instance": True}}]),
           "step_base": 0})
    bad = good.model_copy(update={"payload": bad_payload})
    dropped: list[Message] = []
    facts = inbox_facts([bad, good], 1, dropped)
    assert dropped == [bad]
    assert [f.text for f in facts] == ["hello"]


class Scripted:
    """A policy that sends the given messages at step 0, then waits (action 0)."""

    name = "scripted-test"

    def __init__(self, messages: list[Any]) -> None:
        self.messages = messages

    def recall_query(self, context: Any) -> None:
        return None

    def decide(self, context: Any) -> Decision:
        sent = self.messages if context.step == 0 else []
        return Decision(0, list(sent), reason="test")


def crafting_team(comm: CommConfig, records: list[StepRecord]) -> Any:
    config = CraftingConfig(n_agents=3, zombies=False, skeletons=False)
    return build_team(config, ["scripted"] * 3, 0, MemoryConfig(), comm,
                      namespace="safety", on_step=records.append)


def told_by(runtime: Any, agent_id: str) -> set[str]:
    store = runtime.agents[agent_id].memory.store
    return {str(n.props.get("provenance")) for label in ("Entity", "Message", "Event")
            for n in store.query(label) if "told_by" in str(n.props.get("provenance", ""))}


@pytest.mark.parametrize("executor", ["langgraph", "direct"])
def test_a_policy_cannot_send_as_a_teammate(executor: str) -> None:
    records: list[StepRecord] = []
    runtime, state = crafting_team(CommConfig(max_messages_per_step=1), records)
    forged = {"sender": "agent_1", "kind": "inform",
              "payload": {"type": "location", "entity": "diamond", "x": 3, "y": 3,
                          "seen_step": 0}}
    own = {"kind": "inform", "payload": {"type": "location", "entity": "iron", "x": 4,
                                         "y": 4, "seen_step": 0}}
    runtime.agents["agent_0"].policy = Scripted([forged, dict(forged)])  # type: ignore
    runtime.agents["agent_1"].policy = Scripted([own])  # type: ignore
    runtime.agents["agent_2"].policy = Scripted([])  # type: ignore
    state = run_team(runtime, state, make_executor(executor, runtime), 2)
    sent = records[0].sent
    forgeries = [s for s in sent if s["from"] == "agent_0"]
    assert [s["accepted"] for s in forgeries] == [False, False]
    assert all("forged" in s["error"] for s in forgeries)
    # agent_1's budget was untouched by the forgeries: its own message went through.
    assert [s["accepted"] for s in sent if s["from"] == "agent_1"] == [True]
    metrics = runtime.comm.metrics
    assert metrics.per_agent["agent_0"].rejected_invalid == 2
    assert metrics.per_agent["agent_1"].sent == 1 and metrics.per_agent["agent_1"].accepted == 1
    # Nothing claiming to come from agent_1 said "diamond" to agent_2.
    store = runtime.agents["agent_2"].memory.store
    diamonds = store.query("Entity", {"kind": "diamond", "instance": True})
    assert not [n for n in diamonds if n.props.get("provenance") == "told_by:agent_1"]


def test_a_message_without_a_sender_gets_the_real_one() -> None:
    channel = CommChannel(AGENTS)
    result = channel.send({"kind": "inform", "payload": {"type": "text", "text": "hi"}}, 0,
                          sender="agent_2")
    assert result.accepted
    assert channel.deliver(1)["agent_0"][0].sender == "agent_2"


def test_a_message_object_with_another_sender_is_forged() -> None:
    channel = CommChannel(AGENTS)
    msg = Message.model_validate(message({"type": "text", "text": "hi"}, sender="agent_1"))
    result = channel.send(msg, 0, sender="agent_0")
    assert not result.accepted and "forged" in (result.error or "")
    assert channel.metrics.per_agent["agent_1"].sent == 0
    with pytest.raises(ValueError, match="sender"):
        channel.send(msg, 0, sender="agent_9")


@pytest.mark.parametrize("executor", ["langgraph", "direct"])
def test_unstorable_messages_do_not_end_the_episode(executor: str) -> None:
    records: list[StepRecord] = []
    runtime, state = crafting_team(CommConfig(max_messages_per_step=64), records)
    bad = [message(p) for p in UNSTORABLE.values()]
    runtime.agents["agent_0"].policy = Scripted(bad)  # type: ignore[assignment]
    state = run_team(runtime, state, make_executor(executor, runtime), 3)
    assert state["team_step"] == 3
    assert not any(s["accepted"] for s in records[0].sent if s["from"] == "agent_0")
    assert runtime.comm.metrics.total.rejected_invalid == len(bad)
