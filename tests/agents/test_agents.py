"""Perception, inbox facts and the scripted planner's decisions in hand-built situations."""

from __future__ import annotations

import pytest

from memsim.agents.crafting.perception import CraftingPerception, recipe_facts
from memsim.agents.crafting.planner import ScriptedPlanner
from memsim.agents.crafting.view import CraftingDecoder
from memsim.agents.messages import MemoryExportPayload, Message
from memsim.agents.policy import AgentContext, Decision
from memsim.agents.random_policy import RandomPolicy
from memsim.agents.registry import POLICY_NAMES, make_policy
from memsim.agents.step import AgentRuntime, inbox_facts, run_agent_step
from memsim.envs.crafting import CraftingConfig, CraftingWorld
from memsim.envs.crafting.engine import DIRECTIONS
from memsim.envs.crafting.observation import Observer
from memsim.memory import AgentMemory, Fact, Recall, RetrievalQuery, open_store
from memsim.sim.comm import CommChannel, CommConfig


def clearing(n_agents: int = 1) -> CraftingWorld:
    world = CraftingWorld(CraftingConfig(n_agents=n_agents, zombies=False, skeletons=False,
                                         cows=False))
    world.reset(seed=0)
    cx, cy = world.width // 2, world.height // 2
    world.fill(cx - 8, cy - 8, cx + 8, cy + 8, "grass")
    world.line_up(cx, cy, facing=DIRECTIONS["right"])
    return world


def context(world: CraftingWorld, index: int = 0, step: int = 0, recall: Recall | None = None,
            inbox: list[Message] | None = None) -> AgentContext:
    observation = Observer(world).symbolic(index)
    return AgentContext(agent_id=f"agent_{index}", step=step, observation=observation, facts=[],
                        inbox=inbox or [], recall=recall, action_names=world.action_names,
                        view=CraftingDecoder(world.rules).decode(observation))


def planner(world: CraftingWorld, index: int = 0) -> ScriptedPlanner:
    policy = ScriptedPlanner(world.rules)
    policy.reset(f"agent_{index}", 0, world.action_names)
    return policy


def test_perception_reports_the_view_at_world_coordinates() -> None:
    world = clearing(2)
    a0 = world.agents[0]
    world.set_material(a0.x - 1, a0.y - 2, "tree")
    perception = CraftingPerception("agent_0", world.rules)
    obs = Observer(world).symbolic(0)
    facts = perception.perceive(perception.decode(obs),
                                {"action": "noop", "ok": True, "reason": ""}, 0)
    trees = [f for f in facts if f.kind == "seen_at" and f.subject == "tree"]
    assert (a0.x - 1, a0.y - 2) in [f.place for f in trees]
    mates = [f for f in facts if f.kind == "seen_at" and f.category == "agent"]
    assert [(f.entity_id, f.place) for f in mates] == [("agent_1", (a0.x + 2, a0.y))]
    survey = [f for f in facts if f.kind == "surveyed"]
    assert survey[0].place == (a0.x - 4, a0.y - 3) and survey[0].extent == (9, 7)
    assert [f.subject for f in facts if f.kind == "event"] == ["noop"]
    # Holdings are reported when they change, not every step.
    world.give_items(0, wood=2)
    facts = perception.perceive(perception.decode(Observer(world).symbolic(0)), {}, 1)
    assert [(f.object, f.count) for f in facts if f.kind == "holds"] == [("wood", 2)]
    facts = perception.perceive(perception.decode(Observer(world).symbolic(0)), {}, 2)
    assert [f for f in facts if f.kind == "holds"] == []


def test_recipe_book_covers_every_rule() -> None:
    world = clearing()
    names = {f.subject for f in recipe_facts(world.rules)}
    assert {"make_iron_pickaxe", "place_table", "collect_diamond_from_diamond"} <= names


