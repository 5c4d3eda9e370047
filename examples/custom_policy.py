"""Bring your own agent: a policy in about 30 lines, run on the shipped `default` scenario.

    python examples/custom_policy.py --seeds 0-1 --max-steps 200

The same class works from a scenario file (``policy = "my_module:Lumberjack"``), from the
command line (``memsim run default --policy my_module:Lumberjack``, with my_module.py in
the current directory) or as a ``memsim.policies`` entry point of your package.
"""

from __future__ import annotations

import argparse

from memsim import AgentContext, Decision, RetrievalQuery, load_scenario, run_episode
from memsim.sim.suite import parse_seeds

MOVES = {(-1, 0): "move_left", (1, 0): "move_right", (0, -1): "move_up", (0, 1): "move_down"}


class Lumberjack:
    """Walks to the nearest tree its memory knows of and chops it. It keeps nothing
    between steps (memsim's rule for policies): where trees are is in its memory."""

    name = "lumberjack"

    def reset(self, agent_id: str, seed: int, action_names: tuple[str, ...]) -> None:
        self.actions = {name: i for i, name in enumerate(action_names)}

    def recall_query(self, context: AgentContext) -> RetrievalQuery | None:
        return RetrievalQuery(nearest=("tree",), position=context.view.position)

    def decide(self, context: AgentContext) -> Decision:
        (x, y), trees = context.view.position, context.recall.nearest if context.recall else []
        if not trees:  # nothing known yet: wander (the same way on the same step)
            step = list(MOVES.values())[(context.step // 8) % 4]
            return Decision(self.actions[step], reason="looking for trees")
        tree = trees[0]
        dx, dy = tree.x - x, tree.y - y
        if abs(dx) + abs(dy) == 1:  # next to it: face it (a blocked move turns), then chop
            if context.view.facing == (dx, dy):
                return Decision(self.actions["do"], reason=f"chopping at {tree.x},{tree.y}")
            return Decision(self.actions[MOVES[(dx, dy)]], reason="turning to the tree")
        step = (1 if dx > 0 else -1, 0) if dx else (0, 1 if dy > 0 else -1)
        return Decision(self.actions[MOVES[step]], reason=f"going to the tree at {tree.x},{tree.y}")


def main(argv: list[str] | None = None) -> dict[int, int]:
    """Run every agent of `default` as a Lumberjack; returns the wood collected per seed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=parse_seeds, default=[0])
    parser.add_argument("--max-steps", type=int, default=200)
    args = parser.parse_args(argv)
    scenario = load_scenario("default").with_overrides(
        seeds=args.seeds, max_steps=args.max_steps, policy=f"{__name__}:Lumberjack")
    wood = {}
    for seed in scenario.seeds:
        summary = run_episode(scenario, seed=seed, out_dir=None)
        wood[seed] = sum("collect_wood" in a for a in summary.per_agent_achievements.values())
        print(f"seed {seed}: {summary.steps} steps, {wood[seed]} of {scenario.agents.count} "
              f"agents collected wood")
    return wood


if __name__ == "__main__":
    main()
