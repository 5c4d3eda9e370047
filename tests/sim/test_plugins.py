"""The plug-in mechanism (`memsim.plugins`): import paths, entry points, and what their
errors say. The end-to-end runs through `memsim` are in tests/test_examples.py."""

from __future__ import annotations

import importlib.metadata
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import memsim
from memsim import plugins
from memsim.agents.random_policy import RandomPolicy
from memsim.agents.registry import make_policy, policy_names
from memsim.memory.backends import backend_class, backend_names
from memsim.plugins import PluginError, load_object
from memsim.sim.families import FAMILIES, family_named
from memsim.sim.scenario import ScenarioError, load_scenario, validate_scenario


class Stubborn(RandomPolicy):
    name = "stubborn"


NOT_A_POLICY = object()


def dict_factory() -> dict[str, int]:
    return {}


@pytest.fixture
def entry_points(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[Any]]]:
    """Entry points to declare, by group, as an installed package would."""
    declared: dict[str, list[Any]] = {group: [] for group in plugins.GROUPS.values()}

    def fake(group: str) -> list[Any]:
        return declared.get(group, [])

    monkeypatch.setattr(importlib.metadata, "entry_points", fake)
    plugins.refresh()
    yield declared
    plugins.refresh()


def point(name: str, value: str, group: str) -> importlib.metadata.EntryPoint:
    return importlib.metadata.EntryPoint(name, value, group)


def scenario_data(**agents: Any) -> dict[str, Any]:
    return {"name": "p", "version": 1, "env": {"family": "crafting", "width": 16, "height": 16},
            "agents": {"count": 2, **agents}, "run": {"executor": "direct"}}