def test_inbox_messages_become_hearsay_facts() -> None:
    inbox = [
        Message(sender="agent_1", recipients=None, kind="inform", step=3,
                payload={"type": "location", "entity": "iron", "x": 5, "y": 6, "seen_step": 2}),
        Message(sender="agent_2", recipients=None, kind="plan", step=3,
                payload={"type": "goal_claim", "goal": "diamond@1,2", "status": "claim"}),
        Message(sender="agent_2", recipients=None, kind="request", step=3,
                payload={"type": "item_request", "item": "iron", "count": 1}),
    ]
    facts = inbox_facts(inbox, 4)
    assert [(f.kind, f.provenance) for f in facts] == [
        ("seen_at", "told_by:agent_1"), ("report", "told_by:agent_2"),
        ("claim", "told_by:agent_2"), ("report", "told_by:agent_2"),
        ("commitment", "told_by:agent_2")]
    assert facts[0].place == (5, 6) and facts[0].observed_step == 2
    claim = facts[2]  # a claim on a located target is working memory too
    assert (claim.subject, claim.place, claim.agent, claim.status) == (
        "diamond", (1, 2), "agent_2", "set")
    request = facts[4]  # so is a request: open until it is served or runs out
    assert (request.subject, request.object, request.agent, request.until) == (
        "iron", "requested", "agent_2", 4 + 60)


def test_planner_starts_the_tech_tree_with_wood() -> None:
    world = clearing()
    a0 = world.agents[0]
    world.set_material(a0.x + 1, a0.y, "tree")  # facing right, at a tree
    decision = planner(world).decide(context(world))
    assert world.action_names[decision.action] == "do"
    assert decision.reason.startswith("collect tree")


def test_planner_turns_to_face_an_adjacent_target() -> None:
    world = clearing()
    a0 = world.agents[0]
    world.set_material(a0.x, a0.y - 1, "tree")  # above, while facing right
    decision = planner(world).decide(context(world))
    assert world.action_names[decision.action] == "move_up"


def test_planner_places_a_table_then_makes_a_pickaxe() -> None:
    world = clearing()
    policy = planner(world)
    world.give_items(0, wood=world.rules.place["table"].uses["wood"] + 1)
    decision = policy.decide(context(world))
    assert world.action_names[decision.action] == "place_table"
    world.step([decision.action])
    decision = policy.decide(context(world, step=1))
    assert world.action_names[decision.action] == "make_wood_pickaxe"


def test_planner_boxed_in_by_stone_clears_a_cell_to_build_its_furnace_by_the_table() -> None:
    # A table in a pocket of stone (as in a mountain it tunnelled into): the only cells to
    # build on are the ones it makes by mining. It must not wander off or pace.
    world = clearing()
    a0 = world.agents[0]
    x, y = a0.x, a0.y
    world.fill(x - 4, y - 4, x + 4, y + 4, "stone")
    world.set_material(x, y, "grass")
    world.set_material(x, y - 1, "table")
    uses = world.rules.place["furnace"].uses
    world.give_items(0, wood=1, coal=1, iron=1, wood_pickaxe=1, stone_pickaxe=1, **uses)
    policy = planner(world)
    actions = []
    for step in range(6):
        action = world.action_names[policy.decide(context(world, step=step)).action]
        actions.append(action)
        world.step([world.action_names.index(action)])
        if action == "make_iron_pickaxe":
            break
    assert actions[-2:] == ["place_furnace", "make_iron_pickaxe"], actions
    assert (a0.x, a0.y) == (x, y)  # it built where it stood, by the table
    assert world.agents[0].inventory[world.item_index["iron_pickaxe"]] == 1


