"""The team step: LangGraph graph, direct executor, memory and comm wiring, resume."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from memsim.agents.policy import Decision
from memsim.agents.step import NODE_ORDER, build_agent_graph
from memsim.envs.crafting import CraftingConfig
from memsim.sim.checkpoint import restore_checkpoint, save_checkpoint
from memsim.sim.comm import CommConfig
from memsim.sim.episode import build_team, make_executor, run_team
from memsim.sim.scenario import MemoryConfig
from memsim.sim.stores import MemoryStores
from memsim.sim.team import StepRecord, agent_input, build_team_graph


def team(n_agents: int = 3, seed: int = 0, memory: MemoryConfig | MemoryStores | None = None,
         comm: CommConfig | None = None, records: list[StepRecord] | None = None,
         **env: Any):
    config = CraftingConfig(n_agents=n_agents, zombies=False, skeletons=False, **env)
    sink = records.append if records is not None else None
    return build_team(config, ["scripted"] * n_agents, seed, memory or MemoryConfig(),
                      comm or CommConfig(), namespace=f"test-{seed}", on_step=sink)


def actions(records: list[StepRecord]) -> list[tuple[int, tuple[tuple[str, str], ...]]]:
    return [(r.step, tuple(sorted((a, v["action"]) for a, v in r.agents.items())))
            for r in records]


def test_agent_graph_runs_the_nodes_in_order() -> None:
    runtime, state = team(1)
    graph = build_agent_graph()
    assert list(graph.get_graph().nodes) == ["__start__", *NODE_ORDER, "__end__"]
    out = asyncio.run(graph.ainvoke(agent_input(state, "agent_0"),
                                    {"configurable": {"runtimes": runtime.agents}}))
    assert out["visited"] == list(NODE_ORDER)
    assert out["decisions"]["agent_0"]["action"] in runtime.env.action_names


def test_async_policies_are_awaited_concurrently() -> None:
    runtime, state = team(3)
    running, peak = 0, 0

    class SlowAsyncPolicy:
        name = "slow"

        def recall_query(self, context: Any) -> None:
            return None

        async def adecide(self, context: Any) -> Decision:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.01)  # an LLM call, say
            running -= 1
            return Decision(0, reason="waited")

    for agent in runtime.agents.values():
        agent.policy = SlowAsyncPolicy()  # type: ignore[assignment]
    records: list[StepRecord] = []
    runtime.on_step = records.append
    make_executor("langgraph", runtime).step(state)
    assert peak == 3  # all three agents were waiting at once
    assert {r["reason"] for r in records[0].agents.values()} == {"waited"}


def test_team_graph_fans_out_joins_then_steps_the_env() -> None:
    records: list[StepRecord] = []
    runtime, state = team(3, records=records)
    drawn = build_team_graph().get_graph()
    assert {"agent_step", "env_step"} <= set(drawn.nodes)
    executor = make_executor("langgraph", runtime)
    state = executor.step(state)
    assert state["team_step"] == 1 and runtime.env.world.step_count == 1
    assert set(records[0].agents) == {"agent_0", "agent_1", "agent_2"}


def test_langgraph_and_direct_executors_give_identical_trajectories() -> None:
    runs = {}
    for name in ("langgraph", "direct"):
        records: list[StepRecord] = []
        runtime, state = team(3, seed=4, records=records)
        run_team(runtime, state, make_executor(name, runtime), 60)
        runs[name] = (actions(records), [a.inventory for a in runtime.env.world.agents],
                      runtime.comm.metrics.as_dict())
    assert runs["langgraph"] == runs["direct"]


def test_one_memory_write_per_agent_step() -> None:
    runtime, state = team(2)
    calls = {a: 0 for a in runtime.agents}
    for agent_id, agent in runtime.agents.items():
        store = agent.memory.store
        original = store.write

        def counting(batch: Any, _original: Any = original, _agent: str = agent_id) -> None:
            calls[_agent] += 1
            _original(batch)

        store.write = counting  # type: ignore[method-assign]
    run_team(runtime, state, make_executor("direct", runtime), 25)
    assert calls == {"agent_0": 25, "agent_1": 25}


def test_messages_reach_memory_with_told_by_provenance() -> None:
    runtime, state = team(3, seed=1)
    run_team(runtime, state, make_executor("direct", runtime), 80)
    delivered = runtime.comm.metrics.total.delivered
    assert delivered > 0
    told = [n for agent in runtime.agents.values()
            for n in agent.memory.store.query("Entity", {"instance": True})
            if str(n.props.get("provenance", "")).startswith("told_by:")]
    assert told, "delivered locations should be remembered as hearsay"


def test_comm_off_delivers_nothing_and_memory_off_recalls_nothing() -> None:
    records: list[StepRecord] = []
    runtime, state = team(2, memory=MemoryConfig(enabled=False),
                          comm=CommConfig(enabled=False), records=records)
    run_team(runtime, state, make_executor("direct", runtime), 30)
    assert runtime.comm.metrics.total.delivered == 0
    assert all(agent.memory is None for agent in runtime.agents.values())
    assert all(r["retrieved"] == [] for rec in records for r in rec.agents.values())


def test_decision_trace_says_what_was_retrieved_read_and_why() -> None:
    records: list[StepRecord] = []
    runtime, state = team(2, seed=2, records=records)
    run_team(runtime, state, make_executor("direct", runtime), 40)
    entry = records[-1].agents["agent_0"]
    assert entry["retrieved"] and entry["reason"] and "messages_read" in entry
    assert any(rec.agents["agent_1"]["messages_read"] for rec in records)


def test_shared_team_memory_collects_published_sightings() -> None:
    runtime, state = team(2, seed=1, memory=MemoryConfig(shared=True))
    run_team(runtime, state, make_executor("direct", runtime), 120)
    published = runtime.shared.store.query("Entity", {"instance": True})
    assert published
    assert all(str(n.props["provenance"]).startswith("told_by:agent_") for n in published)


def test_resume_from_a_checkpoint_gives_the_same_trajectory() -> None:
    straight: list[StepRecord] = []
    whole, state = team(3, seed=5, records=straight)
    run_team(whole, state, make_executor("langgraph", whole), 60)

    first: list[StepRecord] = []
    runtime, state = team(3, seed=5, records=first)
    state = run_team(runtime, state, make_executor("langgraph", runtime), 30)
    blob = save_checkpoint(runtime, state)

    resumed: list[StepRecord] = []
    fresh, _ = team(3, seed=5, records=resumed)
    state = restore_checkpoint(fresh, blob)
    run_team(fresh, state, make_executor("langgraph", fresh), 60)
    assert actions(first + resumed) == actions(straight)
    assert [a.inventory for a in fresh.env.world.agents] == [
        a.inventory for a in whole.env.world.agents]
    assert fresh.env.world.step_count == whole.env.world.step_count == 60
    assert fresh.comm.metrics.as_dict() == whole.comm.metrics.as_dict()


@pytest.mark.slow
def test_scripted_team_reaches_a_diamond_on_most_seeds() -> None:
    reached = 0
    for seed in range(5):
        runtime, state = team(2, seed=seed, max_steps=3000)
        run_team(runtime, state, make_executor("direct", runtime), 3000)
        reached += "collect_diamond" in runtime.env.team_achievements
    assert reached >= 4, f"only {reached}/5 seeds reached a diamond"


def test_memory_persists_across_episodes_when_asked() -> None:
    stores = MemoryStores(MemoryConfig(persist_across_episodes=True))  # one run's stores

    def episode(seed: int) -> Any:
        runtime, state = team(1, seed=seed, memory=stores)
        memory = runtime.agents["agent_0"].memory
        at_start = (memory.store.count("Place"), memory.store.count("Recipe"))
        run_team(runtime, state, make_executor("direct", runtime), 30)
        return at_start, memory.store.count("Place")

    namespace_seed = 9100  # team() namespaces by seed; these episodes share "test-<seed>"
    (_, recipes0), places0 = episode(namespace_seed)
    assert places0 > 0 and recipes0 == 0
    # Same namespace, same world: the map is kept; recipes learned before are still known.
    (places_again, recipes_again), _ = episode(namespace_seed)
    assert places_again > 0 and recipes_again > 0


def test_persisted_memory_drops_the_map_of_a_different_world() -> None:
    config = CraftingConfig(n_agents=1, zombies=False, skeletons=False)
    settings = MemoryStores(MemoryConfig(persist_across_episodes=True))
    counts = []
    for seed in (21, 22):  # two worlds, one memory namespace
        runtime, state = build_team(config, ["scripted"], seed, settings, CommConfig(),
                                    namespace="persist-two-worlds")
        memory = runtime.agents["agent_0"].memory
        counts.append((memory.store.count("Place"), memory.store.count("Recipe")))
        run_team(runtime, state, make_executor("direct", runtime), 30)
    assert counts[0] == (0, 0)
    places, recipes = counts[1]
    assert places == 0 and recipes > 0  # world 21's map is gone; the recipe book stayed


def test_closing_the_runtime_releases_every_memory_store() -> None:
    runtime, state = team(2, memory=MemoryConfig(shared=True))
    run_team(runtime, state, make_executor("direct", runtime), 3)
    runtime.close()
    stores = [a.memory.store for a in runtime.agents.values()] + [runtime.shared.store]
    for store in stores:
        with pytest.raises(RuntimeError, match="is closed"):
            store.count()


def test_scripted_agents_keep_their_goal_stack_in_memory() -> None:
    # The planner notes its team goal once and a subgoal per tech-tree step; memory turns
    # them into the Goal ▸ Subgoal ▸ Chunk hierarchy, and reached steps are marked done.
    runtime, state = team(1, seed=1)
    state = run_team(runtime, state, make_executor("direct", runtime), max_steps=150)
    store = runtime.agents["agent_0"].memory.store
    goals = store.query(label="Goal")
    assert [g.props["name"] for g in goals] == ["collect_diamond"]
    subgoals: dict[str, set[str]] = {}
    for node in store.query(label="Subgoal"):
        subgoals.setdefault(node.props["name"], set()).add(node.props["status"])
    assert "collect_wood" in subgoals and "place_table" in subgoals
    assert "completed" in subgoals["collect_wood"]  # marked done when the first wood came
    assert store.neighbors(goals[0].id, "HAS_SUBGOAL", direction="out")


def test_an_episode_collects_garbage_less_often_and_restores_the_setting() -> None:
    """`run_team` raises the collector's first threshold while it steps (see
    `fewer_collections`) and puts the process's own thresholds back, even on an error."""
    import gc

    from memsim.sim.episode import fewer_collections

    before = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []
    runtime, state = team(1)
    run_team(runtime, state, make_executor("direct", runtime), 3,
             after_step=lambda _: seen.append(gc.get_threshold()))
    assert seen and all(t[0] > before[0] and t[1:] == before[1:] for t in seen)
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("a failing step")
    assert gc.get_threshold() == before
