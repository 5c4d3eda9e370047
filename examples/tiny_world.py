"""A new world family in one file: "beacon", a memory task, with its perception and a
scripted policy, checked against memsim's world contract and run as a scenario.

A beacon lights up on a small grid for the first few steps, then goes dark; the team
succeeds when any agent stands on it. An agent that remembers where it was walks there;
one without memory can only wander. Run it:

    python examples/tiny_world.py --seeds 0-9

To ship a family in a package, declare it as an entry point, and scenarios can name it
(``[env] family = "beacon"``) with no `register_family` call:

    [project.entry-points."memsim.worlds"]
    beacon = "my_package.beacon:BEACON"
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from pydantic import BaseModel, ConfigDict, Field

from memsim import (
    AgentContext,
    Decision,
    Fact,
    RetrievalQuery,
    WorldFamily,
    WorldParallelEnv,
    register_family,
    run_episode,
)
from memsim.envs.base import build_config
from memsim.envs.world import BodyRecord, StepResult
from memsim.sim.scenario import validate_scenario
from memsim.sim.suite import parse_seeds

ACTIONS = ("noop", "move_left", "move_right", "move_up", "move_down")
MOVES = {"move_left": (-1, 0), "move_right": (1, 0), "move_up": (0, -1), "move_down": (0, 1)}


class BeaconConfig(BaseModel):
    """The world's settings; a scenario's [env] table sets any of them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_agents: int = Field(1, ge=1, le=4)
    max_steps: int = Field(40, ge=1)
    team_goal: str = "success"
    size: int = Field(7, ge=3, le=32)
    cue_steps: int = Field(3, ge=1, description="steps the beacon is lit")


@dataclass(kw_only=True)
class Body(BodyRecord):
    x: int = 0
    y: int = 0


