"""LLM agents against a real model server (llama.cpp with SmolLM2-135M, started by the
`llm_server` fixture of tests/llm_server.py, or $MEMSIM_LLM_BASE_URL).

A 135M model plays badly; these tests check the plumbing, not its choices: every action is
a valid action, every message it sent passed the channel, and the usage counters add up.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from memsim.agents.crafting.prompt import crafting_brief
from memsim.agents.crafting.view import CraftingDecoder
from memsim.agents.llm import LLMConfig, LLMPolicy
from memsim.agents.messages import Message
from memsim.agents.policy import AgentContext
from memsim.cli import main
from memsim.envs.crafting import CraftingConfig, CraftingParallelEnv
from memsim.sim.comm import CommConfig
from memsim.sim.episode import build_team, make_executor, run_team
from memsim.sim.output import read_trace
from memsim.sim.scenario import MemoryConfig
from memsim.sim.team import observation_texts

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N_AGENTS, N_STEPS = 2, 4


def test_llm_team_plays_valid_actions_and_counts_usage(llm_server: dict[str, Any]) -> None:
    config = LLMConfig.from_sources({**llm_server, "memory_tokens": 80, "inbox_messages": 2,
                                     "timeout_s": 180.0, "max_retries": 1})
    env_config = CraftingConfig(n_agents=N_AGENTS, zombies=False, skeletons=False)
    runtime, state = build_team(env_config, ["random"] * N_AGENTS, seed=0,
                                memory=MemoryConfig(), comm=CommConfig(), namespace="llm-it")
    policies: dict[str, LLMPolicy] = {}
    for agent_id, agent in runtime.agents.items():
        policies[agent_id] = LLMPolicy(config, crafting_brief(runtime.env.world.rules))
        policies[agent_id].reset(agent_id, 0, agent.action_names)
        agent.policy = policies[agent_id]
    state["observation_texts"] = observation_texts(runtime, state["live"])
    records: list[Any] = []
    runtime.on_step = records.append
    # The LangGraph team graph: the agents' `adecide` calls run on its loop and overlap.
    executor = make_executor("langgraph", runtime)
    try:
        state = run_team(runtime, state, executor, N_STEPS)
    finally:
        for policy in policies.values():
            policy.close()  # its connections live on the executor's loop
        executor.close()
        runtime.close()

    assert len(records) == N_STEPS
    action_names = runtime.env.action_names
    fallbacks_seen = 0
    for record in records:
        for row in record.agents.values():
            assert row["action"] in action_names and action_names[row["action_id"]] == row["action"]
            fallbacks_seen += row["reason"].startswith("fallback:")
        # Every message the model wrote was a valid channel message.
        assert all(sent["accepted"] for sent in record.sent), record.sent
    for agent_id, policy in policies.items():
        usage = policy.usage()
        assert usage["decisions"] == N_STEPS
        assert usage["calls"] == usage["decisions"] + usage["repair_calls"]
        assert usage["parse_failures"] == usage["repair_calls"] + usage["fallbacks"]
        assert usage["prompt_tokens"] > 100 * usage["calls"] and usage["completion_tokens"] > 0
        assert 0 < usage["latency_s_max"] <= usage["latency_s"]
        assert policy.client.form in ("json_schema", "json_object_schema"), agent_id
    assert fallbacks_seen == sum(p.usage()["fallbacks"] for p in policies.values())


def test_channel_messages_from_the_model_validate(llm_server: dict[str, Any]) -> None:
    """Ask directly for a message; whatever the model writes must convert to channel
    messages that validate (or be rejected at parse time and counted)."""
    config = LLMConfig.from_sources({**llm_server, "memory_tokens": 60, "timeout_s": 180.0})
    env = CraftingParallelEnv(CraftingConfig(n_agents=2, zombies=False, skeletons=False))
    observations, _ = env.reset(seed=3)
    policy = LLMPolicy(config, crafting_brief(env.world.rules), message_kinds=("text", "location"))
    policy.reset("agent_0", 3, env.action_names)
    text = env.text_observation("agent_0") + "\nTell agent_1 where the nearest tree is."
    decision = policy.decide(AgentContext(
        agent_id="agent_0", step=0, observation=observations["agent_0"], facts=[], inbox=[],
        teammates=("agent_1",), action_names=env.action_names, observation_text=text,
        view=CraftingDecoder(env.world.rules).decode(observations["agent_0"])))
    policy.close()
    for message in decision.messages:
        parsed = Message.model_validate(message)
        assert parsed.sender == "agent_0" and parsed.payload.type in ("text", "location")
    assert 0 <= decision.action < len(env.action_names)
    assert policy.usage()["calls"] >= 1



MIXED = """
name = "mixed-team"
version = 1
seeds = [0]
max_steps = {steps}
[env]
family = "crafting"
width = 32
height = 32
zombies = false
skeletons = false
[agents]
count = 3
policy = "scripted"
policies = {{ agent_0 = "llm", agent_2 = "rl" }}
[llm]
base_url = "{base_url}"
model = "{model}"
memory_tokens = 80
inbox_messages = 2
timeout_s = 180.0
max_retries = 1
[rl]
model_path = "{model_path}"
[run]
executor = "langgraph"
"""


def test_llm_scripted_and_rl_agents_share_one_world_through_memsim_run(
    llm_server: dict[str, Any], tmp_path: Path
) -> None:
    """A mixed team from a scenario file, through the real CLI: one LLM agent (the local
    server), one scripted planner and one RL agent (a freshly initialised SB3 PPO model,
    saved and loaded as a trained one would be)."""
    pytest.importorskip("torch", reason="the rl extra (torch) is not installed")
    from memsim.agents.rl.settings import load_settings
    from memsim.sim.rl_training import make_crafter_vec_env, new_ppo

    settings = load_settings()
    model_path = tmp_path / "ppo.zip"
    new_ppo(make_crafter_vec_env(settings), settings, seed=0).save(model_path)
    scenario = tmp_path / "mixed.toml"
    scenario.write_text(MIXED.format(steps=3, base_url=llm_server["base_url"],
                                     model=llm_server["model"], model_path=model_path))
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == 0
    steps = list(read_trace(out / "trace-seed0.jsonl"))
    assert len(steps) == 3
    for step in steps:
        assert set(step["agents"]) == {"agent_0", "agent_1", "agent_2"}
        assert step["agents"]["agent_2"]["reason"].startswith("rl: ")
        assert not step["agents"]["agent_1"]["reason"].startswith(("rl: ", "fallback"))
    with (out / "metrics.csv").open(newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert int(float(row["llm_calls"])) >= 3  # the LLM agent's calls, counted per episode
    assert float(row["llm_prompt_tokens"]) > 0
