"""LLM agents without a model: prompts, output schema, parsing, retries, cache, config.

Endpoint behaviour is exercised over real HTTP: `ScriptedEndpoint` is an `http.server` on a
loopback port that answers chat-completion requests with OpenAI-shaped JSON from a script
(status codes and contents), so the real `openai` client, its error classes and our retry
and fallback logic all run for real. The real model runs in test_llm_server.py.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import pickle
import random
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import ValidationError

from memsim.agents.crafting.perception import CraftingPerception
from memsim.agents.crafting.prompt import crafting_brief
from memsim.agents.crafting.view import CraftingDecoder
from memsim.agents.llm import (
    LLMConfig,
    LLMDecisionOut,
    LLMPolicy,
    LLMRequestError,
    LLMUnavailable,
    PromptBuilder,
    ResponseCache,
    decision_schema,
    parse_answer,
)
from memsim.agents.llm.client import forget_request_forms
from memsim.agents.llm.prompt import GoalStack
from memsim.agents.llm.schema import to_channel_messages
from memsim.agents.llm.settings import load_settings
from memsim.agents.messages import Message
from memsim.agents.policy import AgentContext
from memsim.envs.crafting import CraftingConfig, CraftingParallelEnv
from memsim.envs.crafting.rules import load_rules
from memsim.memory import AgentMemory, approx_tokens, open_store
from memsim.sim.output import USAGE_KEYS

Reply = tuple[int, Any]  # (HTTP status, JSON body; bytes are sent as they are)


def chat_reply(content: str | None = None, tool_args: str | None = None,
               usage: dict[str, int] | None = None) -> Reply:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_args is not None:
        message["tool_calls"] = [{"id": "call_0", "type": "function",
                                  "function": {"name": "decide", "arguments": tool_args}}]
    body: dict[str, Any] = {"id": "c", "object": "chat.completion", "created": 0, "model": "m",
                            "choices": [{"index": 0, "message": message,
                                         "finish_reason": "stop"}]}
    if usage is not None:
        body["usage"] = {**usage, "total_tokens": sum(usage.values())}
    return 200, body


def error_reply(status: int, text: str = "error") -> Reply:
    return status, {"error": {"message": text, "type": "server_error"}}


class ScriptedEndpoint:
    """A real HTTP server answering POST /v1/chat/completions from a list of replies (the
    last one repeats), or from a function of the request; records every request body."""

    def __init__(self, replies: list[Reply] | Callable[[dict[str, Any]], Reply]) -> None:
        self.replies = replies
        self.requests: list[dict[str, Any]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                request = json.loads(self.rfile.read(length))
                endpoint.requests.append(request)
                replies = endpoint.replies
                if callable(replies):
                    status, body = replies(request)
                else:
                    status, body = replies[min(len(endpoint.requests), len(replies)) - 1]
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint_factory() -> Iterator[Any]:
    made: list[ScriptedEndpoint] = []

    def make(replies: list[Reply]) -> ScriptedEndpoint:
        made.append(ScriptedEndpoint(replies))
        return made[-1]

    yield make
    for endpoint in made:
        endpoint.close()


@pytest.fixture(autouse=True)
def fresh_request_forms() -> None:
    # `auto` remembers forms per URL; a loopback port may be reused by a later test.
    forget_request_forms()


@pytest.fixture(scope="module")
def world() -> tuple[CraftingParallelEnv, dict[str, Any]]:
    env = CraftingParallelEnv(CraftingConfig(n_agents=2, zombies=False, skeletons=False))
    observations, _ = env.reset(seed=0)
    return env, observations


def make_policy(base_url: str, env: CraftingParallelEnv, **config: Any) -> LLMPolicy:
    settings = {"backoff_s": 0.01, "backoff_cap_s": 0.05, "max_retries": 2, **config}
    policy = LLMPolicy(LLMConfig(base_url=base_url, model="m", **settings),
                       crafting_brief(env.world.rules))
    policy.reset("agent_0", 0, env.action_names)
    return policy


def make_context(env: CraftingParallelEnv, observations: dict[str, Any], step: int = 0,
                 inbox: list[Message] | None = None, recall: Any = None) -> AgentContext:
    return AgentContext(agent_id="agent_0", step=step, observation=observations["agent_0"],
                        facts=[], inbox=inbox or [], recall=recall, teammates=("agent_1",),
                        action_names=env.action_names,
                        observation_text=env.text_observation("agent_0"),
                        view=CraftingDecoder(env.world.rules).decode(observations["agent_0"]))


VALID = json.dumps({
    "action": "move_left", "reason": "tree to the left",
    "messages": [{"to": "all", "kind": "location", "entity": "iron", "x": 4, "y": 5},
                 {"to": "agent_1", "kind": "item_request", "item": "wood", "count": 2}],
    "memory_notes": [{"kind": "goal", "name": "collect diamond", "status": "set"}],
})


# ---- output schema and parsing --------------------------------------------------------


def test_schema_enumerates_actions_recipients_and_is_self_contained(world: Any) -> None:
    env, _ = world
    model = LLMDecisionOut.for_agent(env.action_names, ("agent_1",))
    schema = decision_schema(model)
    assert schema["properties"]["action"]["enum"] == list(env.action_names)
    variants = schema["properties"]["messages"]["items"]["anyOf"]
    assert {v["properties"]["kind"]["enum"][0] for v in variants} == {
        r.name for r in load_settings().messages}
    assert all(v["properties"]["to"]["enum"] == ["all", "agent_1"] for v in variants)
    assert "$ref" not in json.dumps(schema) and "$defs" not in json.dumps(schema)
    assert schema["required"] == ["action", "reason", "messages", "memory_notes"]
    assert schema["additionalProperties"] is False
    strict = json.dumps(decision_schema(model, strict=True))
    assert "maxLength" not in strict and "maxLength" in json.dumps(schema)
    silent = LLMDecisionOut.for_agent(env.action_names, ("agent_1",), ())
    assert "messages" not in decision_schema(silent)["properties"]
    assert silent.model_validate({"action": "noop", "reason": ""}).messages == []
    with pytest.raises(ValidationError, match="messages"):
        silent.model_validate({"action": "noop", "reason": "", "messages": [{"to": "all"}]})


def test_parse_accepts_valid_output_and_names_the_bad_field(world: Any) -> None:
    env, _ = world
    model = LLMDecisionOut.for_agent(env.action_names, ("agent_1",))
    out, error = parse_answer("```json\n" + VALID + "\n```", model)
    assert out is not None and error == "" and out.action == "move_left"
    out, error = parse_answer(VALID.replace("move_left", "fly"), model)
    assert out is None and error.startswith("action:") and "'noop'" in error
    out, error = parse_answer('{"action": "noop", "reason": "x", "messages": [{"to": '
                              '"agent_7", "kind": "text", "text": "hi"}]}', model)
    assert out is None and "messages.0" in error and "to" in error
    out, error = parse_answer("I think I will go left", model)
    assert out is None and "no JSON object" in error
    out, error = parse_answer('{"action": "noop",', model)
    assert out is None and "no JSON object" in error
    out, error = parse_answer('{"action": "noop", "reason": }', model)
    assert out is None and "invalid JSON" in error
    # llama.cpp's JSON grammar lets raw newlines into strings; they are not worth a retry.
    out, error = parse_answer('{"action": "noop", "reason": "a\nb"}', model)
    assert out is not None and out.reason == "a\nb"


def test_every_message_kind_in_the_data_file_becomes_a_valid_channel_message(world: Any) -> None:
    env, _ = world
    model = LLMDecisionOut.for_agent(env.action_names, ("agent_1",))
    examples = {"text": {"text": "hello"}, "location": {"entity": "iron", "x": 1, "y": 2},
                "item_request": {"item": "wood", "count": 1},
                "item_offer": {"item": "wood", "count": 1},
                "goal_claim": {"goal": "diamond", "status": "claim"}}
    kinds = [r.name for r in load_settings().messages]
    assert set(kinds) <= set(examples)
    per = load_settings().output.max_messages  # messages one output may hold
    for start in range(0, len(kinds), per):
        out = model.model_validate({"action": "noop", "reason": "", "messages": [
            {"to": "agent_1", "kind": k, **examples[k]} for k in kinds[start:start + per]]})
        for raw in to_channel_messages(out, "agent_0", 7, ttl=2):
            message = Message.model_validate(raw)
            assert message.recipients == ["agent_1"] and message.step == 7


def test_memory_note_names_cannot_break_memory_ids(world: Any) -> None:
    env, _ = world
    model = LLMDecisionOut.for_agent(env.action_names, ())
    bad = {"action": "noop", "reason": "", "messages": [],
           "memory_notes": [{"kind": "goal", "name": "a@b:c", "status": "set"}]}
    with pytest.raises(ValidationError, match=r"memory_notes\.0\.name"):
        model.model_validate(bad)


# ---- prompts --------------------------------------------------------------------------


def test_prompt_stays_flat_as_the_episode_and_memory_grow(world: Any) -> None:
    """Tokens per step do not grow with the episode: prompt at step 500 (hundreds of memory
    nodes, a long inbox) vs step 5 stays within a fixed bound."""
    env = CraftingParallelEnv(CraftingConfig(n_agents=2, zombies=False, skeletons=False,
                                             team_goal=None, max_steps=1000, respawn=True))
    observations, infos = env.reset(seed=1)
    policy = LLMPolicy(LLMConfig(base_url="http://127.0.0.1:9/v1", model="m"),
                       crafting_brief(env.world.rules))
    policy.reset("agent_0", 1, env.action_names)
    memory = AgentMemory(open_store("networkx", "flat/agent_0"), "agent_0")
    perception = CraftingPerception("agent_0", env.world.rules)
    inbox = [Message(sender="agent_1", kind="inform", step=s,
                            payload={"type": "text", "text": f"report {s} " + "x" * 300})
             for s in range(30)]
    sizes: dict[int, int] = {}
    system = policy.prompts.system(None, policy.message_kinds)
    rng = random.Random(0)
    for step in range(501):
        memory.write(perception.perceive(perception.decode(observations["agent_0"]),
                                         infos.get("agent_0", {}),
                                         step), step)
        if step in (5, 500):
            context = make_context(env, observations, step, inbox[: step // 10 + 1])
            context.recall = memory.retrieve(policy.recall_query(context))
            prompt = policy.prompts.step("agent_0", ("agent_1",), context.observation_text,
                                         context.recall, context.inbox, policy.goals,
                                         env.action_names, policy.message_kinds)
            sizes[step] = approx_tokens(system) + approx_tokens(prompt)
        actions = {a: rng.randrange(len(env.action_names)) for a in env.agents}
        observations, _, _, _, infos = env.step(actions)
    grown = memory.store.count()
    assert grown > 300  # memory kept growing: all of it would not fit in the prompt
    cfg = policy.config
    # The only parts that vary: observation (a view), memory (budgeted) and inbox (capped).
    inbox_tokens = cfg.inbox_messages * approx_tokens("x" * load_settings().prompt.inbox_line_chars)
    assert abs(sizes[500] - sizes[5]) <= cfg.memory_tokens + inbox_tokens
    assert sizes[500] <= 1200, sizes


def test_step_prompt_has_every_part_and_only_the_last_inbox_messages(world: Any) -> None:
    env, _ = world
    builder = PromptBuilder(crafting_brief(env.world.rules), memory_tokens=50, inbox_messages=2)
    inbox = [Message(sender="agent_1", kind="inform", step=s, payload={
        "type": "location", "entity": "iron", "x": s, "y": 1, "seen_step": s}) for s in range(5)]
    goals = GoalStack()
    goals.apply("goal", "collect diamond", "set")
    goals.apply("subgoal", "find iron", "set")
    text = builder.step("agent_0", ("agent_1",), env.text_observation("agent_0"), None, inbox,
                        goals, env.action_names, ("text", "location"))
    assert env.text_observation("agent_0") in text
    assert "iron at (4,1)" in text and "iron at (3,1)" in text and "iron at (2,1)" not in text
    assert "goal collect diamond; subgoal find iron" in text
    assert "(memory is off)" in text and ", ".join(env.action_names) in text
    assert "Message kinds you may send: text, location" in text
    goals.apply("goal", "collect diamond", "completed")
    assert goals.goal is None and goals.subgoal is None


def test_system_prompt_is_shared_by_agents_and_describes_the_configured_world() -> None:
    crafting = LLMPolicy(LLMConfig(base_url="http://127.0.0.1:9/v1", model="m"),
                         crafting_brief(load_rules()))
    text = crafting.prompts.system(None, ("text",))
    assert "Crafter" in text and "make_iron_pickaxe: uses wood 1, coal 1, iron 1" in text
    assert "agent_" not in text  # nothing agent-specific: one cached prefix for the team
    generic = LLMPolicy(LLMConfig(base_url="http://127.0.0.1:9/v1", model="m"))
    text = generic.prompts.system(None, ())
    assert "Crafter" not in text and "make_" not in text
    assert "none (do not send messages)" in text


# ---- the policy against a real HTTP endpoint ------------------------------------------


def test_valid_answer_becomes_action_messages_and_memory_notes(world: Any,
                                                               endpoint_factory: Any) -> None:
    env, observations = world
    endpoint = endpoint_factory([chat_reply(VALID, usage={"prompt_tokens": 700,
                                                           "completion_tokens": 40})])
    policy = make_policy(endpoint.base_url, env, response_format="json_schema")
    decision = policy.decide(make_context(env, observations, step=3))
    assert env.action_names[decision.action] == "move_left"
    assert decision.reason == "tree to the left"
    parsed = [Message.model_validate(m) for m in decision.messages]
    assert parsed[0].recipients is None and parsed[0].payload.type == "location"
    assert parsed[0].payload.seen_step == 3 and parsed[0].kind.value == "inform"
    assert parsed[1].recipients == ["agent_1"] and parsed[1].kind.value == "request"
    assert [(f.kind, f.subject, f.status) for f in decision.memory_notes] == [
        ("goal", "collect diamond", "set")]
    assert policy.goals.goal == "collect diamond"
    usage = policy.usage()
    assert (usage["decisions"], usage["calls"], usage["prompt_tokens"],
            usage["completion_tokens"]) == (1, 1, 700, 40)
    request = endpoint.requests[0]
    assert request["response_format"]["type"] == "json_schema"
    assert request["response_format"]["json_schema"]["strict"] is True
    assert request["max_tokens"] == policy.config.max_tokens
    assert set(USAGE_KEYS) <= set(usage)  # what the episode summary and metrics.csv read
    policy.reset("agent_0", 1, env.action_names)  # a new episode: counters and goals restart
    assert policy.usage()["calls"] == 0 and policy.goals.goal is None
    policy.close()


def test_invalid_answer_is_retried_with_the_error_then_falls_back(world: Any,
                                                                   endpoint_factory: Any) -> None:
    env, observations = world
    bad = VALID.replace("move_left", "teleport")
    endpoint = endpoint_factory([chat_reply(bad), chat_reply(VALID)])
    policy = make_policy(endpoint.base_url, env)
    decision = policy.decide(make_context(env, observations))
    assert env.action_names[decision.action] == "move_left"
    repair = endpoint.requests[1]["messages"]
    assert repair[-2] == {"role": "assistant", "content": bad}
    assert "action:" in repair[-1]["content"] and "'noop'" in repair[-1]["content"]
    usage = policy.usage()
    assert (usage["calls"], usage["repair_calls"], usage["parse_failures"],
            usage["fallbacks"]) == (2, 1, 1, 0)
    # Twice invalid: the safe action, counted.
    endpoint.replies = [chat_reply("not json at all")]
    decision = policy.decide(make_context(env, observations, step=1))
    assert env.action_names[decision.action] == "noop"
    assert decision.reason.startswith("fallback: no JSON object")
    assert decision.messages == [] and decision.memory_notes == []
    usage = policy.usage()
    assert (usage["calls"], usage["parse_failures"], usage["fallbacks"]) == (4, 3, 1)
    # No usage block from the server: tokens are counted approximately, never zero.
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    policy.close()


def test_same_seed_same_requests(world: Any, endpoint_factory: Any) -> None:
    """Determinism: the same episode seed and context give byte-identical requests (prompt
    and sampling seed), so a deterministic server or the cache replays the same decisions;
    the sampling seed changes with the step and the episode seed."""
    env, observations = world
    endpoint = endpoint_factory([chat_reply(VALID)])
    for seed, step in ((0, 4), (0, 4), (0, 5), (1, 4)):
        policy = make_policy(endpoint.base_url, env, response_format="json_schema")
        policy.reset("agent_0", seed, env.action_names)
        policy.decide(make_context(env, observations, step=step))
        policy.close()
    first, again, next_step, other_seed = endpoint.requests
    assert first == again
    assert first["seed"] != next_step["seed"] and first["seed"] != other_seed["seed"]


# Bytes bodies are sent as they are: empty, not UTF-8, cut off (these used to raise
# JSONDecodeError / UnicodeDecodeError out of the client).
@pytest.mark.parametrize("body", ["hello", {"choices": "x"}, [], {"choices": []}, b"",
                                  b"\xff\xfe{not utf-8", b'{"choices": [', b"null"])
def test_malformed_responses_fall_back_instead_of_crashing(world: Any, endpoint_factory: Any,
                                                           body: Any) -> None:
    env, observations = world
    endpoint = endpoint_factory([(200, body)])
    policy = make_policy(endpoint.base_url, env, response_format="json_schema")
    decision = policy.decide(make_context(env, observations))
    assert env.action_names[decision.action] == "noop" and policy.usage()["fallbacks"] == 1
    assert policy.usage()["parse_failures"] == 2
    policy.close()


def test_fallback_is_action_zero_without_noop(world: Any, endpoint_factory: Any) -> None:
    env, observations = world
    endpoint = endpoint_factory([chat_reply("{}")])
    policy = make_policy(endpoint.base_url, env)
    actions = tuple(a for a in env.action_names if a != "noop")
    policy.reset("agent_0", 0, actions)
    context = make_context(env, observations)
    context.action_names = actions
    assert policy.decide(context).action == 0
    policy.close()


def test_auto_falls_back_to_llama_cpp_form_and_remembers(world: Any,
                                                         endpoint_factory: Any) -> None:
    env, observations = world
    endpoint = endpoint_factory([error_reply(500, "json_schema unsupported"),
                                 chat_reply(VALID)])
    first = make_policy(endpoint.base_url, env)
    first.decide(make_context(env, observations))
    forms = [r["response_format"] for r in endpoint.requests]
    assert forms[0]["type"] == "json_schema"
    assert forms[1]["type"] == "json_object" and forms[1]["schema"]["properties"]["action"]
    assert "maxLength" in json.dumps(forms[1]["schema"])  # llama.cpp gets the bounds
    assert first.usage()["form_fallbacks"] == 1 and first.usage()["retries"] == 0
    # Another agent on the same endpoint goes straight to the form that worked.
    second = make_policy(endpoint.base_url, env)
    second.decide(make_context(env, observations))
    assert endpoint.requests[2]["response_format"]["type"] == "json_object"
    assert second.usage()["form_fallbacks"] == 0
    first.close()
    second.close()


def test_auto_resolves_once_when_a_team_asks_at_the_same_time(world: Any,
                                                              endpoint_factory: Any) -> None:
    """Agents whose first requests are in flight together all end up on the working form."""
    env, observations = world

    def llama_cpp_like(request: dict[str, Any]) -> Reply:
        time.sleep(0.2)  # keep both first requests in flight together
        if request["response_format"]["type"] == "json_schema":
            return error_reply(500, "Input should be 'text' or 'json_object'")
        return chat_reply(VALID)

    endpoint = endpoint_factory(llama_cpp_like)
    policies = [make_policy(endpoint.base_url, env) for _ in range(3)]

    async def all_decide() -> list[Any]:
        return await asyncio.gather(*(p.adecide(make_context(env, observations))
                                      for p in policies))

    decisions = asyncio.run(all_decide())
    assert all(env.action_names[d.action] == "move_left" for d in decisions)
    assert all(p.usage()["retries"] == 0 and p.usage()["calls"] == 1 for p in policies)
    assert all(p.client.form == "json_object_schema" for p in policies)


@pytest.mark.parametrize("form", ["json_object", "tools", "json_object_schema"])
def test_other_request_forms(world: Any, endpoint_factory: Any, form: str) -> None:
    env, observations = world
    reply = chat_reply(tool_args=VALID) if form == "tools" else chat_reply(VALID)
    endpoint = endpoint_factory([reply])
    policy = make_policy(endpoint.base_url, env, response_format=form)
    decision = policy.decide(make_context(env, observations))
    assert env.action_names[decision.action] == "move_left"
    request = endpoint.requests[0]
    system = request["messages"][0]["content"]
    if form == "tools":
        assert request["tool_choice"]["function"]["name"] == "decide"
        assert request["tools"][0]["function"]["parameters"]["properties"]["action"]
        assert "response_format" not in request
    elif form == "json_object":
        assert request["response_format"] == {"type": "json_object"}
        assert '"enum": ["noop"' in system  # plain JSON mode: the schema is in the prompt
    else:
        assert request["response_format"]["schema"]["properties"]["action"]
        assert '"enum"' not in system
    policy.close()


def test_transient_errors_are_retried_with_backoff(world: Any, endpoint_factory: Any) -> None:
    env, observations = world
    endpoint = endpoint_factory([error_reply(429, "slow down"), error_reply(503),
                                 chat_reply(VALID)])
    policy = make_policy(endpoint.base_url, env, response_format="json_object_schema")
    decision = policy.decide(make_context(env, observations))
    assert env.action_names[decision.action] == "move_left"
    assert policy.usage()["retries"] == 2 and policy.usage()["calls"] == 1
    policy.close()


def test_persistent_server_errors_give_a_clear_error(world: Any, endpoint_factory: Any) -> None:
    env, observations = world
    endpoint = endpoint_factory([error_reply(503, "overloaded")])
    policy = make_policy(endpoint.base_url, env, response_format="json_object_schema")
    with pytest.raises(LLMUnavailable, match=r"after 3 tries.*HTTP 503: overloaded"):
        policy.decide(make_context(env, observations))
    assert len(endpoint.requests) == 3
    policy.close()


def test_a_rejected_request_is_not_retried(world: Any, endpoint_factory: Any) -> None:
    env, observations = world
    endpoint = endpoint_factory([error_reply(404, "model 'm' not found")])
    policy = make_policy(endpoint.base_url, env, response_format="json_schema")
    with pytest.raises(LLMRequestError, match=r"HTTP 404: model 'm' not found"):
        policy.decide(make_context(env, observations))
    assert len(endpoint.requests) == 1
    policy.close()


def test_dead_endpoint_fails_clearly_within_bounded_time(world: Any) -> None:
    env, observations = world
    from llm_server import _free_port  # tests/conftest.py's, via the LLM server plugin

    url = f"http://127.0.0.1:{_free_port()}/v1"  # nothing listens there
    policy = make_policy(url, env, max_retries=3, backoff_s=0.05, backoff_cap_s=0.1)
    started = time.monotonic()
    with pytest.raises(LLMUnavailable, match=rf"cannot reach {url} after 4 tries"):
        policy.decide(make_context(env, observations))
    assert time.monotonic() - started < 5.0
    assert policy.usage()["retries"] == 3
    policy.close()


def test_slow_endpoint_times_out_instead_of_hanging(world: Any) -> None:
    env, observations = world
    endpoint = ScriptedEndpoint([chat_reply(VALID)])
    original = endpoint.server.RequestHandlerClass.do_POST

    def slow(handler: Any) -> None:
        time.sleep(1.0)
        original(handler)

    endpoint.server.RequestHandlerClass.do_POST = slow  # type: ignore[method-assign]
    try:
        policy = make_policy(endpoint.base_url, env, timeout_s=0.2, max_retries=1)
        started = time.monotonic()
        with pytest.raises(LLMUnavailable, match="request timed out"):
            policy.decide(make_context(env, observations))
        assert time.monotonic() - started < 3.0
        policy.close()
    finally:
        endpoint.close()


def test_cache_hits_skip_the_call(world: Any, endpoint_factory: Any, tmp_path: Any) -> None:
    env, observations = world
    endpoint = endpoint_factory([chat_reply(VALID, usage={"prompt_tokens": 9,
                                                           "completion_tokens": 3})])
    first = make_policy(endpoint.base_url, env, cache_dir=str(tmp_path),
                        response_format="json_object_schema")
    one = first.decide(make_context(env, observations))
    assert len(list(tmp_path.glob("*.json"))) == 1
    second = make_policy(endpoint.base_url, env, cache_dir=str(tmp_path),
                         response_format="json_object_schema")
    two = second.decide(make_context(env, observations))
    assert len(endpoint.requests) == 1 and two == one
    assert second.usage()["cache_hits"] == 1 and second.usage()["calls"] == 0
    # A different prompt (another step's observation) is a miss.
    second.decide(make_context(env, observations, step=1, inbox=[Message(
        sender="agent_1", kind="inform", step=0, payload={"type": "text", "text": "hi"})]))
    assert len(endpoint.requests) == 2
    first.close()
    second.close()


def test_cache_key_covers_the_whole_request() -> None:
    base = {"model": "m", "messages": [{"role": "user", "content": "a"}], "temperature": 0.0,
            "response_format": {"type": "json_object"}}
    keys = {ResponseCache.key(base)}
    for change in ({"model": "n"}, {"temperature": 0.5}, {"response_format": {"type": "x"}},
                   {"messages": [{"role": "user", "content": "b"}]}):
        keys.add(ResponseCache.key({**base, **change}))
    assert len(keys) == 5
    assert ResponseCache.key(dict(reversed(list(base.items())))) == ResponseCache.key(base)


def test_adecide_calls_of_a_team_overlap(world: Any) -> None:
    """Two agents awaiting a slow endpoint at once take about one call's time, not two."""
    env, observations = world
    endpoint = ScriptedEndpoint([chat_reply(VALID)])
    original = endpoint.server.RequestHandlerClass.do_POST

    def slow(handler: Any) -> None:
        time.sleep(1.0)
        original(handler)

    endpoint.server.RequestHandlerClass.do_POST = slow  # type: ignore[method-assign]
    try:
        policies = [make_policy(endpoint.base_url, env, response_format="json_schema")
                    for _ in range(2)]

        async def both() -> None:
            await asyncio.gather(*(p.adecide(make_context(env, observations))
                                   for p in policies))

        started = time.monotonic()
        asyncio.run(both())
        assert time.monotonic() - started < 1.8  # one after the other would take >= 2 s
        assert len(endpoint.requests) == 2
    finally:
        endpoint.close()


