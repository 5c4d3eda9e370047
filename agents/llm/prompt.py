"""The LLM agent's prompts, from the template files in `agents/llm/prompts/`.

The system prompt is the same for every agent and step (how the world works, the output
form). The step prompt holds only what this step needs: the text observation, the
memory recall rendered within `memory_tokens`, the last few inbox messages (each
shortened), the goal and subgoal as memory holds them (the policy keeps none of its own)
and the allowed actions. It never carries the history, so its
size does not grow with the episode.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from string import Template
from typing import Any

from memsim.agents.llm.schema import FILLED_FIELDS, PAYLOAD_MODELS
from memsim.agents.llm.settings import PROMPTS_DIR, load_settings
from memsim.agents.messages import Message
from memsim.memory import Recall

ChatMessage = dict[str, str]


def load_template(name: str) -> Template:
    """A prompt template file (`string.Template`, `$name` placeholders)."""
    return Template((PROMPTS_DIR / f"{name}.txt").read_text(encoding="utf-8"))


def shorten(text: str, limit: int) -> str:
    """`text` on one line, cut to `limit` characters (with an ellipsis when cut)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: max(limit - 3, 0)] + "..."


@dataclass(frozen=True)
class WorldBrief:
    """How a world family describes itself to a model: `text` goes into the system prompt
    (how the world works, its recipes); `items` are the item names a goal may mention."""

    text: str
    items: tuple[str, ...] = ()


def generic_brief() -> WorldBrief:
    """The description for a world family that gives none of its own."""
    return WorldBrief(load_template("world").template.strip())


class PromptBuilder:
    """Builds the system and step prompts of one agent."""

    def __init__(self, brief: WorldBrief, memory_tokens: int, inbox_messages: int) -> None:
        self.brief = brief
        self.memory_tokens = memory_tokens
        self.inbox_messages = inbox_messages
        self.sizes = load_settings().prompt
        self._system = load_template("system")
        self._step = load_template("step")
        self._repair = load_template("repair")
        self._schema_note = load_template("schema_note")

    def system(self, schema: dict[str, Any] | None, message_kinds: Sequence[str]) -> str:
        """The system prompt, the same for every agent and step (so a server can reuse its
        prefix); `schema` is spelled out when the request form does not carry it."""
        out = load_settings().output
        rules = {r.name: r for r in load_settings().messages}
        described = []
        for kind in message_kinds:
            names = [f for f in PAYLOAD_MODELS[rules[kind].payload].model_fields
                     if f not in FILLED_FIELDS]
            described.append(f"{kind} ({', '.join(names)})")
        fields = "; ".join(described) or "none (do not send messages)"
        return self._system.substitute(
            world=self.brief.text,
            max_messages=out.max_messages,
            max_notes=out.max_notes,
            message_fields=fields,
            format_note=(self._schema_note.substitute(schema=json.dumps(schema))
                         if schema is not None else ""),
        ).strip()

    def memory_text(self, recall: Recall | None) -> str:
        if recall is None:
            return "(memory is off)"
        return recall.render(self.memory_tokens) or "(nothing relevant yet)"

    def inbox_text(self, inbox: Sequence[Message]) -> str:
        if self.inbox_messages == 0 or not inbox:
            return "(none)"
        lines = [
            shorten(f"{m.sender} ({m.kind.value}, step {m.step}): {m.payload.summary()}",
                    self.sizes.inbox_line_chars)
            for m in list(inbox)[-self.inbox_messages:]
        ]
        return "\n".join(lines)

    def goals_text(self, recall: Recall | None) -> str:
        """The goal and subgoal as memory holds them (set with memory notes)."""
        if recall is None:
            return "(memory is off: goals cannot be kept)"
        if recall.goal is None:
            return "none set yet (set one with memory_notes)"
        cap = self.sizes.goal_chars
        goal = recall.goal
        line = f"goal {shorten(goal.name, cap)} since step {goal.since}"
        if recall.subgoal is not None:
            line += f"; subgoal {shorten(recall.subgoal.name, cap)}"
            if recall.subgoal.needs:
                line += f" needs {shorten(', '.join(recall.subgoal.needs), cap)}"
        return line

    def step(self, agent_id: str, teammates: Sequence[str], observation_text: str,
             recall: Recall | None, inbox: Sequence[Message],
             action_names: Sequence[str], message_kinds: Sequence[str]) -> str:
        """The step prompt: bounded parts only (see the module docstring). What is the same
        every step comes first, so a server that reuses a cached prompt prefix (llama.cpp
        does) evaluates only the rest."""
        return self._step.substitute(
            message_kinds=", ".join(message_kinds) or "none",
            agent_id=agent_id,
            teammates=", ".join(teammates) or "none",
            observation=observation_text.strip() or "(no observation text)",
            memory=self.memory_text(recall),
            inbox=self.inbox_text(inbox),
            goals=self.goals_text(recall),
            actions=", ".join(action_names),
        )

    def repair(self, messages: list[ChatMessage], answer: str, error: str) -> list[ChatMessage]:
        """The conversation again, with the invalid answer and what was wrong with it."""
        note = self._repair.substitute(error=shorten(error, self.sizes.error_chars))
        return [*messages, {"role": "assistant", "content": answer[: self.sizes.echo_chars]},
                {"role": "user", "content": note}]


def messages_for(system: str, step: str) -> list[ChatMessage]:
    """The chat messages of one decision."""
    return [{"role": "system", "content": system}, {"role": "user", "content": step}]

