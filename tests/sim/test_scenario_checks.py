"""Scenario loading checks everything that can be checked before a run.

Regression tests of the reliability pass: scenario files that crashed the loader, that
were accepted and then failed every seed, or that were accepted and silently useless.
Each must now fail at load time with a `ScenarioError` naming the field.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from memsim.envs.crafting.rules import DEFAULT_RULES_PATH, RulesError, load_rules
from memsim.sim.scenario import ScenarioError, load_scenario, validate_scenario

BASE: dict[str, Any] = {
    "name": "checks", "version": 1, "seeds": [0], "max_steps": 10,
    "env": {"family": "crafting", "zombies": False, "skeletons": False},
    "agents": {"count": 2, "policy": "scripted"},
}


def scenario(**tables: Any) -> dict[str, Any]:
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE.items()}
    for key, value in tables.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return data


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


BAD: dict[str, tuple[dict[str, Any], str]] = {
    # accepted, then every seed failed
    "text observations for scripted agents": (scenario(env={"obs_mode": "text"}),
                                              "env.obs_mode: 'text'"),
    "pixels for random agents": (scenario(env={"obs_mode": "rgb"},
                                          agents={"count": 2, "policy": "random"}),
                                 "env.obs_mode: 'rgb'"),
    "networkx with a port": (scenario(memory={"config": {"port": 6379}}),
                             "memory.config: unknown key(s) ['port']"),
    "chunks larger than memory allows": (scenario(memory={"chunk_size": 1000}),
                                         "memory.chunk_size"),
    # accepted and silently useless
    "an unknown team goal": (scenario(env={"team_goal": "collect_unicorn"}),
                             "team_goal='collect_unicorn' is not an achievement"),
    # accepted
    "FalkorDB port 0": (scenario(memory={"backend": "falkordb", "config": {"port": 0}}),
                        "memory.config: FalkorDB config port must be an integer 1-65535"),
    "FalkorDB port 70000": (scenario(memory={"backend": "falkordb",
                                             "config": {"port": 70000}}), "port"),
    "FalkorDB port abc": (scenario(memory={"backend": "falkordb", "config": {"port": "abc"}}),
                          "port"),
    "FalkorDB url with a bad port": (scenario(memory={"backend": "falkordb", "config": {
        "url": "falkor://127.0.0.1:99999"}}), "memory.config"),
    "a hot temperature": (scenario(agents={"count": 2, "policy": "llm"},
                                   llm={"temperature": "hot"}), "llm.temperature"),
    "an ftp endpoint": (scenario(agents={"count": 2, "policy": "llm"},
                                 llm={"base_url": "ftp://example.org/v1"}), "llm.base_url"),
    "a future version": (scenario(version=999), "version"),
    "a seed beyond 64 bits": (scenario(seeds=[2**64]), "seeds.0"),
    "a message budget near 2**63": (scenario(comm={"max_messages_per_step": 2**63 - 1}),
                                    "comm.max_messages_per_step"),
    "a byte budget near 2**63": (scenario(comm={"max_bytes_per_step": 2**63 - 1}),
                                 "comm.max_bytes_per_step"),
    "a node budget near 2**63": (scenario(memory={"node_budget": 2**63 - 1}),
                                 "memory.node_budget"),
    "a step limit near 2**63": (scenario(max_steps=2**63 - 1), "max_steps"),
    "an infinite range": (scenario(comm={"range_limit": float("inf")}), "comm.range_limit"),
    # crashed the loader
    "rules_path a directory": (scenario(env={"rules_path": "/"}), "is a directory"),
    "rules_path of 5000 characters": (scenario(env={"rules_path": "r" * 5000}),
                                      "not a usable path"),
    "rules_path with a NUL": (scenario(env={"rules_path": "rules\x00.toml"}),
                              "not a usable path (a NUL character"),
    "nested 2000 deep": (scenario(rl={"model_path": _nested(2000)}), "nest"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_scenario_that_cannot_run_fails_at_load_naming_the_field(case: str) -> None:
    data, named = BAD[case]
    with pytest.raises(ScenarioError) as err:
        validate_scenario(data, source="checks.toml")
    assert named in str(err.value) and str(err.value).startswith("checks.toml: ")


def test_a_toml_file_nested_2000_deep_is_a_scenario_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text('name = "deep"\nversion = 1\nx = ' + "[" * 2000 + "]" * 2000 + "\n")
    with pytest.raises(ScenarioError, match="nest"):
        load_scenario(path)


def test_a_rules_file_missing_actions_names_the_file_and_the_key(tmp_path: Path) -> None:
    text = Path(DEFAULT_RULES_PATH).read_text()
    data = tomllib.loads(text)
    assert "actions" in data
    start = text.index("actions = [")
    end = text.index("]", start) + 1
    path = tmp_path / "no-actions.toml"
    path.write_text(text[:start] + text[end:])
    with pytest.raises(RulesError, match=r"no-actions\.toml.*missing required key 'actions'"):
        load_rules(str(path))
    with pytest.raises(ScenarioError, match=r"env: rules file .*no-actions\.toml.*'actions'"):
        validate_scenario(scenario(env={"rules_path": str(path)}))


def test_the_shipped_scenarios_and_good_settings_still_load() -> None:
    validate_scenario(scenario(memory={"backend": "falkordb",
                                       "config": {"host": "127.0.0.1", "port": 6379}}))
    validate_scenario(scenario(agents={"count": 2, "policy": "llm"},
                               llm={"temperature": 0, "memory_tokens": 300}))
    validate_scenario(scenario(seeds=[2**63 - 1], env={"team_goal": "collect_iron"}))
    from memsim.sim.scenario import list_scenarios

    assert not [name for name, text in list_scenarios() if text.startswith("INVALID")]