def test_recall_query_asks_for_places_goal_needs_reports_and_failures(world: Any) -> None:
    env, observations = world
    policy = LLMPolicy(LLMConfig(base_url="http://127.0.0.1:9/v1", model="m"),
                       crafting_brief(env.world.rules))
    policy.reset("agent_0", 0, env.action_names)
    context = make_context(env, observations)
    query = policy.recall_query(context)
    assert query is not None
    assert query.position == tuple(int(v) for v in observations["agent_0"]["position"])
    assert "diamond" in query.nearest and query.teammate_reports > 0
    assert query.recent_failures > 0 and query.needs == ()
    policy.goals.apply("goal", "make stone pickaxe", "set")
    assert policy.recall_query(context).needs == ("stone_pickaxe",)


def test_policy_pickles_for_checkpoints(world: Any, endpoint_factory: Any) -> None:
    env, observations = world
    endpoint = endpoint_factory([chat_reply(VALID)])
    policy = make_policy(endpoint.base_url, env, response_format="json_schema")
    policy.decide(make_context(env, observations))
    copy = pickle.loads(pickle.dumps(policy))
    assert copy.goals.goal == "collect diamond" and copy.usage()["calls"] == 1
    assert env.action_names[copy.decide(make_context(env, observations)).action] == "move_left"
    copy.close()
    policy.close()


