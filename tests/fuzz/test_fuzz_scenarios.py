"""Fuzz: a scenario file either fails to load with a `ScenarioError` naming the problem,
or it runs (the first steps of an episode are taken here); no third outcome."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fuzz_strategies import examples, floats, ints, json_like, text
from hypothesis import event, given, settings
from hypothesis import strategies as st

from memsim.sim.episode import build_scenario_team, make_executor, run_team
from memsim.sim.scenario import ScenarioError, load_scenario, validate_scenario

BASE: dict[str, Any] = {
    "name": "fuzz", "version": 1, "seeds": [0], "max_steps": 3,
    "env": {"family": "crafting", "width": 16, "height": 16, "zombies": False,
            "skeletons": False},
    "agents": {"count": 2, "policy": "scripted"},
}
FIELDS: dict[str, list[str]] = {
    "": ["name", "version", "seeds", "max_steps", "description", "llm", "rl", "bogus"],
    "env": ["family", "width", "height", "obs_mode", "team_goal", "rules_path", "reward",
            "view_width", "respawn", "task", "difficulty", "n_agents", "bogus"],
    "agents": ["count", "policy", "policies", "bogus"],
    "memory": ["enabled", "backend", "node_budget", "chunk_size", "shared", "retrieve_budget",
               "config", "persist_across_episodes", "bogus"],
    "comm": ["enabled", "max_messages_per_step", "max_bytes_per_step", "max_payload_bytes",
             "range_limit", "delay_steps", "loss_prob", "duplicate_prob", "bogus"],
    "run": ["executor", "trace_observations", "checkpoint_every", "bogus"],
}
PLAUSIBLE = st.sampled_from([
    0, 1, 2, 3, 9, 17, 64, 1000, 0.5, -1, True, False, "", "text", "rgb", "symbolic",
    "scripted", "random", "llm", "rl", "networkx", "falkordb", "neo4j", "direct",
    "langgraph", "navigation", "manipulation", "crafting", "collect_wood", "collect_unicorn",
    "/", "team", {"port": 6379}, {"agent_1": "random"}, [0, 1], [2**64],
])
values = st.one_of(PLAUSIBLE, PLAUSIBLE, PLAUSIBLE, PLAUSIBLE, ints, floats, text, json_like)


@st.composite
def scenarios(draw: Any) -> dict[str, Any]:
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE.items()}
    for _ in range(draw(st.integers(1, 3))):
        table = draw(st.sampled_from(sorted(FIELDS)))
        key = draw(st.sampled_from(FIELDS[table]))
        value = draw(values)
        if table:
            data.setdefault(table, {})[key] = value
        else:
            data[key] = value
    return data


@settings(max_examples=examples(150))
@given(data=scenarios())
def test_a_scenario_is_rejected_with_a_reason_or_it_runs(data: dict[str, Any]) -> None:
    try:
        scenario = validate_scenario(data, source="fuzz.toml")
    except ScenarioError as exc:
        assert exc.problems and all(problem for problem in exc.problems)
        event("rejected")
        return
    event("accepted")
    env = scenario.env_config()
    policies = {scenario.agents.policy_for(a) for a in scenario.agents.agent_ids()}
    size = getattr(env, "width", 0) * getattr(env, "height", 0)
    if scenario.memory.backend != "networkx" or policies & {"llm", "rl"} or size > 64 * 64:
        return  # needs a server, a model or too long to run here: loading was the test
    runtime, state = build_scenario_team(scenario, scenario.seeds[0])
    try:
        run_team(runtime, state, make_executor(scenario.run.executor, runtime),
                 min(scenario.max_steps, 2))
    finally:
        runtime.close()


toml_text = st.one_of(
    text,
    st.builds(lambda n: 'name = "deep"\nversion = 1\nx = ' + "[" * n + "]" * n, st.integers(0,
                                                                                           3000)),
    st.builds(lambda n: "a" + ".a" * n + " = 1", st.integers(0, 3000)),
    st.builds(lambda head, tail: head + tail, st.sampled_from(['name = "x"\n', "[env]\n",
                                                               "version = 1\n", "[[a]]\n"]),
              text),
)


@settings(max_examples=examples(150))
@given(source=st.one_of(toml_text, st.binary(max_size=64)))
def test_any_file_loads_or_is_a_scenario_error(source: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.toml"
        if isinstance(source, bytes):
            path.write_bytes(source)
        else:
            path.write_text(source, encoding="utf-8", errors="surrogatepass")
        try:
            load_scenario(path)
        except ScenarioError as exc:
            assert exc.problems
