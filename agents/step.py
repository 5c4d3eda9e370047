"""One agent's step as plain node functions, and the LangGraph subgraph that runs them.

    perceive ▸ read_inbox ▸ remember ▸ recall ▸ decide

`perceive` turns the observation into facts; `read_inbox` turns delivered messages into
hearsay facts (`told_by:<sender>`); `remember` writes both in ONE memory write (one store
round trip per agent-step); `recall` runs the policy's goal-conditioned query; `decide`
asks the policy. Acting and sending happen in the team graph's environment step.

The inbox is read before `remember` (the architecture sketch reads it after `recall`) so
that what teammates said is stored in the same single write and is already part of this
step's recall.

Each node is a function `(AgentRuntime, AgentStepState) -> partial state`. The per-agent
objects (policy, perception, memory) live in an `AgentRuntime`, handed to the graph in the
run config, so the graph state stays small and serialisable.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, TypedDict

from pydantic import ValidationError

from memsim.agents.messages import MemoryExportPayload, Message
from memsim.agents.policy import AgentContext, Decision, Perception, Policy
from memsim.memory import AgentMemory, Fact, Recall, SchemaError, SharedMemory
from memsim.plugins import import_optional

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

NODE_ORDER = ("perceive", "read_inbox", "remember", "recall", "decide")


def merge_dicts(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    """Reducer for state fields that several fanned-out agent nodes write."""
    return {**left, **right}


@dataclass
class AgentRuntime:
    """The long-lived parts of one agent: policy, perception and (optional) memory."""

    agent_id: str
    policy: Policy
    perception: Perception
    memory: AgentMemory | None
    teammates: tuple[str, ...]
    action_names: tuple[str, ...]
    retrieve_budget: int = 16
    # Facts to write with the next perception: the recipe book before step 0, then the
    # policy's memory notes (goals set / done), so each step still makes one memory write.
    pending_notes: list[Fact] = field(default_factory=list)
    # The team graph, when the scenario keeps one. Agents read it in `recall`; what they
    # publish (sightings of the family's `published` kinds) is written by the team's
    # environment step, in agent order (deterministic).
    shared: SharedMemory | None = None
    published: frozenset[str] = frozenset()
    # Delivered messages whose facts could not be built (dropped, never fatal; the channel
    # rejects such messages at send time, so this stays 0 unless a message bypassed it).
    unreadable_messages: int = 0

def publishable(facts: list[Fact], kinds: frozenset[str]) -> list[Fact]:
    """What an agent publishes to the team graph: sightings of the family's published
    `kinds`, plus the survey that lets the team graph close them when they are gone."""
    return [f for f in facts if f.kind == "surveyed"
            or (f.kind in ("seen_at", "gone_from") and f.subject in kinds)]


class AgentStepState(TypedDict, total=False):
    agent_id: str
    step: int
    observation: Any
    observation_text: str
    info: dict[str, Any]
    inbox: list[Message]
    facts: list[Fact]
    heard: list[Fact]
    context: AgentContext
    recall: Recall | None
    decision: Decision
    decisions: Annotated[dict[str, dict[str, Any]], merge_dicts]
    visited: Annotated[list[str], operator.add]


def inbox_facts(inbox: list[Message], step: int, dropped: list[Message] | None = None
                ) -> list[Fact]:
    """What messages say, as hearsay facts for the receiver's memory. A message whose facts
    cannot be built is skipped (and appended to `dropped`): one bad message never ends a run."""
    facts: list[Fact] = []
    for message in inbox:
        try:
            facts.extend(message.facts(step))
        except (ValueError, LookupError, TypeError, RecursionError):
            if dropped is not None:
                dropped.append(message)
    return facts


# ---- nodes ------------------------------------------------------------------------------


def perceive(runtime: AgentRuntime, state: AgentStepState) -> dict[str, Any]:
    """Decode the observation once, turn it into facts, and build this step's context."""
    perception = runtime.perception
    view = perception.decode(state["observation"])
    info = state.get("info", {})
    facts = perception.perceive(view, info, state["step"])
    if runtime.pending_notes:
        facts = [*runtime.pending_notes, *facts]
        runtime.pending_notes = []
    context = AgentContext(
        agent_id=runtime.agent_id,
        step=state["step"],
        observation=state["observation"],
        facts=facts,
        inbox=state.get("inbox", []),
        teammates=runtime.teammates,
        action_names=runtime.action_names,
        info=info,
        observation_text=state.get("observation_text", ""),
        view=view,
    )
    return {"facts": facts, "context": context, "visited": ["perceive"]}


def read_inbox(runtime: AgentRuntime, state: AgentStepState) -> dict[str, Any]:
    dropped: list[Message] = []
    heard = inbox_facts(state.get("inbox", []), state["step"], dropped)
    runtime.unreadable_messages += len(dropped)
    return {"heard": heard, "visited": ["read_inbox"]}


def remember(runtime: AgentRuntime, state: AgentStepState) -> dict[str, Any]:
    if runtime.memory is not None:
        runtime.memory.write([*state["facts"], *state.get("heard", [])], state["step"])
    return {"visited": ["remember"]}


def recall(runtime: AgentRuntime, state: AgentStepState) -> dict[str, Any]:
    result = None
    if runtime.memory is not None:
        query = runtime.policy.recall_query(state["context"])
        if query is not None:
            result = runtime.memory.retrieve(query, budget=runtime.retrieve_budget)
            if runtime.shared is not None:
                team = runtime.shared.retrieve(query, budget=runtime.retrieve_budget)
                result.merge_team(team, now=state["step"])
    state["context"].recall = result  # the context is built once, in `perceive`
    return {"recall": result, "visited": ["recall"]}


