"""`LLMSkillPolicy` (policy ``llm-skills``): a model chooses subgoals, skills execute them.

The model is asked only when something happens (`agents.skills.runner`): no skill is
running, the active one completed or failed, a message that matters arrived, or the goal
changed. Its prompt is built from the knowledge graph: the goal and the running skill,
ended subgoals by their summaries, remembered facts with provenance (places, teammates,
claims, requests, hearsay), and the skill menu with the arguments memory makes possible.
It answers ``{"skill": <menu number>, "say": "<line>"}``; an answer that is not valid is
not repaired: the first menu option is taken (counted in `fallbacks`). What it says is
checked against its own memory (`agents.llm.say`) before it leaves. A menu with one
option needs no model. Between steps it keeps nothing: the active skill is its memory's
current subgoal.
"""

from __future__ import annotations

import asyncio
import zlib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from memsim.agents.llm.client import LLMClient, LLMUsage
from memsim.agents.llm.config import LLMConfig
from memsim.agents.llm.policy import parse_answer
from memsim.agents.llm.prompt import load_template, messages_for, shorten
from memsim.agents.llm.say import MessageCheck, parse_say
from memsim.agents.llm.settings import load_settings
from memsim.agents.policy import AgentContext, Decision
from memsim.agents.skills.base import Option, SkillLibrary, Turn
from memsim.agents.skills.runner import SkillRunner
from memsim.memory import RetrievalQuery, approx_tokens


class SkillAnswer(BaseModel):
    """The model's answer: a menu number, and optionally one line to the team."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    skill: int
    say: str = Field(default="", max_length=load_settings().skills["say_chars"])


def answer_schema(options: int, strict: bool = False) -> dict[str, Any]:
    """The JSON schema of an answer for a menu of `options` entries (the number is an
    enum, so a grammar-constrained server can only write a valid one)."""
    say: dict[str, Any] = {"type": "string"}
    if not strict:
        say["maxLength"] = load_settings().skills["say_chars"]
    return {"type": "object",
            "properties": {"skill": {"type": "integer", "enum": list(range(1, options + 1))},
                           "say": say},
            "required": ["skill", "say"], "additionalProperties": False}


class SkillPrompts:
    """The skill policy's system and step prompts (templates `prompts/skills_*.txt`)."""

    def __init__(self, library: SkillLibrary, runner: SkillRunner) -> None:
        self.library = library
        self.runner = runner
        self.sizes = load_settings().skills
        self._system = load_template("skills_system")
        self._step = load_template("skills_step")

    def system(self) -> str:
        note = "" if self.sizes["allow_text"] else " Other text is not sent."
        return self._system.substitute(world=self.library.brief(), text_note=note).strip()

    def step(self, turn: Turn, context: AgentContext, system_tokens: int = 0) -> str:
        """The step prompt, within `prompt_tokens` together with the system prompt:
        remembered facts are cut first (they have their own budget too), then the oldest
        done subgoals, then the menu's last options (down to `min_options`; the turn's
        menu is cut with it, so the answer's schema matches what the model read)."""
        sizes = self.sizes
        goal = self.library.goal(context).replace("_", " ")
        if turn.active is not None:
            goal += f" > running: {turn.active.label} since step {turn.active.since}"
        done = [shorten(line, sizes["done_chars"]) for line in self.runner.done(context)]
        memory = self._memory(context)
        while True:
            menu = "\n".join(f"{i}. {shorten(o.text, sizes['menu_line_chars'])}"
                             for i, o in enumerate(turn.menu, 1))
            text = self._step.substitute(
                agent_id=context.agent_id,
                teammates=", ".join(context.teammates) or "none",
                goal=goal,
                now=self.library.situation(context),
                events=shorten("; ".join(turn.events), sizes["event_chars"]),
                done="\n".join(f"- {line}" for line in done) or "- nothing yet",
                memory="\n".join(f"- {line}" for line in memory) or (
                    "- (memory is off)" if context.recall is None else "- nothing more"),
                menu=menu,
            )
            fits = approx_tokens(text) + system_tokens <= sizes["prompt_tokens"]
            if fits or not (memory or len(done) > 1 or len(turn.menu) > sizes["min_options"]):
                return text
            if memory:
                memory.pop()
            elif len(done) > 1:
                done.pop()
            else:
                turn.menu.pop()

    def _memory(self, context: AgentContext) -> list[str]:
        """Remembered facts, most relevant first, within `memory_tokens`."""
        kept: list[str] = []
        for line in self.library.memory_lines(context):
            lines = [*kept, line]
            if approx_tokens("\n".join(f"- {x}" for x in lines)) > self.sizes["memory_tokens"]:
                break
            kept.append(line)
        return kept


