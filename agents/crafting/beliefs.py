"""What a crafting agent knows at one step, gathered from its view, its recall and its inbox.

The planner keeps nothing between steps: everything it knows across steps comes back
through `AgentContext.recall` (its knowledge graph). With memory off (`recall` is None) it
knows exactly this step's view, this step's inbox and the manual it was born with.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from memsim.agents.crafting.view import CraftingView
from memsim.agents.messages import Message
from memsim.agents.policy import AgentContext
from memsim.memory import CommitmentRecord, Fact, GoalRecord, RecipeRecord, RegionRecord

Cell = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Recipe:
    """One way to get an item, as the planner uses it."""

    name: str
    verb: str  # "collect" (do on `material` holding `tools`), "make" or "place"
    produces: str
    uses: Mapping[str, int]  # consumed
    stations: tuple[str, ...] = ()  # make / place: stations within reach
    material: str = ""  # collect: the material to face
    tools: tuple[str, ...] = ()  # collect: held, not consumed

    @classmethod
    def parse(cls, name: str, produces: str, requires: Mapping[str, int],
              nearby: Iterable[str]) -> Recipe:
        """From the memory's recipe form (`recipe_facts`): a collect recipe is named
        `collect_<item>_from_<material>` and lists the material and the tools in
        `nearby` (in any order)."""
        nearby = tuple(sorted(nearby))
        verb = name.split("_", 1)[0]
        if verb == "collect" and "_from_" in name:
            material = name.rsplit("_from_", 1)[1]
            return cls(name, verb, produces, dict(requires), material=material,
                       tools=tuple(n for n in nearby if n != material))
        return cls(name, verb, produces, dict(requires), stations=nearby)

    @classmethod
    def of_record(cls, record: RecipeRecord) -> Recipe:
        key = (record.name, record.produces, tuple(sorted(record.requires.items())),
               record.nearby)
        found = _PARSED.get(key)
        if found is None:
            found = _PARSED[key] = cls.parse(record.name, record.produces, record.requires,
                                             record.nearby)
        return found

    @classmethod
    def of_fact(cls, fact: Fact) -> Recipe:
        return cls.parse(fact.subject, fact.object or "", fact.requires, fact.nearby)


# Recipes recalled every step are parsed once (a recipe is an immutable value), and a
# recalled book is turned into a recipe book once per version of it.
_PARSED: dict[tuple[Any, ...], Recipe] = {}
_BOOKS: dict[tuple[tuple[str, int], ...], dict[str, list[Recipe]]] = {}


def recipe_book(recipes: Iterable[Recipe]) -> dict[str, list[Recipe]]:
    """Item -> the recipes that produce it, in a stable order."""
    book: dict[str, list[Recipe]] = {}
    for recipe in sorted(recipes, key=lambda r: r.name):
        book.setdefault(recipe.produces, []).append(recipe)
    return book


@dataclass
class Beliefs:
    """The agent's knowledge this step (see the module docstring)."""

    agent_id: str
    step: int
    view: CraftingView
    memory: bool
    recipes: dict[str, list[Recipe]]
    known: dict[str, list[Cell]]  # kind -> cells, nearest first
    teammates: dict[str, tuple[int, int, int]]  # agent -> (x, y, step seen)
    claims: dict[tuple[str, int, int], str]  # (kind, x, y) -> claiming agent
    commitments: list[CommitmentRecord]
    avoid: set[Cell]
    trail: list[Cell]  # newest first
    goal: str | None  # the current goal's name
    subgoal: GoalRecord | None
    recent: list[GoalRecord]  # the last subgoals that ended, newest first
    frontier: list[RegionRecord]
    inbox: list[Message] = field(default_factory=list)

    def dist(self, cell: Cell) -> int:
        return abs(cell[0] - self.view.x) + abs(cell[1] - self.view.y)

    def free(self, kind: str, cell: Cell) -> bool:
        """Nobody else claims this target."""
        return self.claims.get((kind, *cell), self.agent_id) == self.agent_id

    def my_claims(self) -> list[tuple[str, int, int]]:
        return sorted(k for k, a in self.claims.items() if a == self.agent_id)

    def commitment(self, direction: str) -> CommitmentRecord | None:
        """The oldest open commitment in this direction with a teammate."""
        return next((c for c in self.commitments
                     if c.direction == direction and c.agent != "team"), None)

    def asked(self, item: str) -> CommitmentRecord | None:
        """An open request of this agent to the whole team for `item`."""
        return next((c for c in self.commitments if c.direction == "receive"
                     and c.agent == "team" and c.item == item), None)