class Agent:
    """One crafting agent run through the real agent step (perceive, read inbox,
    remember, recall, decide) on a hand-built world, with memory on or off."""

    def __init__(self, world: CraftingWorld, index: int = 0, memory: bool = True) -> None:
        self.world, self.index = world, index
        self.id = f"agent_{index}"
        self.policy = planner(world, index)
        store = open_store("networkx", f"test/{self.id}", graph_registry={})
        n = len(world.agents)
        self.runtime = AgentRuntime(
            agent_id=self.id, policy=self.policy,
            perception=CraftingPerception(self.id, world.rules),
            memory=AgentMemory(store, self.id) if memory else None,
            teammates=tuple(f"agent_{i}" for i in range(n) if i != index),
            action_names=world.action_names,
            pending_notes=list(recipe_facts(world.rules)) if memory else [])

    def step(self, step: int, inbox: list[Message] | None = None) -> Decision:
        state = run_agent_step(self.runtime, {
            "agent_id": self.id, "step": step, "observation": Observer(self.world).symbolic(
                self.index), "info": {}, "inbox": inbox or []})
        return state["decision"]

    def act(self, decision: Decision) -> str:
        actions = [0] * len(self.world.agents)
        actions[self.index] = decision.action
        self.world.step(actions)
        return self.world.action_names[decision.action]


def test_planner_walks_to_a_remembered_resource_it_cannot_see() -> None:
    world = clearing()
    a0 = world.agents[0]
    # Everything for an iron pickaxe but the iron: the next need is iron.
    world.give_items(0, wood_pickaxe=1, stone_pickaxe=1, stone=9, wood=5, coal=1)
    far = (a0.x + 20, a0.y)
    agent = Agent(world)
    agent.runtime.pending_notes.append(Fact(kind="seen_at", subject="iron", place=far,
                                            category="resource", provenance="told_by:agent_1"))
    decision = agent.step(0)
    assert world.action_names[decision.action] == "move_right"
    assert f"to iron at {far}" in decision.reason
    # Without memory it has to explore instead.
    decision = Agent(world, memory=False).step(0)
    assert decision.reason.startswith("collect iron") and "exploring" in decision.reason


