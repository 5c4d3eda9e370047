"""`LLMPolicy`: an agent that asks a language model for each decision.

Each step it builds a bounded prompt (see `agents.llm.prompt`), asks for a structured
answer (`agents.llm.schema`), validates it, and on an invalid answer asks once more with
the validation error; if that fails too it takes the safe action ("noop" when there is one,
else action 0). Bad model output never raises; an unreachable endpoint raises
`LLMUnavailable` after the configured retries, so a dead server stops a run with a clear
message instead of playing it with fallbacks.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from memsim.agents.llm.client import Completion, LLMClient, LLMUsage
from memsim.agents.llm.config import LLMConfig
from memsim.agents.llm.prompt import (
    ChatMessage,
    PromptBuilder,
    WorldBrief,
    generic_brief,
    messages_for,
)
from memsim.agents.llm.say import MessageCheck
from memsim.agents.llm.schema import (
    LLMDecisionOut,
    decision_schema,
    to_channel_messages,
    to_memory_facts,
)
from memsim.agents.llm.settings import load_settings
from memsim.agents.messages import Message, format_validation_error
from memsim.agents.policy import AgentContext, Decision
from memsim.memory import RetrievalQuery

FALLBACK_ACTION = "noop"
# Bounds on an answer before it is parsed: a decision is a few hundred characters nested
# four deep; anything far past that is not worth parsing (and deep nesting would exhaust
# the parser's recursion).
MAX_ANSWER_CHARS = 100_000
MAX_ANSWER_DEPTH = 32
_ACTION_PREFIXES = ("make_", "place_", "give_")


Answer = TypeVar("Answer", bound=BaseModel)


def parse_answer(text: str, model: type[Answer]) -> tuple[Answer | None, str]:
    """The validated output, or None and what was wrong (field named). Takes the outermost
    {...}, so a code fence or chatter around the object (plain JSON mode) does not matter,
    and accepts raw newlines inside strings, which llama.cpp's JSON grammar lets through."""
    if len(text) > MAX_ANSWER_CHARS:
        return None, f"the answer is {len(text)} characters; max {MAX_ANSWER_CHARS}"
    start, end = text.find("{"), text.rfind("}")
    if start == -1 or end < start:
        return None, f"no JSON object in the answer (got {text[:60]!r})"
    body = text[start:end + 1]
    depth = json_depth(body)
    if depth > MAX_ANSWER_DEPTH:
        return None, f"the answer is nested {depth} deep; max {MAX_ANSWER_DEPTH}"
    try:
        data = json.loads(body, strict=False)
    except (ValueError, RecursionError) as exc:
        return None, f"invalid JSON: {exc}"
    try:
        return model.model_validate(data), ""
    except ValidationError as exc:
        return None, format_validation_error(exc)
    except RecursionError:
        return None, "invalid JSON: nested too deep"


