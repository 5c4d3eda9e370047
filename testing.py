"""Checks for what you plug into memsim, as PettingZoo ships `pettingzoo.test`.

- `check_store(open_store)`: the `GraphStore` conformance suite every built-in backend
  passes (`memsim.memory.conformance`), on your store class or factory.
- `check_world_family(family, **settings)`: a `WorldFamily` against the whole contract:
  PettingZoo's parallel API and seed tests on its env, the `MemsimWorld` surface, step
  infos, checkpoints, rendering, its perception and scripted policy, and a short episode
  through memsim's runner with memory and messages on.
- `check_policy(factory, scenario)`: a policy plays a scenario's first seed, and plays it
  the same when it is rebuilt from nothing at every step: the invariant that a policy
  keeps nothing between steps but what is in its memory.

Each raises `AssertionError` saying what is wrong, and needs no pytest::

    from memsim.testing import check_store
    check_store(MyStore)  # or lambda namespace: MyStore(namespace, url=...)
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import numpy as np

from memsim.agents.policy import AgentContext, Decision, Perception, Policy
from memsim.envs.base import INFO_KEYS, MemsimWorld
from memsim.memory import Fact, RetrievalQuery
from memsim.memory.conformance import STORE_CHECKS, check_store, run_check
from memsim.sim.comm import CommConfig
from memsim.sim.episode import build_scenario_team, build_team, make_executor, run_team
from memsim.sim.families import WorldFamily, register_family
from memsim.sim.scenario import MemoryConfig, Scenario, load_scenario, validate_scenario
from memsim.sim.team import StepRecord

__all__ = ["STORE_CHECKS", "Rebuilt", "check_policy", "check_store", "check_world_family",
           "run_check"]


def _fail(what: str, problem: str) -> AssertionError:
    return AssertionError(f"{what}: {problem}")


def check_world_family(family: WorldFamily, n_agents: int = 2, steps: int = 30,
                       **settings: Any) -> None:
    """Check a world family against memsim's contract (see `WorldFamily`): `settings` are
    the config fields it needs beyond ``n_agents`` and ``max_steps`` (e.g. a task name).
    Runs PettingZoo's `parallel_api_test` and `parallel_seed_test`, then memsim's own
    checks, then `steps` team steps of its scripted policies with memory and comm on."""
    from pettingzoo.test import parallel_api_test, parallel_seed_test

    what = f"world family {getattr(family, 'name', family)!r}"
    if not isinstance(family, WorldFamily):
        raise _fail(what, f"a {type(family).__name__}, not a memsim.WorldFamily")
    fields = family.config_model.model_fields
    missing = [f for f in ("n_agents", "max_steps", "team_goal") if f not in fields]
    if missing:
        raise _fail(what, f"its config_model has no {', '.join(missing)} field")
    config = family.config_model(n_agents=n_agents, max_steps=max(steps * 4, 100), **settings)

    def make(**kwargs: Any) -> Any:
        env = family.make_env(config)
        if "render_mode" in kwargs:
            env.render_mode = kwargs["render_mode"]
        return env

    env = make()
    parallel_api_test(env, num_cycles=steps)
    parallel_seed_test(make)
    env = make()
    observations, _ = env.reset(seed=0)
    if not isinstance(env, MemsimWorld):
        absent = [n for n in ("text_observation", "agent_positions", "snapshot", "restore",
                              "state", "achievements", "team_achievements", "action_names")
                  if not hasattr(env, n)]
        raise _fail(what, f"its env is not a MemsimWorld: it has no {', '.join(absent)}")
    expected = [f"agent_{i}" for i in range(n_agents)]
    if env.possible_agents != expected:
        raise _fail(what, f"agents are {env.possible_agents}, not {expected}")
    if any(env.action_space(a).n != len(env.action_names) for a in env.possible_agents):
        raise _fail(what, "every agent's action space must be Discrete(len(action_names))")
    if set(env.agent_positions()) != set(expected):
        raise _fail(what, "agent_positions() must give every agent's position")
    for agent in expected:
        text = env.text_observation(agent)
        if not isinstance(text, str) or not text:
            raise _fail(what, f"text_observation({agent!r}) must be a non-empty str")
    blob = env.snapshot()
    _, _, _, _, infos = env.step({a: 0 for a in env.agents})
    for agent, info in infos.items():
        absent = [k for k in INFO_KEYS if k not in info]
        if absent:
            raise _fail(what, f"step info of {agent} lacks {absent} (see envs.base.INFO_KEYS)")
    after = {a: env.text_observation(a) for a in expected}
    env.restore(blob)
    env.step({a: 0 for a in env.agents})
    if {a: env.text_observation(a) for a in expected} != after:
        raise _fail(what, "restore(snapshot()) then the same step gives another world")
    pickle.dumps(env.state())
    env = make(render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    if not (isinstance(frame, np.ndarray) and frame.ndim == 3 and frame.shape[2] == 3
            and frame.dtype == np.uint8):
        raise _fail(what, "render() with render_mode='rgb_array' must give an HxWx3 uint8 "
                    "image")
    if not isinstance(family.world_id(config, 3), str) or \
            family.world_id(config, 3) != family.world_id(config, 3):
        raise _fail(what, "world_id(config, seed) must be a stable str")
    _check_agent_parts(what, family, make(), observations)
    register_family(family)  # build_team finds the family by its config
    runtime, state = build_team(config, ["scripted"] * n_agents, 0,
                                MemoryConfig(shared=True), CommConfig())
    try:
        run_team(runtime, state, make_executor("direct", runtime), steps)
    finally:
        runtime.close()


def _check_agent_parts(what: str, family: WorldFamily, env: Any,
                       observations: dict[str, Any]) -> None:
    for agent, obs in observations.items():
        perception = family.make_perception(agent, env)
        if not isinstance(perception, Perception):
            raise _fail(what, f"make_perception gave a {type(perception).__name__}, not a "
                        "Perception (decode, perceive, reset)")
        perception.reset()
        view = perception.decode(obs)
        if not hasattr(view, "position"):
            raise _fail(what, "Perception.decode(obs) must give a view with a position")
        facts = perception.perceive(view, {}, 0)
        if not isinstance(facts, list) or not all(isinstance(f, Fact) for f in facts):
            raise _fail(what, "Perception.perceive must return a list of memsim.Fact")
        prior = family.prior_facts(env, agent)
        if not all(isinstance(f, Fact) for f in prior):
            raise _fail(what, "prior_facts must return a list of memsim.Fact")
        if not isinstance(family.make_scripted(env, agent), Policy):
            raise _fail(what, "make_scripted must return a memsim.Policy")


class Rebuilt:
    """A policy built anew (and reset) for every call: it cannot carry anything from one
    step to the next except through its memory (what `check_policy` plays)."""

    def __init__(self, build: Callable[[], Policy], agent_id: str, seed: int,
                 action_names: tuple[str, ...]) -> None:
        self.build, self.args = build, (agent_id, seed, action_names)
        self.name = build().name

    def _fresh(self) -> Policy:
        policy = self.build()
        policy.reset(*self.args)
        return policy

    def reset(self, agent_id: str, seed: int, action_names: tuple[str, ...]) -> None:
        """Nothing to keep."""

    def recall_query(self, context: AgentContext) -> RetrievalQuery | None:
        return self._fresh().recall_query(context)

    def decide(self, context: AgentContext) -> Decision:
        return self._fresh().decide(context)


def _trajectory(scenario: Scenario, build: Callable[[], Policy], rebuilt: bool,
                steps: int) -> list[Any]:
    seed = scenario.seeds[0]
    records: list[StepRecord] = []
    runtime, state = build_scenario_team(scenario, seed, records.append)
    try:
        for agent_id, agent in runtime.agents.items():
            args = (agent_id, seed, runtime.env.action_names)
            policy: Any = Rebuilt(build, *args) if rebuilt else build()
            policy.reset(*args)
            agent.policy = policy
        run_team(runtime, state, make_executor("direct", runtime), steps)
    finally:
        runtime.close()
    return [(r.step, {a: (v["action"], v["reason"]) for a, v in r.agents.items()},
             [(s["from"], s["accepted"]) for s in r.sent]) for r in records]


def check_policy(build: Callable[[], Policy], scenario: str | Scenario = "default",
                 steps: int = 40) -> None:
    """Check a policy factory (a `Policy` class, or any callable returning a new policy):
    every agent of `scenario` (a name, a path or a `Scenario`) plays it for `steps` team
    steps of the scenario's first seed, with memory on and then off; each time a policy
    rebuilt from nothing at every step must act, say and note exactly the same. It fails
    when a policy keeps state of its own between steps (plug-ins must keep what they
    learn in their memory, through `Decision.memory_notes`)."""
    base = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    probe = build()
    if not isinstance(probe, Policy):
        raise AssertionError(f"{type(probe).__name__} is not a memsim.Policy (name, reset, "
                             "recall_query, decide)")
    for memory in (True, False):
        data = base.model_dump()
        data["memory"]["enabled"] = memory
        data["seeds"] = base.seeds[:1]
        variant = validate_scenario(data, source=f"{base.name} (memory={memory})")
        kept = _trajectory(variant, build, rebuilt=False, steps=steps)
        again = _trajectory(variant, build, rebuilt=True, steps=steps)
        if kept != again:
            step = next((a[0] for a, b in zip(kept, again, strict=False) if a != b),
                        min(len(kept), len(again)))
            raise AssertionError(
                f"policy {probe.name!r} acts differently when rebuilt every step (memory "
                f"{'on' if memory else 'off'}, first at step {step}): it keeps state between "
                "steps outside its memory; write what it must remember as memory notes")
