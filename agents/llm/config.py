"""`LLMConfig`: where the model is and how to talk to it.

Every field is resolved in this order, first found wins:

1. the explicit values (a scenario's ``[llm]`` table, or keyword arguments);
2. ``MEMSIM_LLM_<FIELD>`` environment variables (e.g. ``MEMSIM_LLM_BASE_URL``,
   ``MEMSIM_LLM_MAX_TOKENS``; list fields are comma-separated);
3. ``OPENAI_BASE_URL``, ``OPENAI_API_KEY``, ``OPENAI_MODEL`` (the openai client's own);
4. the defaults in ``agents/llm/defaults.toml``.

With an OpenAI key but no base URL anywhere, the base URL is OpenAI's, as the openai client
itself does. Local servers ignore the key; "none" is sent when there is none.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
)

from memsim.agents.llm.settings import load_settings
from memsim.agents.messages import format_validation_error

ResponseFormatMode = Literal["json_schema", "json_object_schema", "json_object", "tools", "auto"]
RESPONSE_FORMAT_MODES: tuple[str, ...] = get_args(ResponseFormatMode)
OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
ENV_PREFIX = "MEMSIM_LLM_"
# The openai client's own variables, for the fields it has one for.
OPENAI_ENV = {"base_url": "OPENAI_BASE_URL", "api_key": "OPENAI_API_KEY", "model": "OPENAI_MODEL"}

_D = load_settings().config


class LLMConfig(BaseModel):
    """Endpoint, sampling, robustness and prompt-size settings of an LLM agent."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    base_url: str = Field(min_length=1, pattern=r"^https?://")
    model: str = Field(min_length=1)
    api_key: str | None = Field(default=None, repr=False)  # kept out of logs and reprs
    temperature: float = Field(default=_D["temperature"], ge=0.0, le=2.0)
    max_tokens: int = Field(default=_D["max_tokens"], ge=16)
    timeout_s: float = Field(default=_D["timeout_s"], gt=0.0)
    max_retries: int = Field(default=_D["max_retries"], ge=0, le=20)
    backoff_s: float = Field(default=_D["backoff_s"], ge=0.0)
    backoff_cap_s: float = Field(default=_D["backoff_cap_s"], ge=0.0)
    retry_budget_s: float = Field(default=_D["retry_budget_s"], ge=0.0)
    memory_tokens: int = Field(default=_D["memory_tokens"], ge=0)
    inbox_messages: int = Field(default=_D["inbox_messages"], ge=0, le=32)
    response_format: ResponseFormatMode = _D["response_format"]
    cache_dir: str | None = None
    ttl: int = Field(default=_D["ttl"], ge=1)
    recall_kinds: list[str] = Field(default_factory=lambda: list(_D["recall_kinds"]))
    recall_per_kind: int = Field(default=_D["recall_per_kind"], ge=1, le=32)
    recall_reports: int = Field(default=_D["recall_reports"], ge=0, le=64)
    recall_failures: int = Field(default=_D["recall_failures"], ge=0, le=64)

    @property
    def key(self) -> str:
        """The API key to send ("none" when unset: local servers do not check it)."""
        return self.api_key or "none"

    @classmethod
    def from_sources(cls, table: Mapping[str, Any] | None = None,
                     env: Mapping[str, str] | None = None) -> LLMConfig:
        """Resolve every field from `table`, then `env` (default `os.environ`), then the
        defaults (see the module docstring). Raises `ValueError` naming the bad field."""
        env = os.environ if env is None else env
        table = dict(table or {})
        unknown = sorted(set(table) - set(cls.model_fields))
        if unknown:
            raise ValueError(f"invalid llm config: unknown field(s) {unknown}; allowed: "
                             f"{', '.join(cls.model_fields)}")
        values: dict[str, Any] = {}
        for name, info in cls.model_fields.items():
            if name in table:
                values[name] = table[name]
                continue
            for var in (ENV_PREFIX + name.upper(), OPENAI_ENV.get(name)):
                if var and env.get(var, "") != "":
                    values[name] = _from_string(var, env[var], info.annotation)
                    break
        if "base_url" not in values and values.get("api_key") is not None:
            values["base_url"] = OPENAI_DEFAULT_BASE_URL
        for name in ("base_url", "model"):
            if name not in values:
                raise ValueError(
                    f"invalid llm config: {name} is not set; give it in the [llm] table, "
                    f"{ENV_PREFIX}{name.upper()} or {OPENAI_ENV[name]}")
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise ValueError(f"invalid llm config: {format_validation_error(exc)}") from None


def _from_string(var: str, raw: str, annotation: Any) -> Any:
    """An environment variable's text as the field's type (lists are comma-separated)."""
    if annotation == list[str]:
        return [part.strip() for part in raw.split(",") if part.strip()]
    try:
        return TypeAdapter(annotation).validate_strings(raw)
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"]
        raise ValueError(f"invalid llm config: {var}: {problem} (got {raw!r})") from None
