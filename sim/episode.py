"""Build and run one episode: environment, agents (policy + perception + memory), comm
channel, optional team memory, and the team-step executor.

`build_team` wires the parts from plain settings; `run_team` steps until the team goal,
the step limit or the last agent's end; `run_episode` does both from a `Scenario`, writes
the trace and returns an `EpisodeSummary`.

Memory namespaces are `<scenario>/<run id>/seed<N>/<agent>` (see sim/stores.py): every run
has its own, so a rerun of the same scenario and seed starts clean without touching an
earlier run's memory, which stays inspectable on a server backend (``memsim memory``).
A namespace is cleared when its episode starts (it is new unless the scenario reuses a
run id on purpose with ``[memory] run_id``). With `persist_across_episodes` the namespace
is `<scenario>/<run id>/<agent>`, kept between seeds (and between runs that share a run
id), and `AgentMemory.new_episode(world_id)` keeps semantic knowledge (recipes,
teammates) while dropping the map of a different world. The namespace never enters the
trace: runs with different ids take the same steps.
"""

from __future__ import annotations

import gc
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from memsim.agents.policy import Policy
from memsim.agents.registry import make_policy
from memsim.agents.step import AgentRuntime
from memsim.memory import SharedMemory
from memsim.memory.backends.mirrored import batched_writes
from memsim.sim.checkpoint import checkpoint_meta, restore_checkpoint, save_checkpoint
from memsim.sim.comm import CommChannel, CommConfig
from memsim.sim.families import family_of
from memsim.sim.output import EpisodeSummary, TraceWriter, trace_path
from memsim.sim.scenario import EXECUTORS, MemoryConfig, Scenario
from memsim.sim.stores import MemoryStores, run_namespace
from memsim.sim.team import (
    DirectExecutor,
    LangGraphExecutor,
    StepRecord,
    TeamRuntime,
    TeamState,
    observation_texts,
    team_checkpointer,
)
from memsim.sim.team import initial_state as team_initial_state


def build_team(
    env_config: BaseModel,
    policies: list[str],
    seed: int,
    memory: MemoryConfig | MemoryStores,
    comm: CommConfig,
    namespace: str = "memsim",
    on_step: Callable[[StepRecord], None] | None = None,
    policy_settings: dict[str, dict[str, Any]] | None = None,
    policy_factory: Callable[[str, str], Policy] | None = None,
) -> tuple[TeamRuntime, TeamState]:
    """Everything one episode needs, reset to `seed`. The world family (and so the env,
    perception and scripted policy) follows from the type of `env_config`; `memory` is the
    scenario's memory settings, or an opener that outlives the episode (`MemoryStores`);
    `policy_settings` holds per-policy tables (e.g. ``{"llm": {...}}``) from the scenario.
    `policy_factory(agent_id, policy_name)`, when given, makes the policies instead (a
    replay of a trace plays its recorded decisions and builds no model client)."""
    stores = memory if isinstance(memory, MemoryStores) else MemoryStores(memory)
    memory_config = stores.config
    n_agents = env_config.n_agents  # type: ignore[attr-defined]
    if len(policies) != n_agents:
        raise ValueError(f"policies: {len(policies)} given for {n_agents} agents")
    family = family_of(env_config)
    env = family.make_env(env_config)
    observations, _ = env.reset(seed=seed)
    agent_ids = list(env.possible_agents)
    runtimes: dict[str, AgentRuntime] = {}
    world_id = family.world_id(env_config, seed)
    shared = None
    if memory_config.enabled and memory_config.shared:
        shared = SharedMemory(stores.open(f"{namespace}/team"),
                              node_budget=max(memory_config.node_budget, 1000),
                              chunk_size=memory_config.chunk_size)
    settings = dict(policy_settings or {})
    brief = (family.llm_brief(env) if family.llm_brief and "llm" in policies
             and policy_factory is None else None)
    for agent_id, policy_name in zip(agent_ids, policies, strict=True):
        if policy_factory is not None:
            policy = policy_factory(agent_id, policy_name)
        else:
            policy = make_policy(policy_name, lambda a=agent_id: family.make_scripted(env, a),
                                 settings.get(policy_name), brief)
        policy.reset(agent_id, seed, env.action_names)
        agent_memory = None
        if memory_config.enabled:
            agent_memory = stores.memory(f"{namespace}/{agent_id}", agent_id, world_id)
        runtimes[agent_id] = AgentRuntime(
            agent_id=agent_id,
            policy=policy,
            perception=family.make_perception(agent_id, env),
            memory=agent_memory,
            teammates=tuple(a for a in agent_ids if a != agent_id),
            action_names=env.action_names,
            retrieve_budget=memory_config.retrieve_budget,
            pending_notes=family.prior_facts(env, agent_id) if memory_config.enabled else [],
            shared=shared,
            published=family.published(env),
        )
    channel = CommChannel(agent_ids, comm, seed=seed)
    runtime = TeamRuntime(env=env, agents=runtimes, comm=channel, shared=shared, on_step=on_step)
    return runtime, team_initial_state(observations, observation_texts(runtime, agent_ids))


