"""Crafting skills: thin wrappers over the scripted planner's executors.

Each skill, its arguments, what it runs and when it ends (besides `took too long`, past
its step limit in `skills.toml`):

- `collect` item, until: the planner's collect task (the nearest remembered source, else
  it explores). Completed: it holds `until`. Failed: no progress towards its target.
- `make` item, until: walks to a spot by the stations, makes it. Completed: it holds
  `until`. Failed: an input or a station is missing.
- `place` thing: walks by the stations it needs, finds a free cell, places it.
  Completed: the place action worked. Failed: inputs missing.
- `explore`: the planner's frontier exploration. Completed after `explore_steps`.
- `go_to` kind: walks next to the remembered instance (the subgoal's place). Completed:
  next to it. Failed: it is gone.
- `meet` teammate: walks to its last known position. Completed: within `meet_distance`.
  Failed: its position is unknown.
- `give` item, teammate: walks to it, faces it, gives one. Completed: the give worked.
  Failed: none left, teammate unknown.
- `wait` teammate: stays (a promised hand-over). Completed: it is close, or spoke.
- `ask` item, until: the planner's request to the team (and it keeps searching).
  Completed: it holds `until`.

The planner-backed skills run with everything else the planner does in `act_on`:
surviving (eat, drink, sleep), keeping promises, answering requests, telling new
sightings, claims. The planner's own subgoal notes are replaced by the skill's (its target
goes into the skill's subgoal).

Over 500 lines: the menu, the tech-tree reading and the executors of one world's skills
share the same memory helpers (nearest source, spots by stations, recipes); split apart
they would pass the beliefs and the planner back and forth.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from memsim.agents.crafting.beliefs import Beliefs, Cell, Recipe
from memsim.agents.crafting.planner import ScriptedPlanner, Task
from memsim.agents.crafting.routes import first_step, near_material, step_into
from memsim.agents.crafting.teamwork import next_to
from memsim.agents.crafting.view import DIRECTIONS
from memsim.agents.policy import AgentContext, Decision
from memsim.agents.skills.base import (
    RUNNING,
    ActiveSkill,
    Option,
    Outcome,
    SkillStep,
    completed,
    failed,
    load_skill_settings,
)
from memsim.memory import Fact, RetrievalQuery

SKILLS = frozenset({"collect", "make", "place", "explore", "go_to", "meet", "give", "wait",
                    "ask"})


class CraftingSkills:
    """The crafting skill library of one agent, over its scripted planner."""

    family = "crafting"
    skills = SKILLS

    def __init__(self, planner: ScriptedPlanner, settings: dict[str, Any] | None = None) -> None:
        self.planner = planner
        self.rules = planner.rules
        self.items = tuple(self.rules.item_names)  # what messages may name as items
        self.cfg = (settings if settings is not None else load_skill_settings())["crafting"]
        self.agent_id = ""
        self.seed = 0
        self.action_index: dict[str, int] = {}
        # Beliefs of the step being decided (gathered once per step, never carried on).
        self._cache: tuple[AgentContext, Beliefs] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_cache": None}

    def reset(self, agent_id: str, seed: int, action_names: tuple[str, ...]) -> None:
        self.planner.reset(agent_id, seed, action_names)
        self.agent_id, self.seed = agent_id, seed
        self.action_index = {name: i for i, name in enumerate(action_names)}
        self._cache = None

    def recall_query(self, context: AgentContext) -> RetrievalQuery | None:
        return self.planner.recall_query(context)

    def beliefs(self, context: AgentContext) -> Beliefs:
        if self._cache is None or self._cache[0] is not context:
            self._cache = (context, self.planner.beliefs(context))
        return self._cache[1]

    # ---- what the model reads ---------------------------------------------------------

    def brief(self) -> str:
        steps = " > ".join(m.split("_", 1)[1].replace("_", " ") for m in self.rules.milestones)
        return (f"World: Crafter, a grid (x east, y south). Team goal: "
                f"{self.planner.goal_item}. Tech tree: {steps}. Eating and sleeping are "
                "automatic.")

    def goal(self, context: AgentContext) -> str:
        return f"collect_{self.planner.goal_item}"

    def next_milestone(self, b: Beliefs) -> str:
        """The first tech-tree step after the furthest one the agent has (an item it holds,
        a station it knows) that it has not: what was used up on the way (the iron in the
        iron pickaxe) is not asked for again."""
        inv = b.view.inventory

        def done(milestone: str) -> bool:
            verb, _, thing = milestone.partition("_")
            return bool(b.known.get(thing)) if verb == "place" else inv.get(thing, 0) >= 1

        milestones = self.rules.milestones
        furthest = max((i for i, m in enumerate(milestones) if done(m)), default=-1)
        return next((m for m in milestones[furthest + 1:] if not done(m)), "done")

    def situation(self, context: AgentContext) -> str:
        b = self.beliefs(context)
        v = b.view
        held = ", ".join(f"{k} {n}" for k, n in v.inventory.items()
                         if n and k not in v.vitals) or "nothing"
        return (f"at ({v.x},{v.y}); holding {held}; next tech-tree step: "
                f"{self.next_milestone(b).replace('_', ' ')}")

    def memory_lines(self, context: AgentContext) -> list[str]:
        """Remembered places of kinds the menu does not show, teammates, their claims and
        requests, what they said (each once), with provenance."""
        recall = context.recall
        if recall is None:
            return []
        b = self.beliefs(context)
        shown = " ".join(o.text for o in self.menu(context))
        out: list[str] = []
        kinds: set[str] = set()
        for p in recall.nearest:
            if p.kind in kinds or f"{p.kind} at" in shown:
                continue
            kinds.add(p.kind)
            out.append(f"{p.kind} at ({p.x},{p.y}), {b.dist((p.x, p.y))} away "
                       f"[{_source(p.provenance)} step {p.step}]")
        out += [f"{t.agent} at ({t.x},{t.y}) [{_source(t.provenance)} step {t.step}]"
                for t in recall.teammates]
        out += [f"{c.agent} claims {c.kind} at ({c.x},{c.y})" for c in recall.claims
                if c.agent != self.agent_id]
        out += [f"{c.agent} asked for {c.item}" for c in recall.commitments
                if c.direction == "requested"]
        # Hearsay the lines above do not already hold (teammates' positions and requests).
        said = dict.fromkeys(
            f"{_source(r.provenance)} said: {r.summary.split(' says: ', 1)[-1]}"
            for r in recall.reports if not r.summary.startswith("agent ")
            and "requests " not in r.summary)
        return [*out, *said]

    # ---- the menu ---------------------------------------------------------------------

    def menu(self, context: AgentContext) -> list[Option]:
        b = self.beliefs(context)
        inv = b.view.inventory
        cfg = self.cfg
        options: list[Option] = []
        for item in cfg["collect"]:
            recipe = self._collect_recipe(b, item)
            if recipe is None or any(inv.get(t, 0) < 1 for t in recipe.tools):
                continue
            until = inv.get(item, 0) + cfg["amount"].get(item, 1)
            cell = self._nearest(b, recipe.material)
            where = (f"{recipe.material} at {_cell(cell)}, {b.dist(cell)} away" if cell
                     else f"no {recipe.material} known: explores")
            options.append(Option("collect", (item, str(until)),
                                  f"collect {item} until {until} ({where})", cell))
        for thing in cfg["place"]:
            recipe = self._recipe(b, thing, "place")
            if recipe is None or self._missing(recipe, inv):
                continue
            stations = self.rules.place[thing].nearby
            if any(not b.known.get(s) for s in stations):
                continue
            near = self._nearest(b, thing)
            if (near is not None and b.dist(near) <= self.planner.cfg["station_reach"]
                    and thing not in self._apart(b)):
                continue  # one is at hand already
            uses = ", ".join(f"{k} {n}" for k, n in recipe.uses.items())
            near = f", next to {' and '.join(stations)}" if stations else ""
            options.append(Option("place", (thing,), f"place {thing} (uses {uses}{near})"))
        for item in cfg["make"]:
            recipe = self._recipe(b, item, "make")
            if recipe is None or inv.get(item, 0) >= 1 or self._missing(recipe, inv):
                continue
            if any(not b.known.get(s) for s in recipe.stations) or not (
                    all(self._adjacent(b, s) for s in recipe.stations)
                    or self._spots(b, recipe.stations)):
                continue
            at = ", ".join(f"{s} at {_cell(b.known[s][0])}" for s in recipe.stations)
            options.append(Option("make", (item, str(inv.get(item, 0) + 1)),
                                  f"make {item} ({at})"))
        options += self._team_options(b)
        if b.frontier:
            region = b.frontier[0]
            options.append(Option("explore", (), f"explore (new area at "
                                  f"({region.x},{region.y}), {region.distance} away)"))
        else:
            options.append(Option("explore", (), "explore"))
        mates = sorted((b.dist(p[:2]), name, p) for name, p in b.teammates.items())
        for distance, name, p in mates[: cfg["teammates_shown"]]:
            if distance > cfg["meet_distance"]:
                options.append(Option("meet", (name,), f"meet {name} (at ({p[0]},{p[1]}) "
                                      f"at step {p[2]})", p[:2]))
        for kind in cfg["go_to"]:
            cell = self._nearest(b, kind)
            if cell is not None and b.dist(cell) > 1:
                options.append(Option("go_to", (kind,), f"go to {kind} at {_cell(cell)} "
                                      f"({b.dist(cell)} away)", cell))
        wanted = self.wanted(b)
        for item in cfg["collect"]:  # what the next step needs and it cannot find
            recipe = self._collect_recipe(b, item)
            if (recipe is not None and f"collect_{item}" in wanted
                    and item != self.planner.goal_item
                    and recipe.material not in b.known and b.asked(item) is None):
                options.append(Option("ask", (item, str(inv.get(item, 0) + 1)),
                                      f"ask the team for {item} (and keep searching)"))
                break
        return sorted(options, key=lambda o: wanted.index(o.name) if o.name in wanted
                      else len(wanted))

    def wanted(self, b: Beliefs) -> list[str]:
        """What the next tech-tree step takes, first things first: the step itself
        (`make_wood_pickaxe`), then collecting what it uses and the agent lacks
        (`collect_wood`). The menu lists the options for these first."""
        milestone = self.next_milestone(b)
        verb, _, thing = milestone.partition("_")
        recipe = self._recipe(b, thing, verb) if verb in ("make", "place") else None
        if recipe is None:
            return [milestone]
        inv = b.view.inventory
        missing = [f"collect_{k}" for k, n in recipe.uses.items() if inv.get(k, 0) < n]
        apart = self._apart(b)
        if apart:  # build the cheapest one by the others, first getting what it uses
            place = self._recipe(b, apart[0], "place")
            uses = place.uses.items() if place is not None else ()
            missing += [f"collect_{k}" for k, n in uses if inv.get(k, 0) < n]
            missing.append(f"place_{apart[0]}")
        return [*missing, milestone]

    def _apart(self, b: Beliefs) -> list[str]:
        """The stations the next tech-tree step needs together that are all known but
        have no cell next to every one of them: one of them must be built by the others
        (cheapest first)."""
        verb, _, thing = self.next_milestone(b).partition("_")
        recipe = self._recipe(b, thing, "make") if verb == "make" else None
        if recipe is None or len(recipe.stations) < 2:
            return []
        if any(not b.known.get(s) for s in recipe.stations) or self._spots(b, recipe.stations):
            return []

        def cost(station: str) -> int:
            place = self._recipe(b, station, "place")
            return sum(place.uses.values()) if place is not None else 1 << 20

        return sorted(recipe.stations, key=lambda st: (cost(st), st))

    def _team_options(self, b: Beliefs) -> list[Option]:
        """Give what a teammate asked for; wait for a promised hand-over."""
        options = []
        for c in b.commitments:
            where = b.teammates.get(c.agent)
            if (c.direction == "requested" and where is not None
                    and self.planner.team.spare(c.item, b) >= 1):
                options.append(Option("give", (c.item, c.agent), f"give {c.item} to "
                                      f"{c.agent} (it asked; at ({where[0]},{where[1]}))"))
            elif c.direction == "receive" and c.agent != "team":
                options.append(Option("wait", (c.agent,), f"wait for {c.agent} to hand "
                                      f"over {c.item}"))
        return options[:2]

    # ---- ending -----------------------------------------------------------------------

    def check(self, active: ActiveSkill, context: AgentContext) -> Outcome:
        b = self.beliefs(context)
        inv = b.view.inventory
        info = context.info
        done = info.get("ok", False) and info.get("action")
        skill, first = active.skill, active.arg(0)
        age = context.step - active.since
        if skill in ("collect", "make", "ask"):
            until = int(active.arg(1, "1")) if active.arg(1).isdigit() else 1
            if inv.get(first, 0) >= until:
                return completed(f"holds {first} {inv.get(first, 0)}")
        if skill in ("make", "place"):
            recipe = self._recipe(b, first, skill)
            if recipe is None:
                return failed(f"no recipe for {first} known")
            if skill == "place" and done == f"place_{first}":
                return completed(f"placed {first}")
            missing = self._missing(recipe, inv)
            if missing:
                return failed(f"missing {missing}")
            stations = recipe.stations if skill == "make" else self.rules.place[first].nearby
            unknown = [s for s in stations if not b.known.get(s)]
            if unknown:
                return failed(f"no {' or '.join(unknown)} remembered")
        elif skill == "explore" and age >= self.cfg["explore_steps"]:
            return completed(f"explored {age} steps")
        elif skill == "go_to":
            target = active.target
            if target is None:
                return failed(f"no {first} remembered")
            if b.dist(target) <= 1:
                return completed(f"next to {first} at {_cell(target)}")
            there = b.view.materials.get(target)
            if there is not None and there != first and b.view.objects.get(target) != first:
                return failed(f"{first} at {_cell(target)} is gone")
        elif skill in ("meet", "wait"):
            where = b.teammates.get(first)
            if where is None:
                return failed(f"{first}'s position is unknown")
            if b.dist(where[:2]) <= self.cfg["meet_distance"]:
                return completed(f"{first} is close")
            if skill == "wait" and any(m.sender == first for m in context.inbox):
                return completed(f"{first} spoke")
        elif skill == "give":
            if done == f"give_{first}":
                return completed(f"gave {first} to {active.arg(1)}")
            if inv.get(first, 0) < 1:
                return failed(f"no {first} left")
            if active.arg(1) not in b.teammates:
                return failed(f"{active.arg(1)}'s position is unknown")
        if age >= self.cfg["limit"][skill]:
            return failed(f"took too long ({age} steps)")
        return RUNNING

    def interrupts(self, active: ActiveSkill, context: AgentContext) -> list[str]:
        b = self.beliefs(context)
        out = []
        for m in context.inbox:
            p = m.payload
            to_me = m.recipients == [self.agent_id]
            if p.type == "item_request" and m.kind.value == "request":
                if self.planner.team.spare(p.item, b) >= 1 and not (
                        active.skill == "give" and active.arg(0) == p.item):
                    out.append(f"{m.sender} asks for {p.item}")
            elif p.type == "item_offer" and m.kind.value == "offer" and to_me:
                out.append(f"{m.sender} offers {p.item}")
            elif p.type == "text" and to_me:
                out.append(f"{m.sender} says: {p.text[:60]}")
            elif p.type == "goal_claim" and p.status == "claim" and p.target() is not None:
                _, x, y = p.target()  # type: ignore[misc]
                if active.target == (x, y):
                    out.append(f"{m.sender} claims your target {p.goal}")
        return out[:2]

    # ---- running ----------------------------------------------------------------------

    def run(self, active: ActiveSkill, context: AgentContext) -> SkillStep:
        b = self.beliefs(context)
        skill = active.skill
        if skill in ("go_to", "meet", "wait", "give"):
            return self._own(active, context, b)
        if skill in ("make", "place"):
            stations = self._stations(b, active)
            # Placing moves about for a free cell: one more cell of slack keeps it from
            # walking back to the spot after each such move.
            slack = 1 if skill == "place" else 0
            if not all(self._adjacent(b, s, slack) for s in stations):
                spots = self._spots(b, stations)
                if not spots:
                    step = self._step(context, "noop", "no spot by the stations known")
                    step.outcome = failed(f"no spot next to {' and '.join(stations)} known")
                    return step
                if not self._spots(b, stations, self.planner.cfg["station_reach"]):
                    # Farther than the planner goes for stations: walk there directly.
                    target = min(spots, key=lambda c: (b.dist(c), c))
                    return self._walk(context, b, spots, target,
                                      f"to the {'+'.join(stations)}")
                return self._planned(active, context, Task("station", "+".join(stations)))
        return self._planned(active, context, self._task(active, b))

    def _planned(self, active: ActiveSkill, context: AgentContext, task: Task) -> SkillStep:
        """One step of a planner task (with everything `act_on` does besides)."""
        decision = self.planner.act_on(task, context, survive=True)
        notes: list[Fact] = []
        target = None
        outcome = RUNNING
        for fact in decision.memory_notes:
            if fact.kind == "subgoal":  # the skill's subgoal stands for the planner's
                if fact.status == "set" and fact.subject == task.subgoal:
                    target = fact.place
                continue
            if (fact.kind == "avoid" and active.target is not None
                    and fact.place == active.target):
                outcome = failed(f"no progress towards {_cell(active.target)}")
            notes.append(fact)
        return SkillStep(Decision(decision.action, decision.messages, notes, decision.reason),
                         target, outcome)

    def _task(self, active: ActiveSkill, b: Beliefs) -> Task:
        """The planner task a skill runs as (make / place: once by their stations)."""
        skill, first = active.skill, active.arg(0)
        if skill == "collect":
            recipe = self._collect_recipe(b, first)
            return Task("collect", recipe.material if recipe else first, first)
        if skill == "place":
            return Task(skill, first, first, self._stations(b, active))
        if skill in ("ask", "make"):
            return Task(skill, first, first)
        return Task("explore")

    def _stations(self, b: Beliefs, active: ActiveSkill) -> tuple[str, ...]:
        """The stations a make / place skill must stand by: a recipe's; for a station
        being placed, also those a recipe needs together with it that are known near (a
        furnace goes by the table, for the iron pickaxe)."""
        if active.skill == "make":
            recipe = self._recipe(b, active.arg(0), "make")
            return recipe.stations if recipe is not None else ()
        thing = active.arg(0)
        reach = self.planner.cfg["station_reach"]
        together = {s for recipes in b.recipes.values() for r in recipes
                    if r.verb == "make" and thing in r.stations for s in r.stations}
        near = [s for s in sorted(together - {thing})
                if any(b.dist(c) <= reach for c in b.known.get(s, []))]
        return tuple(dict.fromkeys((*self.rules.place[thing].nearby, *near)))

    def _spots(self, b: Beliefs, stations: tuple[str, ...], reach: int | None = None
               ) -> set[Cell]:
        """Cells within reach of a remembered instance of every station (only instances
        within `reach` of the agent, when given)."""
        d = self.rules.station_distance
        spots: set[Cell] | None = None
        taken: set[Cell] = set()
        for station in stations:
            cells = [c for c in b.known.get(station, []) if c not in b.avoid
                     and (reach is None or b.dist(c) <= reach)]
            taken.update(cells)
            around = {(c[0] + dx, c[1] + dy) for c in cells
                      for dx in range(-d, d + 1) for dy in range(-d, d + 1)}
            spots = around if spots is None else spots & around
        return (spots or set()) - taken

    def _own(self, active: ActiveSkill, context: AgentContext, b: Beliefs) -> SkillStep:
        """go_to, meet, wait and give: walking and handing over, outside the planner."""
        skill, first = active.skill, active.arg(0)
        if skill == "wait":
            return self._step(context, "noop", f"waiting for {first}")
        if skill == "go_to":
            target = active.target
            if target is None:
                return self._step(context, "noop", f"no {first} remembered")
            return self._walk(context, b, next_to(target), target, f"to {first}")
        mate = first if skill == "meet" else active.arg(1)
        where = b.teammates.get(mate)
        if where is None:
            return self._step(context, "noop", f"{mate}'s position is unknown")
        cell = where[:2]
        if skill == "give":
            v = b.view
            for name, (dx, dy) in DIRECTIONS.items():
                if v.agents.get((v.x + dx, v.y + dy)) != mate:
                    continue
                if v.facing != (dx, dy):
                    return self._step(context, f"move_{name}", f"turning to {mate}", cell)
                return self._step(context, f"give_{first}", f"giving {first} to {mate}", cell)
        return self._walk(context, b, next_to(cell), cell, f"to {mate}")

    def _walk(self, context: AgentContext, b: Beliefs, goals: set[Cell], target: Cell,
              why: str) -> SkillStep:
        v = b.view
        if v.position in goals:
            return self._step(context, "noop", f"{why}: arrived", target)
        nxt, _ = first_step(self.planner.terrain, v, goals, Counter(b.trail))
        if nxt is None:
            rng = random.Random(f"{self.seed}:{self.agent_id}:{context.step}")
            return self._step(context, f"move_{rng.choice(list(DIRECTIONS))}",
                              f"{why}: no visible way", target)
        action, how = step_into(self.planner.terrain, v, nxt)
        return self._step(context, action, f"{why} at {_cell(target)}: {how}", target)

    def _step(self, context: AgentContext, action: str, why: str,
              target: Cell | None = None) -> SkillStep:
        return SkillStep(Decision(self.action_index[action], reason=why), target)

    # ---- what it knows ----------------------------------------------------------------

    def _recipe(self, b: Beliefs, item: str, verb: str) -> Recipe | None:
        for recipe in b.recipes.get(item, []):
            if recipe.verb == verb and self.planner.team.op(recipe) not in self.planner.cannot:
                return recipe
        return None

    def _collect_recipe(self, b: Beliefs, item: str) -> Recipe | None:
        """A collect recipe for `item` the agent may use, one whose source it knows first."""
        found = [r for r in b.recipes.get(item, []) if r.verb == "collect"
                 and self.planner.team.op(r) not in self.planner.cannot]
        return next((r for r in found if r.material in b.known), found[0] if found else None)

    def _nearest(self, b: Beliefs, kind: str) -> Cell | None:
        cells = [c for c in b.known.get(kind, []) if c not in b.avoid]
        return min(cells, key=lambda c: (b.dist(c), c)) if cells else None

    def _adjacent(self, b: Beliefs, station: str, slack: int = 0) -> bool:
        """A `station` within reach (the rules' station distance, plus `slack`)."""
        return near_material(b.view.materials, b.view.position, station,
                             self.rules.station_distance + slack)

    @staticmethod
    def _missing(recipe: Recipe, inventory: dict[str, int]) -> str:
        """What `recipe` uses that the agent lacks ("" when nothing)."""
        return ", ".join(f"{k} {n - inventory.get(k, 0)}" for k, n in recipe.uses.items()
                         if inventory.get(k, 0) < n)


def _source(provenance: str) -> str:
    """`observed` -> "seen", `told_by:agent_1` -> "agent_1"."""
    return "seen" if provenance == "observed" else provenance.removeprefix("told_by:")


def _cell(cell: Cell) -> str:
    return f"({cell[0]},{cell[1]})"
