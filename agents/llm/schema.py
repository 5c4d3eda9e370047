"""The structured output an LLM agent must produce (`LLMDecisionOut`), its JSON schema,
and the conversion of a parsed output into channel messages and memory facts.

The output model is built per agent, because its enums are: `action` is one of the
environment's action names and a message's `to` is a teammate id or "all". Message kinds
and their fields come from the data file (`defaults.toml`) and the channel's own payload
models (`sim.comm`), so a payload's constraints are checked once, in one place.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo

from memsim.agents.llm.settings import LLMSettings, MessageKindRule, load_settings
from memsim.agents.messages import Payload
from memsim.memory import Fact

BROADCAST = "all"
# Payload fields the policy fills itself rather than asking the model for.
FILLED_FIELDS = frozenset({"type", "seen_step"})
# Payload string fields that are not names: free text, and a goal (`iron@3,4` names a place).
FREE_TEXT_FIELDS = frozenset({"text", "goal"})
# Keywords OpenAI's strict structured outputs do not accept; the constraints stay in our
# own validation. llama.cpp gets the full schema (its grammar honours the bounds).
_STRICT_UNSUPPORTED = frozenset({"maxLength", "minLength", "maxItems", "minItems", "pattern",
                                 "minimum", "maximum"})
# A name the model writes (a goal, an entity in a report): plain words, so it can become
# part of a memory node id (no '@' or ':') and a grammar can enforce it (no lookarounds).
NAME_PATTERN = r"^[A-Za-z0-9_]([A-Za-z0-9_ ,.\-]*[A-Za-z0-9_,.\-])?$"

PAYLOAD_MODELS: dict[str, type[BaseModel]] = {
    model.model_fields["type"].default: model
    for model in get_args(get_args(Payload)[0])
}


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MemoryNoteOut(_Out):
    """A goal or subgoal the agent sets, completes or gives up."""

    kind: Literal["goal", "subgoal"]
    name: str = Field(min_length=1, max_length=load_settings().output.name_chars,
                      pattern=NAME_PATTERN)
    status: Literal["set", "completed", "failed"]


class LLMDecisionOut(_Out):
    """One decision as the model writes it. `for_agent` gives the model an agent validates
    against: `action` restricted to its action names, typed messages to its teammates."""

    action: str
    reason: str = Field(max_length=load_settings().output.reason_chars)
    messages: list[Any] = Field(default_factory=list)
    memory_notes: list[MemoryNoteOut] = Field(
        default_factory=list, max_length=load_settings().output.max_notes)

    @classmethod
    def for_agent(cls, action_names: Sequence[str], teammates: Sequence[str] = (),
                  message_kinds: Sequence[str] | None = None) -> type[LLMDecisionOut]:
        """The output model for an agent with these actions and teammates (cached)."""
        return decision_model(tuple(action_names), (BROADCAST, *teammates),
                              None if message_kinds is None else tuple(message_kinds))


def _payload_field(name: str, info: FieldInfo, settings: LLMSettings) -> tuple[Any, FieldInfo]:
    """A payload field as the model writes it: tighter string bounds than the channel's."""
    if info.annotation is str:
        cap = settings.output.text_chars if name == "text" else settings.output.name_chars
        limit = min([cap, *(m.max_length for m in info.metadata if hasattr(m, "max_length"))])
        if name in FREE_TEXT_FIELDS:
            return str, Field(min_length=1, max_length=limit)
        return str, Field(min_length=1, max_length=limit, pattern=NAME_PATTERN)
    return info.annotation, copy.deepcopy(info)


def _message_model(rule: MessageKindRule, recipients: tuple[str, ...],
                   settings: LLMSettings) -> type[BaseModel]:
    payload = PAYLOAD_MODELS[rule.payload]
    fields: dict[str, Any] = {
        "to": (Literal[recipients], ...),  # type: ignore[valid-type]
        "kind": (Literal[rule.name], ...),  # type: ignore[valid-type]
    }
    for name, info in payload.model_fields.items():
        if name not in FILLED_FIELDS:
            fields[name] = _payload_field(name, info, settings)
    return create_model(f"{rule.name.title().replace('_', '')}Out", __base__=_Out, **fields)


