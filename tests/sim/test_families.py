"""World families: the registry the runner and scenarios use, and the world protocol."""

from __future__ import annotations

import pytest

from memsim.agents.policy import AgentContext, Decision
from memsim.envs.base import INFO_KEYS, MemsimWorld
from memsim.envs.crafting import CraftingConfig
from memsim.memory import RetrievalQuery
from memsim.sim.comm import CommConfig
from memsim.sim.episode import build_team, make_executor, run_team
from memsim.sim.families import FAMILIES, family_named, family_of
from memsim.sim.scenario import MemoryConfig

# Settings a family's config needs beyond the team size and step limit.
REQUIRED_SETTINGS = {"crafting": {}, "navigation": {"task": "ballet", "relay": True},
                     "manipulation": {"task": "shell_game", "relay": True}}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_family_world_meets_the_protocol(name: str) -> None:
    family = FAMILIES[name]
    config = family.config_model(n_agents=2, max_steps=200, **REQUIRED_SETTINGS[name])
    env = family.make_env(config)
    env.reset(seed=0)
    assert isinstance(env, MemsimWorld)
    assert env.possible_agents == ["agent_0", "agent_1"]
    assert set(env.agent_positions()) == set(env.possible_agents)
    assert all(isinstance(env.text_observation(a), str) and env.text_observation(a)
               for a in env.possible_agents)
    _, _, _, _, infos = env.step({a: 0 for a in env.agents})
    assert all(set(INFO_KEYS) <= set(info) for info in infos.values())
    assert family_of(config) is family
    assert family.milestones
    assert isinstance(family.world_id(config, 3), str)
    assert family.make_perception("agent_0", env) is not None


def test_unknown_family_and_config_are_named() -> None:
    with pytest.raises(ValueError, match="env family 'underwater' is unknown; allowed: crafting"):
        family_named("underwater")
    with pytest.raises(TypeError, match="MemoryConfig is not the config of a known env family"):
        family_of(MemoryConfig())  # type: ignore[arg-type]


class _Reader:
    """A policy that reads text: the runner hands it the env's text observation."""

    name = "reader"
    wants_text = True

    def __init__(self) -> None:
        self.seen: list[str] = []

    def reset(self, agent_id: str, seed: int, action_names: tuple[str, ...]) -> None:
        self.agent_id = agent_id

    def recall_query(self, context: AgentContext) -> RetrievalQuery | None:
        return None

    def decide(self, context: AgentContext) -> Decision:
        self.seen.append(context.observation_text)
        return Decision(action=0)


@pytest.mark.parametrize("executor", ["direct", "langgraph"])
def test_text_observations_reach_only_policies_that_want_them(executor: str) -> None:
    config = CraftingConfig(n_agents=2, zombies=False, skeletons=False)
    runtime, state = build_team(config, ["scripted", "scripted"], 0, MemoryConfig(),
                                CommConfig())
    reader = _Reader()
    runtime.agents["agent_1"].policy = reader
    assert set(state["observation_texts"]) == set()  # built before the swap: none wanted
    first = runtime.env.text_observation("agent_1")
    state["observation_texts"] = {"agent_1": first}
    state = run_team(runtime, state, make_executor(executor, runtime), max_steps=3)
    assert len(reader.seen) == 3 and reader.seen[0] == first
    # After each env step the runner renders text again, for this agent only.
    assert set(state["observation_texts"]) == {"agent_1"}
    assert state["observation_texts"]["agent_1"] == runtime.env.text_observation("agent_1")


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_family_describes_its_world_to_a_model(name: str) -> None:
    from memsim.agents.llm.config import LLMConfig
    from memsim.agents.llm.policy import LLMPolicy

    family = FAMILIES[name]
    brief = None  # the generic description
    if family.llm_brief is not None:
        brief = family.llm_brief(family.make_env(family.config_model(n_agents=1)))
    policy = LLMPolicy(LLMConfig(base_url="http://localhost:1/v1", model="m"), brief)
    text = policy.prompts.system(None, ())
    assert ("Recipes:" in text) == (name == "crafting")
    assert "$" not in text  # every template placeholder was filled
