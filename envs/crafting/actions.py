"""What a crafting agent's action does: move, do (collect, hit, eat), sleep, place, make,
give; and the vitals (food, drink, energy, health) that change every step it lives.

`AgentActions` is a part of `CraftingWorld` (engine.py), split off by responsibility: its
methods use the world's grids, occupancy, rules and rng, and `CraftingWorld.step` calls
`_agent_update` once per live agent in the step's shuffled order.
"""

from __future__ import annotations

from memsim.envs.crafting.bodies import Agent, Creature
from memsim.envs.crafting.rules import MakeRule, PlaceRule


class AgentActions:
    """The agents' side of `CraftingWorld`: one action and the vitals, per agent."""

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

    def _refusal(self, agent: Agent, operation: str) -> str:
        """Why `agent`'s role bars it from `operation` ("" when it does not); only called
        when roles are set (`_cannot` is not None)."""
        if operation not in self._cannot[agent.index]:
            return ""
        role = self._role_names[agent.index]
        article = "an" if role[0] in "aeiou" else "a"
        return f"{agent.name} is {article} {role} and cannot {operation}"

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
        if self._cannot is not None:
            refused = self._refusal(agent, "collect_" + rule.material)
            if refused:
                return False, refused
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
        if self._cannot is not None:
            refused = self._refusal(agent, "place_" + rule.name)
            if refused:
                return False, refused
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
        # One copy of the window as bytes, then a byte search per station (material ids
        # are uint8): cheaper than a numpy comparison per station.
        around = self.nearby_materials(agent.x, agent.y, self.rules.station_distance).tobytes()
        for station in stations:
            if bytes((self.rules.material_ids[station],)) not in around:
                return station
        return ""

    def _make(self, agent: Agent, rule: MakeRule) -> tuple[bool, str]:
        if self._cannot is not None:
            refused = self._refusal(agent, "make_" + rule.name)
            if refused:
                return False, refused
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
