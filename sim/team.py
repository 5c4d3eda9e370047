"""The team step as a LangGraph graph: fan out one agent step per live agent (`Send`),
join, then act and send in the environment step.

    START ─► fan_out ─Send×N─► agent_step (per-agent subgraph) ─► env_step ─► END

`invoke` is called once per environment step (LangGraph's recursion limit counts
supersteps, so looping inside one invocation would hit it). `DirectExecutor` runs the
same node functions in the same order without LangGraph, for bulk sweeps; a test checks
the two give identical trajectories.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypedDict

from pydantic import BaseModel

from memsim.agents import messages as messages_module
from memsim.agents.messages import Message
from memsim.agents.step import (
    AgentRuntime,
    AgentStepState,
    arun_agent_step,
    merge_dicts,
    run_agent_step,
)
from memsim.envs.base import MemsimWorld
from memsim.memory import SharedMemory
from memsim.memory.backends.mirrored import flush_writes
from memsim.plugins import import_optional
from memsim.sim.comm import CommChannel

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.memory import InMemorySaver


class TeamState(TypedDict, total=False):
    team_step: int
    live: list[str]
    observations: dict[str, Any]
    infos: dict[str, dict[str, Any]]
    inboxes: dict[str, list[Message]]
    observation_texts: dict[str, str]  # only for agents whose policy wants text
    decisions: Annotated[dict[str, dict[str, Any]], merge_dicts]
    done: bool


@dataclass
class StepRecord:
    """What happened in one team step, for traces and metrics."""

    step: int
    agents: dict[str, dict[str, Any]]
    rewards: dict[str, float]
    unlocked: dict[str, list[str]]
    sent: list[dict[str, Any]]


@dataclass
class TeamRuntime:
    """The long-lived objects of an episode, handed to the graph in the run config."""

    env: MemsimWorld
    agents: dict[str, AgentRuntime]
    comm: CommChannel
    shared: SharedMemory | None = None
    on_step: Callable[[StepRecord], None] | None = None

    def close(self) -> None:
        """Release the memory stores (server connections) of every agent and the team."""
        stores = [a.memory.store for a in self.agents.values() if a.memory is not None]
        if self.shared is not None:
            stores.append(self.shared.store)
        for store in stores:
            store.close()


def observation_texts(runtime: TeamRuntime, agent_ids: list[str]) -> dict[str, str]:
    """Plain-language observations for the agents whose policy reads text (LLM agents)."""
    return {a: runtime.env.text_observation(a) for a in agent_ids
            if getattr(runtime.agents[a].policy, "wants_text", False)}


def initial_state(observations: dict[str, Any], texts: dict[str, str] | None = None
                  ) -> TeamState:
    live = sorted(observations)
    return TeamState(team_step=0, live=live, observations=observations,
                     infos={a: {} for a in live}, inboxes={a: [] for a in live},
                     observation_texts=dict(texts or {}), decisions={}, done=False)


def agent_input(state: TeamState, agent_id: str) -> dict[str, Any]:
    return {
        "agent_id": agent_id,
        "step": state["team_step"],
        "observation": state["observations"][agent_id],
        "observation_text": state.get("observation_texts", {}).get(agent_id, ""),
        "info": state["infos"].get(agent_id, {}),
        "inbox": state["inboxes"].get(agent_id, []),
    }


def replay_json(value: Any) -> Any:
    """`value` (a message as a policy sent it) as plain JSON for the trace, so a replay can
    send it again; a value JSON cannot hold is kept as its repr (re-sent, it is rejected
    as the original was unless that was accepted, which the replay reports)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError, RecursionError):
        return repr(value)


def _notes(decision: Any) -> dict[str, Any]:
    """The decision's memory notes for the trace (only when there are any): a replay
    writes them to memory as the run did."""
    notes = getattr(decision, "memory_notes", None)
    if not notes:
        return {}
    return {"notes": [n.model_dump(mode="json", exclude_defaults=True) for n in notes]}


def env_step(runtime: TeamRuntime, state: TeamState) -> TeamState:
    """Act and send: apply every live agent's decision, route messages, deliver inboxes."""
    step = state["team_step"]
    env, comm = runtime.env, runtime.comm
    live = state["live"]
    decisions = {a: state["decisions"][a] for a in live}
    positions = env.agent_positions()
    sent = []
    for agent_id in live:
        for raw in decisions[agent_id]["decision"].messages:
            result = comm.send(raw, step, positions, sender=agent_id)  # bound: no forgery
            # The message as sent (a replay re-sends it: `viz.replay` needs no policy).
            sent.append({"from": agent_id, "accepted": result.accepted, "msg_id": result.msg_id,
                         "error": result.error, "message": replay_json(raw)})
    if runtime.shared is not None:
        for agent_id in live:  # serially, in agent order: the team graph stays deterministic
            if decisions[agent_id]["publish"]:
                runtime.shared.publish(agent_id, decisions[agent_id]["publish"], step)
    actions = {a: decisions[a]["action_id"] for a in live}
    observations, rewards, terminations, truncations, infos = env.step(actions)
    inboxes = comm.deliver(step + 1)
    record = StepRecord(
        step=step,
        agents={a: {**{k: v for k, v in decisions[a].items() if k not in ("decision", "publish")},
                    **_notes(decisions[a]["decision"]),
                    "ok": infos[a]["ok"], "env_reason": infos[a]["reason"],
                    "events": infos[a]["events"]} for a in live},
        rewards=rewards,
        unlocked={a: infos[a]["unlocked"] for a in live},
        sent=sent,
    )
    # A step is recorded once its memory writes are on the server: writes that
    # `batched_writes` (run_team) holds back go now, and a server failure stops the run
    # before the trace shows the step.
    flush_writes()
    if runtime.on_step is not None:
        runtime.on_step(record)
    still = [a for a in live if not (terminations[a] or truncations[a])]
    return TeamState(
        team_step=step + 1,
        live=still,
        observations={a: observations[a] for a in still},
        infos={a: infos[a] for a in still},
        inboxes={a: inboxes.get(a, []) for a in still},
        observation_texts=observation_texts(runtime, still),
        done=not still,
    )


