"""Fuzz: a model's answer, whatever it is, becomes a decision or a named parse error;
a valid answer's messages and memory notes never crash the agent, the channel or the
receivers."""

from __future__ import annotations

import json
from typing import Any

from fuzz_strategies import examples, ints, json_like, text
from hypothesis import given, settings
from hypothesis import strategies as st

from memsim.agents.llm import LLMDecisionOut, parse_answer
from memsim.agents.llm.schema import to_channel_messages, to_memory_facts
from memsim.agents.llm.settings import load_settings
from memsim.agents.step import inbox_facts
from memsim.sim.comm import CommChannel, CommConfig

ACTIONS = ("noop", "move_left", "collect_wood", "place_table")
MODEL = LLMDecisionOut.for_agent(ACTIONS, ("agent_1",))
KINDS = [r.name for r in load_settings().messages]

fields = st.dictionaries(
    st.sampled_from(["entity", "item", "count", "x", "y", "goal", "status", "steps", "text"]),
    st.one_of(text, ints, st.lists(text, max_size=3), st.sampled_from(["claim", "done"])),
    max_size=5)
message = st.builds(lambda to, kind, extra: {"to": to, "kind": kind, **extra},
                    st.sampled_from(["all", "agent_1", "agent_0", "x"]),
                    st.one_of(st.sampled_from(KINDS), text), fields)
note = st.fixed_dictionaries({"kind": st.sampled_from(["goal", "subgoal", "x"]),
                              "name": st.one_of(st.sampled_from(["collect diamond",
                                                                 "wood ", "a:b"]), text),
                              "status": st.sampled_from(["set", "completed", "failed", "x"])})
decision = st.fixed_dictionaries(
    {"action": st.one_of(st.sampled_from(ACTIONS), text), "reason": text},
    optional={"messages": st.lists(message, max_size=3), "memory_notes": st.lists(note,
                                                                                  max_size=2)})
answers = st.one_of(
    text,
    st.builds(json.dumps, json_like),
    st.builds(json.dumps, decision),
    st.builds(lambda d, pre, post: pre + json.dumps(d) + post, decision,
              st.sampled_from(["", "```json\n", "Sure! "]), st.sampled_from(["", "\n```"])),
    st.builds(lambda n: '{"action": ' + "[" * n + "]" * n + "}", st.integers(0, 3000)),
    st.builds(lambda n: "{" * n + "}" * n, st.integers(0, 5000)),
)


@settings(max_examples=examples(500))
@given(answer=answers)
def test_any_answer_parses_or_names_the_problem_and_never_crashes_downstream(answer: str
                                                                             ) -> None:
    out, error = parse_answer(answer, MODEL)
    if out is None:
        assert error
        return
    assert error == ""
    # What LLMPolicy._decision does with a valid answer.
    ACTIONS.index(out.action)
    to_memory_facts(out)
    channel = CommChannel(["agent_0", "agent_1"], CommConfig(max_messages_per_step=64))
    for raw in to_channel_messages(out, "agent_0", 0, 1):
        channel.send(raw, 0, sender="agent_0")
    dropped: list[Any] = []
    inbox_facts(channel.deliver(1)["agent_1"], 1, dropped)
    assert dropped == []
