"""The graph is the agent's memory: a policy object rebuilt from scratch every step, with
the same memory, chooses the same actions, says the same and notes the same. With memory
off, the same holds with nothing but this step's observation and inbox: no policy keeps
state of its own between steps. Checked for every shipped policy family."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from memsim.agents.policy import Policy
from memsim.agents.registry import make_policy
from memsim.sim.episode import build_scenario_team, make_executor, run_team
from memsim.sim.scenario import load_scenario, validate_scenario
from memsim.sim.suite import deep_merge
from memsim.sim.team import StepRecord, TeamRuntime
from memsim.testing import Rebuilt


def trajectory(scenario_name: str, memory: bool, rebuilt: bool, steps: int,
               seed: int = 1, overrides: dict[str, Any] | None = None) -> list[Any]:
    base = load_scenario(scenario_name)
    data = deep_merge(base.model_dump(), {"memory": {"enabled": memory},
                                          "run": {"executor": "direct"}, **(overrides or {})})
    data["seeds"] = [seed]
    scenario = validate_scenario(data, source=scenario_name)
    records: list[StepRecord] = []
    runtime, state = build_scenario_team(scenario, seed, records.append)
    if rebuilt:
        rebuild(runtime, scenario, seed)
    run_team(runtime, state, make_executor("direct", runtime), steps)
    for agent in runtime.agents.values():
        close = getattr(agent.policy, "close", None)
        if callable(close):
            close()
    runtime.close()
    return [(r.step, {a: (v["action"], v["reason"]) for a, v in r.agents.items()},
             [(s["from"], s["accepted"]) for s in r.sent]) for r in records]


def rebuild(runtime: TeamRuntime, scenario: Any, seed: int) -> None:
    family = scenario.family
    brief = family.llm_brief(runtime.env) if family.llm_brief else None
    for agent_id, agent in runtime.agents.items():
        name = scenario.agents.policy_for(agent_id)

        def build(agent_id: str = agent_id, name: str = name) -> Policy:
            return make_policy(name, lambda: family.make_scripted(runtime.env, agent_id),
                               scenario.policy_settings().get(name), brief)

        agent.policy = Rebuilt(build, agent_id, seed, runtime.env.action_names)


@pytest.mark.parametrize("memory", [True, False], ids=["memory-on", "memory-off"])
@pytest.mark.parametrize(("scenario", "steps"), [
    ("default", 120), ("damcs-diamond-6", 60), ("random-2", 40), ("nav-ballet-relay", 30),
    ("nav-mystery-path", 30), ("manip-shell-game-relay", 40), ("manip-chain-of-colors", 40),
])
def test_a_policy_rebuilt_every_step_acts_the_same(scenario: str, steps: int,
                                                   memory: bool) -> None:
    kept = trajectory(scenario, memory, rebuilt=False, steps=steps)
    assert len(kept) == min(steps, len(kept)) and kept
    assert trajectory(scenario, memory, rebuilt=True, steps=steps) == kept


def _fake_model(request: dict[str, Any]) -> Any:
    """A deterministic model: its answer is a function of the whole prompt (so what memory
    puts in the prompt decides it): a skill number, or an action and a goal note."""
    from fake_llm import chat_reply

    prompt = "".join(m["content"] for m in request["messages"])
    pick = zlib.crc32(prompt.encode())
    schema = request["response_format"]["json_schema"]["schema"]["properties"]
    if "skill" in schema:
        options = schema["skill"]["enum"]
        return chat_reply(json.dumps({"skill": options[pick % len(options)], "say": ""}))
    actions = schema["action"]["enum"]
    return chat_reply(json.dumps({
        "action": actions[pick % len(actions)], "reason": "r", "messages": [],
        "memory_notes": [{"kind": "subgoal", "name": f"try {pick % 3}", "status": "set"}]}))


@pytest.fixture(scope="module")
def fake_model() -> Iterator[str]:
    from fake_llm import ScriptedEndpoint

    server = ScriptedEndpoint(_fake_model)
    yield server.base_url
    server.close()


@pytest.mark.parametrize("memory", [True, False], ids=["memory-on", "memory-off"])
@pytest.mark.parametrize(("scenario", "policy", "steps"), [
    ("random-skills-2", "random-skills", 150), ("nav-ballet-relay", "random-skills", 30),
    ("manip-shell-game", "random-skills", 40), ("llm-skills-2", "llm-skills", 80),
    ("nav-ballet-llm-skills", "llm-skills", 30), ("llm-2", "llm", 12),
])
def test_skill_and_llm_policies_rebuilt_every_step_act_the_same(
        scenario: str, policy: str, steps: int, memory: bool, fake_model: str) -> None:
    """The skill policies keep their active skill in memory, the per-step LLM policy its
    goals: rebuilt every step they act the same (LLM policies against a model whose answer
    depends only on the prompt)."""
    overrides: dict[str, Any] = {"agents": {"policy": policy}}
    if policy.startswith("llm"):
        overrides["llm"] = {"base_url": fake_model, "model": "m",
                            "response_format": "json_schema"}
    kept = trajectory(scenario, memory, rebuilt=False, steps=steps, overrides=overrides)
    assert kept
    assert trajectory(scenario, memory, rebuilt=True, steps=steps, overrides=overrides) == kept