# ---- configuration ------------------------------------------------------------------


def test_config_resolution_order() -> None:
    env = {"MEMSIM_LLM_BASE_URL": "http://env:1/v1", "MEMSIM_LLM_MAX_TOKENS": "64",
           "OPENAI_BASE_URL": "http://openai-env/v1", "OPENAI_MODEL": "gpt-x",
           "OPENAI_API_KEY": "sk-1", "MEMSIM_LLM_RECALL_KINDS": "tree, iron"}
    cfg = LLMConfig.from_sources({"temperature": 0.3}, env)
    assert (cfg.base_url, cfg.model, cfg.api_key, cfg.max_tokens, cfg.temperature) == (
        "http://env:1/v1", "gpt-x", "sk-1", 64, 0.3)
    assert cfg.recall_kinds == ["tree", "iron"]
    cfg = LLMConfig.from_sources({"base_url": "http://table/v1", "max_tokens": 99}, env)
    assert (cfg.base_url, cfg.max_tokens) == ("http://table/v1", 99)
    # Only an OpenAI key: OpenAI's endpoint, as the openai client does.
    cfg = LLMConfig.from_sources({"model": "gpt-x"}, {"OPENAI_API_KEY": "sk-2"})
    assert cfg.base_url == "https://api.openai.com/v1" and cfg.key == "sk-2"
    assert "sk-2" not in repr(cfg)  # a key never lands in a log line
    cfg = LLMConfig.from_sources({"model": "x", "base_url": "http://h/v1"}, {})
    assert cfg.api_key is None and cfg.key == "none"
    assert cfg.response_format == load_settings().config["response_format"]