def test_contracts_are_importable_from_memsim() -> None:
    for name in ("Policy", "AgentContext", "Decision", "Perception", "GraphStore",
                 "StoreCapabilities", "WorldFamily", "MemsimWorld", "register_family",
                 "FlatObservations", "PluginError", "load_scenario", "run_episode"):
        assert name in memsim.__all__ and getattr(memsim, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = memsim.Nope  # type: ignore[attr-defined]


@pytest.mark.parametrize(("path", "problem"), [
    ("nowhere_at_all:Thing", "cannot be imported: No module named 'nowhere_at_all'"),
    ("memsim.agents.random_policy:Nope", "module 'memsim.agents.random_policy' has no 'Nope'"),
    ("not a path:X", "is not an import path; write 'package.module:Name'"),
    ("memsim.agents:", "is not an import path"),
])
def test_import_path_errors_say_what_is_wrong(path: str, problem: str) -> None:
    with pytest.raises(PluginError, match=problem):
        load_object(path)


def test_a_broken_plugin_module_reports_its_own_error(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "broken_plugin.py").write_text("import numpyy\n")
    (tmp_path / "raising_plugin.py").write_text("raise RuntimeError('no config')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError, match="cannot be imported: No module named 'numpyy'"):
        load_object("broken_plugin:X")
    with pytest.raises(PluginError, match="RuntimeError: no config"):
        load_object("raising_plugin:X")


def test_import_paths_resolve_from_the_current_directory(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "here_policy.py").write_text(textwrap.dedent('''
        from memsim.agents.random_policy import RandomPolicy
        class Here(RandomPolicy):
            name = "here"
    '''))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    assert load_object("here_policy:Here").name == "here"


def test_policies_by_import_path_in_scenarios_and_per_agent() -> None:
    path = f"{__name__}:Stubborn"
    s = validate_scenario(scenario_data(policies={"agent_1": path}))
    assert s.agents.policy_for("agent_1") == path
    assert make_policy(path, scripted=RandomPolicy).name == "stubborn"
    bad = scenario_data(policy=f"{__name__}:NOT_A_POLICY")
    with pytest.raises(ScenarioError, match="is a object, not a class or factory"):
        validate_scenario(bad)
    with pytest.raises(ScenarioError, match=r"\(ScenarioError\) is not a Policy: it has no "
                                            "reset, recall_query, decide"):
        validate_scenario(scenario_data(policy="memsim.sim.scenario:ScenarioError"))


def test_a_factory_that_builds_no_policy_is_named() -> None:
    with pytest.raises(PluginError, match="built a dict, which is not a Policy: it has no "
                                          "name, reset, recall_query, decide"):
        make_policy(f"{__name__}:dict_factory", scripted=RandomPolicy)


def test_entry_point_policies_worlds_and_stores(entry_points: dict[str, list[Any]]) -> None:
    entry_points["memsim.policies"] += [point("stubborn", f"{__name__}:Stubborn",
                                              "memsim.policies"),
                                        point("random", f"{__name__}:Stubborn",
                                              "memsim.policies")]
    entry_points["memsim.stores"].append(point(
        "embedded", "memsim.memory.backends.networkx_store:NetworkxStore", "memsim.stores"))
    entry_points["memsim.worlds"].append(point("grid", "memsim.sim.families:NAVIGATION",
                                               "memsim.worlds"))
    with pytest.warns(UserWarning, match="'random'.*is ignored: 'random' is built into memsim"):
        names = policy_names()
    assert names[-1] == "stubborn" and names.count("random") == 1
    s = validate_scenario(scenario_data(policy="stubborn"))
    assert make_policy(s.agents.policy, scripted=RandomPolicy).name == "stubborn"
    assert "embedded" in backend_names() and backend_class("embedded").__name__ == "NetworkxStore"
    # A world entry point must carry the family of its own name.
    with pytest.raises(PluginError, match="gives a family named 'navigation': the two names"):
        family_named("grid")


def test_a_broken_entry_point_names_its_distribution(entry_points: dict[str, list[Any]]
                                                     ) -> None:
    entry_points["memsim.policies"].append(point("ghost", "ghost_package:Ghost",
                                                 "memsim.policies"))
    with pytest.raises(ScenarioError, match=r"memsim.policies entry point 'ghost' "
                                            r"\(ghost_package:Ghost, from an installed "
                                            r"package\) cannot be loaded"):
        validate_scenario(scenario_data(policy="ghost"))


def test_unknown_names_list_what_is_there(entry_points: dict[str, list[Any]]) -> None:
    with pytest.raises(ScenarioError) as caught:
        validate_scenario(scenario_data(policy="greedy"))
    assert ("agents.policy: 'greedy' is not allowed; allowed: llm, random, rl, scripted "
            "(built in), entry points: none installed; or a policy class by import path "
            "'package.module:MyPolicy'") in str(caught.value)
    data = scenario_data()
    data["env"] = {"family": "underwater"}
    with pytest.raises(ScenarioError, match=r"env.family: 'underwater' is not allowed; allowed: "
                                            r"crafting, navigation, manipulation \(or a family "
                                            r"by import path"):
        validate_scenario(data)
    data["env"] = {"family": "memsim.sim.families:FAMILIES"}
    with pytest.raises(ScenarioError, match="is a dict, not a WorldFamily"):
        validate_scenario(data)
    data = scenario_data()
    data["memory"] = {"backend": "sqlite"}
    with pytest.raises(ScenarioError, match=r"memory.backend: 'sqlite' is not allowed; "
                                            r"allowed: falkordb, neo4j, networkx"):
        validate_scenario(data)


def test_a_family_by_import_path_is_a_scenario_world() -> None:
    data = scenario_data()
    data["env"] = {"family": "memsim.sim.families:NAVIGATION", "task": "ballet", "relay": True}
    s = validate_scenario(data)
    assert s.family is FAMILIES["navigation"] and s.env.family == data["env"]["family"]
    assert validate_scenario(s.model_dump()) == s  # scenario.json round trip


def test_a_missing_server_client_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "neo4j", None)
    monkeypatch.delitem(sys.modules, "memsim.memory.backends.neo4j_store", raising=False)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'memsim\[neo4j\]'"):
        backend_class("neo4j")
    data = scenario_data()
    data["memory"] = {"backend": "neo4j"}
    with pytest.raises(ScenarioError, match=r"memory.backend: .*pip install 'memsim\[neo4j\]'"):
        validate_scenario(data)


def test_scenario_names_resolve_from_the_current_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_scenario("default").name == "default"  # the shipped one
    (tmp_path / "scenarios").mkdir()
    text = Path(memsim.__file__).with_name("scenarios").joinpath("random-2.toml").read_text()
    (tmp_path / "scenarios" / "default.toml").write_text(text.replace('"random-2"', '"mine"'))
    assert load_scenario("default").name == "mine"  # ./scenarios/ before the shipped
    (tmp_path / "default.toml").write_text(text.replace('"random-2"', '"here"'))
    assert load_scenario("default").name == "here"  # ./ first
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    from memsim.sim.scenario import list_scenarios

    assert [n for n, _ in list_scenarios(tmp_path)] == ["default"]  # not pyproject


def test_the_langgraph_executor_without_langgraph_says_which_extra(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from memsim.sim import scenario as scenario_module

    monkeypatch.setattr(scenario_module, "langgraph_installed", lambda: False)
    assert validate_scenario({**scenario_data(), "run": {}}).run.executor == "direct"
    with pytest.raises(ScenarioError, match=r"run.executor: 'langgraph' needs LangGraph, "
                                            r"which is not installed: pip install "
                                            r"'memsim\[langgraph\]'"):
        validate_scenario({**scenario_data(), "run": {"executor": "langgraph"}})
