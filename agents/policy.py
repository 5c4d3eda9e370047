"""The policy contract: what an agent knows when it decides, and what it decides.

One agent step (see `agents.step`) is perceive ▸ read inbox ▸ remember ▸ recall ▸ decide,
then the team step acts and sends. A policy takes part twice: `recall_query` says what to
look up in memory for its current goal (goal-conditioned retrieval), and `decide` turns
the context into a `Decision`. A policy sees only its own observation, its own memory's
recall and its inbox — never the world state or another agent's memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from memsim.agents.messages import Message
from memsim.memory import Fact, Recall, RetrievalQuery


@dataclass(slots=True)
class AgentContext:
    """Everything an agent may use to decide at one step. Built once per agent-step (by
    the `perceive` node); `recall` is filled in by the `recall` node."""

    agent_id: str
    step: int
    observation: Any  # the raw observation of this agent (symbolic dict for crafting)
    facts: list[Fact]  # this step's perception, already written to memory if memory is on
    inbox: list[Message]  # messages delivered to this agent this step
    recall: Recall | None = None  # None when memory is off
    teammates: tuple[str, ...] = ()
    action_names: tuple[str, ...] = ()
    info: dict[str, Any] = field(default_factory=dict)  # outcome of its own last action
    # The observation in plain language; filled only for policies with `wants_text = True`
    # (LLM agents), so others do not pay for rendering text every step.
    observation_text: str = ""
    # The observation decoded once by the family's perception (`Perception.decode`): what
    # policies, prompts and the viewer read instead of parsing `observation` again.
    view: Any = None


@dataclass(slots=True)
class Decision:
    """An action, messages to send, notes for memory, and why (for the decision trace)."""

    action: int
    messages: list[Message | dict[str, Any]] = field(default_factory=list)
    memory_notes: list[Fact] = field(default_factory=list)
    reason: str = ""


@runtime_checkable
class Perception(Protocol):
    """A world family's adapter from one agent's observation to a typed view and memory
    facts. It keeps no task knowledge between steps: what an agent knows later lives in its
    memory."""

    def decode(self, obs: Any) -> Any:
        """The observation decoded into the family's typed view (world coordinates, names);
        it has at least a `position` (x, y)."""
        ...

    def perceive(self, view: Any, info: dict[str, Any], step: int) -> list[Fact]:
        """The facts this view (and the outcome of the last action in `info`) shows."""
        ...

    def reset(self) -> None:
        """Start an episode."""
        ...


@runtime_checkable
class Policy(Protocol):
    """A decision maker for one agent. One instance per agent and episode, built with no
    arguments (a class, or a factory: see `agents.registry` for how scenarios name one).

    Invariants every policy keeps (plug-ins too; `memsim.testing.check_policy` checks the
    first and third):

    - It keeps nothing between steps but what is in its memory: it may hold what `reset`
      gives it (agent id, seed, action names) and its settings, never what it learned at
      a step. What it must remember later it returns as `Decision.memory_notes` and reads
      back through `AgentContext.recall`. (So memory-off ablations mean what they say,
      and checkpoints restore a run exactly.)
    - It sees only its own observation, its memory's recall and its inbox, never the world
      state or another agent's memory.
    - It is deterministic: the same context gives the same `Decision`; randomness is drawn
      from the seed and the step, not from a generator carried across steps.
    - Its action is an index into `action_names`; its messages are validated by the
      channel, and a bad one is rejected (reason in the trace), never fatal.
    """

    name: str

    def reset(self, agent_id: str, seed: int, action_names: tuple[str, ...]) -> None:
        """Start an episode."""

    def recall_query(self, context: AgentContext) -> RetrievalQuery | None:
        """What to retrieve from memory this step (None: nothing)."""

    def decide(self, context: AgentContext) -> Decision:
        """Choose the action, messages and memory notes."""
