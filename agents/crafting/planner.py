"""A scripted cooperative planner for the crafting world: the embedded default agent.

It plays without an oracle. What it knows of the world is its current view and, when its
memory is on, what its memory recalls (its own observations and what teammates told it).
Each step it:

1. resolves the recipe book (the rules file, the game manual) from the team goal down to
   the first thing it can do now: collect X, make X, place a station, or reach one;
2. looks for the nearest known source of what that task needs (view first, then recall),
   or explores along its own heading when nothing is known (teammates start on different
   headings so the team spreads out);
3. walks there by breadth-first search over the cells it can see, cutting through trees
   and (with a pickaxe) stone, never onto lava;
4. talks: broadcasts where it saw rare things (iron, diamond, coal, stations), claims the
   diamond it is going for so teammates pick another, asks for items it cannot find and
   offers and gives spare items to a teammate who asked.

Switches for ablations: `memory=off` is decided by the runner (no recall is given, so the
planner knows only its current view); `comm=off` is the channel's (nothing arrives).
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from memsim.agents.crafting.view import DIRECTIONS, CraftingView
from memsim.agents.policy import AgentContext, Decision
from memsim.envs.crafting.rules import Rules
from memsim.memory import Fact, RetrievalQuery

_DIRS = DIRECTIONS
_SHARE = ("diamond", "iron", "coal", "table", "furnace")  # worth a message when first seen
_SURVEY = ("tree", "stone", "coal", "iron", "diamond", "water", "table", "furnace")
STATION_REACH = 24  # walk to a known station within this many cells instead of building one


@dataclass(frozen=True, slots=True)
class Task:
    verb: str  # collect | make | place | station | explore | drink | eat | sleep
    what: str = ""


@dataclass
class _Offer:
    item: str
    to: str
    until: int


@dataclass
class PlannerState:
    """The planner's working state for one episode (short-term, not long-term memory)."""

    heading: float = 0.0
    explore_target: tuple[int, int] | None = None
    recent: deque = field(default_factory=lambda: deque(maxlen=24))
    shared: set = field(default_factory=set)
    claims: dict[str, str] = field(default_factory=dict)  # target -> agent
    my_claim: str | None = None
    blocked: dict[tuple[int, int], int] = field(default_factory=dict)  # cell -> until step
    progress: tuple[int, int] = (1 << 30, 0)  # (best distance to target, step it was reached)
    target: tuple[int, int] | None = None
    requested: dict[str, int] = field(default_factory=dict)  # item -> step asked
    searching: tuple[str, int] | None = None  # (material, since step) while none is known
    offer: _Offer | None = None  # an item this agent promised to give
    pickup: _Offer | None = None  # an item a teammate promised to this agent
    teammate_pos: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    # What this agent has told its memory about its goal stack (so notes are written on
    # change only); the goal stack itself lives in memory.
    goal_noted: bool = False
    subgoal_noted: str | None = None


