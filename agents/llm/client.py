"""Chat completions through the official `openai` client, with the structured-output
request forms, retries, an optional response cache and usage counters.

Request forms (`response_format` mode):

- `json_schema`: OpenAI's ``{"type": "json_schema", "json_schema": {...}}`` (strict);
- `json_object_schema`: llama.cpp's ``{"type": "json_object", "schema": {...}}`` (its
  server answers the former with HTTP 500);
- `json_object`: plain JSON mode; the schema is spelled out in the system prompt;
- `tools`: one forced function call whose parameters are the schema;
- `auto`: `json_schema` once; on an answer that says the request form is not understood
  (HTTP 400, 415, 422, 500, 501) `json_object_schema`, and that choice is remembered for
  the endpoint.

Timeouts, HTTP 408/409/429/5xx and connection errors are retried with exponential backoff
(`backoff_s` doubling up to `backoff_cap_s`, all waits of one request within
`retry_budget_s`); after that `LLMUnavailable` says which endpoint and why. Other 4xx
answers are configuration errors (`LLMRequestError`) and are not retried; 401 and 403 say
that authentication failed. A 200 whose body is not JSON (empty, cut off, not UTF-8) is an
invalid answer: counted, repaired once, then the safe action (never cached).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from memsim.agents.llm.config import LLMConfig
from memsim.memory import approx_tokens
from memsim.plugins import missing_extra

try:
    import openai
except ModuleNotFoundError as _missing:  # the memsim[llm] extra; LLMClient says so
    openai = None  # type: ignore[assignment]
    _OPENAI_MISSING: ModuleNotFoundError | None = _missing
else:
    _OPENAI_MISSING = None

RETRIED_STATUS = frozenset({408, 409, 429})
FORM_STATUS = frozenset({400, 415, 422, 500, 501})  # `auto`: try the other request form
AUTH_STATUS = frozenset({401, 403})
TOOL_NAME = "decide"

# The request form that worked, per (base_url, model), shared by every agent of a process
# so that an `auto` team does not each pay for the same rejected first request.
_FORM_CHOICE: dict[tuple[str, str], str] = {}


def forget_request_forms() -> None:
    """Forget which request form each endpoint took (`auto` probes again)."""
    _FORM_CHOICE.clear()


class LLMUnavailable(RuntimeError):
    """The endpoint could not be reached (or kept failing) within the retry budget."""


class LLMRequestError(RuntimeError):
    """The endpoint rejected the request (bad model name, key, or request form)."""


@dataclass
class LLMUsage:
    """Counters of one policy (reset at each episode)."""

    decisions: int = 0  # agent-steps decided
    calls: int = 0  # completions received from the endpoint (cache hits excluded)
    repair_calls: int = 0  # of those, the retries asking to fix an invalid answer
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0  # summed over calls
    latency_s_max: float = 0.0
    parse_failures: int = 0  # answers that were not valid output
    fallbacks: int = 0  # decisions that fell back to the safe action
    retries: int = 0  # transport retries (timeouts, 429, 5xx, connection errors)
    form_fallbacks: int = 0  # `auto` switching request form
    cache_hits: int = 0

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)

    def reset(self) -> None:
        """Zero every counter (a new episode)."""
        for f in fields(self):
            setattr(self, f.name, f.default)


@dataclass(frozen=True, slots=True)
class Completion:
    """One answer: its text (content, or the forced tool call's arguments) and its cost."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    cached: bool = False


class ResponseCache:
    """A directory of JSON files keyed by the sha256 of the whole request (model,
    messages, response form, temperature, max_tokens, seed): a hit skips the call."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def key(request: dict[str, Any]) -> str:
        blob = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def get(self, key: str) -> Completion | None:
        path = self.directory / f"{key}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return Completion(data["text"], int(data["prompt_tokens"]),
                              int(data["completion_tokens"]), cached=True)
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent or unreadable: ask the endpoint

    def put(self, key: str, completion: Completion) -> None:
        data = {"text": completion.text, "prompt_tokens": completion.prompt_tokens,
                "completion_tokens": completion.completion_tokens}
        # Write then rename, so a reader (another process) never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(tmp, self.directory / f"{key}.json")


class LLMClient:
    """One agent's connection to a chat-completions endpoint."""

    def __init__(self, config: LLMConfig, usage: LLMUsage) -> None:
        if _OPENAI_MISSING is not None:
            raise missing_extra(_OPENAI_MISSING, "llm", "the llm policy")
        self.config = config
        self.usage = usage
        self.cache = ResponseCache(config.cache_dir) if config.cache_dir else None
        self._client: openai.AsyncOpenAI | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Connections belong to a process and an event loop: a checkpoint reconnects.
        return {**self.__dict__, "_client": None, "_client_loop": None}

    @property
    def form(self) -> str:
        """The request form in use (`auto` resolves after the first answer)."""
        if self.config.response_format != "auto":
            return self.config.response_format
        return _FORM_CHOICE.get((self.config.base_url, self.config.model), "auto")

    def _openai(self) -> openai.AsyncOpenAI:
        # httpx connections are tied to the event loop that opened them; a policy driven
        # from another loop (the direct executor's) gets its own client.
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = openai.AsyncOpenAI(base_url=self.config.base_url,
                                              api_key=self.config.key,
                                              timeout=self.config.timeout_s, max_retries=0)
            self._client_loop = loop
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP connections (on the event loop that opened them)."""
        if self._client is not None:
            await self._client.close()
        self._client, self._client_loop = None, None

    def close(self) -> None:
        """`aclose` from outside any loop: runs it on the connections' own loop while that
        loop is still open (afterwards there is nothing left to close it on)."""
        loop = self._client_loop
        if loop is not None and not loop.is_closed() and not loop.is_running():
            loop.run_until_complete(self.aclose())
        self._client, self._client_loop = None, None

    def request(self, messages: list[dict[str, str]], schema: dict[str, Any],
                strict_schema: dict[str, Any], seed: int, form: str) -> dict[str, Any]:
        """The keyword arguments of `chat.completions.create` in request form `form`."""
        cfg = self.config
        kwargs: dict[str, Any] = {"model": cfg.model, "messages": messages,
                                  "temperature": cfg.temperature, "max_tokens": cfg.max_tokens,
                                  "seed": seed}
        if form in ("json_schema", "auto"):
            kwargs["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "decision", "schema": strict_schema, "strict": True}}
        elif form == "json_object_schema":
            kwargs["response_format"] = {"type": "json_object", "schema": schema}
        elif form == "json_object":
            kwargs["response_format"] = {"type": "json_object"}
        elif form == "tools":
            kwargs["tools"] = [{"type": "function", "function": {
                "name": TOOL_NAME, "description": "Choose this step's action, messages and "
                "memory notes.", "parameters": schema}}]
            kwargs["tool_choice"] = {"type": "function", "function": {"name": TOOL_NAME}}
        else:
            raise ValueError(f"response_format: {form!r} is unknown")
        return kwargs

    async def complete(self, messages: list[dict[str, str]], schema: dict[str, Any],
                       strict_schema: dict[str, Any], seed: int) -> Completion:
        """One completion (from the cache when it holds this exact request)."""
        if self.cache is not None:
            hit = self.cache.get(self.cache.key(
                self.request(messages, schema, strict_schema, seed, self.form)))
            if hit is not None:
                self.usage.cache_hits += 1
                return hit
        response, answered = await self._create_with_retries(messages, schema, strict_schema,
                                                             seed)
        completion = self._completion(response, messages)
        if self.cache is not None and response is not None:
            # Keyed by the request actually answered, so a resolved `auto` hits next time.
            self.cache.put(self.cache.key(answered), completion)
        return completion

    async def _create_with_retries(self, messages: list[dict[str, str]],
                                   schema: dict[str, Any], strict_schema: dict[str, Any],
                                   seed: int) -> tuple[Any, dict[str, Any]]:
        """The response (None: its body could not be decoded) and the request it answers
        (`auto` may have changed the form)."""
        cfg = self.config
        tries, waited = 0, 0.0
        while True:
            # Read the form on every attempt: a teammate's request may have resolved `auto`.
            form = self.form
            kwargs = self.request(messages, schema, strict_schema, seed, form)
            tries += 1
            started = time.perf_counter()
            try:
                response = await self._openai().chat.completions.create(**kwargs)
            except openai.APIStatusError as exc:
                status = exc.status_code
                if status in AUTH_STATUS:
                    raise LLMRequestError(
                        f"{cfg.base_url}: authentication failed (HTTP {status}: "
                        f"{_error_text(exc)}); check llm.api_key or $OPENAI_API_KEY") from None
                if form == "auto" and status in FORM_STATUS:
                    # Not the form this server takes: use llama.cpp's from now on.
                    _FORM_CHOICE[(cfg.base_url, cfg.model)] = "json_object_schema"
                    self.usage.form_fallbacks += 1
                    tries -= 1
                    continue
                if status not in RETRIED_STATUS and status < 500:
                    raise LLMRequestError(
                        f"{cfg.base_url} rejected the request (model {cfg.model!r}, form "
                        f"{form!r}): HTTP {status}: {_error_text(exc)}") from None
                error: Exception = exc
                delay = _retry_after(exc)
            except openai.APIConnectionError as exc:  # includes APITimeoutError
                error, delay = exc, None
            except (ValueError, openai.APIError):
                # JSONDecodeError, UnicodeDecodeError, a response the client could not read:
                return self._answered(None, form, started), kwargs  # an answer with no text
            else:
                return self._answered(response, form, started), kwargs
            backoff = min(cfg.backoff_s * 2 ** (tries - 1), cfg.backoff_cap_s)
            delay = backoff if delay is None else min(delay, cfg.backoff_cap_s)
            if tries > cfg.max_retries or waited + delay > cfg.retry_budget_s:
                raise LLMUnavailable(
                    f"cannot reach {cfg.base_url} after {tries} tries "
                    f"({waited:.1f}s of backoff): {_describe(error)}") from None
            self.usage.retries += 1
            waited += delay
            await asyncio.sleep(delay)

    def _answered(self, response: Any, form: str, started: float) -> Any:
        """Count an answered request's latency; an answer settles `auto`'s form."""
        latency = time.perf_counter() - started
        self.usage.latency_s += latency
        self.usage.latency_s_max = max(self.usage.latency_s_max, latency)
        if form == "auto":
            _FORM_CHOICE.setdefault((self.config.base_url, self.config.model), "json_schema")
        return response

    def _completion(self, response: Any, messages: list[dict[str, str]]) -> Completion:
        self.usage.calls += 1
        text = _answer_text(response)
        usage = getattr(response, "usage", None)
        prompt = getattr(usage, "prompt_tokens", None)
        completion = getattr(usage, "completion_tokens", None)
        # Servers that report no usage: count approximately, as memory's budgets do.
        if not isinstance(prompt, int):
            prompt = sum(approx_tokens(m["content"]) for m in messages)
        if not isinstance(completion, int):
            completion = approx_tokens(text)
        self.usage.prompt_tokens += prompt
        self.usage.completion_tokens += completion
        return Completion(text, prompt, completion)


def _answer_text(response: Any) -> str:
    """The answer's text: the forced tool call's arguments, else the message content. The
    openai client does not check a response's shape, so a malformed one gives "" (an
    invalid answer, retried and then replaced by the safe action) rather than a crash."""
    try:
        message = response.choices[0].message
        calls = getattr(message, "tool_calls", None) or []
        if calls and getattr(calls[0], "function", None) is not None:
            return str(calls[0].function.arguments or "")
        return str(message.content or "")
    except (AttributeError, IndexError, KeyError, TypeError):
        return ""


def _retry_after(exc: openai.APIStatusError) -> float | None:
    """The server's Retry-After (seconds), when it sent one."""
    try:
        return max(float(exc.response.headers.get("retry-after", "")), 0.0)
    except (TypeError, ValueError):
        return None


def _error_text(exc: openai.APIStatusError) -> str:
    """The server's own error message (the openai client prefixes it with the status)."""
    body = exc.body
    text = body.get("message") if isinstance(body, dict) else None
    return _short(str(text) if text else exc.message)


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _describe(error: Exception) -> str:
    if isinstance(error, openai.APITimeoutError):
        return "request timed out"
    if isinstance(error, openai.APIStatusError):
        return f"HTTP {error.status_code}: {_error_text(error)}"
    cause = error.__cause__ or error.__context__
    return f"{error}" + (f" ({type(cause).__name__}: {cause})" if cause else "")
