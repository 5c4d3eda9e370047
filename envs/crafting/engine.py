"""The Multi-Agent Crafter engine: world state and one simultaneous step for N agents.

Everything game-specific comes from `Rules` (the rules file). The engine is plain Python
over small numpy grids, tuned for speed: one step of six agents with symbolic
observations costs a few hundred microseconds.

Coordinates are `(x, y)` with x to the right and y down. Grids are indexed `[y, x]` and
padded by `pad` cells of "outside" (material id 0) so local views never go out of bounds.

Simultaneous actions: each step the live agents act one after another in an order drawn
from the seeded rng, so conflicts (two agents stepping into one cell, two collecting one
tree) resolve deterministically and favour no agent id over many steps.

`CraftingWorld` is split by responsibility: this module holds the state, its editing, the
step and its rewards, deaths and respawns; `actions.py` what an agent's action does and
its vitals (`AgentActions`); `creatures.py` the creatures and their spawning
(`CreatureRules`); `bodies.py` the agent and creature dataclasses.
"""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np

from memsim.envs.crafting.actions import AgentActions
from memsim.envs.crafting.bodies import (
    DIRECTIONS,
    FACING_INDEX,
    FACING_NAMES,
    ActionError,
    Agent,
    CraftingStepResult,
    Creature,
)
from memsim.envs.crafting.config import CraftingConfig
from memsim.envs.crafting.creatures import CreatureRules
from memsim.envs.crafting.rules import Rules
from memsim.envs.crafting.worldgen import generate_world

__all__ = [  # the bodies are defined in bodies.py; importable from here as before
    "DIRECTIONS",
    "FACING_INDEX",
    "FACING_NAMES",
    "ActionError",
    "Agent",
    "CraftingStepResult",
    "CraftingWorld",
    "Creature",
]