class ScriptedPlanner:
    """Cooperative, memory-using, oracle-free planner for Multi-Agent Crafter."""

    name = "scripted"

    def __init__(self, rules: Rules, goal_item: str = "diamond") -> None:
        self.rules = rules
        self.goal_item = goal_item
        self._walkable = set(rules.walkable)
        self.agent_id = ""
        self.state = PlannerState()

    # ---- Policy protocol ------------------------------------------------------------

    def reset(self, agent_id: str, seed: int, action_names: tuple[str, ...]) -> None:
        self.agent_id = agent_id
        self.action_names = action_names
        self.action_index = {name: i for i, name in enumerate(action_names)}
        self.rng = random.Random(f"{seed}:{agent_id}")
        number = int(agent_id.rsplit("_", 1)[-1]) if agent_id[-1].isdigit() else 0
        self.state = PlannerState(heading=number * 2.39996 + self.rng.random())  # golden angle

    def recall_query(self, context: AgentContext) -> RetrievalQuery | None:
        x, y = context.view.position
        kinds = _SURVEY
        if context.view.vitals["food"] <= 7:
            kinds = (*_SURVEY, "cow")
        return RetrievalQuery(nearest=kinds, position=(x, y), per_kind=2)

    def decide(self, context: AgentContext) -> Decision:
        view = context.view
        st = self.state
        st.recent.append((view.x, view.y))
        known = self._known_places(view, context)
        messages: list[dict[str, Any]] = []
        self._read_inbox(context, view, messages)
        messages += self._share_sightings(view, context.step)
        if view.sleeping:
            return Decision(self._act("noop"), messages, reason="asleep")
        gift = self._give_if_possible(view, context.step)
        if gift is not None:
            return Decision(self._act(gift), messages, reason="giving an offered item")
        if st.offer is not None and any(t == st.offer.to for t in view.objects.values()):
            return Decision(self._act("noop"), messages,
                            reason=f"waiting for {st.offer.to} to collect {st.offer.item}")
        pickup = self._go_to_pickup(view, context.step)
        if pickup is not None:
            return Decision(self._act(pickup), messages, reason="walking to a teammate's gift")
        task = self._choose_task(view, known, context.step)
        notes = self._goal_notes(task, context.info.get("unlocked", ()))
        action, why = self._execute(task, view, known, context.step, messages)
        if task.verb == "collect" and task.what not in known:
            if st.searching is None or st.searching[0] != task.what:
                st.searching = (task.what, context.step)
            elif context.step - st.searching[1] >= 40:
                self._maybe_request(task.what, view, context.step, messages)
        else:
            st.searching = None
        return Decision(self._act(action), messages, notes,
                        reason=f"{task.verb} {task.what}: {why}")

    def _goal_notes(self, task: Task, unlocked: Any) -> list[Fact]:
        """Goal-stack facts for memory when they change: the team goal once, then a
        subgoal per tech-tree step (collect / make / place X), completed when the step's
        achievement unlocks, else replaced by the next one."""
        st, notes = self.state, []
        if not st.goal_noted:
            notes.append(Fact(kind="goal", subject=f"collect_{self.goal_item}", status="set",
                              provenance="inferred"))
            st.goal_noted = True
        if st.subgoal_noted is not None and st.subgoal_noted in unlocked:
            notes.append(Fact(kind="subgoal", subject=st.subgoal_noted, status="completed",
                              provenance="inferred"))
            st.subgoal_noted = None
        if task.verb in ("collect", "make", "place") and task.what:
            name = f"{task.verb}_{self._achievement_item(task)}"
            if name != st.subgoal_noted:
                notes.append(Fact(kind="subgoal", subject=name, status="set",
                                  provenance="inferred"))
                st.subgoal_noted = name
        return notes

    def _achievement_item(self, task: Task) -> str:
        """What a task yields, as achievements name it (collecting `tree` yields wood)."""
        if task.verb == "collect":
            rule = self.rules.collect.get(task.what)
            if rule is not None and rule.receive:
                return next(iter(rule.receive))
        return task.what

    # ---- perception helpers -----------------------------------------------------------

    def _known_places(self, view: CraftingView, context: AgentContext
                      ) -> dict[str, list[tuple[int, int]]]:
        """Kind -> known cells, nearest first: the view (truth) plus recalled places not
        contradicted by the view."""
        known: dict[str, list[tuple[int, int]]] = {}
        for cell, material in view.materials.items():
            known.setdefault(material, []).append(cell)
        for cell, thing in view.objects.items():
            known.setdefault(thing, []).append(cell)
        if context.recall is not None:
            for place in context.recall.nearest:
                cell = (place.x, place.y)
                if cell in view.materials:
                    # The view shows what is there now; a memory it contradicts is set
                    # aside (memory itself closes it through the `surveyed` fact).
                    if view.materials[cell] != place.kind and view.objects.get(cell) != place.kind:
                        self.state.blocked[cell] = context.step + 300
                    continue
                if st_ok(self.state, cell, context.step):
                    known.setdefault(place.kind, []).append(cell)
        for cells in known.values():
            cells.sort(key=lambda c: (abs(c[0] - view.x) + abs(c[1] - view.y), c))
        return known

    # ---- choosing what to do ------------------------------------------------------------

    def _choose_task(self, view: CraftingView, known: dict[str, list], step: int) -> Task:
        v = view.vitals
        urgent = v["food"] <= 2 or v["drink"] <= 2
        if v["energy"] <= 2 and not urgent:
            return Task("sleep")  # hunger and thirst first: sleeping does not feed
        # Once at the water, drink until full (one sip each step) rather than walking back
        # and forth for single sips.
        at_water = any(view.materials.get((view.x + dx, view.y + dy)) == "water"
                       for dx, dy in _DIRS.values())
        full = self.rules.item_max("drink")
        if (v["drink"] <= 4 and "water" in known) or (at_water and v["drink"] < full - 1):
            return Task("drink", "water")
        cow_in_view = any(thing == "cow" for thing in view.objects.values())
        # A cow feeds for ~150 steps and they are scarce away from grassland: eat early.
        cow_near = any(_dist(c, view) <= 20 for c in known.get("cow", []))
        if (v["food"] <= 7 and cow_in_view) or (v["food"] <= 6 and cow_near) or (
                v["food"] <= 4 and "cow" in known):
            return Task("eat", "cow")
        if v["food"] <= 4 and "tree" in known:
            return Task("graze", "tree")  # trees mark grassland, where cows live
        if urgent:
            return Task("explore", "food")  # look for cows / water before anything else
        if view.inventory.get(self.goal_item, 0) >= 1:
            return Task("explore", "")  # done; wander (the team goal ends the episode)
        return self._obtain(self.goal_item, view, known, depth=0)

    def _obtain(self, item: str, view: CraftingView, known: dict[str, list], depth: int) -> Task:
        """The first primitive task towards holding one more `item` (recipe resolution)."""
        inv = view.inventory
        if depth > 8:
            return Task("explore")
        if item in self.rules.make:
            rule = self.rules.make[item]
            for need, n in rule.uses.items():
                if inv.get(need, 0) < n:
                    return self._obtain(need, view, known, depth + 1)
            station_task = self._stations(rule.nearby, view, known, depth)
            return station_task or Task("make", item)
        sources = [m for m, r in self.rules.collect.items() if item in r.receive]
        if not sources:
            return Task("explore", item)
        material = min(sources, key=lambda m: -self.rules.collect[m].probability)
        for tool, n in self.rules.collect[material].require.items():
            if inv.get(tool, 0) < n:
                return self._obtain(tool, view, known, depth + 1)
        return Task("collect", material)

    def _stations(self, stations: tuple[str, ...], view: CraftingView, known: dict[str, list],
                  depth: int) -> Task | None:
        """None if every station is within reach of the agent now; else what to do."""
        missing = [s for s in stations if not self._adjacent_station(view, s)]
        if not missing:
            return None
        anchor = stations[0]
        if anchor in missing:
            cells = [c for c in known.get(anchor, []) if _dist(c, view) <= STATION_REACH]
            if cells:
                return Task("station", anchor)
            return self._place_task(anchor, view, known, depth)
        # At the anchor: stand next to both if a pair is known close together, else build.
        other = missing[0]
        for cell in known.get(other, []):
            if _dist(cell, view) <= STATION_REACH and any(
                max(abs(cell[0] - a[0]), abs(cell[1] - a[1])) <= 2 for a in known.get(anchor, [])
            ):
                return Task("station", f"{anchor}+{other}")
        return self._place_task(other, view, known, depth)

    def _place_task(self, station: str, view: CraftingView, known: dict[str, list],
                    depth: int) -> Task:
        rule = self.rules.place[station]
        for need, n in rule.uses.items():
            if view.inventory.get(need, 0) < n:
                return self._obtain(need, view, known, depth + 1)
        return Task("place", station)

    def _adjacent_station(self, view: CraftingView, station: str) -> bool:
        d = self.rules.station_distance
        return any(
            view.materials.get((view.x + dx, view.y + dy)) == station
            for dx in range(-d, d + 1) for dy in range(-d, d + 1)
        )

    # ---- doing it -----------------------------------------------------------------------

    def _execute(self, task: Task, view: CraftingView, known: dict[str, list], step: int,
                 messages: list[dict[str, Any]]) -> tuple[str, str]:
        if task.verb == "sleep":
            return "sleep", "energy low"
        if task.verb == "make":
            return f"make_{task.what}", "stations at hand"
        if task.verb == "place":
            return self._place(task.what, view)
        if task.verb == "station":
            return self._go_to_stations(task.what.split("+"), view, known, step)
        if task.verb in ("collect", "drink", "eat"):
            return self._collect(task.what, view, known, step, messages)
        if task.verb == "graze":
            # Walk from remembered tree to remembered tree (grassland) looking for cows;
            # a tree reached is set aside so the walk moves on.
            for cell in known.get("tree", []):
                if _dist(cell, view) <= 3:
                    self.state.blocked[cell] = step + 200
            far = [c for c in known.get("tree", []) if st_ok(self.state, c, step)]
            if far:
                return self._navigate(view, {far[0]}, far[0], step, (view.x, view.y),
                                      exploring=True)
        return self._explore(view, step)

    def _collect(self, kind: str, view: CraftingView, known: dict[str, list], step: int,
                 messages: list[dict[str, Any]]) -> tuple[str, str]:
        here = (view.x, view.y)
        for name, (dx, dy) in _DIRS.items():
            cell = (view.x + dx, view.y + dy)
            if view.materials.get(cell) == kind or view.objects.get(cell) == kind:
                if view.facing == (dx, dy):
                    return "do", f"facing {kind}"
                return f"move_{name}", f"turn to {kind}"
        targets = [c for c in known.get(kind, []) if st_ok(self.state, c, step)]
        if kind == "diamond":
            free = [c for c in targets if self.state.claims.get(_key(c), self.agent_id)
                    == self.agent_id]
            targets = free or targets
        if not targets:
            return self._explore(view, step)
        target = targets[0]
        if kind == "diamond" and self.state.my_claim != _key(target):
            self.state.my_claim = _key(target)
            messages.append(_claim(self.agent_id, step, f"diamond@{target[0]},{target[1]}",
                                   "claim"))
        goals = {(target[0] + dx, target[1] + dy) for dx, dy in _DIRS.values()}
        return self._navigate(view, goals, target, step, here)

    def _go_to_stations(self, stations: list[str], view: CraftingView, known: dict[str, list],
                        step: int) -> tuple[str, str]:
        anchors = [c for c in known.get(stations[0], []) if st_ok(self.state, c, step)]
        if not anchors:
            return self._explore(view, step)
        goals: set[tuple[int, int]] = set()
        for a in anchors[:3]:
            around = {(a[0] + dx, a[1] + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)}
            for other in stations[1:]:
                near_other: set[tuple[int, int]] = set()
                for o in known.get(other, []):
                    near_other |= {(o[0] + dx, o[1] + dy) for dx in (-1, 0, 1)
                                   for dy in (-1, 0, 1)}
                around &= near_other
            goals |= around
        if not goals:
            return self._explore(view, step)
        target = min(goals, key=lambda c: (_dist(c, view), c))
        return self._navigate(view, goals, target, step, (view.x, view.y))

    def _place(self, station: str, view: CraftingView) -> tuple[str, str]:
        rule = self.rules.place[station]
        fx, fy = view.x + view.facing[0], view.y + view.facing[1]
        if view.materials.get((fx, fy)) in rule.where and (fx, fy) not in view.objects:
            return f"place_{station}", "facing a free cell"
        anchors = [s for s in ("table",) if station != "table" and self._adjacent_station(view, s)]
        options = []
        for name, (dx, dy) in _DIRS.items():
            nxt = (view.x + dx, view.y + dy)
            front = (nxt[0] + dx, nxt[1] + dy)
            if not self._passable(view, nxt):
                continue
            keeps = all(self._near_material(view, nxt, a) for a in anchors)
            good_front = view.materials.get(front) in rule.where and front not in view.objects
            options.append((not keeps, not good_front, name))
        if options:
            options.sort()
            return f"move_{options[0][2]}", "looking for a free cell to build on"
        return f"move_{self.rng.choice(list(_DIRS))}", "boxed in"

    def _near_material(self, view: CraftingView, cell: tuple[int, int], material: str) -> bool:
        return any(view.materials.get((cell[0] + dx, cell[1] + dy)) == material
                   for dx in (-1, 0, 1) for dy in (-1, 0, 1))

    def _explore(self, view: CraftingView, step: int) -> tuple[str, str]:
        st = self.state
        target = st.explore_target
        at_edge = target is not None and any(
            m == "outside" and _dist(c, view) <= 4 and
            (c[0] - view.x) * (target[0] - view.x) + (c[1] - view.y) * (target[1] - view.y) > 0
            for c, m in view.materials.items())
        if target is None or at_edge or _dist(target, view) <= 2 or not st_ok(st, target, step):
            # Sweep the map along long straight headings, turning at edges and obstacles.
            st.heading += math.pi / 2 * (0.75 + 0.5 * self.rng.random())
            reach = 40
            tx = max(0, view.x + round(math.cos(st.heading) * reach))
            ty = max(0, view.y + round(math.sin(st.heading) * reach))
            st.explore_target = target = (tx, ty)
            st.progress = (1 << 30, step)
        return self._navigate(view, {target}, target, step, (view.x, view.y), exploring=True)

    # ---- movement ----------------------------------------------------------------------------

    def _passable(self, view: CraftingView, cell: tuple[int, int]) -> bool:
        return view.materials.get(cell) in self._walkable and cell not in view.objects

    def _step_cost(self, view: CraftingView, cell: tuple[int, int]) -> int | None:
        """Cost to enter a visible cell: 1 walkable, 2 removable (tree; stone with a
        pickaxe), None impassable. Unknown cells beyond the view are not searched."""
        if cell in view.objects:
            return None
        material = view.materials.get(cell)
        if material in self._walkable:
            return 1
        if material == "tree":
            return 2
        if material in ("stone", "coal") and view.inventory.get("wood_pickaxe", 0):
            return 2
        if material == "iron" and view.inventory.get("stone_pickaxe", 0):
            return 2
        if material == "water" and view.inventory.get("stone", 0) and view.inventory.get(
                "wood_pickaxe", 0):
            return 4  # bridge: place stone, mine it back to a path, step on
        return None

    def _navigate(self, view: CraftingView, goals: set[tuple[int, int]], target: tuple[int, int],
                  step: int, here: tuple[int, int], exploring: bool = False) -> tuple[str, str]:
        st = self.state
        if st.target != target:
            st.target, st.progress = target, (1 << 30, step)
        dist = min(abs(g[0] - here[0]) + abs(g[1] - here[1]) for g in goals)
        if dist < st.progress[0]:
            st.progress = (dist, step)
        elif step - st.progress[1] > 25:
            # No progress for a while: give up on this target for a time.
            st.blocked[target] = step + 150
            st.explore_target = None
            st.progress = (1 << 30, step)
            return f"move_{self.rng.choice(list(_DIRS))}", "stuck; trying elsewhere"
        # Dijkstra over the visible cells; pick the cell that minimises cost + distance left.
        frontier = [(0, here)]
        cost = {here: 0}
        first: dict[tuple[int, int], tuple[int, int]] = {here: (0, 0)}
        best, best_score = None, None
        recent_count: dict[tuple[int, int], int] = {}
        for cell in st.recent:
            recent_count[cell] = recent_count.get(cell, 0) + 1
        while frontier:
            frontier.sort()
            c, cell = frontier.pop(0)
            if c > cost[cell]:
                continue
            left = min(abs(g[0] - cell[0]) + abs(g[1] - cell[1]) for g in goals)
            score = c + 1.2 * left + (3.0 * recent_count.get(cell, 0) if cell != here else 0)
            if cell != here and (best_score is None or score < best_score):
                best, best_score = cell, score
            if cell in goals and cell != here:
                best = cell
                break
            for dx, dy in _DIRS.values():
                nxt = (cell[0] + dx, cell[1] + dy)
                step_cost = self._step_cost(view, nxt)
                if step_cost is None:
                    continue
                nc = c + step_cost
                if nc < cost.get(nxt, 1 << 30):
                    cost[nxt] = nc
                    first[nxt] = first[cell] if cell != here else (dx, dy)
                    frontier.append((nc, nxt))
        if here in goals:
            return "noop", "arrived"
        if best is None:
            st.blocked[target] = step + 100
            st.explore_target = None
            return f"move_{self.rng.choice(list(_DIRS))}", "no visible way"
        dx, dy = first[best]
        nxt = (here[0] + dx, here[1] + dy)
        name = next(n for n, d in _DIRS.items() if d == (dx, dy))
        if view.materials.get(nxt) not in self._walkable:
            # A tree or stone in the way: face it, then take it. Water: bridge with stone.
            if view.facing != (dx, dy):
                return f"move_{name}", "turning to clear the way"
            if view.materials.get(nxt) == "water":
                return "place_stone", "bridging water"
            return "do", f"clearing {view.materials.get(nxt)} on the way"
        return f"move_{name}", ("exploring" if exploring else f"heading to {target}")

    # ---- talking and giving ------------------------------------------------------------------

    def _share_sightings(self, view: CraftingView, step: int) -> list[dict[str, Any]]:
        out = []
        for cell, material in view.materials.items():
            if material in _SHARE and (material, cell) not in self.state.shared:
                self.state.shared.add((material, cell))
                if len(out) < 4:
                    out.append({
                        "sender": self.agent_id, "recipients": None, "kind": "inform",
                        "step": step, "ttl": 2,
                        "payload": {"type": "location", "entity": material, "x": cell[0],
                                    "y": cell[1], "seen_step": step},
                    })
        return out

    def _read_inbox(self, context: AgentContext, view: CraftingView, messages: list[dict[str, Any]]
                    ) -> None:
        st = self.state
        for message in context.inbox:  # positions first: a request comes with one
            payload = message.payload
            if payload.type == "location" and payload.entity == message.sender:
                st.teammate_pos[message.sender] = (payload.x, payload.y, payload.seen_step)
        for message in context.inbox:
            payload = message.payload
            if payload.type == "goal_claim":
                if payload.status == "claim":
                    st.claims.setdefault(payload.goal.removeprefix("diamond@"), message.sender)
                else:
                    st.claims.pop(payload.goal.removeprefix("diamond@"), None)
            elif payload.type == "item_request" and st.offer is None:
                where = st.teammate_pos.get(message.sender)
                close = where is not None and _dist(where[:2], view) <= 15
                if close and self._spare(payload.item, view) > 0:
                    st.offer = _Offer(payload.item, message.sender, context.step + 30)
                    messages.append({
                        "sender": self.agent_id, "recipients": [message.sender], "kind": "offer",
                        "step": context.step, "ttl": 2,
                        "payload": {"type": "item_offer", "item": payload.item, "count": 1},
                    })
                    messages.append(self._where_am_i(view, context.step, [message.sender]))
            elif payload.type == "item_offer" and st.pickup is None:
                st.pickup = _Offer(payload.item, message.sender, context.step + 40)
                messages.append({
                    "sender": self.agent_id, "recipients": [message.sender], "kind": "accept",
                    "step": context.step, "ttl": 2,
                    "payload": {"type": "item_offer", "item": payload.item, "count": 1},
                })
        if st.offer is not None and context.step > st.offer.until:
            st.offer = None
        if st.pickup is not None and (context.step > st.pickup.until
                                      or view.inventory.get(st.pickup.item, 0) > 0):
            st.pickup = None

    def _spare(self, item: str, view: CraftingView) -> int:
        """Units of `item` this agent can give away without slowing its own plan."""
        held = view.inventory.get(item, 0)
        keep = 1 if item in ("wood", "stone", "coal", "iron") else held
        if view.inventory.get("iron_pickaxe", 0) and item in ("wood", "stone", "coal", "iron"):
            keep = 0
        return max(0, held - keep)

    def _give_if_possible(self, view: CraftingView, step: int) -> str | None:
        offer = self.state.offer
        if offer is None or self._spare(offer.item, view) < 1:
            return None
        for name, (dx, dy) in _DIRS.items():
            if view.objects.get((view.x + dx, view.y + dy)) == offer.to:
                if view.facing == (dx, dy):
                    self.state.offer = None
                    return f"give_{offer.item}"
                return f"move_{name}"
        return None

    def _go_to_pickup(self, view: CraftingView, step: int) -> str | None:
        pickup = self.state.pickup
        if pickup is None or pickup.to not in self.state.teammate_pos:
            return None
        x, y, _ = self.state.teammate_pos[pickup.to]
        for (dx, dy) in _DIRS.values():
            if view.objects.get((view.x + dx, view.y + dy)) == pickup.to:
                return "noop"  # next to the giver: wait for the hand-over
        goals = {(x + dx, y + dy) for dx, dy in _DIRS.values()}
        action, _ = self._navigate(view, goals, (x, y), step, (view.x, view.y))
        return action

    def _maybe_request(self, material: str, view: CraftingView, step: int,
                       messages: list[dict[str, Any]]) -> None:
        """Ask the team for an item after searching for its source in vain; say where."""
        items = [i for i, n in self.rules.collect[material].receive.items() if n]
        for item in items:
            if item in self.rules.giveable and step - self.state.requested.get(item, -999) > 80:
                self.state.requested[item] = step
                messages.append({
                    "sender": self.agent_id, "recipients": None, "kind": "request", "step": step,
                    "ttl": 2, "payload": {"type": "item_request", "item": item, "count": 1},
                })
                messages.append(self._where_am_i(view, step, None))

    def _where_am_i(self, view: CraftingView, step: int, to: list[str] | None) -> dict[str, Any]:
        return {
            "sender": self.agent_id, "recipients": to, "kind": "inform", "step": step, "ttl": 2,
            "payload": {"type": "location", "entity": self.agent_id, "x": view.x, "y": view.y,
                        "seen_step": step},
        }

    def _act(self, name: str) -> int:
        return self.action_index[name]


def _dist(cell: tuple[int, int], view: CraftingView) -> int:
    return abs(cell[0] - view.x) + abs(cell[1] - view.y)


def _key(cell: tuple[int, int]) -> str:
    return f"{cell[0]},{cell[1]}"


def st_ok(state: PlannerState, cell: tuple[int, int], step: int) -> bool:
    """False while a target is set aside after getting stuck on it."""
    return state.blocked.get(cell, -1) < step


def _claim(agent_id: str, step: int, goal: str, status: str) -> dict[str, Any]:
    return {
        "sender": agent_id, "recipients": None, "kind": "plan", "step": step, "ttl": 2,
        "payload": {"type": "goal_claim", "goal": goal, "status": status},
    }