def json_depth(text: str) -> int:
    """How deep `{`/`[` nest in JSON text, ignoring brackets inside strings (a linear scan,
    so it cannot itself run out of stack)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "}]":
            depth -= 1
    return deepest


class LLMPolicy:
    """The Policy protocol over an OpenAI-compatible chat endpoint (one instance per agent)."""

    name = "llm"
    wants_text = True  # the runner fills `AgentContext.observation_text`

    def __init__(self, config: LLMConfig, brief: WorldBrief | None = None,
                 message_kinds: Sequence[str] | None = None) -> None:
        """`brief`: how the world family describes itself (its `llm_brief`; default: a
        generic description); `message_kinds`: what it may send (default: every kind in
        defaults.toml; empty: none)."""
        self.config = config
        self.brief = brief if brief is not None else generic_brief()
        self.message_kinds = (tuple(r.name for r in load_settings().messages)
                              if message_kinds is None else tuple(message_kinds))
        self.prompts = PromptBuilder(self.brief, config.memory_tokens, config.inbox_messages)
        self._usage = LLMUsage()
        self.client = LLMClient(config, self._usage)
        self.agent_id = ""
        self.seed = 0
        self.action_names: tuple[str, ...] = ()
        self.check = MessageCheck(self.brief.items, allow_text=True,
                                  text_chars=load_settings().output.text_chars)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._system: dict[bool, str] = {}
        self._items: tuple[str, ...] = ()  # item names, longest first (for goal needs)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_loop": None}  # an event loop does not pickle

    # ---- Policy protocol --------------------------------------------------------------

    def reset(self, agent_id: str, seed: int, action_names: tuple[str, ...]) -> None:
        self.agent_id = agent_id
        self.seed = seed
        self.action_names = tuple(action_names)
        self._system = {}
        self._usage.reset()  # the same object: the client counts into it
        names = set(self.action_names)
        self._items = tuple(sorted(
            set(self.brief.items) if self.brief.items else
            {a.removeprefix(p) for a in names for p in _ACTION_PREFIXES if a.startswith(p)},
            key=len, reverse=True))

    def recall_query(self, context: AgentContext) -> RetrievalQuery | None:
        """The nearest known place of each kind it may look for, what its current goal
        needs (recipes, sources, holders), its latest failures and teammates' reports."""
        position = getattr(context.view, "position", None)
        cfg = self.config
        return RetrievalQuery(
            needs=self._needs(context),
            nearest=tuple(cfg.recall_kinds) if position is not None else (),
            position=position,
            per_kind=cfg.recall_per_kind,
            teammate_reports=cfg.recall_reports,
            recent_failures=cfg.recall_failures,
        )

    async def adecide(self, context: AgentContext) -> Decision:
        """Ask the model (awaited, so a team's calls overlap)."""
        self._usage.decisions += 1
        actions = context.action_names or self.action_names
        model = LLMDecisionOut.for_agent(actions, context.teammates, self.message_kinds)
        schema, strict = decision_schema(model), decision_schema(model, strict=True)
        step_prompt = self.prompts.step(self.agent_id, context.teammates,
                                        context.observation_text, context.recall,
                                        context.inbox, actions, self.message_kinds)
        messages = messages_for(self._system_prompt(model), step_prompt)
        seed = zlib.crc32(f"{self.seed}:{self.agent_id}:{context.step}".encode())
        answer = await self.client.complete(messages, schema, strict, seed)
        out, error = parse_answer(answer.text, model)
        if out is None:
            self._usage.parse_failures += 1
            retry = await self._repair(messages, answer, error, schema, strict, seed)
            out, error = parse_answer(retry.text, model)
            if out is None:
                self._usage.parse_failures += 1
                self._usage.fallbacks += 1
                return Decision(self._fallback_action(), reason=f"fallback: {error}"[:300])
        try:
            return self._decision(out, context)
        except ValueError as exc:  # a valid answer that still cannot be acted on
            self._usage.fallbacks += 1
            return Decision(self._fallback_action(), reason=f"fallback: {exc}"[:300])

    def decide(self, context: AgentContext) -> Decision:
        """`adecide` on this policy's own event loop (for the direct executor)."""
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(self.adecide(context))

    # ---- metrics and lifetime ---------------------------------------------------------

    def usage(self) -> dict[str, float | int]:
        """This episode's counters: calls, tokens, latency, parse failures, retries,
        fallbacks, cache hits, messages written and rejected (see `LLMUsage`); `choices`:
        one per step (the model chooses every action)."""
        return {**self._usage.as_dict(), "choices": self._usage.decisions}

    def close(self) -> None:
        """Close the HTTP client (call it before closing the executor's event loop) and
        this policy's own event loop."""
        self.client.close()
        if self._loop is not None and not self._loop.is_closed():
            self._loop.close()

    # ---- helpers ----------------------------------------------------------------------

    def _system_prompt(self, model: type[BaseModel]) -> str:
        plain = self.client.form == "json_object"  # the only form that does not carry it
        if plain not in self._system:
            self._system[plain] = self.prompts.system(
                decision_schema(model, strict=True) if plain else None, self.message_kinds)
        return self._system[plain]

    async def _repair(self, messages: list[ChatMessage], answer: Completion, error: str,
                      schema: dict[str, Any], strict: dict[str, Any], seed: int) -> Completion:
        calls_before = self._usage.calls
        retry = await self.client.complete(self.prompts.repair(messages, answer.text, error),
                                           schema, strict, seed)
        self._usage.repair_calls += self._usage.calls - calls_before
        return retry

    def _decision(self, out: LLMDecisionOut, context: AgentContext) -> Decision:
        """The decision an answer means. Its messages are checked against the agent's own
        memory first (`agents.llm.say`): a rejected one is counted and never sent. Its
        goal notes go to memory, which is where later steps read them from."""
        messages: list[Message | dict[str, Any]] = []
        rejected: list[str] = []
        for message in to_channel_messages(out, self.agent_id, context.step, self.config.ttl):
            self._usage.messages_written += 1
            why = self.check.reject(message, context)
            if why is None:
                messages.append(message)
            else:
                self._usage.messages_rejected += 1
                rejected.append(why)
        # Note names are already checked against memory's id rules by the output model.
        notes = to_memory_facts(out)
        action = (context.action_names or self.action_names).index(out.action)
        reason = out.reason + (f" [not sent: {'; '.join(rejected)}]" if rejected else "")
        return Decision(action, messages, notes, reason=reason[:400])

    def _fallback_action(self) -> int:
        return self.action_names.index(FALLBACK_ACTION) if FALLBACK_ACTION in \
            self.action_names else 0

    def _needs(self, context: AgentContext) -> tuple[str, ...]:
        """Items named by the goal and subgoal in memory (longest names first, no overlap);
        none with memory off: the policy keeps no goals of its own between steps."""
        if context.recall is None:
            return ()
        names = [g.name for g in (context.recall.goal, context.recall.subgoal) if g]
        text = " ".join(names).lower().replace(" ", "_")
        found: list[str] = []
        for item in self._items:
            if item in text and not any(item in f for f in found):
                found.append(item)
        return tuple(found[:3])