class LLMSkillPolicy:
    """The Policy protocol: skills chosen by a model over an OpenAI-compatible endpoint."""

    name = "llm-skills"
    wants_text = False  # the prompt is built from memory and the decoded view

    def __init__(self, config: LLMConfig, library: SkillLibrary) -> None:
        self.config = config
        self.library = library
        self.runner = SkillRunner(library)
        self.prompts = SkillPrompts(library, self.runner)
        sizes = load_settings().skills
        self.check = MessageCheck(getattr(library, "items", ()), sizes["allow_text"],
                                  sizes["say_chars"])
        self._usage = LLMUsage()
        self.client = LLMClient(config.model_copy(update={
            "max_tokens": min(config.max_tokens, sizes["max_tokens"])}), self._usage)
        self.agent_id = ""
        self.seed = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_loop": None}  # an event loop does not pickle

    # ---- Policy protocol --------------------------------------------------------------

    def reset(self, agent_id: str, seed: int, action_names: tuple[str, ...]) -> None:
        self.agent_id, self.seed = agent_id, seed
        self.runner.reset(agent_id, seed, action_names)
        self._usage.reset()

    def recall_query(self, context: AgentContext) -> RetrievalQuery | None:
        return self.runner.recall_query(context)

    async def adecide(self, context: AgentContext) -> Decision:
        """Run the active skill; on an event, ask the model for the next one first."""
        self._usage.decisions += 1
        turn = self.runner.prepare(context)
        if len(turn.menu) <= 1:  # nothing to ask about
            return self.runner.finish(turn, context, turn.menu[0] if turn.menu else None)
        choice, messages, reason = await self._choose(turn, context)
        return self.runner.finish(turn, context, choice, messages, reason)

    def decide(self, context: AgentContext) -> Decision:
        """`adecide` on this policy's own event loop (for the direct executor)."""
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(self.adecide(context))

    # ---- metrics and lifetime ---------------------------------------------------------

    def usage(self) -> dict[str, float | int]:
        """Model calls, tokens, latency, parse failures, fallbacks, messages written and
        rejected (`LLMUsage`), and the skill counters (choices, how skills ended)."""
        return {**self._usage.as_dict(), **self.runner.counters.as_dict()}

    def close(self) -> None:
        self.client.close()
        if self._loop is not None and not self._loop.is_closed():
            self._loop.close()

    # ---- helpers ----------------------------------------------------------------------

    async def _choose(self, turn: Turn, context: AgentContext
                      ) -> tuple[Option, list[dict[str, Any]], str]:
        menu = turn.menu
        system = self.prompts.system()
        messages = messages_for(system, self.prompts.step(turn, context, approx_tokens(system)))
        seed = zlib.crc32(f"{self.seed}:{self.agent_id}:{context.step}".encode())
        answer = await self.client.complete(messages, answer_schema(len(menu)),
                                            answer_schema(len(menu), strict=True), seed)
        out, error = parse_answer(answer.text, SkillAnswer)
        if out is not None and not 1 <= out.skill <= len(menu):
            out, error = None, f"skill: {out.skill} is not on the menu (1-{len(menu)})"
        if out is None:
            self._usage.parse_failures += 1
            self._usage.fallbacks += 1
            return menu[0], [], f"fallback to option 1: {error}"[:200]
        said, why = self._say(out.say, context)
        reason = f"model chose {out.skill}" + (f"; said {out.say[:60]!r}" if said else "")
        if why:
            reason += f"; not sent: {why}"
        return menu[out.skill - 1], said, reason

    def _say(self, text: str, context: AgentContext) -> tuple[list[dict[str, Any]], str]:
        """The checked message of a `say` line (or why it may not leave)."""
        message = parse_say(text, self.agent_id, context.step, self.config.ttl)
        if message is None:
            return [], ""
        self._usage.messages_written += 1
        why = self.check.reject(message, context)
        if why is not None:
            self._usage.messages_rejected += 1
            return [], why
        return [message], ""