@pytest.mark.parametrize(("table", "env", "message"), [
    ({"model": "x"}, {}, "base_url is not set; give it in the [llm] table, MEMSIM_LLM_BASE_URL"),
    ({"base_url": "http://h/v1"}, {}, "model is not set"),
    ({"base_url": "http://h/v1", "model": "x", "response_format": "yaml"}, {},
     "response_format: Input should be 'json_schema', 'json_object_schema', 'json_object', "
     "'tools' or 'auto'"),
    ({"base_url": "http://h/v1", "model": "x", "max_tokens": "64"}, {},
     "max_tokens: Input should be a valid integer"),
    ({"base_url": "http://h/v1", "model": "x", "temperature": 3.0}, {}, "temperature:"),
    ({"base_url": "ftp://h", "model": "x"}, {}, "base_url: String should match pattern"),
    ({"base_url": "http://h/v1", "model": "x", "modle": "y"}, {}, "unknown field(s) ['modle']"),
    ({"base_url": "http://h/v1", "model": "x", "world": "crafting"}, {},
     "unknown field(s) ['world']"),
    ({"base_url": "http://h/v1", "model": "x"}, {"MEMSIM_LLM_TIMEOUT_S": "soon"},
     "MEMSIM_LLM_TIMEOUT_S: Input should be a valid number"),
])
def test_config_errors_name_the_field(table: dict[str, Any], env: dict[str, str],
                                      message: str) -> None:
    with pytest.raises(ValueError, match="invalid llm config") as caught:
        LLMConfig.from_sources(table, env)
    assert message in str(caught.value)