def make_executor(name: str, runtime: TeamRuntime, checkpointer: Any = None,
                  thread_id: str = "episode") -> LangGraphExecutor | DirectExecutor:
    """The team-step executor by name; a LangGraph checkpointer applies to `langgraph`."""
    if name == "langgraph":
        return LangGraphExecutor(runtime, checkpointer, thread_id)
    if name == "direct":
        return DirectExecutor(runtime)
    raise ValueError(f"executor {name!r} is unknown; allowed: {', '.join(EXECUTORS)}")


def run_team(
    runtime: TeamRuntime,
    state: TeamState,
    executor: LangGraphExecutor | DirectExecutor,
    max_steps: int,
    progress: Callable[[int, int], None] | None = None,
    after_step: Callable[[TeamState], None] | None = None,
) -> TeamState:
    """Step until the episode ends or `max_steps` team steps have run. Server memory
    behind the read mirror gets each team step's writes together, when the step ends."""
    with fewer_collections():
        while not state.get("done") and state["team_step"] < max_steps:
            with batched_writes():
                state = executor.step(state)
            if progress is not None:
                progress(state["team_step"], max_steps)
            if after_step is not None:
                after_step(state)
    return state


# CPython collects its youngest generation every 700 net allocations of container
# objects. A team step allocates thousands (records, facts, dicts) and frees nearly all of
# them by reference counting, so at the default most collections find nothing, and the
# full collections they trigger walk every agent's memory graph: 5-8% of a 6-agent
# episode's time (timed with gc.callbacks over three damcs-diamond-6 episodes: 0.36 s of
# collection, 0.08 s with this threshold). Collecting 20x less often keeps that cost
# small; garbage cycles are still collected.
_EPISODE_GC_FIRST_THRESHOLD = 14_000


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the cyclic collector's first threshold while an episode runs; the previous
    thresholds come back afterwards (the process's own setting is not kept changed)."""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], _EPISODE_GC_FIRST_THRESHOLD), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def memory_sizes(runtime: TeamRuntime) -> dict[str, int]:
    return {a: (r.memory.store.count() if r.memory is not None else 0)
            for a, r in runtime.agents.items()}


def team_result(runtime: TeamRuntime, state: TeamState, wall_seconds: float) -> dict[str, Any]:
    """The outcome of a run: steps, milestones (team achievements), comm and memory."""
    env = runtime.env
    return {
        "steps": state["team_step"],
        "goal_reached": env.config.team_goal in env.team_achievements,
        "milestones": {name: step for name, (step, _) in env.team_achievements.items()},
        "per_agent_achievements": env.achievements,
        "messages": {**runtime.comm.metrics.as_dict()["total"],
                     "unreadable": sum(a.unreadable_messages for a in runtime.agents.values())},
        "memory_nodes": memory_sizes(runtime),
        "wall_seconds": wall_seconds,
        "usage": policy_usage(runtime),
    }


def policy_usage(runtime: TeamRuntime) -> dict[str, dict[str, float]]:
    """Model-usage counters of the policies that report them (LLM agents), per agent."""
    return {a: dict(r.policy.usage()) for a, r in runtime.agents.items()
            if callable(getattr(r.policy, "usage", None))}


def checkpoint_path(out_dir: Path, seed: int) -> Path:
    return Path(out_dir) / f"checkpoint-seed{seed}.pkl"


def start_checkpoint_path(out_dir: Path, seed: int, step: int) -> Path:
    """The checkpoint a trace that starts at `step` > 0 was resumed from (a resumed run
    into a directory without the trace's earlier steps keeps it there, so the trace can
    be replayed from it)."""
    return Path(out_dir) / f"checkpoint-seed{seed}-step{step}.pkl"


def episode_namespace(scenario: Scenario, seed: int, run_id: str) -> str:
    """The memory namespace prefix of one episode of run `run_id` (module docstring)."""
    persist = scenario.memory.persist_across_episodes
    return run_namespace(scenario.name, run_id, None if persist else seed)


def build_scenario_team(
    scenario: Scenario,
    seed: int,
    on_step: Callable[[StepRecord], None] | None = None,
    render_mode: str | None = None,
    stores: MemoryStores | None = None,
    policy_factory: Callable[[str, str], Policy] | None = None,
) -> tuple[TeamRuntime, TeamState]:
    """The team of one episode of `scenario`, exactly as `run_episode` builds it.
    `render_mode="rgb_array"` makes the env's `render()` draw (for viewers); it changes
    no simulation state. `stores` carries memory across the episodes of a run;
    `policy_factory` replaces the policies (see `build_team`)."""
    policies = [scenario.agents.policy_for(a) for a in scenario.agents.agent_ids()]
    stores = stores or MemoryStores(scenario.memory)  # a new run id: its own namespaces
    runtime, state = build_team(scenario.env_config(), policies, seed, stores,
                                scenario.comm_config(),
                                episode_namespace(scenario, seed, stores.run_id), on_step,
                                scenario.policy_settings(), policy_factory)
    runtime.env.render_mode = render_mode
    return runtime, state


class StopEpisode(Exception):
    """Raised by a `watch` callback to end an episode early (e.g. the viewer was closed)."""


Watch = Callable[[TeamRuntime, TeamState, StepRecord | None], None]
"""Called after the team is built (record None) and after every team step."""


def run_episode(
    scenario: Scenario,
    seed: int,
    out_dir: Path | None,
    progress: Callable[[int, int], None] | None = None,
    resume: Path | None = None,
    watch: Watch | None = None,
    render_mode: str | None = None,
    stores: MemoryStores | None = None,
) -> EpisodeSummary:
    """Run one seed of a scenario; write `trace-seed<N>.jsonl` to `out_dir` if given, and
    with `run.checkpoint_every = N` a `checkpoint-seed<N>.pkl` every N steps. `resume`
    continues from such a checkpoint (same scenario and seed) instead of starting over;
    if `out_dir` has no trace of the steps before it, the checkpoint is kept there as
    `checkpoint-seed<N>-step<S>.pkl`, where a replay of the trace starts. `watch` sees
    the team after every step (a viewer, a recorder); it may block (pause) or raise
    `StopEpisode` to end the episode early, which still returns a summary.
    `stores`: one opener for all the episodes of a run, so memory persists across them
    when the scenario says so (a new one per episode otherwise)."""
    meta = {"scenario": scenario.name, "seed": seed}
    resume_from = None
    if resume is not None:
        saved = checkpoint_meta(resume)
        if (saved.get("scenario"), saved.get("seed")) != (scenario.name, seed):
            raise ValueError(f"resume: checkpoint {str(resume)!r} is of scenario "
                             f"{saved.get('scenario')!r} seed {saved.get('seed')}, "
                             f"not {scenario.name!r} seed {seed}")
        resume_from = saved["step"]
    # Written through; a resumed run continues the trace of the same directory (see
    # TraceWriter), never overwrites it.
    trace = (TraceWriter(trace_path(out_dir, seed), resume_from=resume_from)
             if out_dir is not None else None)
    if trace is not None and resume is not None and trace.lines < int(resume_from or 0):
        # The trace starts at the checkpoint's step: keep that checkpoint beside it (the
        # directory's checkpoint file is overwritten as the run goes on).
        first = start_checkpoint_path(Path(out_dir), seed, int(resume_from or 0))
        if Path(resume).resolve() != first.resolve():
            shutil.copyfile(resume, first)
    start = time.perf_counter()
    last: list[StepRecord] = []

    def on_step(record: StepRecord) -> None:
        last[:] = [record]
        if trace is None:
            return
        agents = record.agents
        if scenario.run.trace_observations:
            env = runtime.env
            agents = {a: {**r, "observation": env.text_observation(a)}
                      for a, r in agents.items()}
        trace.write_step(record.step, agents, comm={"sent": record.sent},
                         team={"rewards": record.rewards, "unlocked": record.unlocked})

    runtime = executor = None
    try:
        runtime, state = build_scenario_team(scenario, seed, on_step, render_mode, stores)
        if resume is not None:
            state = restore_checkpoint(runtime, resume)
        every = scenario.run.checkpoint_every
        # With checkpoints on, the LangGraph executor records the team state in LangGraph's
        # checkpointer, and that record is what a checkpoint file stores for the graph.
        executor = make_executor(scenario.run.executor, runtime,
                                 team_checkpointer() if every else None,
                                 thread_id=f"{scenario.name}/seed{seed}")

        reached = [state]  # the latest team state, kept if a watcher stops the episode

        def after_step(current: TeamState) -> None:
            reached[0] = current
            if every and out_dir is not None and current["team_step"] % every == 0:
                saved = current
                if isinstance(executor, LangGraphExecutor):
                    saved = executor.saved_state()
                if trace is not None:
                    trace.sync()  # the trace is on disk up to the checkpoint's step
                save_checkpoint(runtime, saved, checkpoint_path(out_dir, seed), meta)
            if watch is not None:
                watch(runtime, current, last[0] if last else None)

        try:
            if watch is not None:
                watch(runtime, state, None)
            state = run_team(runtime, state, executor, scenario.max_steps, progress,
                             after_step)
        except StopEpisode:
            state = reached[0]
        result = team_result(runtime, state, time.perf_counter() - start)
    finally:
        if trace is not None:
            trace.close()
        if runtime is not None:
            for agent in runtime.agents.values():
                close = getattr(agent.policy, "close", None)
                if callable(close):
                    close()  # LLM clients' connections live on the executor's event loop
        if executor is not None:
            executor.close()
        if runtime is not None:
            runtime.close()
    return EpisodeSummary(
        scenario=scenario.name,
        family=scenario.env.family,
        seed=seed,
        n_agents=scenario.agents.count,
        out_dir=str(out_dir) if out_dir is not None else None,
        **result,
    )