@cache
def decision_model(action_names: tuple[str, ...], recipients: tuple[str, ...],
                   message_kinds: tuple[str, ...] | None = None) -> type[LLMDecisionOut]:
    """`LLMDecisionOut` for these actions, recipients ("all" plus teammate ids) and
    message kinds (default: every kind in the data file; empty: no messages)."""
    if not action_names:
        raise ValueError("action_names: need at least one action")
    settings = load_settings()
    rules = {r.name: r for r in settings.messages}
    kinds = tuple(rules) if message_kinds is None else message_kinds
    unknown = [k for k in kinds if k not in rules]
    if unknown:
        raise ValueError(f"message_kinds: unknown {unknown}; allowed: {', '.join(rules)}")
    out = settings.output
    fields: dict[str, Any] = {"action": (Literal[action_names], ...)}  # type: ignore[valid-type]
    if kinds:
        models = tuple(_message_model(rules[k], recipients, settings) for k in kinds)
        item = models[0] if len(models) == 1 else Annotated[
            Union[models], Field(discriminator="kind")]  # type: ignore[valid-type]  # noqa: UP007
        fields["messages"] = (list[item], Field(default_factory=list,  # type: ignore[valid-type]
                                               max_length=out.max_messages))
    else:
        fields["messages"] = (list[Any], Field(default_factory=list, max_length=0))
    return create_model("LLMDecisionOut", __base__=LLMDecisionOut, **fields)


def decision_schema(model: type[BaseModel], strict: bool = False) -> dict[str, Any]:
    """The model's JSON schema, self-contained (no `$ref`), every property required and
    no extra properties. `strict=True` also drops the keywords OpenAI's strict mode rejects."""
    raw = model.model_json_schema()
    defs = raw.pop("$defs", {})
    return _clean(raw, defs, strict)


def _clean(node: Any, defs: dict[str, Any], strict: bool) -> Any:
    if isinstance(node, list):
        return [_clean(n, defs, strict) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _clean(defs[node["$ref"].rsplit("/", 1)[-1]], defs, strict)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("title", "discriminator", "default", "description"):
            continue
        if strict and key in _STRICT_UNSUPPORTED:
            continue
        if key == "const":  # llama.cpp's grammar converter and OpenAI both take enums
            out["enum"] = [value]
        elif key == "oneOf":
            out["anyOf"] = _clean(value, defs, strict)
        elif key == "properties":
            out[key] = {k: _clean(v, defs, strict) for k, v in value.items()}
        else:
            out[key] = _clean(value, defs, strict)
    if out.get("type") == "object" and "properties" in out:
        # A list that must stay empty (no message kinds allowed) is left out altogether:
        # an empty item schema trips up grammar converters, and the field defaults to [].
        out["properties"] = {k: v for k, v in out["properties"].items()
                             if not (v.get("type") == "array" and v.get("maxItems") == 0)}
        out["required"] = list(out["properties"])
        out["additionalProperties"] = False
    return out


def to_channel_messages(out: LLMDecisionOut, sender: str, step: int,
                        ttl: int) -> list[dict[str, Any]]:
    """The parsed output's messages as the channel's message dicts (validated on send)."""
    rules = {r.name: r for r in load_settings().messages}
    messages = []
    for message in out.messages:
        data = message.model_dump()
        rule = rules[data.pop("kind")]
        to = data.pop("to")
        payload = {"type": rule.payload, **data}
        if "seen_step" in PAYLOAD_MODELS[rule.payload].model_fields:
            payload["seen_step"] = step
        messages.append({"sender": sender, "recipients": None if to == BROADCAST else [to],
                         "kind": rule.channel_kind, "step": step, "ttl": ttl,
                         "payload": payload})
    return messages


def to_memory_facts(out: LLMDecisionOut) -> list[Fact]:
    """The parsed output's memory notes as goal / subgoal facts (the agent's own plan)."""
    return [Fact(kind=note.kind, subject=note.name, status=note.status,
                 provenance="inferred") for note in out.memory_notes]