# ---- the local server launcher ------------------------------------------------------


def test_server_launcher_reports_why_it_cannot_start(tmp_path: Any) -> None:
    """A server that cannot load its model fails fast with its log, not a 60 s hang."""
    from llm_server import ServerUnavailable, start_llama_server

    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama_cpp is not installed (make llm-server)")
    bogus = tmp_path / "not-a-model.gguf"
    bogus.write_bytes(b"not a gguf file")
    started = time.monotonic()
    with pytest.raises(ServerUnavailable, match=r"did not list models .*exit code"), \
            start_llama_server(model=bogus, timeout_s=30):
        pass
    assert time.monotonic() - started < 30


# ---- reliability: bounded parsing, undecodable bodies, auth errors ---------------------


@pytest.mark.parametrize("answer", [
    "[" * 1000 + "]" * 1000,
    '{"action": "noop", "reason": "x", "messages": ' + "[" * 1000 + "]" * 1000 + "}",
    '{"action": "noop", "reason": "' + "x" * 200_000 + '"}',
])
def test_parse_answer_is_bounded_in_depth_and_size(world: Any, answer: str) -> None:
    env, _ = world
    model = LLMDecisionOut.for_agent(env.action_names, ("agent_1",))
    out, error = parse_answer(answer, model)
    assert out is None and ("nested" in error or "characters" in error or "JSON" in error)


