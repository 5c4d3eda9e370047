"""Skills and the skill policies (random-skill, LLM) without a real model.

The LLM skill policy talks to `fake_llm.ScriptedEndpoint` (a real HTTP server on loopback)
whose answers are a function of the request, so the real client, schema and parsing run.
The real model runs in test_llm_server.py.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from fake_llm import Reply, ScriptedEndpoint, chat_reply

from memsim.agents.llm.client import forget_request_forms
from memsim.agents.llm.say import MessageCheck, parse_say
from memsim.agents.messages import Message
from memsim.agents.policy import AgentContext
from memsim.agents.skills import ActiveSkill
from memsim.agents.skills.base import subgoal_name
from memsim.agents.step import perceive, read_inbox, recall, remember
from memsim.memory import Fact, GoalRecord, PlaceRecord, Recall, TeammateRecord, approx_tokens
from memsim.sim.episode import build_scenario_team, make_executor, run_team
from memsim.sim.scenario import Scenario, load_scenario, validate_scenario
from memsim.sim.suite import deep_merge
from memsim.sim.team import StepRecord


@pytest.fixture(autouse=True)
def fresh_request_forms() -> None:
    forget_request_forms()


def scenario(name: str, **overrides: Any) -> Scenario:
    data = deep_merge(load_scenario(name).model_dump(), {"run": {"executor": "direct"},
                                                         **overrides})
    return validate_scenario(data, source=name)


def run(sc: Scenario, steps: int, seed: int = 0) -> tuple[Any, list[StepRecord]]:
    records: list[StepRecord] = []
    runtime, state = build_scenario_team(sc, seed, records.append)
    run_team(runtime, state, make_executor(sc.run.executor, runtime), steps)
    for agent in runtime.agents.values():
        close = getattr(agent.policy, "close", None)
        if callable(close):
            close()
    return runtime, records  # memory stays open for the test to read (in process)


def answering(choose: Callable[[str, int], int], say: str = "") -> Callable[[dict[str, Any]],
                                                                            Reply]:
    """An endpoint reply function: `choose(prompt, options)` -> the menu number."""
    def reply(request: dict[str, Any]) -> Reply:
        prompt = request["messages"][-1]["content"]
        options = len(re.findall(r"^\d+\. ", prompt, re.MULTILINE))
        answer = {"skill": choose(prompt, options), "say": say}
        return chat_reply(json.dumps(answer), usage={"prompt_tokens": approx_tokens(
            "".join(m["content"] for m in request["messages"])), "completion_tokens": 12})
    return reply


def hashed(prompt: str, options: int) -> int:
    """A deterministic choice that depends on the whole prompt."""
    return zlib.crc32(prompt.encode()) % options + 1


@pytest.fixture
def endpoint() -> Iterator[Callable[..., ScriptedEndpoint]]:
    made: list[ScriptedEndpoint] = []

    def make(reply: Callable[[dict[str, Any]], Reply]) -> ScriptedEndpoint:
        made.append(ScriptedEndpoint(reply))
        return made[-1]

    yield make
    for server in made:
        server.close()


def llm_overrides(server: ScriptedEndpoint) -> dict[str, Any]:
    return {"llm": {"base_url": server.base_url, "model": "m",
                    "response_format": "json_schema"}}


# ---- the active skill lives in memory ---------------------------------------------------


def test_a_random_skill_team_plays_with_few_choices_and_skills_end_in_memory() -> None:
    runtime, records = run(scenario("random-skills-2"), 300, seed=1)
    assert "collect_wood" in runtime.env.team_achievements
    for agent in runtime.agents.values():
        usage = agent.policy.usage()
        assert usage["calls"] == 0 and usage["decisions"] == 300
        assert 3 <= usage["choices"] <= 0.1 * usage["decisions"]
        assert usage["skills_completed"] >= 2
        # Ended skills are subgoal nodes closed with a summary, the last one named first.
        recall = agent.memory.retrieve({"subgoals": 3})
        assert recall.subgoals and all(": " in g.summary and g.status in (
            "completed", "failed", "interrupted") for g in recall.subgoals)
        active = ActiveSkill.of(recall.subgoal, agent.policy.runner.library.skills)
        assert active is not None and recall.subgoal.needs == active.args
    # Between choices each step says which skill ran; a choice names why it was due.
    reasons = [r.agents["agent_0"]["reason"] for r in records]
    chose = [r for r in reasons if r.startswith("chose ")]
    assert chose[0].startswith("chose ") and "(no skill is running)" in chose[0]
    assert all(re.match(r"^(chose .*; )?\[[a-z_]+( [A-Za-z0-9_,]+)*\] ", r) for r in reasons)


def test_active_skill_reads_back_only_skill_subgoals() -> None:
    skills = frozenset({"collect", "explore"})
    record = GoalRecord("s", "subgoal", "collect_wood", "active", 4, ("wood", "5"), (3, 4), 6)
    active = ActiveSkill.of(record, skills)
    assert active == ActiveSkill("collect", ("wood", "5"), 4, (3, 4), 6)
    assert active.name == subgoal_name("collect", ("wood", "5")) == "collect_wood"
    assert ActiveSkill.of(GoalRecord("s", "subgoal", "explore", "active", 1), skills)
    # The planner's own subgoals, ended ones and other names are not skills.
    assert ActiveSkill.of(GoalRecord("s", "subgoal", "collect_wood", "active", 4), skills) is None
    assert ActiveSkill.of(GoalRecord("s", "subgoal", "fly_up", "active", 4, ("up",)),
                          skills) is None
    ended = GoalRecord("s", "subgoal", "collect_wood", "failed", 4, ("wood", "5"))
    assert ActiveSkill.of(ended, skills) is None


def test_crafting_menu_is_built_from_memory() -> None:
    sc = scenario("random-skills-2")
    runtime, team = build_scenario_team(sc, 0)
    team = run_team(runtime, team, make_executor("direct", runtime), 120)
    agent = runtime.agents["agent_0"]
    library = agent.policy.runner.library
    state: dict[str, Any] = {"agent_id": "agent_0", "step": 120, "inbox": [], "info": {},
                             "observation": team["observations"]["agent_0"]}
    for node in (perceive, read_inbox, remember, recall):
        state.update(node(agent, state))  # type: ignore[arg-type]
    context: AgentContext = state["context"]
    b = library.beliefs(context)
    menu = library.menu(context)
    names = [o.name for o in menu]
    assert "explore" in names and len(names) == len(set(names))
    inv = context.view.inventory
    for option in menu:
        if option.skill == "collect" and option.target is not None:
            assert option.target in b.known[library._collect_recipe(b, option.args[0]).material]
            assert int(option.args[1]) > inv.get(option.args[0], 0)
        if option.skill == "make":
            assert inv.get(option.args[0], 0) == 0
        if option.skill == "place":
            assert not library._missing(library._recipe(b, option.args[0], "place"), inv)
    # The next tech-tree step comes first.
    wanted = library.wanted(b)
    assert names[0] in wanted or not set(names) & set(wanted)


def test_next_milestone_does_not_ask_again_for_what_was_used_up() -> None:
    runtime, _ = build_scenario_team(scenario("random-skills-2"), 0)
    library = runtime.agents["agent_0"].policy.runner.library

    def beliefs(inventory: dict[str, int], known: dict[str, list[Any]]) -> Any:
        return SimpleNamespace(view=SimpleNamespace(inventory=inventory), known=known)

    assert library.next_milestone(beliefs({}, {})) == "collect_wood"
    # The wood went into the table and the pickaxe: the stone is next, not the wood.
    tools = {"wood_pickaxe": 1}
    assert library.next_milestone(beliefs(tools, {"table": [(1, 1)]})) == "collect_stone"
    # The iron went into the iron pickaxe: the diamond is next.
    done = {"iron_pickaxe": 1, "wood_pickaxe": 1, "stone_pickaxe": 1}
    assert library.next_milestone(beliefs(done, {"table": [(1, 1)], "furnace": [(2, 2)]})
                                  ) == "collect_diamond"
    # A gap before the furthest step still counts when nothing beyond it is done.
    assert library.next_milestone(beliefs({"wood": 1}, {})) == "place_table"


# ---- the LLM skill policy -----------------------------------------------------------


def test_llm_skill_team_calls_the_model_only_on_events(endpoint: Any) -> None:
    server = endpoint(answering(hashed))
    steps = 200
    runtime, _ = run(scenario("llm-skills-2", **llm_overrides(server)), steps)
    prompts = [r["messages"] for r in server.requests]
    assert prompts
    total_calls = 0
    for agent in runtime.agents.values():
        usage = agent.policy.usage()
        assert usage["decisions"] == steps
        # One call per choice that had more than one option; no repairs.
        assert usage["calls"] == usage["choices"] - usage["auto_choices"]
        assert usage["repair_calls"] == 0 and usage["fallbacks"] == 0
        assert usage["calls"] / usage["decisions"] <= 0.1
        total_calls += usage["calls"]
    assert total_calls == len(server.requests)
    for messages in prompts:
        system, step = messages[0]["content"], messages[1]["content"]
        assert approx_tokens(system) + approx_tokens(step) <= 270  # < 400 SmolLM2 tokens
        assert "\nSkills:\n1. " in step and "Asked because: " in step
        assert "agent_" not in system  # one cached prefix for the whole team
    request = server.requests[0]
    enum = request["response_format"]["json_schema"]["schema"]["properties"]["skill"]["enum"]
    assert enum == list(range(1, len(enum) + 1))


def test_an_unusable_answer_takes_the_first_option_without_a_repair_call(endpoint: Any) -> None:
    server = endpoint(lambda request: chat_reply('{"skill": 99, "say": ""}'))
    runtime, records = run(scenario("llm-skills-2", **llm_overrides(server)), 30)
    usage = runtime.agents["agent_0"].policy.usage()
    assert usage["calls"] >= 1 and usage["repair_calls"] == 0
    assert usage["fallbacks"] == usage["calls"] == usage["parse_failures"]
    first = records[0].agents["agent_0"]["reason"]
    assert first.startswith("fallback to option 1: skill: 99 is not on the menu")


def test_what_the_model_says_is_checked_before_it_leaves(endpoint: Any) -> None:
    """Garbage and free text are counted and never sent; a true report goes out."""
    def reply(request: dict[str, Any]) -> Reply:
        prompt = request["messages"][-1]["content"]
        tree = re.search(r"tree at \((\d+),(\d+)\)", prompt)
        say = f"tree at {tree[1]},{tree[2]}" if tree else "claim game_2038.com at 5,6"
        return chat_reply(json.dumps({"skill": 1, "say": say}))

    server = endpoint(reply)
    runtime, records = run(scenario("llm-skills-2", **llm_overrides(server)), 60)
    said = [r["reason"] for rec in records for r in rec.agents.values()
            if r["reason"].startswith("model chose")]
    true = [r for r in said if "said 'tree at" in r and "not sent" not in r]
    garbage = [r for r in said if "not sent: free text is off" in r]  # not even a claim
    assert true and len(true) + len(garbage) == len(said)
    usage = [agent.policy.usage() for agent in runtime.agents.values()]
    assert sum(u["messages_written"] for u in usage) == len(said)
    assert sum(u["messages_rejected"] for u in usage) == len(garbage)
    # What the check let through, the channel took (and nothing of the garbage reached it).
    assert all(s["accepted"] for r in records for s in r.sent)
    for agent in runtime.agents.values():
        assert not agent.memory.store.query("Message", {"text": "claim game_2038.com@5,6"})


def test_parse_say_reads_reports_claims_and_text() -> None:
    location = parse_say(" Iron at (12, 30) ", "agent_0", 7, 2)
    assert location is not None and location["payload"] == {
        "type": "location", "entity": "iron", "x": 12, "y": 30, "seen_step": 7}
    claim = parse_say("claim diamond at 4,5.", "agent_0", 7, 2)
    assert claim is not None and claim["kind"] == "plan"
    assert claim["payload"]["goal"] == "diamond@4,5"
    assert parse_say("", "agent_0", 7, 2) is None and parse_say("none", "agent_0", 7, 2) is None
    text = parse_say("game_2038.com/56794-dice-world", "agent_0", 7, 2)
    assert text is not None and text["payload"]["type"] == "text"
    for message in (location, claim, text):
        Message.model_validate(message)


def test_message_check_uses_only_the_senders_memory() -> None:
    recall = Recall(nearest=[PlaceRecord("p", "iron", 12, 30, 5, "observed", 1.0, 3)],
                    teammates=[TeammateRecord("t", "agent_1", 2, 2, 9, "observed")])
    context = AgentContext(agent_id="agent_0", step=10, observation=None,
                           facts=[Fact(kind="seen_at", subject="tree", place=(1, 1))],
                           inbox=[], recall=recall)
    check = MessageCheck(items=("wood", "iron"), allow_text=False, text_chars=60)

    def verdict(say: str) -> str | None:
        message = parse_say(say, "agent_0", 10, 2)
        assert message is not None
        return check.reject(message, context)

    assert verdict("iron at 12,30") is None and verdict("tree at 1,1") is None
    assert verdict("claim iron at 12,30") is None and verdict("agent_1 at 2,2") is None
    assert verdict("diamond at 12,30") == "location: no diamond remembered at (12,30)"
    assert verdict("claim diamond at 3,3") == "claim: no diamond remembered at (3,3)"
    assert verdict("hello team").startswith("free text is off")
    offer = {"payload": {"type": "item_offer", "item": "gold", "count": 1}}
    assert "not an item of this world" in check.reject(offer, context)
    assert check.reject({"payload": {"type": "goal_claim", "goal": "game_2038.com/5",
                                     "status": "claim"}}, context).startswith("claim:")
    context.recall = None  # memory off: only what it sees now
    assert verdict("iron at 12,30") is not None and verdict("tree at 1,1") is None


# ---- memory-task worlds -------------------------------------------------------------


def _target_option(prompt: str, options: int) -> int:
    """A perfect chooser: the option that names what the act phase asks for."""
    wanted = re.search(r"the task asks for: (\w+)", prompt)
    for line in prompt.splitlines():
        found = re.match(r"^(\d+)\. go to (\w+) ", line)
        if wanted and found and found[2] == wanted[1]:
            return int(found[1])
    return 1


def test_nav_skill_agent_reaches_what_it_chose_from_memory(endpoint: Any) -> None:
    """Ballet: with a chooser that picks the remembered dancer the cue names, every seed
    succeeds; the menu is where the memory is (random-skills is at about chance)."""
    server = endpoint(answering(_target_option))
    base = scenario("nav-ballet-llm-skills", **llm_overrides(server))
    wins = 0
    for seed in range(4):
        runtime, _ = run(base, 200, seed)
        wins += "success" in runtime.env.team_achievements
        usage = runtime.agents["agent_0"].policy.usage()
        assert usage["calls"] == 1  # the act phase's choice; waiting needed no model
    assert wins == 4
    random_base = scenario("nav-ballet", agents={"policy": "random-skills"})
    random_wins = sum("success" in run(random_base, 200, s)[0].env.team_achievements
                      for s in range(4))
    assert random_wins < 4


@pytest.mark.parametrize("name", ["manip-shell-game", "manip-remember-color",
                                  "manip-take-it-back", "nav-mystery-path",
                                  "nav-ballet-relay"])
def test_random_skills_play_every_memory_task_family(name: str) -> None:
    runtime, records = run(scenario(name, agents={"policy": "random-skills"}), 200)
    assert records
    for agent in runtime.agents.values():
        assert agent.policy.usage()["choices"] >= 1