def with_exports(messages: list[Any], memory: AgentMemory | None) -> list[Any]:
    """A decision's messages with each export request (a message dict with `export`: an
    `ExportSelector`) replaced by a memory export payload from the agent's own memory.
    Without memory, or when the selection is empty or too large, the message is dropped."""
    out: list[Any] = []
    for message in messages:
        if not (isinstance(message, Mapping) and "export" in message):
            out.append(message)
            continue
        if memory is None:
            continue
        try:
            export = memory.export(message["export"])
        except (SchemaError, ValidationError):  # a bad selector or a payload too large
            continue
        if export["nodes"]:
            payload = MemoryExportPayload.from_export(export).model_dump()
            out.append({**{k: v for k, v in message.items() if k != "export"},
                        "payload": payload})
    return out


def decide(runtime: AgentRuntime, state: AgentStepState,
           decision: Decision | None = None) -> dict[str, Any]:
    if decision is None:
        decision = runtime.policy.decide(state["context"])
    if any(isinstance(m, Mapping) and "export" in m for m in decision.messages):
        decision.messages = with_exports(decision.messages, runtime.memory)
    if decision.memory_notes and runtime.memory is not None:
        runtime.pending_notes.extend(decision.memory_notes)
    result = state.get("recall")
    record = {
        "action": runtime.action_names[decision.action],
        "action_id": decision.action,
        "reason": decision.reason,
        "messages_read": [m.msg_id for m in state.get("inbox", [])],
        "retrieved": result.node_ids() if result is not None else [],
        "facts": len(state["facts"]),
        "heard": len(state.get("heard", [])),
        "decision": decision,
        "publish": (publishable(state["facts"], runtime.published)
                    if runtime.shared is not None else []),
    }
    return {"decision": decision, "decisions": {runtime.agent_id: record}, "visited": ["decide"]}


NODES: dict[str, Callable[[AgentRuntime, AgentStepState], dict[str, Any]]] = {
    "perceive": perceive,
    "read_inbox": read_inbox,
    "remember": remember,
    "recall": recall,
    "decide": decide,
}


def _apply(current: dict[str, Any], update: dict[str, Any]) -> None:
    """Apply one node's update as the agent graph's reducers would."""
    for key, value in update.items():
        if key == "visited":
            current["visited"] = [*current.get("visited", []), *value]
        elif key == "decisions":
            current["decisions"] = merge_dicts(current.get("decisions", {}), value)
        else:
            current[key] = value


def run_agent_step(runtime: AgentRuntime, state: AgentStepState) -> AgentStepState:
    """The direct executor: the same node functions, in the same order, without LangGraph."""
    current: dict[str, Any] = dict(state)
    for name in NODE_ORDER:
        _apply(current, NODES[name](runtime, current))  # type: ignore[arg-type]
    return current  # type: ignore[return-value]


async def arun_agent_step(runtime: AgentRuntime, state: AgentStepState) -> AgentStepState:
    """The agent step as one awaitable (the team graph's `agent_step` node): the same node
    functions in the same order, with `decide` awaited so the model calls of a team's
    agents overlap."""
    current: dict[str, Any] = dict(state)
    for name in NODE_ORDER:
        if name == "decide":
            _apply(current, await adecide(runtime, current))  # type: ignore[arg-type]
        else:
            _apply(current, NODES[name](runtime, current))  # type: ignore[arg-type]
    return current  # type: ignore[return-value]


def _runtime(config: RunnableConfig, state: AgentStepState) -> AgentRuntime:
    return config["configurable"]["runtimes"][state["agent_id"]]


async def adecide(runtime: AgentRuntime, state: AgentStepState) -> dict[str, Any]:
    """`decide` for the async graph: awaits the policy's `adecide` when it has one (so
    the LLM calls of several agents overlap), else calls `decide`."""
    policy_adecide = getattr(runtime.policy, "adecide", None)
    if policy_adecide is None:
        return decide(runtime, state)
    decision = await policy_adecide(state["context"])
    return decide(runtime, state, decision)


def _bind(name: str) -> Callable[[AgentStepState, RunnableConfig], Any]:
    # Async nodes run on the executor's event loop: no worker threads contending for the
    # GIL (synchronous nodes fanned out by Send each get a thread), and async policies
    # can overlap their waits.
    if name == "decide":

        async def call(state: AgentStepState, config: RunnableConfig) -> dict[str, Any]:
            return await adecide(_runtime(config, state), state)

    else:
        node = NODES[name]

        async def call(state: AgentStepState, config: RunnableConfig) -> dict[str, Any]:
            return node(_runtime(config, state), state)

    call.__name__ = name
    return call


def build_agent_graph() -> Any:
    """The per-agent step as a compiled LangGraph `StateGraph` (a chain of the nodes): what
    the team graph's `agent_step` node runs, drawn and runnable node by node (the team
    graph runs the chain as one node: a subgraph would cost a superstep per node).
    LangGraph is the ``memsim[langgraph]`` extra."""
    lg = import_optional("langgraph.graph", "langgraph", "the LangGraph executor")
    graph = lg.StateGraph(AgentStepState)
    for name in NODE_ORDER:
        graph.add_node(name, _bind(name))
    graph.add_edge(lg.START, NODE_ORDER[0])
    for first, second in itertools.pairwise(NODE_ORDER):
        graph.add_edge(first, second)
    graph.add_edge(NODE_ORDER[-1], lg.END)
    return graph.compile()
