"""`RandomSkillPolicy`: the same skills, menu and events as the LLM skill policy, with a
uniform choice instead of a model. What a study compares the LLM skill agents against to
see what the model adds."""

from __future__ import annotations

import random

from memsim.agents.policy import AgentContext, Decision
from memsim.agents.skills.base import SkillLibrary
from memsim.agents.skills.runner import SkillRunner
from memsim.memory import RetrievalQuery


class RandomSkillPolicy:
    """Chooses uniformly among the menu's options whenever a choice is due (drawn from
    (seed, agent, step): nothing is carried between steps)."""

    name = "random-skills"

    def __init__(self, library: SkillLibrary) -> None:
        self.runner = SkillRunner(library)
        self.agent_id = ""
        self.seed = 0
        self.decisions = 0

    def reset(self, agent_id: str, seed: int, action_names: tuple[str, ...]) -> None:
        self.agent_id, self.seed = agent_id, seed
        self.decisions = 0
        self.runner.reset(agent_id, seed, action_names)

    def recall_query(self, context: AgentContext) -> RetrievalQuery | None:
        return self.runner.recall_query(context)

    def decide(self, context: AgentContext) -> Decision:
        self.decisions += 1
        turn = self.runner.prepare(context)
        choice = None
        if turn.menu:
            rng = random.Random(f"{self.seed}:{self.agent_id}:{context.step}:skill")
            choice = rng.choice(turn.menu)
        return self.runner.finish(turn, context, choice)

    def usage(self) -> dict[str, float | int]:
        """Choices made (where an LLM skill agent would ask its model) and how skills
        ended; no model calls."""
        return {"decisions": self.decisions, "calls": 0, **self.runner.counters.as_dict()}
