"""The Multi-Agent Crafter engine: world state and one simultaneous step for N agents.

Everything game-specific comes from `Rules` (the rules file). The engine is plain Python
over small numpy grids, tuned for speed: one step of six agents with symbolic
observations costs a few hundred microseconds.

Coordinates are `(x, y)` with x to the right and y down. Grids are indexed `[y, x]` and
padded by `pad` cells of "outside" (material id 0) so local views never go out of bounds.

Simultaneous actions: each step the live agents act one after another in an order drawn
from the seeded rng, so conflicts (two agents stepping into one cell, two collecting one
tree) resolve deterministically and favour no agent id over many steps.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

import numpy as np

from memsim.envs.crafting.config import CraftingConfig
from memsim.envs.crafting.rules import MakeRule, PlaceRule, Rules, load_rules
from memsim.envs.crafting.worldgen import generate_world
from memsim.envs.world import BodyRecord, StepResult

DIRECTIONS: dict[str, tuple[int, int]] = {
    "left": (-1, 0),
    "right": (1, 0),
    "up": (0, -1),
    "down": (0, 1),
}
FACING_NAMES: tuple[str, ...] = tuple(DIRECTIONS)  # facing index -> name
FACING_INDEX: dict[tuple[int, int], int] = {d: i for i, d in enumerate(DIRECTIONS.values())}
_FOUR = tuple(DIRECTIONS.values())


class ActionError(ValueError):
    """An action that cannot be taken at all (unknown, out of range, dead agent)."""


@dataclass(slots=True)
class Creature:
    """A non-agent object on the map: cow, zombie, skeleton, arrow or plant."""

    uid: int
    kind: str
    x: int
    y: int
    health: int
    cooldown: int = 0
    facing: tuple[int, int] = (0, 1)
    planted_step: int = 0


@dataclass(slots=True)
class Agent(BodyRecord):
    """One agent's body, inventory and bookkeeping (last action, events, achievements and
    `alive` come from `BodyRecord`)."""

    index: int
    name: str
    x: int
    y: int
    inventory: list[int]  # indexed like `rules.items` (vitals included)
    facing: tuple[int, int] = (0, 1)
    sleeping: bool = False
    hunger: float = 0.0
    thirst: float = 0.0
    fatigue: float = 0.0
    recover: float = 0.0
    last_health: int = 9
    reward_health: int = 9  # health at the last reward computation
    deaths: int = 0


@dataclass(frozen=True, slots=True)
class CraftingStepResult(StepResult):
    died: list[bool]  # per agent: its health reached 0 this step
    goal_reached: bool  # someone reached `config.team_goal` this step


class CraftingWorld:
    """World state plus the rules that move it. Environments wrap this class."""

    def __init__(self, config: CraftingConfig, rules: Rules | None = None) -> None:
        self.config = config
        self.rules = rules or (load_rules(config.rules_path) if config.rules_path else load_rules())
        r = self.rules
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
        self.mat[y + self.pad, x + self.pad] = self.rules.material_ids[name]

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
        day = self.rules.survival["day_length"]
        progress = (self.step_count / day) % 1 + 0.3
        return 1.0 - abs(math.cos(math.pi * progress)) ** 3

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

    # ---- agents ---------------------------------------------------------------------

    def _agent_update(self, agent: Agent, action: int) -> None:
        name = self.action_names[action]
        verb, arg = self._handlers[action]
        inv = agent.inventory
        energy_i = self.item_index["energy"]
        if agent.sleeping:
            if inv[energy_i] < self._max[energy_i]:
                name, verb, arg = "sleep", "sleep", None
            else:
                agent.sleeping = False
                self._unlock(agent, "wake_up")
        ok, reason = True, ""
        if verb == "noop":
            pass
        elif verb == "move":
            ok, reason = self._move_agent(agent, arg)
        elif verb == "do":
            ok, reason = self._do(agent)
        elif verb == "sleep":
            if inv[energy_i] < self._max[energy_i]:
                agent.sleeping = True
            else:
                ok, reason = False, "energy is full"
        elif verb == "place":
            ok, reason = self._place(agent, arg)
        elif verb == "make":
            ok, reason = self._make(agent, arg)
        elif verb == "give":
            ok, reason = self._give(agent, arg)
        agent.last_action, agent.last_ok, agent.last_reason = name, ok, reason
        self._life_stats(agent)
        for i, top in enumerate(self._max):
            value = inv[i]
            if value > top:
                inv[i] = top
            elif value < 0:
                inv[i] = 0
        health = inv[self.item_index["health"]]
        if health < agent.last_health:
            agent.sleeping = False
        agent.last_health = health

    def _facing_cell(self, agent: Agent) -> tuple[int, int]:
        return agent.x + agent.facing[0], agent.y + agent.facing[1]

    def _move_agent(self, agent: Agent, direction: tuple[int, int]) -> tuple[bool, str]:
        agent.facing = direction
        x, y = agent.x + direction[0], agent.y + direction[1]
        if (x, y) in self.occupant:
            return False, "blocked by " + self._describe_body(self.occupant[(x, y)])
        material = self.mat[y + self.pad, x + self.pad]
        if material not in self._agent_walk_ids:
            return False, "blocked by " + self._material_name(material)
        self._move_body(agent, x, y)
        if material in self._deadly_ids:
            agent.inventory[self.item_index["health"]] = 0
            agent.events.append(f"walked into {self._material_name(material)}")
        return True, ""

    def _material_name(self, material_id: int) -> str:
        return self.rules.materials[material_id - 1] if material_id else "the edge of the world"

    def _describe_body(self, body: Agent | Creature) -> str:
        return body.name if isinstance(body, Agent) else body.kind

    def _do(self, agent: Agent) -> tuple[bool, str]:
        x, y = self._facing_cell(agent)
        body = self.occupant.get((x, y))
        if body is not None:
            if isinstance(body, Agent):
                return False, f"facing {body.name}; use give_<item> to hand items over"
            return self._do_creature(agent, body)
        material = self.mat[y + self.pad, x + self.pad]
        rule = self._collect.get(material)
        if rule is None:
            return False, f"nothing to collect from {self._material_name(material)}"
        inv = agent.inventory
        for item, amount in rule.require.items():
            if inv[self.item_index[item]] < amount:
                return False, f"collecting {rule.material} needs {item}"
        if rule.material == "water":
            agent.thirst = 0.0
        self._set_material(x, y, rule.leaves)
        if rule.probability >= 1.0 or self.rng.random() <= rule.probability:
            for item, amount in rule.receive.items():
                inv[self.item_index[item]] += amount
                self._unlock(agent, f"collect_{item}")
            return True, ""
        return False, f"no {'/'.join(rule.receive)} this time (chance {rule.probability})"

    def _do_creature(self, agent: Agent, creature: Creature) -> tuple[bool, str]:
        inv = agent.inventory
        combat = self.rules.combat
        damage = combat["base_damage"]
        for sword, value in combat["sword_damage"].items():
            if inv[self.item_index[sword]] > 0 and value > damage:
                damage = value
        if creature.kind == "plant":
            ripe_after = self.rules.creatures["plant"]["ripe_after"]
            if self.step_count - creature.planted_step > ripe_after:
                inv[self.item_index["food"]] += self.rules.food["eat_plant"]
                creature.planted_step = self.step_count
                self._unlock(agent, "eat_plant")
                return True, ""
            self._remove(creature)  # Crafter: hitting an unripe plant destroys it
            return False, "the plant was not ripe and is destroyed"
        if creature.kind == "arrow":
            return False, "nothing to do with an arrow"
        creature.health -= damage
        if creature.health > 0:
            return True, ""
        self._remove(creature)
        if creature.kind == "cow":
            inv[self.item_index["food"]] += self.rules.food["eat_cow"]
            agent.hunger = 0.0
            self._unlock(agent, "eat_cow")
        else:
            self._unlock(agent, f"defeat_{creature.kind}")
        return True, ""

    def _place(self, agent: Agent, rule: PlaceRule) -> tuple[bool, str]:
        x, y = self._facing_cell(agent)
        if (x, y) in self.occupant:
            return False, "the facing cell is occupied"
        material = self._material_name(self.mat[y + self.pad, x + self.pad])
        if material not in rule.where:
            return False, f"cannot place {rule.name} on {material}"
        inv = agent.inventory
        for item, amount in rule.uses.items():
            if inv[self.item_index[item]] < amount:
                return False, f"placing {rule.name} needs {amount} {item}"
        missing = self._missing_stations(agent, rule.nearby)
        if missing:
            return False, f"placing {rule.name} needs a {missing} nearby"
        for item, amount in rule.uses.items():
            inv[self.item_index[item]] -= amount
        if rule.type == "material":
            self._set_material(x, y, rule.name)
        else:
            self._spawn(rule.name, x, y)
        self._unlock(agent, f"place_{rule.name}")
        return True, ""

    def _missing_stations(self, agent: Agent, stations: tuple[str, ...]) -> str:
        if not stations:
            return ""
        around = self.nearby_materials(agent.x, agent.y, self.rules.station_distance)
        for station in stations:
            if not (around == self.rules.material_ids[station]).any():
                return station
        return ""

    def _make(self, agent: Agent, rule: MakeRule) -> tuple[bool, str]:
        missing = self._missing_stations(agent, rule.nearby)
        if missing:
            return False, f"making {rule.name} needs a {missing} nearby"
        inv = agent.inventory
        for item, amount in rule.uses.items():
            if inv[self.item_index[item]] < amount:
                return False, f"making {rule.name} needs {amount} {item}"
        for item, amount in rule.uses.items():
            inv[self.item_index[item]] -= amount
        inv[self.item_index[rule.name]] += rule.gives
        self._unlock(agent, f"make_{rule.name}")
        return True, ""

    def _give(self, agent: Agent, item: int) -> tuple[bool, str]:
        item_name = self.rules.item_names[self._held_index.index(item)]
        x, y = self._facing_cell(agent)
        other = self.occupant.get((x, y))
        if not isinstance(other, Agent):
            return False, f"no agent in the facing cell to give {item_name} to"
        if agent.inventory[item] < 1:
            return False, f"not holding any {item_name}"
        if other.inventory[item] >= self._max[item]:
            return False, f"{other.name} cannot carry more {item_name}"
        agent.inventory[item] -= 1
        other.inventory[item] += 1
        agent.events.append(f"gave 1 {item_name} to {other.name}")
        other.events.append(f"received 1 {item_name} from {agent.name}")
        self._unlock(agent, "give_item")
        return True, ""

    def _life_stats(self, agent: Agent) -> None:
        s = self.rules.survival
        inv = agent.inventory
        idx = self.item_index
        sleeping = agent.sleeping
        agent.hunger += 0.5 if sleeping else 1.0
        if agent.hunger > s["hunger_period"]:
            agent.hunger = 0.0
            inv[idx["food"]] -= 1
        agent.thirst += 0.5 if sleeping else 1.0
        if agent.thirst > s["thirst_period"]:
            agent.thirst = 0.0
            inv[idx["drink"]] -= 1
        if sleeping:
            agent.fatigue = min(agent.fatigue - 1.0, 0.0)
        else:
            agent.fatigue += 1.0
        if agent.fatigue < -s["rest_period"]:
            agent.fatigue = 0.0
            inv[idx["energy"]] += 1
        if agent.fatigue > s["fatigue_period"]:
            agent.fatigue = 0.0
            inv[idx["energy"]] -= 1
        fed = inv[idx["food"]] > 0 and inv[idx["drink"]] > 0
        if fed and (inv[idx["energy"]] > 0 or sleeping):
            agent.recover += 2.0 if sleeping else 1.0
        else:
            agent.recover -= 0.5 if sleeping else 1.0
        if agent.recover > s["recover_period"]:
            agent.recover = 0.0
            inv[idx["health"]] += 1
        if agent.recover < -s["degen_period"]:
            agent.recover = 0.0
            inv[idx["health"]] -= 1

    # ---- creatures ------------------------------------------------------------------

    def _update_creatures(self) -> None:
        live = [a for a in self.agents if a.alive]
        if not self.creatures or not live:
            return
        # As in Crafter, only creatures near an agent act (L1 distance < radius).
        radius = self.config.creature_radius
        spots = [(a.x, a.y) for a in live]
        cow_move = self.rules.creatures["cow"]["move_prob"]
        rng = self.rng
        for uid in sorted(self.creatures):
            creature = self.creatures.get(uid)
            if creature is None:
                continue  # removed earlier in this loop
            kind = creature.kind
            if kind == "plant":
                self._update_plant(creature)
                continue
            cx, cy = creature.x, creature.y
            for ax, ay in spots:
                if abs(ax - cx) + abs(ay - cy) < radius:
                    break
            else:
                continue
            if kind == "cow":
                if rng.random() < cow_move:
                    self._creature_move(creature, _FOUR[rng.randrange(4)])
            elif kind == "zombie":
                self._update_zombie(creature, live)
            elif kind == "skeleton":
                self._update_skeleton(creature, live)
            elif kind == "arrow":
                self._update_arrow(creature)

    def _creature_move(self, creature: Creature, direction: tuple[int, int]) -> bool:
        x, y = creature.x + direction[0], creature.y + direction[1]
        walk = self._arrow_ids if creature.kind == "arrow" else self._walk_ids
        if self._free(x, y, walk):
            self._move_body(creature, x, y)
            return True
        return False

    def _nearest_agent(self, creature: Creature, live: list[Agent]) -> tuple[Agent, int]:
        best, best_dist = live[0], 1 << 30
        for agent in live:
            dist = abs(agent.x - creature.x) + abs(agent.y - creature.y)
            if dist < best_dist:
                best, best_dist = agent, dist
        return best, best_dist

    @staticmethod
    def _toward(creature: Creature, agent: Agent, long_axis: bool) -> tuple[int, int]:
        dx, dy = agent.x - creature.x, agent.y - creature.y
        sx = (dx > 0) - (dx < 0)
        sy = (dy > 0) - (dy < 0)
        if (abs(dx) > abs(dy)) if long_axis else (abs(dx) <= abs(dy)):
            return (sx, 0)
        return (0, sy)

    def _update_zombie(self, zombie: Creature, live: list[Agent]) -> None:
        spec = self.rules.creatures["zombie"]
        rng = self.rng
        target, dist = self._nearest_agent(zombie, live)
        if dist <= spec["chase_distance"] and rng.random() < spec["chase_prob"]:
            self._creature_move(zombie, self._toward(zombie, target, rng.random() < 0.8))
        else:
            self._creature_move(zombie, _FOUR[rng.randrange(4)])
        dist = abs(target.x - zombie.x) + abs(target.y - zombie.y)
        if dist <= 1:
            if zombie.cooldown:
                zombie.cooldown -= 1
            else:
                damage = spec["damage_sleeping"] if target.sleeping else spec["damage"]
                self._hurt(target, damage, "zombie")
                zombie.cooldown = spec["attack_cooldown"]

    def _update_skeleton(self, skeleton: Creature, live: list[Agent]) -> None:
        spec = self.rules.creatures["skeleton"]
        rng = self.rng
        skeleton.cooldown = max(0, skeleton.cooldown - 1)
        target, dist = self._nearest_agent(skeleton, live)
        if dist <= spec["retreat_distance"]:
            dx, dy = self._toward(skeleton, target, rng.random() < 0.6)
            if self._creature_move(skeleton, (-dx, -dy)):
                return
        if dist <= spec["shoot_distance"] and rng.random() < spec["shoot_prob"]:
            direction = self._toward(skeleton, target, True)
            x, y = skeleton.x + direction[0], skeleton.y + direction[1]
            if skeleton.cooldown == 0 and direction != (0, 0) and self._free(x, y, self._arrow_ids):
                arrow = self._spawn("arrow", x, y)
                arrow.facing = direction
                skeleton.cooldown = spec["reload"]
        elif dist <= spec["approach_distance"] and rng.random() < spec["approach_prob"]:
            self._creature_move(skeleton, self._toward(skeleton, target, rng.random() < 0.6))
        elif rng.random() < spec["wander_prob"]:
            self._creature_move(skeleton, _FOUR[rng.randrange(4)])

    def _update_arrow(self, arrow: Creature) -> None:
        x, y = arrow.x + arrow.facing[0], arrow.y + arrow.facing[1]
        body = self.occupant.get((x, y))
        damage = self.rules.creatures["arrow"]["damage"]
        if body is not None:
            if isinstance(body, Agent):
                self._hurt(body, damage, "arrow")
            else:
                body.health -= damage
                if body.health <= 0:
                    self._remove(body)
            self._remove(arrow)
            return
        material = self.mat[y + self.pad, x + self.pad]
        if material not in self._arrow_ids:
            self._remove(arrow)
            if material in self._arrow_breaks:
                self._set_material(x, y, "path")
            return
        self._move_body(arrow, x, y)

    def _update_plant(self, plant: Creature) -> None:
        # Growth is implicit (step - planted_step); zombies and skeletons next to a plant
        # eat it, as in Crafter.
        for dx, dy in _FOUR:
            body = self.occupant.get((plant.x + dx, plant.y + dy))
            if isinstance(body, Creature) and body.kind in ("zombie", "skeleton"):
                self._remove(plant)
                return

    def _hurt(self, agent: Agent, damage: int, source: str) -> None:
        health = self.item_index["health"]
        agent.inventory[health] = max(0, agent.inventory[health] - damage)
        agent.events.append(f"hurt by {source} (-{damage} health)")

    # ---- spawning balance -------------------------------------------------------------

    def _balance(self) -> None:
        """Spawn and despawn creatures per chunk, as Crafter's _balance_chunk does."""
        live = [a for a in self.agents if a.alive]
        if not live:
            return
        size = self.rules.balance["chunk_size"]
        light = self.daylight()
        rows, cols = -(-self.height // size), -(-self.width // size)
        grid = np.zeros((rows * size, cols * size), dtype=np.uint8)
        grid[: self.height, : self.width] = self.materials
        blocks = grid.reshape(rows, size, cols, size)
        by_chunk: dict[tuple[int, int], list[Creature]] = {}
        for creature in self.creatures.values():
            by_chunk.setdefault((creature.x // size, creature.y // size), []).append(creature)
        for kind in ("zombie", "skeleton", "cow"):
            if not self._kinds_on[kind]:
                continue
            spec = self.rules.balance[kind]
            material_id = self.rules.material_ids[spec["material"]]
            space = (blocks == material_id).sum(axis=(1, 3))
            for cy in range(rows):
                for cx in range(cols):
                    residents = [c for c in by_chunk.get((cx, cy), ()) if c.kind == kind]
                    self._balance_kind(
                        cx, cy, size, kind, residents, int(space[cy, cx]), light, live
                    )

    def _balance_kind(
        self,
        cx: int,
        cy: int,
        size: int,
        kind: str,
        creatures: list[Creature],
        space: int,
        light: float,
        live: list[Agent],
    ) -> None:
        spec = self.rules.balance[kind]
        low = (
            0.0
            if space < spec["min_space"]
            else spec["target_min"][0] + spec["target_min"][1] * light
        )
        high = spec["target_max"][0] + spec["target_max"][1] * light
        rng = self.rng
        if len(creatures) < int(low) and rng.random() < spec["spawn_prob"]:
            x0, y0 = cx * size, cy * size
            p = self.pad
            area = self.mat[
                y0 + p : min(y0 + size, self.height) + p, x0 + p : min(x0 + size, self.width) + p
            ]
            ys, xs = np.nonzero(area == self.rules.material_ids[spec["material"]])
            i = rng.randrange(len(xs))
            x, y = x0 + int(xs[i]), y0 + int(ys[i])
            away = min(abs(a.x - x) + abs(a.y - y) for a in live) >= spec["spawn_dist"]
            if away and (x, y) not in self.occupant:
                self._spawn(kind, x, y)
        elif len(creatures) > int(high) and rng.random() < spec["despawn_prob"]:
            creature = creatures[rng.randrange(len(creatures))]
            away = min(abs(a.x - creature.x) + abs(a.y - creature.y) for a in live)
            if away >= spec["despawn_dist"]:
                self._remove(creature)
