"""What crafting creatures do each step (cows wander, zombies chase and hit, skeletons
shoot arrows, plants ripen and get eaten) and the per-chunk spawning balance, as in
Crafter.

`CreatureRules` is a part of `CraftingWorld` (engine.py), split off by responsibility:
its methods use the world's grids, occupancy, rules and rng, and `CraftingWorld.step`
calls `_update_creatures` after the agents acted and `_balance` every few steps.
"""

from __future__ import annotations

import numpy as np

from memsim.envs.crafting.bodies import FOUR, Agent, Creature

# The kinds the spawn balance keeps near their per-chunk targets, in the order it does.
_BALANCED = ("zombie", "skeleton", "cow")


class CreatureRules:
    """The creatures' side of `CraftingWorld`: their moves, attacks and spawning."""

    # Balance materials' cells per chunk (see _count_chunk_space); None: count again.
    # A class default, so snapshots taken before it existed restore.
    _chunk_space: dict[int, np.ndarray] | None = None
    # Out-of-reach creatures' wake-up travel, the agents' travel so far and where each
    # live agent stood at the last step (see _acting); None: start over. Class defaults,
    # as above.
    _wake: dict[int, int] | None = None
    _travel: int = 0
    _agent_spots: dict[int, tuple[int, int]] | None = None

    def _update_creatures(self) -> None:
        live = [a for a in self.agents if a.alive]
        if not self.creatures or not live:
            return
        cow_move = self.rules.creatures["cow"]["move_prob"]
        rng = self.rng
        for uid in self._acting(live):
            creature = self.creatures.get(uid)
            if creature is None:
                continue  # removed earlier in this loop
            kind = creature.kind
            if kind == "plant":
                self._update_plant(creature)
            elif kind == "cow":
                if rng.random() < cow_move:
                    self._creature_move(creature, FOUR[rng.randrange(4)])
            elif kind == "zombie":
                self._update_zombie(creature, live)
            elif kind == "skeleton":
                self._update_skeleton(creature, live)
            elif kind == "arrow":
                self._update_arrow(creature)

    def _acting(self, live: list[Agent]) -> list[int]:
        """The uids, in order, of the creatures that act this step: every plant, and as in
        Crafter any other creature within L1 distance < `creature_radius` of a live agent.
        Computed before any acts: a creature moves only on its own turn, so where it stood
        at the start is where it stands when its turn comes. `creatures` holds them in uid
        order (uids only grow, and a dict keeps insertion order), so no sort is needed.

        A creature found out of reach is not measured again until the agents could have
        closed the gap. It stands still while it does not act, so its distance to every
        agent shrinks by at most what the agents travel: `_travel` adds up, per step, the
        farthest any live agent got from where it stood at the previous step (a respawn
        or a teleport counts its whole jump). A creature found at distance d >= radius
        when the travel was T cannot reach the radius while the travel stays <= T + d -
        radius, and `_wake` keeps that bound per uid."""
        radius = self.config.creature_radius
        travel = self._add_travel(live)
        wake = self._wake
        acting = []
        spots = [(a.x, a.y) for a in live]
        for uid, c in self.creatures.items():
            if c.kind == "plant":
                acting.append(uid)
            elif wake.get(uid, -1) < travel:
                cx, cy = c.x, c.y
                nearest = 1 << 30  # lowered by every agent measured
                for ax, ay in spots:
                    distance = abs(ax - cx) + abs(ay - cy)
                    if distance < radius:  # acts: no bound to keep
                        acting.append(uid)
                        break
                    if distance < nearest:
                        nearest = distance
                else:
                    wake[uid] = travel + nearest - radius
        return acting

    def _add_travel(self, live: list[Agent]) -> int:
        """Add this step's largest move of a live agent to `_travel` and return the sum
        (see `_acting`). Starts the bookkeeping over after a new world or a restore."""
        if self._wake is None:
            self._wake, self._travel, self._agent_spots = {}, 0, {}
        spots = self._agent_spots
        farthest = 0
        for agent in live:
            last = spots.get(agent.index)
            if last is None:  # not seen since the bookkeeping began: nothing to bound
                self._wake.clear()
            else:
                farthest = max(farthest, abs(agent.x - last[0]) + abs(agent.y - last[1]))
            spots[agent.index] = (agent.x, agent.y)
        self._travel += farthest
        return self._travel

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
            self._creature_move(zombie, FOUR[rng.randrange(4)])
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
            self._creature_move(skeleton, FOUR[rng.randrange(4)])

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
        for dx, dy in FOUR:
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
        """Spawn and despawn creatures per chunk, as Crafter's _balance_chunk does: per
        kind, every chunk in row-major order whose residents are below its low target
        draws for a spawn, above its high target for a despawn (no other chunk draws)."""
        live = [a for a in self.agents if a.alive]
        if not live:
            return
        size = self.rules.balance["chunk_size"]
        light = self.daylight()
        space_of = (self._count_chunk_space() if self._chunk_space is None
                    else self._chunk_space)
        # Each kind's residents per chunk, as the creatures stood before this balance.
        by_chunk: dict[str, dict[tuple[int, int], list[Creature]]] = {}
        for creature in self.creatures.values():
            chunks = by_chunk.setdefault(creature.kind, {})
            chunks.setdefault((creature.x // size, creature.y // size), []).append(creature)
        rng = self.rng
        for kind in _BALANCED:
            if not self._kinds_on[kind]:
                continue
            spec = self.rules.balance[kind]
            residents = by_chunk.get(kind, {})
            # Plain Python over the few chunks: numpy's per-call cost was most of this.
            low_target = int(spec["target_min"][0] + spec["target_min"][1] * light)
            high = int(spec["target_max"][0] + spec["target_max"][1] * light)
            min_space, none = spec["min_space"], ()
            space_rows = space_of[self.rules.material_ids[spec["material"]]].tolist()
            for cy, space_row in enumerate(space_rows):
                for cx, space in enumerate(space_row):
                    group = residents.get((cx, cy), none)
                    low = 0 if space < min_space else low_target
                    if len(group) < low and rng.random() < spec["spawn_prob"]:
                        self._spawn_in_chunk(cx, cy, size, kind, live)
                    elif len(group) > high and rng.random() < spec["despawn_prob"]:
                        self._despawn_one(group, kind, live)

    def _count_chunk_space(self) -> dict[int, np.ndarray]:
        """Per material the balance spawns on, its cells per chunk (indexed [cy, cx]).
        Counted from the grid once; `_set_material` then keeps it current, and editing
        that bypasses it (`fill`, a new world) drops it for a recount."""
        size = self.rules.balance["chunk_size"]
        rows, cols = -(-self.height // size), -(-self.width // size)
        grid = np.zeros((rows * size, cols * size), dtype=np.uint8)
        grid[: self.height, : self.width] = self.materials
        blocks = grid.reshape(rows, size, cols, size)
        ids = {self.rules.material_ids[self.rules.balance[k]["material"]]
               for k in _BALANCED}
        self._chunk_space = {i: (blocks == i).sum(axis=(1, 3)) for i in sorted(ids)}
        return self._chunk_space

    def _recount_cell(self, x: int, y: int, old: int, new: int) -> None:
        """Keep the chunk space counts current when cell (x, y) turns from `old` to `new`."""
        space = self._chunk_space
        if space is None or old == new:
            return
        size = self.rules.balance["chunk_size"]
        if old in space:
            space[old][y // size, x // size] -= 1
        if new in space:
            space[new][y // size, x // size] += 1

    def _spawn_in_chunk(self, cx: int, cy: int, size: int, kind: str,
                        live: list[Agent]) -> None:
        """Spawn `kind` on a random cell of its material in chunk (cx, cy), unless the cell
        is occupied or within `spawn_dist` of a live agent (the draw is made either way)."""
        spec = self.rules.balance[kind]
        x0, y0 = cx * size, cy * size
        p = self.pad
        area = self.mat[
            y0 + p : min(y0 + size, self.height) + p, x0 + p : min(x0 + size, self.width) + p
        ]
        ys, xs = np.nonzero(area == self.rules.material_ids[spec["material"]])
        i = self.rng.randrange(len(xs))
        x, y = x0 + int(xs[i]), y0 + int(ys[i])
        away = min(abs(a.x - x) + abs(a.y - y) for a in live) >= spec["spawn_dist"]
        if away and (x, y) not in self.occupant:
            self._spawn(kind, x, y)

    def _despawn_one(self, group: list[Creature], kind: str, live: list[Agent]) -> None:
        """Remove a random one of `group` if it is at least `despawn_dist` from every live
        agent (the draw is made either way)."""
        creature = group[self.rng.randrange(len(group))]
        away = min(abs(a.x - creature.x) + abs(a.y - creature.y) for a in live)
        if away >= self.rules.balance[kind]["despawn_dist"]:
            self._remove(creature)