def gather(context: AgentContext, manual: Iterable[Recipe], recall_kinds: Iterable[str],
           ) -> Beliefs:
    """The agent's beliefs from its context: view + recall, or view + inbox + manual."""
    view: CraftingView = context.view
    recall = context.recall
    inbox = list(context.inbox)
    # With memory the inbox's facts reach the planner through recall (memory wrote them);
    # without it, they are read here.
    heard = [] if recall is not None else [f for m in inbox for f in _facts(m, context.step)]
    known: dict[str, list[Cell]] = {}
    for cell, material in view.materials.items():
        known.setdefault(material, []).append(cell)
    for cell, thing in view.objects.items():
        known.setdefault(thing, []).append(cell)
    avoid: set[Cell] = set()
    if recall is not None:
        avoid = {(a.x, a.y) for a in recall.avoid}
        remembered = [(p.kind, (p.x, p.y)) for p in recall.nearest]
        recipes = None
    else:
        remembered = [(f.subject, f.place) for f in heard
                      if f.kind == "seen_at" and f.place is not None and f.entity_id is None]
        recipes = [*manual, *(Recipe.of_fact(f) for f in heard if f.kind == "recipe")]
    for kind, cell in remembered:
        # The view shows what is there now; a memory it contradicts is set aside (memory
        # closes it itself through the `surveyed` fact).
        if cell in view.materials or cell in avoid:
            continue
        known.setdefault(kind, []).append(cell)
    wanted = set(recall_kinds)
    for kind, cells in known.items():
        if kind in wanted or kind == "cow":
            cells.sort(key=lambda c: (abs(c[0] - view.x) + abs(c[1] - view.y), c))
    if recipes is None:  # memory on: the book as recalled (parsed once per version of it)
        assert recall is not None
        key = tuple((r.node_id, r.step) for r in recall.recipes)
        book = _BOOKS.get(key)
        if book is None:
            if len(_BOOKS) > 256:
                _BOOKS.clear()
            book = _BOOKS[key] = recipe_book(Recipe.of_record(r) for r in recall.recipes)
    else:
        book = recipe_book(recipes)
    return Beliefs(
        agent_id=context.agent_id,
        step=context.step,
        view=view,
        memory=recall is not None,
        recipes=book,
        known=known,
        teammates=_teammates(context, heard),
        claims=_claims(context, heard),
        commitments=list(recall.commitments) if recall is not None else [],
        avoid=avoid,
        trail=list(recall.trail) if recall is not None else [],
        goal=recall.goal.name if recall is not None and recall.goal is not None else None,
        subgoal=recall.subgoal if recall is not None else None,
        recent=list(recall.subgoals) if recall is not None else [],
        frontier=list(recall.frontier) if recall is not None else [],
        inbox=inbox,
    )


def _facts(message: Message, step: int) -> list[Fact]:
    try:
        return message.facts(step)
    except ValueError:  # a message this agent's memory would not take: ignore it
        return []


def _teammates(context: AgentContext, heard: list[Fact]) -> dict[str, tuple[int, int, int]]:
    found: dict[str, tuple[int, int, int]] = {}
    if context.recall is not None:
        found = {t.agent: (t.x, t.y, t.step) for t in context.recall.teammates}
    else:
        for f in heard:
            if f.kind == "seen_at" and f.entity_id is not None and f.place is not None:
                found[f.entity_id] = (*f.place, f.observed_step or context.step)
    view: CraftingView = context.view
    for cell, who in view.agents.items():  # in view now: the truth
        if who != context.agent_id:
            found[who] = (*cell, context.step)
    return found


def _claims(context: AgentContext, heard: list[Fact]) -> dict[tuple[str, int, int], str]:
    if context.recall is not None:
        return {(c.kind, c.x, c.y): c.agent for c in context.recall.claims}
    return {(f.subject, *f.place): f.agent for f in heard
            if f.kind == "claim" and f.status == "set" and f.place is not None
            and f.agent is not None}


def summary(beliefs: Beliefs) -> dict[str, Any]:
    """A few counts for a decision's reason (what the agent acted on)."""
    return {"recipes": sum(len(r) for r in beliefs.recipes.values()),
            "teammates": len(beliefs.teammates), "claims": len(beliefs.claims),
            "commitments": len(beliefs.commitments), "avoid": len(beliefs.avoid)}
