"""Tests for the scenario schema and loader (sim/scenario.py) and the shipped scenario files."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from memsim.envs.crafting.config import CraftingConfig
from memsim.sim.comm import CommConfig
from memsim.sim.scenario import (
    SCENARIO_DIR,
    Scenario,
    ScenarioError,
    list_scenarios,
    load_scenario,
    policy_names,
    validate_scenario,
)

SHIPPED = sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))
DAMCS = [
    "damcs-diamond-1",
    "damcs-diamond-2",
    "damcs-diamond-6",
    "damcs-diamond-6-nomem",
    "damcs-diamond-6-nocomm",
]

BASE: dict[str, Any] = {
    "name": "test-scenario",
    "description": "for tests",
    "version": 1,
    "seeds": [0, 1],
    "max_steps": 200,
    "env": {"family": "crafting", "width": 32, "height": 32, "zombies": False},
    "agents": {"count": 2, "policy": "scripted"},
    "memory": {"backend": "networkx", "node_budget": 128},
    "comm": {"enabled": True, "delay_steps": 1},
    "run": {"executor": "direct"},
}


def with_change(path: str, value: Any) -> dict[str, Any]:
    """BASE with ``a.b`` set to ``value``."""
    data = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    target = data
    for key in parents:
        target = target[key]
    target[last] = value
    return data


def error_of(data: dict[str, Any]) -> str:
    with pytest.raises(ScenarioError) as info:
        validate_scenario(data, source="t.toml")
    return str(info.value)


# ----------------------------------------------------------------------------- shipped files


def test_required_scenarios_are_shipped() -> None:
    required = {"default", "random-2", "falkordb-2", *DAMCS}
    assert required <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_scenario_is_valid_and_named_after_its_file(name: str) -> None:
    scenario = load_scenario(name)
    assert scenario.name == name
    assert scenario.description
    assert scenario.version >= 1
    config = scenario.env_config()
    assert config.n_agents == scenario.agents.count
    assert config.max_steps == scenario.max_steps


def test_default_scenario_contents() -> None:
    s = load_scenario("default")
    assert (s.agents.count, s.agents.policy) == (2, "scripted")
    assert (s.env.width, s.env.height) == (64, 64)
    assert (s.env.zombies, s.env.skeletons, s.env.cows) == (False, False, True)
    assert s.memory.enabled and s.memory.backend == "networkx"
    assert s.comm.enabled
    assert (s.max_steps, s.seeds) == (3000, [0])


@pytest.mark.parametrize("name", DAMCS)
def test_damcs_scenarios(name: str) -> None:
    s = load_scenario(name)
    assert s.env.team_goal == "collect_diamond"
    assert not s.env.zombies and not s.env.skeletons
    assert s.seeds == list(range(20))
    assert s.max_steps == 5000
    assert s.agents.count == int(name.split("-")[2])
    assert s.memory.enabled == (not name.endswith("-nomem"))
    assert s.comm.enabled == (not name.endswith("-nocomm"))


def test_smoke_and_falkordb_scenarios() -> None:
    rnd = load_scenario("random-2")
    assert (rnd.agents.count, rnd.agents.policy, rnd.max_steps) == (2, "random", 500)
    assert rnd.env.zombies and rnd.env.skeletons
    falk = load_scenario("falkordb-2")
    assert falk.memory.backend == "falkordb"
    assert "server" in falk.description
    default = load_scenario("default")
    # "like default": everything but the name, description and backend is the same
    assert falk.env == default.env and falk.agents == default.agents
    assert falk.comm == default.comm and falk.max_steps == default.max_steps


def test_list_scenarios_gives_names_and_descriptions() -> None:
    listed = dict(list_scenarios())
    assert sorted(listed) == SHIPPED
    assert listed["default"] == load_scenario("default").description


def test_list_scenarios_shows_an_invalid_file_instead_of_failing(tmp_path: Path) -> None:
    (tmp_path / "good.toml").write_text(
        'name = "good"\ndescription = "fine"\nversion = 1\n'
        '[env]\nfamily = "crafting"\n[agents]\ncount = 1\n'
    )
    (tmp_path / "bad.toml").write_text('name = "bad"\nversion = 1\n[envv]\n')
    listed = dict(list_scenarios(tmp_path))
    assert listed["good"] == "fine"
    assert listed["bad"].startswith("INVALID:") and "envv" in listed["bad"]


# ----------------------------------------------------------------------------- loading


def test_load_by_path_and_by_name_agree(tmp_path: Path) -> None:
    path = tmp_path / "copy.toml"
    path.write_text((SCENARIO_DIR / "default.toml").read_text())
    assert load_scenario(path) == load_scenario("default")
    assert load_scenario(str(path)) == load_scenario("default")


def test_missing_scenario_name_lists_available() -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario("no-such-scenario")
    assert "no-such-scenario" in str(info.value)
    assert "available: " in str(info.value) and "default" in str(info.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "gone.toml"
    with pytest.raises(ScenarioError, match=r"gone\.toml: file not found"):
        load_scenario(missing)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('name = "x"\n[env\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(path) in str(info.value) and "invalid TOML" in str(info.value)


def test_file_errors_name_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text(
        'name = "x"\nversion = 1\n[env]\nfamily = "crafting"\nzombies = "maybe"\n'
        '[agents]\ncount = 2\npolicy = "smart"\n'
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert "env.zombies: Input should be a valid boolean" in message
    allowed = ", ".join(sorted(policy_names()))
    assert f"agents.policy: 'smart' is not allowed; allowed: {allowed}" in message


# ----------------------------------------------------------------------------- bad input


def test_base_is_valid() -> None:
    s = validate_scenario(BASE)
    assert s.run.executor == "direct" and s.comm.delay_steps == 1


@pytest.mark.parametrize(
    ("section", "allowed_example"),
    [
        (None, "max_steps"),
        ("env", "zombies"),
        ("agents", "policies"),
        ("memory", "node_budget"),
        ("comm", "loss_prob"),
        ("run", "checkpoint_every"),
    ],
)
def test_unknown_key_at_every_level(section: str | None, allowed_example: str) -> None:
    data = copy.deepcopy(BASE)
    (data if section is None else data[section])["typo_key"] = 1
    message = error_of(data)
    path = "typo_key" if section is None else f"{section}.typo_key"
    assert f"t.toml: {path}: unknown key; allowed: " in message
    assert allowed_example in message


def test_unknown_top_level_table_fails() -> None:
    data = copy.deepcopy(BASE)
    data["planner"] = {"depth": 3}
    assert "planner: unknown key" in error_of(data)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("name", "Bad Name", "name: String should match pattern"),
        ("version", 0, "version: Input should be greater than or equal to 1"),
        ("seeds", [], "seeds: List should have at least 1 item"),
        ("seeds", [1, 1], "seeds: seeds must not repeat"),
        ("seeds", [-1], "seeds.0: Input should be greater than or equal to 0"),
        ("max_steps", 0, "max_steps: Input should be greater than or equal to 1"),
        ("env.family", "underwater", "env.family: 'underwater' is not allowed; allowed: crafting"),
        ("env.zombies", "maybe", "env.zombies: Input should be a valid boolean"),
        ("env.zombies", 1, "env.zombies: Input should be a valid boolean"),
        ("env.view_width", 8, "env.view_width: must be odd"),
        ("env.obs_mode", "pixels", "env.obs_mode: Input should be 'symbolic', 'text' or 'rgb'"),
        ("env.n_agents", 3, "n_agents is not set in [env]; set agents.count instead"),
        ("env.max_steps", 3, "max_steps is not set in [env]; set the top-level max_steps"),
        ("agents.count", 0, "agents.count: Input should be greater than or equal to 1"),
        ("agents.count", 65, "agents.count: Input should be less than or equal to 64"),
        ("agents.policy", "smart", "agents.policy: 'smart' is not allowed; allowed: "),
        ("memory.backend", "redis", "memory.backend: 'redis' is not allowed; allowed: falkordb"),
        ("memory.node_budget", 10, "memory.node_budget: Input should be greater than or equal"),
        ("memory.enabled", "no", "memory.enabled: Input should be a valid boolean"),
        ("comm.loss_prob", 2.0, "comm.loss_prob: Input should be less than or equal to 1"),
        ("comm.enabled", "off", "comm.enabled: Input should be a valid boolean"),
        ("run.executor", "ray", "run.executor: Input should be 'langgraph' or 'direct'"),
        ("run.checkpoint_every", -1, "run.checkpoint_every: Input should be greater than"),
    ],
)
def test_bad_values_name_the_field(path: str, value: Any, expected: str) -> None:
    message = error_of(with_change(path, value))
    assert message.startswith("t.toml: ")
    assert expected in message


def test_missing_required_fields_are_named() -> None:
    data = copy.deepcopy(BASE)
    del data["agents"]
    del data["env"]["family"]
    message = error_of(data)
    assert "agents: Field required" in message
    assert "env.family: Field required" in message


def test_too_many_agents_for_the_map_fails_at_load() -> None:
    data = with_change("env.width", 9)
    data["env"]["height"] = 9
    data["agents"]["count"] = 21
    message = error_of(data)
    assert "agents.count" in message and "too many" in message


def test_per_agent_policy_overrides() -> None:
    s = validate_scenario(with_change("agents.policies", {"agent_1": "random"}))
    assert s.agents.agent_ids() == ["agent_0", "agent_1"]
    assert [s.agents.policy_for(a) for a in s.agents.agent_ids()] == ["scripted", "random"]
    bad_name = error_of(with_change("agents.policies", {"agent_1": "smart"}))
    assert "agents.policies.agent_1: 'smart' is not allowed" in bad_name
    bad_agent = error_of(with_change("agents.policies", {"agent_7": "random"}))
    assert "'agent_7' is not an agent" in bad_agent and "allowed: agent_0, agent_1" in bad_agent


def test_policy_names_come_from_the_agents_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    from memsim.agents import registry

    monkeypatch.setattr(registry, "POLICY_NAMES", ("scripted", "random", "llm"))
    assert policy_names() == ("scripted", "random", "llm")
    assert validate_scenario(with_change("agents.policy", "llm")).agents.policy == "llm"
    assert "allowed: llm, random, scripted (built in)" in error_of(
        with_change("agents.policy", "x"))


def test_memory_backends_come_from_the_memory_package(monkeypatch: pytest.MonkeyPatch) -> None:
    from memsim.memory import backends

    monkeypatch.setitem(backends.BACKENDS, "mystore",
                        "memsim.memory.backends.networkx_store:NetworkxStore")
    assert validate_scenario(with_change("memory.backend", "mystore")).memory.backend == "mystore"
    assert "allowed: falkordb, mystore, neo4j, networkx" in error_of(
        with_change("memory.backend", "redis"))


# ----------------------------------------------------------------------------- derived configs


def test_env_and_comm_config() -> None:
    s = validate_scenario(BASE)
    config = s.env_config()
    assert isinstance(config, CraftingConfig)
    assert (config.width, config.height, config.zombies) == (32, 32, False)
    assert (config.n_agents, config.max_steps) == (2, 200)
    assert s.env_config(5).n_agents == 5
    assert s.comm_config() == CommConfig(enabled=True, delay_steps=1)
    # n_agents / max_steps of the env section are never part of the scenario's data
    assert "n_agents" not in s.model_dump()["env"]


def test_with_overrides() -> None:
    s = validate_scenario(BASE)
    o = s.with_overrides(seed=7, agents=3, memory_backend="falkordb", executor="langgraph")
    assert o.seeds == [7]
    assert o.agents.count == 3 and o.env_config().n_agents == 3
    assert o.memory.backend == "falkordb" and o.run.executor == "langgraph"
    # the original is untouched and no override means an equal copy
    assert s.seeds == [0, 1] and s.agents.count == 2
    assert s.with_overrides() == s


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"agents": 100}, "agents.count: Input should be less than or equal to 64"),
        ({"memory_backend": "redis"}, "memory.backend: 'redis' is not allowed"),
        ({"seed": -2}, "seeds.0: Input should be greater than or equal to 0"),
        ({"executor": "ray"}, "run.executor: Input should be"),
    ],
)
def test_bad_overrides_are_validated(kwargs: dict[str, Any], expected: str) -> None:
    with pytest.raises(ScenarioError) as info:
        validate_scenario(BASE).with_overrides(**kwargs)
    assert str(info.value).startswith("test-scenario (overrides): ")
    assert expected in str(info.value)


def test_override_agents_below_a_per_agent_policy_fails() -> None:
    s = validate_scenario(with_change("agents.policies", {"agent_1": "random"}))
    with pytest.raises(ScenarioError, match="'agent_1' is not an agent"):
        s.with_overrides(agents=1)


def test_scenarios_are_immutable() -> None:
    s: Scenario = validate_scenario(BASE)
    with pytest.raises(ValueError, match="frozen"):
        s.max_steps = 5  # type: ignore[misc]


def test_rl_policy_needs_its_model_path_at_load_time() -> None:
    data = with_change("agents.policies", {"agent_1": "rl"})
    assert "rl.model_path: required by policy 'rl'" in error_of(data)
    data["rl"] = {"model_path": "runs/ppo.zip"}
    assert validate_scenario(data).rl["model_path"] == "runs/ppo.zip"
    unused = with_change("rl", {"model_path": "runs/ppo.zip"})
    assert "rl: settings given but no agent uses policy 'rl'" in error_of(unused)