def test_a_deeply_nested_answer_falls_back(world: Any, endpoint_factory: Any) -> None:
    env, observations = world
    endpoint = endpoint_factory([chat_reply('{"action": ' + "[" * 1000 + "]" * 1000 + "}")])
    policy = make_policy(endpoint.base_url, env, response_format="json_schema")
    decision = policy.decide(make_context(env, observations))
    assert env.action_names[decision.action] == "noop" and policy.usage()["fallbacks"] == 1
    assert "nested" in decision.reason
    policy.close()


@pytest.mark.parametrize("form", ["auto", "json_schema"])
@pytest.mark.parametrize("status", [401, 403])
def test_auth_errors_say_so_and_are_not_a_format_problem(world: Any, endpoint_factory: Any,
                                                         form: str, status: int) -> None:
    env, observations = world
    endpoint = endpoint_factory([error_reply(status, "invalid api key")])
    policy = make_policy(endpoint.base_url, env, response_format=form)
    with pytest.raises(LLMRequestError, match=rf"authentication failed.*HTTP {status}"):
        policy.decide(make_context(env, observations))
    assert len(endpoint.requests) == 1 and policy.usage()["form_fallbacks"] == 0
    policy.close()


def test_a_valid_answer_with_an_unstorable_message_does_not_end_the_run(
        endpoint_factory: Any, tmp_path: Any) -> None:
    """The model's location names an entity memory cannot store ("iron: north"); it used
    to end `memsim run` with "seed 0 failed". The output model now refuses such a name
    (so a grammar can keep the model from writing it), the policy falls back, the run goes on.
    The channel's own refusal of unstorable messages: tests/sim/test_message_safety.py."""
    from memsim.cli import main
    from memsim.sim.output import read_trace

    answer = json.dumps({"action": "noop", "reason": "tell them",
                         "messages": [{"to": "all", "kind": "location", "entity": "iron: north",
                                       "x": 4, "y": 5}], "memory_notes": []})
    endpoint = endpoint_factory([chat_reply(answer)])
    scenario = tmp_path / "llm.toml"
    scenario.write_text(f'''name = "llm-bad-message"
version = 1
max_steps = 3
[env]
family = "crafting"
zombies = false
skeletons = false
[agents]
count = 2
policy = "llm"
[llm]
base_url = "{endpoint.base_url}"
model = "m"
response_format = "json_schema"
''')
    assert main(["run", str(scenario), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    steps = list(read_trace(tmp_path / "out" / "trace-seed0.jsonl"))
    assert len(steps) == 3
    assert not [s for step in steps for s in step["comm"]["sent"]]
    reasons = [row["reason"] for step in steps for row in step["agents"].values()]
    assert reasons and all(r.startswith("fallback:") and "entity" in r for r in reasons), reasons