def test_planner_explores_rather_than_walk_far_to_a_source_but_not_for_its_goal() -> None:
    world = clearing()
    a0 = world.agents[0]
    reach = ScriptedPlanner(world.rules).cfg["source_reach"]
    far = (a0.x + reach // 2 + 4, a0.y + reach // 2 + 4)  # beyond reach, inside the world
    world.give_items(0, wood_pickaxe=1, stone_pickaxe=1, stone=9, wood=5, coal=1)
    agent = Agent(world)
    agent.runtime.pending_notes.append(Fact(kind="seen_at", subject="iron", place=far,
                                            category="resource", provenance="told_by:agent_1"))
    decision = agent.step(0)
    assert decision.reason.startswith("collect iron") and "exploring" in decision.reason
    # The goal item is worth any walk.
    world.give_items(0, iron_pickaxe=1)
    agent = Agent(world)
    agent.runtime.pending_notes.append(Fact(kind="seen_at", subject="diamond", place=far,
                                            category="resource", provenance="told_by:agent_1"))
    assert f"to diamond at {far}" in agent.step(0).reason


def test_planner_gathers_a_stations_inputs_before_walking_to_the_other_station() -> None:
    # A table to the right, stone to the left, too little stone for the furnace the iron
    # pickaxe also needs. Next to the table it was sent off for stone, away from it back to
    # the table: it went back and forth between the two for hundreds of steps.
    world = clearing()
    a0 = world.agents[0]
    x, y = a0.x, a0.y
    world.set_material(x + 3, y, "table")
    world.fill(x - 4, y - 1, x - 4, y + 1, "stone")
    short = world.rules.place["furnace"].uses["stone"] - 2
    world.give_items(0, wood=1, coal=1, iron=1, wood_pickaxe=1, stone_pickaxe=1, stone=short)
    agent = Agent(world)
    made = None
    for step in range(40):
        action = agent.act(agent.step(step))
        if action == "make_iron_pickaxe":
            made = step
            break
    assert made is not None, "no iron pickaxe in 40 steps"
    assert world.agents[0].inventory[world.item_index["iron_pickaxe"]] == 1
    # A builder that cannot mine asks for the stone first, for the same reason (in the
    # specialists variant it went back and forth between the table and its teammate).
    world = clearing()
    a0 = world.agents[0]
    world.set_material(a0.x + 3, a0.y, "table")
    world.give_items(0, wood=1, coal=1, iron=1, wood_pickaxe=1, stone_pickaxe=1, stone=short)
    builder = ScriptedPlanner(world.rules, cannot={"collect_stone"})
    builder.reset("agent_0", 0, world.action_names)
    assert builder.decide(context(world)).reason.startswith("ask stone")


def test_planner_shares_what_it_first_sees_in_one_memory_export() -> None:
    world = clearing()
    a0 = world.agents[0]
    world.set_material(a0.x + 3, a0.y + 1, "diamond")
    world.set_material(a0.x - 2, a0.y - 1, "iron")
    agent = Agent(world)
    first = [m for m in agent.step(0).messages if m["payload"]["type"] == "memory_export"]
    assert len(first) == 1
    kinds = {n["props"].get("kind") for n in first[0]["payload"]["nodes"]}
    assert {"diamond", "iron"} <= kinds
    # Seen before: nothing new to tell.
    assert not [m for m in agent.step(1).messages if m["payload"]["type"] == "memory_export"]
    # Memory off: it cannot know what it told before, and has no memory to export from.
    blind = Agent(world, memory=False)
    for step in (0, 1):
        told = [m["payload"]["entity"] for m in blind.step(step).messages
                if m["payload"]["type"] == "location"]
        assert told == ["diamond", "iron"]


def test_planner_offers_a_spare_item_on_request_and_gives_it() -> None:
    world = clearing(2)
    a0 = world.agents[0]
    world.teleport(1, a0.x + 1, a0.y)
    world.give_items(0, wood=5)
    request = Message(sender="agent_1", recipients=None, kind="request", step=0,
                      payload={"type": "item_request", "item": "wood", "count": 1})
    where = Message(sender="agent_1", recipients=None, kind="inform", step=0,
                    payload={"type": "location", "entity": "agent_1", "x": a0.x + 1, "y": a0.y,
                             "seen_step": 0})
    agent = Agent(world)
    decision = agent.step(0, [request, where])
    assert "offer" in {m["kind"] for m in decision.messages}
    assert [(n.object, n.agent, n.status) for n in decision.memory_notes
            if n.kind == "commitment"] == [("give", "agent_1", "set"),
                                           ("requested", "agent_1", "completed")]
    actions = [agent.act(decision)]
    for step in range(1, 4):  # the promise comes back from memory: face agent_1, give
        actions.append(agent.act(agent.step(step)))
    assert "give_wood" in actions
    assert world.agents[1].inventory[world.item_index["wood"]] == 1


def test_planner_offers_nothing_to_a_far_requester() -> None:
    world = clearing(2)
    a0 = world.agents[0]
    world.teleport(1, a0.x + 20, a0.y + 20)
    world.give_items(0, wood=5)
    request = Message(sender="agent_1", recipients=None, kind="request", step=0,
                      payload={"type": "item_request", "item": "wood", "count": 1})
    where = Message(sender="agent_1", recipients=None, kind="inform", step=0,
                    payload={"type": "location", "entity": "agent_1", "x": a0.x + 20,
                             "y": a0.y + 20, "seen_step": 0})
    decision = Agent(world).step(0, [request, where])
    assert "offer" not in {m["kind"] for m in decision.messages}


def test_planner_asks_for_an_item_after_searching_in_vain() -> None:
    world = clearing()
    world.give_items(0, wood=5, wood_pickaxe=1, stone=9, stone_pickaxe=1, iron=1)
    agent = Agent(world)  # needs coal, sees none, knows none
    asked = []
    for step in range(60):
        asked += [m for m in agent.step(step).messages if m["kind"] == "request"]
    # once, after searching for `search_before_request` steps (then it waits `request_every`)
    assert [m["payload"]["item"] for m in asked] == ["coal"]


def test_a_planner_rebuilt_every_step_with_the_same_memory_acts_the_same() -> None:
    world = clearing(2)
    kept, rebuilt = Agent(world), Agent(world)
    for step in range(40):
        one = kept.step(step)
        rebuilt.policy = planner(world)  # a fresh object: nothing carried in Python
        rebuilt.runtime.policy = rebuilt.policy
        two = rebuilt.step(step)
        assert (one.action, one.reason, one.messages) == (two.action, two.reason, two.messages)
        kept.act(one)


def test_registry_and_random_policy() -> None:
    world = clearing()
    assert {"random", "scripted"} <= set(POLICY_NAMES)
    planner = make_policy("scripted", lambda: ScriptedPlanner(world.rules))
    assert isinstance(planner, ScriptedPlanner)
    with pytest.raises(ValueError, match="'smart' is not allowed; allowed: "):
        make_policy("smart", lambda: ScriptedPlanner(world.rules))
    policy = make_policy("random", lambda: ScriptedPlanner(world.rules))
    assert isinstance(policy, RandomPolicy)
    policy.reset("agent_0", 3, world.action_names)
    first = [policy.decide(context(world)).action for _ in range(20)]
    policy.reset("agent_0", 3, world.action_names)
    assert first == [policy.decide(context(world)).action for _ in range(20)]


def test_a_memory_export_travels_through_the_channel_into_another_memory() -> None:
    registry: dict = {}
    alice = AgentMemory(open_store("networkx", "a", graph_registry=registry), "agent_0")
    bob = AgentMemory(open_store("networkx", "b", graph_registry=registry), "agent_1")
    alice.write([Fact(kind="seen_at", subject="iron", place=(7, 3), category="resource")], 5)
    channel = CommChannel(["agent_0", "agent_1"], CommConfig(), seed=0)
    export = alice.export({"kinds": ["iron"]})
    sent = channel.send({"sender": "agent_0", "recipients": ["agent_1"], "kind": "inform",
                         "step": 5, "payload": MemoryExportPayload.from_export(export)}, 5)
    assert sent.accepted, sent.error
    inbox = channel.deliver(6)["agent_1"]
    bob.write(inbox_facts(inbox, 6), 6)
    recall = bob.retrieve(RetrievalQuery(nearest=("iron",), position=(0, 0)))
    assert [(p.x, p.y, p.provenance) for p in recall.nearest] == [(7, 3, "told_by:agent_0")]


def test_first_step_lies_on_a_cheapest_way_to_a_visible_goal() -> None:
    """Random 9x7 views of grass, trees (cost 2), stone and water (impassable without
    tools): the step `first_step` takes is the first of a cheapest path (networkx's
    Dijkstra as the oracle), and an unreachable goal is reported as not reached."""
    import random

    import networkx as nx

    from memsim.agents.crafting.routes import Terrain, first_step
    from memsim.agents.crafting.view import CraftingView
    from memsim.envs.crafting.rules import load_rules

    rules = load_rules()
    terrain = Terrain(rules)
    rng = random.Random(7)
    reachable = 0
    for _ in range(200):
        left, top, cols, rows = rng.randrange(0, 40), rng.randrange(0, 40), 9, 7
        here = (left + 4, top + 3)
        materials = {(left + c, top + r): rng.choice(["grass"] * 5 + ["tree", "stone", "water"])
                     for r in range(rows) for c in range(cols)}
        materials[here] = "grass"
        view = CraftingView(here[0], here[1], left, top, cols, rows, materials, {}, {}, {},
                            {}, {}, {}, (1, 0), False)
        goal = rng.choice([c for c in materials if c != here])
        costs = {c: terrain.material_cost(m, {}) for c, m in materials.items()}
        graph = nx.DiGraph()
        for (x, y) in materials:
            for nxt in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
                if costs.get(nxt) is not None:
                    graph.add_edge((x, y), nxt, weight=costs[nxt])
        step, reached = first_step(terrain, view, {goal}, {})
        if not (graph.has_node(here) and graph.has_node(goal) and nx.has_path(graph, here, goal)):
            assert not reached
            continue
        best = nx.dijkstra_path_length(graph, here, goal)
        assert reached and step is not None
        rest = 0 if step == goal else nx.dijkstra_path_length(graph, step, goal)
        assert costs[step] + rest == best
        reachable += 1
    assert reachable > 100  # the views are mostly open: most goals can be reached