class CraftingWorld(AgentActions, CreatureRules):
    """World state plus the rules that move it. Environments wrap this class."""

    # Per agent index, the operations its role cannot do; None when no agent has a role
    # (then no action checks roles). A class default, so older snapshots restore.
    _cannot: tuple[frozenset[str], ...] | None = None
    _role_names: tuple[str | None, ...] = ()
    _daylight: tuple[int, float] = (-1, 0.0)  # (step, daylight) of the last daylight()

    def __init__(self, config: CraftingConfig, rules: Rules | None = None) -> None:
        self.config = config
        self.rules = rules or config.rules
        r = self.rules
        self._assign_roles(r.team_roles if config.roles is None else tuple(config.roles))
        self.width, self.height = config.width, config.height
        self.pad = max(config.view_width, config.view_height) // 2 + 1
        self.item_index = {name: i for i, name in enumerate(r.items)}
        self._held_index = [self.item_index[n] for n in r.item_names]
        self._vital_index = [self.item_index[n] for n in r.vitals]
        self._max = [r.items[n]["max"] for n in r.items]
        self._initial = [r.items[n]["initial"] for n in r.items]
        self.action_names = r.all_actions
        self._handlers = [self._compile_action(name) for name in self.action_names]
        mid = r.material_ids
        self._walk_ids = frozenset(mid[m] for m in r.walkable)
        self._agent_walk_ids = self._walk_ids | {mid[m] for m in r.deadly}
        self._deadly_ids = frozenset(mid[m] for m in r.deadly)
        self._arrow_ids = frozenset(mid[m] for m in r.creatures["arrow"]["flies_over"])
        self._arrow_breaks = frozenset(mid[m] for m in r.creatures["arrow"]["breaks"])
        self._collect = {mid[m]: rule for m, rule in r.collect.items()}
        self._kind_id = r.object_ids
        self._kinds_on = {
            "cow": config.cows,
            "zombie": config.zombies,
            "skeleton": config.skeletons,
        }
        self.agents: list[Agent] = []
        self.creatures: dict[int, Creature] = {}
        # Achievements reached during the current step, committed in _finish_step.
        self._pending_unlocks: dict[int, list[str]] = {}
        self.step_count = 0
        self.seed: int | None = None

    # ---- set-up -------------------------------------------------------------------

    def reset(self, seed: int) -> None:
        """Generate a new world from `seed` and place the agents."""
        self.seed = seed
        sequence = np.random.SeedSequence(seed)
        world_seed, step_seed = sequence.spawn(2)
        generated = generate_world(
            self.rules, self.width, self.height, self.config.n_agents, world_seed
        )
        self.rng = random.Random(int(step_seed.generate_state(1)[0]))
        p = self.pad
        shape = (self.height + 2 * p, self.width + 2 * p)
        self.mat = np.zeros(shape, dtype=np.uint8)
        self.mat[p:-p, p:-p] = generated.materials
        self._chunk_space = None
        self._wake = None  # creature reach bookkeeping (creatures.py) starts over
        self.kind = np.zeros(shape, dtype=np.uint8)  # object kind id per cell
        self.who = np.zeros(shape, dtype=np.uint8)  # agent index + 1 per cell
        self.tunnels = generated.tunnels
        self.spawn_points = generated.spawn_points
        self.occupant: dict[tuple[int, int], Agent | Creature] = {}
        self.creatures = {}
        self._next_uid = 1
        self.step_count = 0
        self.team_achievements: dict[str, tuple[int, str]] = {}
        self.agents = []
        for index, (x, y) in enumerate(generated.spawn_points):
            agent = Agent(
                index=index, name=f"agent_{index}", x=x, y=y, inventory=list(self._initial)
            )
            agent.last_health = agent.reward_health = self._health(agent)
            self.agents.append(agent)
            self._occupy(agent, x, y)
        for kind, x, y in generated.creatures:
            if self._kinds_on.get(kind, True):
                self._spawn(kind, x, y)

    def _assign_roles(self, team: tuple[str, ...]) -> None:
        """Agent i gets team[i % len(team)] (no roles for an empty team)."""
        n = self.config.n_agents
        names = tuple(team[i % len(team)] for i in range(n)) if team else (None,) * n
        for role in names:
            if role is not None and role not in self.rules.roles:
                raise ValueError(f"roles: {role!r} is not a role of {self.rules.source}; "
                                 f"allowed: {list(self.rules.roles)}")
        self._role_names = names
        self._cannot = tuple(self.rules.cannot(role) for role in names) if team else None

    @property
    def roles(self) -> dict[str, str | None]:
        """Each agent's role (agent id -> role name, or None without roles)."""
        names = self._role_names or (None,) * self.config.n_agents
        return {f"agent_{i}": role for i, role in enumerate(names)}

    @property
    def materials(self) -> np.ndarray:
        """The unpadded material grid, indexed [y, x] (a view, not a copy)."""
        p = self.pad
        return self.mat[p:-p, p:-p]

    def _compile_action(self, name: str) -> tuple[str, Any]:
        verb, _, noun = name.partition("_")
        if name in ("noop", "do", "sleep"):
            return (name, None)
        if verb == "move":
            return ("move", DIRECTIONS[noun])
        if verb == "place":
            return ("place", self.rules.place[noun])
        if verb == "make":
            return ("make", self.rules.make[noun])
        if verb == "give":
            return ("give", self.item_index[noun])
        raise ActionError(f"rules: action {name!r} has no handler")

    # ---- grid helpers ---------------------------------------------------------------

    def material_at(self, x: int, y: int) -> int:
        return int(self.mat[y + self.pad, x + self.pad])

    def _set_material(self, x: int, y: int, name: str) -> None:
        new = self.rules.material_ids[name]
        old = int(self.mat[y + self.pad, x + self.pad])
        self.mat[y + self.pad, x + self.pad] = new
        self._recount_cell(x, y, old, new)

    # ---- editing (scenario set-up and tests) ----------------------------------------

    def _check_cell(self, x: int, y: int) -> None:
        if not (0 <= x < self.width and 0 <= y < self.height):
            raise ValueError(
                f"cell ({x}, {y}) is outside the world; x in 0..{self.width - 1}, "
                f"y in 0..{self.height - 1}"
            )

    def set_material(self, x: int, y: int, name: str) -> None:
        """Set the material of one cell (for hand-built situations)."""
        self._check_cell(x, y)
        if name not in self.rules.material_ids:
            raise ValueError(f"material {name!r} is unknown; allowed: {list(self.rules.materials)}")
        self._set_material(x, y, name)

    def fill(self, x0: int, y0: int, x1: int, y1: int, name: str) -> None:
        """Set every cell with x0 <= x <= x1 and y0 <= y <= y1 to one material."""
        self._check_cell(x0, y0)
        self._check_cell(x1, y1)
        self.set_material(x0, y0, name)  # validates the name
        p = self.pad
        self.mat[y0 + p:y1 + p + 1, x0 + p:x1 + p + 1] = self.rules.material_ids[name]
        self._chunk_space = None  # recounted at the next balance

    def line_up(self, x: int, y: int, spacing: int = 2,
                facing: tuple[int, int] | None = None) -> None:
        """Place the agents in a row from (x, y), `spacing` cells apart (hand-built set-ups)."""
        cells = [(x + spacing * i, y) for i in range(len(self.agents))]
        for cell in cells:  # check everything before moving anyone
            self._check_cell(*cell)
            body = self.occupant.get(cell)
            if body is not None and not isinstance(body, Agent):
                raise ValueError(f"cell {cell} is occupied by {self._describe_body(body)}")
        for agent in self.agents:
            self._vacate(agent)
        for agent, cell in zip(self.agents, cells, strict=True):
            self._occupy(agent, *cell)
            if facing is not None:
                agent.facing = facing

    def teleport(self, index: int, x: int, y: int, facing: tuple[int, int] | None = None) -> None:
        """Move agent `index` to a free cell (for hand-built situations)."""
        self._check_cell(x, y)
        agent = self.agents[index]
        body = self.occupant.get((x, y))
        if body is not None and body is not agent:
            raise ValueError(f"cell ({x}, {y}) is occupied by {self._describe_body(body)}")
        self._move_body(agent, x, y)
        if facing is not None:
            agent.facing = facing

    def give_items(self, index: int, **counts: int) -> None:
        """Set held item counts of agent `index` (for hand-built situations)."""
        for item, count in counts.items():
            if item not in self.item_index:
                raise ValueError(f"item {item!r} is unknown; allowed: {list(self.rules.items)}")
            self.agents[index].inventory[self.item_index[item]] = count

    def _occupy(self, body: Agent | Creature, x: int, y: int) -> None:
        body.x, body.y = x, y
        self.occupant[(x, y)] = body
        p = self.pad
        if isinstance(body, Agent):
            self.kind[y + p, x + p] = self._kind_id["agent"]
            self.who[y + p, x + p] = body.index + 1
        else:
            self.kind[y + p, x + p] = self._kind_id[body.kind]

    def _vacate(self, body: Agent | Creature) -> None:
        del self.occupant[(body.x, body.y)]
        if self._wake and isinstance(body, Creature):
            # A creature that leaves its cell (moved, or removed) is measured again.
            self._wake.pop(body.uid, None)
        p = self.pad
        self.kind[body.y + p, body.x + p] = 0
        self.who[body.y + p, body.x + p] = 0

    def _move_body(self, body: Agent | Creature, x: int, y: int) -> None:
        self._vacate(body)
        self._occupy(body, x, y)

    def _free(self, x: int, y: int, walk_ids: frozenset[int]) -> bool:
        return (x, y) not in self.occupant and self.mat[y + self.pad, x + self.pad] in walk_ids

    def _spawn(self, kind: str, x: int, y: int) -> Creature:
        spec = self.rules.creatures[kind]
        creature = Creature(
            uid=self._next_uid,
            kind=kind,
            x=x,
            y=y,
            health=spec.get("health", 1),
            planted_step=self.step_count,
        )
        self._next_uid += 1
        self.creatures[creature.uid] = creature
        self._occupy(creature, x, y)
        return creature

    def _remove(self, creature: Creature) -> None:
        if self.creatures.pop(creature.uid, None) is not None:
            self._vacate(creature)

    def _health(self, agent: Agent) -> int:
        return agent.inventory[self.item_index["health"]]

    def daylight(self) -> float:
        # Crafter's curve: starts in the morning (phase 0.3), dark for part of each day.
        # Read once per agent observation, so kept for the step it was computed for.
        cached = self._daylight
        if cached[0] == self.step_count:
            return cached[1]
        day = self.rules.survival["day_length"]
        progress = (self.step_count / day) % 1 + 0.3
        light = 1.0 - abs(math.cos(math.pi * progress)) ** 3
        self._daylight = (self.step_count, light)
        return light

    def nearby_materials(self, x: int, y: int, distance: int) -> np.ndarray:
        p = self.pad
        return self.mat[
            y + p - distance : y + p + distance + 1, x + p - distance : x + p + distance + 1
        ]

    # ---- one step -------------------------------------------------------------------

    def step(self, actions: list[int | None]) -> CraftingStepResult:
        """Advance the world one step. `actions[i]` is agent i's action id (None: noop)."""
        n_actions = len(self.action_names)
        for agent, action in zip(self.agents, actions, strict=True):
            if action is None:
                continue
            if not agent.alive:
                raise ActionError(f"actions[{agent.name}]: agent is dead and cannot act")
            if not 0 <= action < n_actions:
                raise ActionError(
                    f"actions[{agent.name}]={action} is out of range; allowed 0..{n_actions - 1}"
                )
        self.step_count += 1
        order = [a for a in self.agents if a.alive]
        self.rng.shuffle(order)
        for agent in self.agents:
            if agent.events:
                agent.events = []
        for agent in order:
            action = actions[agent.index]
            self._agent_update(agent, 0 if action is None else action)
        self._update_creatures()
        every = self.rules.balance["every"]
        if self.step_count % every == 0:
            self._balance()
        return self._finish_step()

    def _finish_step(self) -> CraftingStepResult:
        rewards, unlocked, died = [], [], []
        step = self.step_count
        health_i = self.item_index["health"]
        goal = self.config.team_goal
        goal_reached = False
        team_new: list[str] = []
        for agent in self.agents:
            new: list[str] = []
            for name in self._pending_unlocks.pop(agent.index, ()):
                if name not in agent.achievements:
                    agent.achievements[name] = step
                    new.append(name)
                    if name not in self.team_achievements:
                        self.team_achievements[name] = (step, agent.name)
                        team_new.append(name)
                if name == goal:
                    goal_reached = True
            health = agent.inventory[health_i]
            reward = (health - agent.reward_health) / 10.0
            agent.reward_health = health
            reward += float(len(new))
            dead_now = agent.alive and health <= 0
            if dead_now:
                self._kill(agent)
            rewards.append(reward)
            unlocked.append(new)
            died.append(dead_now)
        if self.config.reward == "team":
            shared = float(len(team_new))
            rewards = [r - len(u) + shared for r, u in zip(rewards, unlocked, strict=True)]
        return CraftingStepResult(rewards, unlocked, died, goal_reached)

    def _unlock(self, agent: Agent, name: str) -> None:
        self._pending_unlocks.setdefault(agent.index, []).append(name)

    def _kill(self, agent: Agent) -> None:
        agent.deaths += 1
        agent.events.append("died")
        self._vacate(agent)
        if not self.config.respawn:
            agent.alive = False
            return
        agent.inventory = list(self._initial)
        agent.sleeping = False
        agent.hunger = agent.thirst = agent.fatigue = agent.recover = 0.0
        agent.last_health = agent.reward_health = self._health(agent)
        x, y = self._respawn_cell()
        self._occupy(agent, x, y)
        agent.events.append("respawned")

    def _respawn_cell(self) -> tuple[int, int]:
        points = list(self.spawn_points)
        self.rng.shuffle(points)
        for x, y in points:
            if self._free(x, y, self._walk_ids):
                return x, y
        # Spiral outwards from the first spawn point to the nearest free walkable cell.
        cx, cy = self.spawn_points[0]
        for radius in range(1, max(self.width, self.height)):
            for dy in range(-radius, radius + 1):
                for dx in range(-radius, radius + 1):
                    x, y = cx + dx, cy + dy
                    inside = 0 <= x < self.width and 0 <= y < self.height
                    if inside and self._free(x, y, self._walk_ids):
                        return x, y
        raise RuntimeError("no free walkable cell to respawn in")
