"""The scripted cooperative planner of the crafting world: the embedded default agent.

It keeps nothing between steps. What it knows across steps lives in its knowledge graph
and comes back through recall (`beliefs.gather`): remembered places, the recipe book,
teammates' positions, claims, promises, targets set aside, its trail, its current
subgoal and the exploration frontier. What it decides to remember it hands back as
memory notes (subgoals with their targets, claims, commitments, targets to avoid). A
planner rebuilt from scratch every step with the same memory acts the same; with memory
off it knows this step's view, this step's inbox and the manual it was born with.

Each step, in order: answer teammates (offers for requests it can serve, recipes it
knows, acceptances), tell the team what new rare things it sees, keep its promises (give
an item, or walk to a teammate's gift), survive (sleep, drink, eat), then work down the
recipe book from the team goal to the first thing it can do now: collect, make, place or
reach a station; ask the team for an item its role cannot get or it cannot find, and
for a recipe it does not know; explore the frontier of what it has seen otherwise.
Settings are data (`planner.toml`).
"""

from __future__ import annotations

import math
import random
import tomllib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memsim.agents.crafting.beliefs import Beliefs, Cell, Recipe, gather
from memsim.agents.crafting.perception import recipe_facts
from memsim.agents.crafting.routes import (
    Terrain,
    build_approach,
    first_step,
    near_material,
    station_spots,
    step_into,
)
from memsim.agents.crafting.teamwork import Teamwork
from memsim.agents.crafting.view import DIRECTIONS
from memsim.agents.policy import AgentContext, Decision
from memsim.envs.crafting.rules import Rules
from memsim.memory import Fact, RetrievalQuery

SETTINGS_PATH = Path(__file__).with_name("planner.toml")
MAX_DEPTH = 8  # recipe resolution depth


def load_settings(path: Path = SETTINGS_PATH) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def _yield(rules: Rules, material: str) -> str:
    """What collecting `material` yields, as achievements name it (a tree yields wood)."""
    rule = rules.collect.get(material)
    return next(iter(rule.receive), material) if rule is not None else material


def _productive(task: Task) -> bool:
    """Work the agent can do itself (not waiting on a teammate's item or knowledge)."""
    return task.verb not in ("ask", "learn")


@dataclass(frozen=True, slots=True)
class Task:
    verb: str  # collect | make | place | station | ask | learn | explore | drink | eat | sleep
    what: str = ""
    item: str = ""  # what it yields, as achievements name it
    near: tuple[str, ...] = ()  # place: stations to stay next to while building
    goal: str = ""  # its subgoal's name when not `<verb>_<item>` (the achievement it aims at)

    @property
    def subgoal(self) -> str:
        if self.goal:
            return self.goal
        return f"{self.verb}_{self.item or self.what}" if (self.item or self.what) else self.verb


@dataclass
class _Turn:
    """One decision in the making: beliefs, and what to say and remember."""

    b: Beliefs
    seed: str  # the random choices of this agent-step are drawn from this
    messages: list[dict[str, Any]] = field(default_factory=list)
    notes: list[Fact] = field(default_factory=list)
    target: Cell | None = None  # where the chosen task goes (for the subgoal note)
    claim: tuple[str, int, int] | None = None  # what it claims this step

    def random_move(self) -> str:
        """A move drawn from (seed, agent, step): no generator state between steps."""
        return f"move_{random.Random(self.seed).choice(list(DIRECTIONS))}"

    def say(self, kind: str, payload: dict[str, Any], to: str | None = None) -> None:
        self.messages.append({"recipients": [to] if to else None,
                              "kind": kind, "ttl": 2, "step": self.b.step, "payload": payload})

    def note(self, **fact: Any) -> None:
        self.notes.append(Fact(provenance="inferred", **fact))

    def where_am_i(self, to: str | None) -> None:
        b = self.b
        self.say("inform", {"type": "location", "entity": b.agent_id, "x": b.view.x,
                            "y": b.view.y, "seen_step": b.step}, to)