# ---- LangGraph ---------------------------------------------------------------------------


def _team_runtime(config: RunnableConfig) -> TeamRuntime:
    return config["configurable"]["team"]


def build_team_graph(checkpointer: Any = None) -> Any:
    """The compiled team-step graph. Runtimes go in `config["configurable"]`:
    `{"team": TeamRuntime, "runtimes": {agent_id: AgentRuntime}}`. LangGraph is the
    ``memsim[langgraph]`` extra."""
    lg = import_optional("langgraph.graph", "langgraph", "the LangGraph executor")
    send = import_optional("langgraph.types", "langgraph", "the LangGraph executor").Send
    graph = lg.StateGraph(TeamState)

    def fan_out(state: TeamState) -> list[Any]:
        return [send("agent_step", agent_input(state, a)) for a in state["live"]]

    async def env_node(state: TeamState, config: RunnableConfig) -> TeamState:
        return env_step(_team_runtime(config), state)

    async def agent_step(state: AgentStepState, config: RunnableConfig) -> dict[str, Any]:
        runtime = config["configurable"]["runtimes"][state["agent_id"]]
        return {"decisions": (await arun_agent_step(runtime, state))["decisions"]}

    graph.add_node("agent_step", agent_step)
    graph.add_node("env_step", env_node)
    graph.add_conditional_edges(lg.START, fan_out, ["agent_step"])
    graph.add_edge("agent_step", "env_step")  # the join: env_step waits for every Send
    graph.add_edge("env_step", lg.END)
    return graph.compile(checkpointer=checkpointer)


def team_checkpointer() -> InMemorySaver:
    """LangGraph's checkpointer for the team graph, allowed to restore memsim's own state
    types (messages and their payloads, decisions, facts) and nothing else."""
    allowed = [("memsim.agents.messages", name) for name in dir(messages_module)
               if name.endswith("Payload") or name in ("Message", "MessageKind")]
    allowed += [("memsim.agents.policy", "Decision"), ("memsim.memory.facts", "Fact")]
    saver = import_optional("langgraph.checkpoint.memory", "langgraph", "the LangGraph executor")
    serde = import_optional("langgraph.checkpoint.serde.jsonplus", "langgraph",
                            "the LangGraph executor")
    return saver.InMemorySaver(serde=serde.JsonPlusSerializer(allowed_msgpack_modules=allowed))


class LangGraphExecutor:
    """Runs each team step as one invocation of the team graph."""

    def __init__(self, runtime: TeamRuntime, checkpointer: Any = None,
                 thread_id: str = "episode") -> None:
        self.runtime = runtime
        self.graph = build_team_graph(checkpointer)
        self.config: RunnableConfig = {
            "configurable": {"team": runtime, "runtimes": runtime.agents, "thread_id": thread_id},
        }
        self._loop = asyncio.new_event_loop()

    def step(self, state: TeamState) -> TeamState:
        return self._loop.run_until_complete(
            self.graph.ainvoke({**state, "decisions": {}}, self.config))

    def saved_state(self) -> TeamState:
        """The team state as LangGraph's checkpointer recorded it after the last step."""
        if self.graph.checkpointer is None:
            raise ValueError("this executor has no checkpointer")
        values = self.graph.get_state(self.config).values
        return TeamState(**{k: v for k, v in values.items() if k != "decisions"})

    def close(self) -> None:
        self._loop.close()


class DirectExecutor:
    """The same node functions in the same order, without LangGraph (for bulk sweeps)."""

    def __init__(self, runtime: TeamRuntime) -> None:
        self.runtime = runtime

    def step(self, state: TeamState) -> TeamState:
        decisions: dict[str, dict[str, Any]] = {}
        for agent_id in state["live"]:
            out = run_agent_step(self.runtime.agents[agent_id], agent_input(state, agent_id))
            decisions.update(out["decisions"])
        return env_step(self.runtime, {**state, "decisions": decisions})

    def close(self) -> None:
        """Nothing to release (the same interface as `LangGraphExecutor`)."""
