"""The graph is the agent's memory: a policy object rebuilt from scratch every step, with
the same memory, chooses the same actions, says the same and notes the same. With memory
off, the same holds with nothing but this step's observation and inbox: no policy keeps
state of its own between steps. Checked for every shipped policy family."""

from __future__ import annotations

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
               seed: int = 1) -> list[Any]:
    base = load_scenario(scenario_name)
    data = deep_merge(base.model_dump(), {"memory": {"enabled": memory},
                                          "run": {"executor": "direct"}})
    data["seeds"] = [seed]
    scenario = validate_scenario(data, source=scenario_name)
    records: list[StepRecord] = []
    runtime, state = build_scenario_team(scenario, seed, records.append)
    if rebuilt:
        rebuild(runtime, scenario, seed)
    run_team(runtime, state, make_executor("direct", runtime), steps)
    runtime.close()
    return [(r.step, {a: (v["action"], v["reason"]) for a, v in r.agents.items()},
             [(s["from"], s["accepted"]) for s in r.sent]) for r in records]


def rebuild(runtime: TeamRuntime, scenario: Any, seed: int) -> None:
    family = scenario.family
    for agent_id, agent in runtime.agents.items():
        name = scenario.agents.policy_for(agent_id)

        def build(agent_id: str = agent_id, name: str = name) -> Policy:
            return make_policy(name, lambda: family.make_scripted(runtime.env, agent_id),
                               scenario.policy_settings().get(name))

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
