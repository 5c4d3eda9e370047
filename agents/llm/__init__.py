"""LLM agents over any OpenAI-compatible endpoint (the official `openai` client).

`LLMConfig.from_sources(table)` resolves the endpoint and settings; `LLMPolicy(config,
brief)` is the per-step policy (a model call per action); `skill_policy.LLMSkillPolicy`
(policy `llm-skills`) lets the model choose skills only when something happens; `say`
checks what a model says against the sender's memory. See `agents/llm/defaults.toml` for
the defaults and the message kinds an LLM agent may send, and `agents/llm/prompts/` for the
prompt templates.
"""

from memsim.agents.llm.client import (
    Completion,
    LLMClient,
    LLMRequestError,
    LLMUnavailable,
    LLMUsage,
    ResponseCache,
)
from memsim.agents.llm.config import RESPONSE_FORMAT_MODES, LLMConfig
from memsim.agents.llm.policy import LLMPolicy, parse_answer
from memsim.agents.llm.prompt import PromptBuilder
from memsim.agents.llm.say import MessageCheck, parse_say
from memsim.agents.llm.schema import LLMDecisionOut, decision_schema

__all__ = [
    "RESPONSE_FORMAT_MODES",
    "Completion",
    "LLMClient",
    "LLMConfig",
    "LLMDecisionOut",
    "LLMPolicy",
    "LLMRequestError",
    "LLMUnavailable",
    "LLMUsage",
    "MessageCheck",
    "PromptBuilder",
    "ResponseCache",
    "decision_schema",
    "parse_answer",
    "parse_say",
]