class ScriptedPlanner:
    """Cooperative, memory-driven, oracle-free planner for Multi-Agent Crafter.

    `manual`: the recipes the agent is born knowing (memory holds them too when on;
    default: the rules' whole recipe book);
    `cannot`: operations its role may not do (`collect_<material>`, `make_<item>`,
    `place_<thing>`); `bounds`: the world's (width, height), which the agent knows."""

    name = "scripted"

    def __init__(self, rules: Rules, manual: Iterable[Recipe] | None = None,
                 cannot: Iterable[str] = (), bounds: tuple[int, int] = (64, 64),
                 goal_item: str = "diamond", settings: dict[str, Any] | None = None) -> None:
        self.rules = rules
        if manual is None:
            manual = (Recipe.of_fact(f) for f in recipe_facts(rules))
        self.manual = tuple(manual)
        self.cannot = frozenset(cannot)
        self.bounds = bounds
        self.goal_item = goal_item
        self.cfg = settings if settings is not None else load_settings()
        self.terrain = Terrain(rules, self.cannot)
        kinds = tuple(self.cfg["recall"])
        self._query = {hungry: RetrievalQuery(
            nearest=(*kinds, "cow") if hungry else kinds, position=(0, 0),
            per_kind=self.cfg["recall_per_kind"], recipes=True, teammates=True, claims=True,
            commitments=True, avoid=True, subgoals=self.cfg["recent_subgoals"],
            trail=self.cfg["stuck_steps"] + 1, frontier=self.cfg["exploration"]["frontier"],
            bounds=bounds) for hungry in (False, True)}
        self.team = Teamwork(self.cfg, goal_item, self.cannot, self._go)
        self.agent_id = ""
        self.seed = 0

    # ---- Policy protocol ------------------------------------------------------------

    def reset(self, agent_id: str, seed: int, action_names: tuple[str, ...]) -> None:
        self.agent_id = agent_id
        self.seed = seed
        self.action_index = {name: i for i, name in enumerate(action_names)}
        tail = agent_id.rsplit("_", 1)[-1]
        self.number = int(tail) if tail.isdigit() else 0

    def recall_query(self, context: AgentContext) -> RetrievalQuery | None:
        view, cfg = context.view, self.cfg
        hungry = view.vitals["food"] <= cfg["vitals"]["eat_in_view"]
        # validated once; each step only the position changes (model_copy skips validation)
        return self._query[hungry].model_copy(update={"position": view.position})

    def decide(self, context: AgentContext) -> Decision:
        return self.act_on(None, context)

    def act_on(self, task: Task | None, context: AgentContext, survive: bool = True
               ) -> Decision:
        """One step of `task` (a skill a caller chose; None: what the recipe book says),
        with everything else `decide` does: answer teammates, tell new sightings, keep
        promises, claim targets, note the subgoal; `survive` first if asked."""
        b = gather(context, self.manual, self.cfg["recall"])
        turn = _Turn(b, f"{self.seed}:{self.agent_id}:{context.step}")
        self.team.answer(turn)
        self.team.share_sightings(turn)
        action, why = self._act(turn, task, survive, context.info.get("unlocked", ()))
        self.team.claims(turn)
        return Decision(self.action_index[action], turn.messages, turn.notes, why)

    def beliefs(self, context: AgentContext) -> Beliefs:
        """What the agent knows this step (as `decide` sees it)."""
        return gather(context, self.manual, self.cfg["recall"])

    # ---- what to do -------------------------------------------------------------------

    def _act(self, turn: _Turn, task: Task | None, survive: bool,
             unlocked: Iterable[str]) -> tuple[str, str]:
        b = turn.b
        if b.view.sleeping:
            return "noop", "asleep"
        kept = self.team.keep_promises(turn)
        if kept is not None:
            return kept
        task = (self._survive(b) if survive else None) or task or self._obtain(
            self.goal_item, b, 0)
        action, why = self._execute(task, turn)
        self._subgoal_notes(turn, task, unlocked)
        return action, f"{task.verb} {task.what}: {why}".replace("  ", " ")

    def _survive(self, b: Beliefs) -> Task | None:
        v, cfg = b.view.vitals, self.cfg["vitals"]
        urgent = v["food"] <= cfg["urgent"] or v["drink"] <= cfg["urgent"]
        if v["energy"] <= cfg["sleep_energy"] and not urgent:
            return Task("sleep")  # hunger and thirst first: sleeping does not feed
        at_water = any(b.view.materials.get((b.view.x + dx, b.view.y + dy)) == "water"
                       for dx, dy in DIRECTIONS.values())
        full = b.view.vital_max["drink"]
        # Once at the water, drink until full rather than walking back for single sips.
        if (v["drink"] <= cfg["drink_below"] and "water" in b.known) or (
                at_water and v["drink"] < full - 1):
            return Task("drink", "water", "drink", goal="collect_drink")
        cows = b.known.get("cow", [])
        in_view = any(thing == "cow" for thing in b.view.objects.values())
        near = any(b.dist(c) <= cfg["cow_reach"] for c in cows)
        if (v["food"] <= cfg["eat_in_view"] and in_view) or (
                v["food"] <= cfg["eat_near"] and near) or (v["food"] <= cfg["eat_known"] and cows):
            return Task("eat", "cow", "food", goal="eat_cow")
        if urgent:
            return Task("explore", "food")
        if b.view.inventory.get(self.goal_item, 0) >= 1:
            return Task("explore", "")  # done; the team goal ends the episode
        return None

    def _obtain(self, item: str, b: Beliefs, depth: int, near: tuple[str, ...] = (),
                placed: bool = False) -> Task:
        """The first task towards holding one more `item` (recipe resolution), or with
        `placed`, towards having built the station `item` here; `near`: stations to stay
        next to while building it. Work the agent can do comes before asking: a missing
        input only a teammate can get is asked for once nothing else can be done."""
        if depth > MAX_DEPTH:
            return Task("explore")
        # Placing puts a thing into the world: it is how stations are had, not items.
        recipes = [r for r in b.recipes.get(item, []) if (r.verb == "place") == placed
                   and item not in r.uses]
        if not recipes:
            return Task("learn", item, item)
        doable = [r for r in recipes if self.team.op(r) not in self.cannot]
        if not doable:
            # A teammate's job: gather what it will need; what blocks that is what to ask
            # for (once it has it all, it waits to hand it over).
            blocked = self._inputs(recipes[0], b, depth)
            if blocked is not None:
                return blocked
            return Task("ask", item, item, ("wait",))
        recipe = next((r for r in doable if r.verb == "collect" and r.material in b.known),
                      doable[0])
        blocked = self._inputs(recipe, b, depth)
        if blocked is not None:
            return blocked
        if recipe.verb == "collect":
            if recipe.material not in b.known and self._searched_long(b, item):
                return Task("ask", item, item)  # and keep searching
            return Task("collect", recipe.material, item)
        return self._stations(recipe.stations, b, depth) or Task(
            recipe.verb, item, item, near if recipe.verb == "place" else ())

    def _inputs(self, recipe: Recipe, b: Beliefs, depth: int) -> Task | None:
        """The task for the first missing input (tool or consumed item) of `recipe` the
        agent can work on, else the first ask among them; None if nothing is missing."""
        inv = b.view.inventory
        first: Task | None = None
        for need, n in (*((t, 1) for t in recipe.tools), *recipe.uses.items()):
            if inv.get(need, 0) >= n:
                continue
            task = self._obtain(need, b, depth + 1)
            if _productive(task):
                return task
            first = first or task
        return first

    def _searched_long(self, b: Beliefs, item: str) -> bool:
        """Its current subgoal has been to collect `item` for a while, source unknown."""
        sub = b.subgoal
        return (sub is not None and sub.name == f"collect_{item}"
                and b.step - sub.since >= self.cfg["search_before_request"])

    def _stations(self, stations: tuple[str, ...], b: Beliefs, depth: int) -> Task | None:
        """None if every station is within reach now; else what to do about it: go to a
        known spot next to all of them, else build the missing ones next to those at
        hand, else go to a known one, else build one (cheapest to build first)."""
        missing = [s for s in stations if not self._adjacent(b, s)]
        if not missing:
            return None
        if self._spots(stations, b):
            return Task("station", "+".join(stations))
        missing.sort(key=lambda s: (self._build_cost(s, b), s))
        present = tuple(s for s in stations if s not in missing)
        if present:
            return self._obtain(missing[0], b, depth + 1, near=present, placed=True)
        reach = self.cfg["station_reach"]
        known = [s for s in missing if any(b.dist(c) <= reach and c not in b.avoid
                                           for c in b.known.get(s, []))]
        build = [s for s in missing if s not in known]
        if known and build:
            # Gather (or ask for) what building the others consumes before walking to the
            # known ones: next to them the build sends it off to get it, and away from them
            # it walked back (it went back and forth for hundreds of steps).
            task = self._obtain(build[0], b, depth + 1, placed=True)
            if task.verb not in ("station", "place", "explore"):
                return task
        if known:
            return Task("station", known[0])
        return self._obtain(missing[0], b, depth + 1, placed=True)

    def _build_cost(self, station: str, b: Beliefs) -> int:
        """Units a known recipe for `station` consumes (unknown: very many)."""
        costs = [sum(r.uses.values()) for r in b.recipes.get(station, []) if r.verb == "place"]
        return min(costs, default=1 << 20)

    def _spots(self, stations: Sequence[str], b: Beliefs) -> set[Cell]:
        return station_spots(stations, b.known, b.avoid, b.view.position,
                             self.cfg["station_reach"], self.rules.station_distance)

    def _adjacent(self, b: Beliefs, station: str) -> bool:
        return near_material(b.view.materials, b.view.position, station,
                             self.rules.station_distance)

    # ---- doing it ---------------------------------------------------------------------

    def _execute(self, task: Task, turn: _Turn) -> tuple[str, str]:
        b = turn.b
        if task.verb == "sleep":
            return "sleep", "energy low"
        if task.verb == "make":
            return f"make_{task.what}", "stations at hand"
        if task.verb == "place":
            return self._place(task.what, task.near, b, turn)
        if task.verb == "station":
            return self._go_to_stations(task.what.split("+"), turn)
        if task.verb in ("collect", "drink", "eat"):
            return self._collect(task.what, turn)
        if task.verb == "ask":
            self.team.ask(turn, task.what)
            if "wait" in task.near:
                waited = self.team.wait_by_a_teammate(turn, task.what)
                if waited is not None:
                    return waited
        if task.verb == "learn":
            self.team.ask_recipe(turn, task.what)
        return self._explore(turn)

    def _collect(self, kind: str, turn: _Turn) -> tuple[str, str]:
        b = turn.b
        for name, (dx, dy) in DIRECTIONS.items():
            cell = (b.view.x + dx, b.view.y + dy)
            if b.view.materials.get(cell) == kind or b.view.objects.get(cell) == kind:
                if kind in self.cfg["claimed"]:
                    turn.claim = (kind, *cell)
                if b.view.facing == (dx, dy):
                    return "do", f"facing {kind}"
                return f"move_{name}", f"turn to {kind}"
        targets = [c for c in b.known.get(kind, []) if c not in b.avoid]
        if b.frontier and kind != self.goal_item:  # see `source_reach` in planner.toml
            targets = [c for c in targets if b.dist(c) <= self.cfg["source_reach"]]
        if kind in self.cfg["claimed"]:
            targets = [c for c in targets if b.free(kind, c)] or targets
        resumed = self._interrupted_target(b, f"collect_{_yield(self.rules, kind)}")
        if resumed in targets:  # go back to what it was heading for before an interruption
            targets.remove(resumed)
            targets.insert(0, resumed)
        for target in targets[:3]:
            if self._stuck(turn, target):
                continue
            if kind in self.cfg["claimed"]:
                turn.claim = (kind, *target)
            goals = {(target[0] + dx, target[1] + dy) for dx, dy in DIRECTIONS.values()}
            return self._go(turn, goals, target, f"to {kind} at {target}")
        return self._explore(turn)

    def _interrupted_target(self, b: Beliefs, name: str) -> Cell | None:
        """The target of the latest subgoal `name` that another task replaced (survival,
        a promise) within `resume_steps`, if any: the hierarchy says where it was going."""
        for sub in b.recent:
            if sub.name == name and sub.status == "replaced" and sub.target is not None and (
                    b.step - (sub.until or 0) <= self.cfg["resume_steps"]):
                return sub.target
        return None

    def _place(self, thing: str, near: tuple[str, ...], b: Beliefs,
               turn: _Turn) -> tuple[str, str]:
        """Build `thing` on the facing cell if it can be built there with every station
        it needs (`near` too) still within reach; else walk to a spot from which one move
        leaves it facing such a cell (moving turns the agent the way it goes)."""
        rule = self.rules.place[thing]
        v = b.view
        keep = [s for s in (*rule.nearby, *near) if self._adjacent(b, s)]

        def buildable(cell: Cell) -> bool:
            return v.materials.get(cell) in rule.where and cell not in v.objects

        def clearable(cell: Cell) -> bool:  # `do` leaves a material it can build on
            material = v.materials.get(cell, "")
            collect = self.rules.collect.get(material)
            return (collect is not None and collect.leaves in rule.where
                    and cell not in v.objects
                    and self.terrain.clearable(material, v.inventory))

        front = (v.x + v.facing[0], v.y + v.facing[1])
        if buildable(front):
            return f"place_{thing}", "facing a free cell"
        if clearable(front):
            return "do", "clearing a cell to build on"
        approach = build_approach(self.terrain, v, buildable, keep, self.cfg["build_reach"])
        if v.position in approach:
            return f"move_{approach[v.position]}", "stepping to face a free cell to build on"
        # Boxed in by stone or trees: turn to one (a move into it only turns the agent),
        # clear it, build there.
        for name, (dx, dy) in DIRECTIONS.items():
            cell = (v.x + dx, v.y + dy)
            if clearable(cell) and self.terrain.cost(v, cell) != 1:
                return f"move_{name}", "turning to a cell it can clear to build on"
        if approach:
            target = min(approach, key=lambda c: (b.dist(c), c))
            return self._go(turn, set(approach), target, "to a spot to build on")
        return turn.random_move(), "no cell to build on here"

    def _go_to_stations(self, stations: list[str], turn: _Turn) -> tuple[str, str]:
        b = turn.b
        goals = self._spots(stations, b)
        if not goals:
            return self._explore(turn)
        target = min(goals, key=lambda c: (b.dist(c), c))
        if self._stuck(turn, target):
            return self._explore(turn)
        return self._go(turn, goals, target, f"to the {'+'.join(stations)}")

    # ---- moving -----------------------------------------------------------------------

    def _go(self, turn: _Turn, goals: set[Cell], target: Cell, why: str) -> tuple[str, str]:
        b = turn.b
        turn.target = target
        if b.view.position in goals:
            return "noop", "arrived"
        nxt, _ = first_step(self.terrain, b.view, goals, Counter(b.trail))
        if nxt is None:
            return turn.random_move(), "no visible way"
        action, how = step_into(self.terrain, b.view, nxt)
        return action, f"{why}: {how}"

    def _stuck(self, turn: _Turn, target: Cell) -> bool:
        """No progress towards `target` for `stuck_steps` while its subgoal aimed at it:
        set it aside (an `avoid` note) and say so."""
        b, n = turn.b, self.cfg["stuck_steps"]
        sub = b.subgoal
        if (sub is None or sub.target != target or b.step - sub.target_since < n
                or len(b.trail) < n):
            return False
        then = abs(b.trail[n - 1][0] - target[0]) + abs(b.trail[n - 1][1] - target[1])
        closest = min(abs(x - target[0]) + abs(y - target[1]) for x, y in b.trail[: n - 1])
        if closest < then:
            return False
        turn.note(kind="avoid", subject=sub.name, place=target,
                  until=b.step + self.cfg["avoid_steps"], text="no progress")
        turn.note(kind="subgoal", subject=sub.name, status="failed")  # its outcome, on record
        b.avoid.add(target)
        return True

    def _explore(self, turn: _Turn) -> tuple[str, str]:
        b, cfg = turn.b, self.cfg["exploration"]
        target = self._explore_target(turn)
        if target is None:
            return turn.random_move(), "nowhere left to explore"
        if cfg["region_claims"] and b.memory:
            turn.claim = ("region", *target)
        return self._go(turn, {target}, target, f"exploring towards {target}")

    def _explore_target(self, turn: _Turn) -> Cell | None:
        """The frontier region it was heading for if still good, else the nearest one no
        teammate claims; without memory, a point along a heading kept for a while."""
        b, cfg = turn.b, self.cfg["exploration"]
        sub = b.subgoal
        regions = [(r.x, r.y) for r in b.frontier]
        if sub is not None and sub.name.startswith("explore") and sub.target in regions:
            target = sub.target
            if target not in b.avoid and b.dist(target) > 2 and not self._stuck(turn, target):
                return target
        free = [c for c in regions if c not in b.avoid and b.free("region", c)]
        if free or regions:
            return (free or regions)[0]
        window = b.step // cfg["heading_steps"]
        heading = self.number * 2.39996 + random.Random(
            f"{self.seed}:{self.agent_id}:h{window}").random() * 2 * math.pi
        w, h = self.bounds
        x = min(max(0, b.view.x + round(math.cos(heading) * cfg["reach"])), w - 1)
        y = min(max(0, b.view.y + round(math.sin(heading) * cfg["reach"])), h - 1)
        return (x, y) if (x, y) != b.view.position else None

    def _subgoal_notes(self, turn: _Turn, task: Task, unlocked: Iterable[str]) -> None:
        """The goal once, then one subgoal per task (with its target), completed when its
        achievement unlocks, else replaced by the next one."""
        b = turn.b
        if not b.memory:
            return
        goal = f"collect_{self.goal_item}"
        if b.goal != goal:
            turn.note(kind="goal", subject=goal, status="set")
        sub = b.subgoal
        if sub is not None and sub.name in unlocked:
            turn.note(kind="subgoal", subject=sub.name, status="completed")
            sub = None
        name = task.subgoal
        if sub is None or sub.name != name or (turn.target is not None
                                                and sub.target != turn.target):
            turn.note(kind="subgoal", subject=name, status="set", place=turn.target)