class BeaconWorld:
    """The engine: what `WorldParallelEnv` drives (see envs.world.WorldEngine)."""

    action_names = ACTIONS

    def __init__(self, config: BeaconConfig) -> None:
        self.config = config
        self.reset(0)

    def reset(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        cells = rng.choice(self.config.size ** 2, self.config.n_agents + 1, replace=False)
        self.beacon = divmod(int(cells[0]), self.config.size)
        self.agents = [Body(x=int(c) // self.config.size, y=int(c) % self.config.size)
                       for c in cells[1:]]
        self.step_count, self.team_achievements = 0, {}

    def lit(self) -> bool:
        return self.step_count < self.config.cue_steps

    def step(self, actions: list[int | None]) -> StepResult:
        self.step_count += 1
        rewards, unlocked = [0.0] * len(self.agents), [[] for _ in self.agents]
        for i, (body, action) in enumerate(zip(self.agents, actions, strict=True)):
            body.last_action = ACTIONS[action or 0]
            dx, dy = MOVES.get(body.last_action, (0, 0))
            body.x = min(max(body.x + dx, 0), self.config.size - 1)
            body.y = min(max(body.y + dy, 0), self.config.size - 1)
            if (body.x, body.y) == self.beacon and "success" not in self.team_achievements:
                self.team_achievements["success"] = (self.step_count, f"agent_{i}")
                body.achievements["success"] = self.step_count
                rewards[i], unlocked[i] = 1.0, ["success"]
        return StepResult(rewards, unlocked)


class BeaconEnv(WorldParallelEnv):
    """The PettingZoo ParallelEnv: the template does reset, step, spaces and checkpoints."""

    metadata: ClassVar[dict[str, Any]] = {**WorldParallelEnv.metadata, "name": "beacon_v0"}

    def __init__(self, config: Any = None, render_mode: str | None = None, **overrides: Any):
        config = build_config(BeaconConfig, config, **overrides)
        top = config.size - 1
        observation = spaces.Dict({"position": spaces.Box(0, top, (2,), np.int64),
                                   "beacon": spaces.Box(-1, top, (2,), np.int64)})
        self._setup(config, render_mode, BeaconWorld(config), observation, config.max_steps)

    def _observe(self, index: int) -> dict[str, np.ndarray]:
        body, world = self.world.agents[index], self.world
        beacon = world.beacon if world.lit() else (-1, -1)
        return {"position": np.array([body.x, body.y]), "beacon": np.array(beacon)}

    def _draw(self) -> np.ndarray:
        frame = np.full((self.config.size, self.config.size, 3), 40, np.uint8)
        if self.world.lit():
            frame[self.world.beacon[1], self.world.beacon[0]] = (250, 200, 0)
        for body in self.world.agents:
            frame[body.y, body.x] = (80, 160, 255)
        return frame.repeat(16, axis=0).repeat(16, axis=1)

    def text_observation(self, agent_id: str) -> str:
        obs = self._observe(self._check_agent(agent_id))
        seen = "the beacon at {}, {}".format(*obs["beacon"]) if obs["beacon"][0] >= 0 else \
            "no beacon"
        return "You are at {}, {}; you see {}.".format(*obs["position"], seen)

    def state(self) -> dict[str, np.ndarray]:
        return {"beacon": np.array(self.world.beacon),
                "positions": np.array([(b.x, b.y) for b in self.world.agents])}


@dataclass
class BeaconView:
    position: tuple[int, int]
    beacon: tuple[int, int] | None


class BeaconPerception:
    """Observation -> typed view -> facts for memory (a `memsim.Perception`)."""

    def decode(self, obs: dict[str, np.ndarray]) -> BeaconView:
        beacon = tuple(int(v) for v in obs["beacon"])
        return BeaconView(tuple(int(v) for v in obs["position"]),  # type: ignore[arg-type]
                          beacon if beacon[0] >= 0 else None)  # type: ignore[arg-type]

    def perceive(self, view: BeaconView, info: dict[str, Any], step: int) -> list[Fact]:
        if view.beacon is None:
            return []
        return [Fact(kind="seen_at", subject="beacon", place=view.beacon, category="other")]

    def reset(self) -> None:
        pass


class BeaconSeeker:
    """The scripted policy: walk to where memory says the beacon is."""

    name = "beacon-seeker"

    def reset(self, agent_id: str, seed: int, action_names: tuple[str, ...]) -> None:
        self.seed = seed

    def recall_query(self, context: AgentContext) -> RetrievalQuery | None:
        return RetrievalQuery(nearest=("beacon",), position=context.view.position)

    def decide(self, context: AgentContext) -> Decision:
        known = context.recall.nearest if context.recall is not None else []
        (x, y), target = context.view.position, (known[0].x, known[0].y) if known else None
        if target is None:  # no memory of it: wander, the same way on the same step
            move = ACTIONS[1 + (self.seed + context.step // 3) % 4]
            return Decision(ACTIONS.index(move), reason="wandering")
        dx, dy = target[0] - x, target[1] - y
        move = ("move_right" if dx > 0 else "move_left") if dx else \
            ("move_down" if dy > 0 else "move_up") if dy else "noop"
        return Decision(ACTIONS.index(move), reason=f"going to the beacon at {target}")


BEACON = WorldFamily(
    name="beacon",
    config_model=BeaconConfig,
    make_env=BeaconEnv,
    make_perception=lambda agent_id, env: BeaconPerception(),
    make_scripted=lambda env, agent_id: BeaconSeeker(),
    prior_facts=lambda env, agent_id: [],
    world_id=lambda config, seed: f"beacon:{config.size}:seed{seed}",
)


def main(argv: list[str] | None = None) -> dict[bool, float]:
    """Check the family, then run its scenario with memory on and off; returns the
    success rate of each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=parse_seeds, default=list(range(10)))
    args = parser.parse_args(argv)
    from memsim.testing import check_world_family

    check_world_family(BEACON)
    register_family(BEACON)
    rates = {}
    for memory in (True, False):
        scenario = validate_scenario({
            "name": "beacon", "version": 1, "seeds": args.seeds, "max_steps": 40,
            "env": {"family": "beacon", "size": 7}, "agents": {"count": 2},
            "memory": {"enabled": memory}, "run": {"executor": "direct"}})
        wins = [run_episode(scenario, seed=s, out_dir=None).goal_reached for s in args.seeds]
        rates[memory] = sum(wins) / len(wins)
        print(f"memory {'on ' if memory else 'off'}: success {rates[memory]:.2f} over "
              f"{len(wins)} seeds")
    return rates


if __name__ == "__main__":
    main()
