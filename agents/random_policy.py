"""A uniformly random policy (a baseline and a smoke-test agent)."""

from __future__ import annotations

import random

from memsim.agents.policy import AgentContext, Decision
from memsim.memory import RetrievalQuery


class RandomPolicy:
    """Picks a uniformly random action each step, drawn from (seed, agent, step): it
    carries no generator state from one step to the next."""

    name = "random"

    def reset(self, agent_id: str, seed: int, action_names: tuple[str, ...]) -> None:
        self.key = f"{seed}:{agent_id}"
        self.n_actions = len(action_names)

    def recall_query(self, context: AgentContext) -> RetrievalQuery | None:
        return None

    def decide(self, context: AgentContext) -> Decision:
        rng = random.Random(f"{self.key}:{context.step}")
        return Decision(rng.randrange(self.n_actions), reason="random")
