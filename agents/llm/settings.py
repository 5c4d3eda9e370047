"""The LLM agents' data file (`defaults.toml`): config defaults, output bounds, message kinds,
the skill policy's prompt sizes."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DEFAULTS_PATH = Path(__file__).with_name("defaults.toml")
PROMPTS_DIR = Path(__file__).with_name("prompts")


@dataclass(frozen=True, slots=True)
class OutputBounds:
    """Limits on what the model may write; they go into the output schema."""

    reason_chars: int
    text_chars: int
    name_chars: int
    max_messages: int
    max_notes: int


@dataclass(frozen=True, slots=True)
class MessageKindRule:
    """How a message kind the model may send maps onto the comm channel."""

    name: str
    channel_kind: str  # sim.comm.MessageKind value
    payload: str  # sim.comm payload `type`


@dataclass(frozen=True, slots=True)
class PromptSizes:
    """Caps on the step prompt's variable parts (characters)."""

    inbox_line_chars: int
    goal_chars: int
    error_chars: int
    echo_chars: int


@dataclass(frozen=True, slots=True)
class LLMSettings:
    config: dict[str, Any]
    output: OutputBounds
    prompt: PromptSizes
    messages: tuple[MessageKindRule, ...]
    skills: dict[str, Any]  # the skill policy's prompt sizes and message settings


@cache
def load_settings(path: Path = DEFAULTS_PATH) -> LLMSettings:
    """Read the data file once per process."""
    with open(path, "rb") as f:
        data = tomllib.load(f)
    try:
        output = OutputBounds(**data["output"])
        messages = tuple(MessageKindRule(name=name, **rule)
                         for name, rule in data["messages"].items())
        return LLMSettings(config=dict(data["config"]), output=output,
                           prompt=PromptSizes(**data["prompt"]), messages=messages,
                           skills=dict(data["skills"]))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}: malformed LLM settings: {exc}") from None
