"""How a crafting planner works with its team: answering requests, keeping promises,
asking for what it cannot get, telling what it sees, and claiming targets.

Every promise and request lives in memory as a `Commitment` (give / receive / requested),
every claim as a `Claim`: a request heard once is served when the agent later has a
spare unit; a promise made at one step is kept at the next ones. With memory off only
this step's inbox counts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from memsim.agents.crafting.beliefs import Beliefs, Cell, Recipe
from memsim.agents.crafting.view import DIRECTIONS
from memsim.agents.messages import claim_goal

Go = Callable[[Any, set[Cell], Cell, str], tuple[str, str]]


def next_to(cell: Cell) -> set[Cell]:
    return {(cell[0] + dx, cell[1] + dy) for dx, dy in DIRECTIONS.values()}


class Teamwork:
    """The team side of one agent's planner. `go(turn, goals, target, why)` walks."""

    def __init__(self, cfg: dict[str, Any], goal_item: str, cannot: frozenset[str],
                 go: Go) -> None:
        self.cfg = cfg
        self.goal_item = goal_item
        self.cannot = cannot
        self.go = go

    # ---- what it can spare ----------------------------------------------------------

    def op(self, recipe: Recipe) -> str:
        """The operation a recipe is, as roles name them."""
        return (f"collect_{recipe.material}" if recipe.verb == "collect"
                else f"{recipe.verb}_{recipe.produces}")

    def spare(self, item: str, b: Beliefs) -> int:
        """Units of `item` it can give away without slowing its own plan: none of the
        goal item; one kept of what it can use itself (consume in a recipe its role may
        do, or hold as a tool for one); all of the rest."""
        held = b.view.inventory.get(item, 0)
        if item == self.goal_item:
            return 0
        uses = any(self.op(r) not in self.cannot and (item in r.uses or item in r.tools)
                   for recipes in b.recipes.values() for r in recipes)
        return max(0, held - (1 if uses else 0))

    # ---- answering -------------------------------------------------------------------

    def answer(self, turn: Any) -> None:
        """Offer a spare item to a teammate who asked for it (a request heard this step
        or remembered), take up an offer made to it, share recipes asked for."""
        b = turn.b
        giving = b.commitment("give") is not None
        receiving = b.commitment("receive") is not None
        requests = [(c.agent, c.item) for c in b.commitments if c.direction == "requested"]
        requests += [(m.sender, m.payload.item) for m in b.inbox
                     if m.payload.type == "item_request" and not b.memory]
        for agent, item in requests:
            where = b.teammates.get(agent)
            close = where is not None and b.dist(where[:2]) <= self.cfg["teammate_reach"]
            if giving or not close or self.spare(item, b) < 1:
                continue
            turn.say("offer", {"type": "item_offer", "item": item, "count": 1}, agent)
            turn.where_am_i(agent)
            turn.note(kind="commitment", subject=item, object="give", agent=agent, count=1,
                      status="set", until=b.step + self.cfg["offer_steps"])
            turn.note(kind="commitment", subject=item, object="requested", agent=agent,
                      count=1, status="completed", until=b.step)
            giving = True  # one promise at a time
        for m in b.inbox:
            p = m.payload
            if p.type == "item_offer" and m.kind.value == "offer" and not receiving:
                turn.say("accept", {"type": "item_offer", "item": p.item, "count": 1}, m.sender)
                turn.where_am_i(m.sender)
                turn.note(kind="commitment", subject=p.item, object="receive", agent=m.sender,
                          count=1, status="set", until=b.step + self.cfg["pickup_steps"])
                receiving = True
            elif p.type == "recipe_request" and p.item in b.recipes:
                turn.messages.append({"recipients": [m.sender],
                                      "kind": "inform", "ttl": 2, "step": b.step,
                                      "export": {"recipes": True}})

    def keep_promises(self, turn: Any) -> tuple[str, str] | None:
        """Give a promised item to the teammate at hand, wait for a promised gift, or
        walk to meet; close promises that are kept or can no longer be."""
        b = turn.b
        for c in (b.commitment("give"), b.commitment("receive")):
            if c is None:
                continue
            done = {"subject": c.item, "object": c.direction, "agent": c.agent,
                    "count": c.count, "until": c.until}
            if c.direction == "give" and self.spare(c.item, b) < 1:
                turn.note(kind="commitment", status="failed", **done)
                continue
            if c.direction == "receive" and b.view.inventory.get(c.item, 0) >= 1:
                turn.note(kind="commitment", status="completed", **done)
                self.stop_asking(turn, c.item)
                continue
            turn.where_am_i(c.agent)
            for name, (dx, dy) in DIRECTIONS.items():
                if b.view.objects.get((b.view.x + dx, b.view.y + dy)) != c.agent:
                    continue
                if c.direction == "receive":
                    return "noop", f"waiting for {c.agent} to hand over {c.item}"
                if b.view.facing != (dx, dy):
                    return f"move_{name}", f"turning to {c.agent} to give {c.item}"
                turn.note(kind="commitment", status="completed", **done)
                return f"give_{c.item}", f"giving {c.item} to {c.agent}"
            where = b.teammates.get(c.agent)
            if where is not None:
                return self.go(turn, next_to(where[:2]), where[:2],
                               f"meeting {c.agent} for {c.item}")
        return None

    # ---- asking ----------------------------------------------------------------------

    def ask(self, turn: Any, item: str) -> None:
        """Ask the team for `item` unless a request or a promise for it is open."""
        b = turn.b
        if b.asked(item) is not None or b.commitment("receive") is not None:
            return
        until = b.step + self.cfg["request_every"]
        turn.say("request", {"type": "item_request", "item": item, "count": 1,
                             "until": until + self.cfg["offer_steps"]})
        turn.where_am_i(None)
        turn.note(kind="commitment", subject=item, object="receive", agent="team", count=1,
                  status="set", until=until)

    def stop_asking(self, turn: Any, item: str) -> None:
        asked = turn.b.asked(item)
        if asked is not None:
            turn.note(kind="commitment", subject=item, object="receive", agent="team",
                      count=1, status="completed", until=asked.until)

    def ask_recipe(self, turn: Any, item: str) -> None:
        b = turn.b
        key = f"recipe_{item}"
        if b.asked(key) is None:
            turn.say("request", {"type": "recipe_request", "item": item})
            turn.note(kind="commitment", subject=key, object="receive", agent="team", count=1,
                      status="set", until=b.step + self.cfg["recipe_request_every"])

    def wait_by_a_teammate(self, turn: Any, item: str) -> tuple[str, str] | None:
        """Only a teammate can get `item`: stay near the nearest one known."""
        b = turn.b
        mates = sorted((b.dist(p[:2]), name, p[:2]) for name, p in b.teammates.items())
        if not mates:
            return None
        distance, name, cell = mates[0]
        if distance <= 2:
            return "noop", f"asked for {item}; waiting by {name}"
        return self.go(turn, next_to(cell), cell, f"asked for {item}; going to {name}")

    # ---- telling and claiming --------------------------------------------------------

    def share_sightings(self, turn: Any) -> None:
        """Tell the team about rare things first seen this step: one memory export of
        them (memory on), or a location message per kind in view (memory off: it cannot
        know what is new)."""
        b = turn.b
        share = self.cfg["share"]
        seen = sorted({m for m in b.view.materials.values() if m in share})
        if b.memory:  # with the regions it first explored (so teammates explore elsewhere)
            turn.messages.append({"recipients": None, "kind": "inform", "ttl": 2,
                                  "step": b.step, "export": {
                                      "kinds": seen, "regions": self.cfg["share_regions"],
                                      "since": b.step, "observed_only": True}})
            return
        for kind in seen[:2]:
            cell = min((c for c, m in b.view.materials.items() if m == kind),
                       key=lambda c: (b.dist(c), c))
            turn.say("inform", {"type": "location", "entity": kind, "x": cell[0],
                                "y": cell[1], "seen_step": b.step})

    def claims(self, turn: Any) -> None:
        """Claim this step's target if it is a contested kind; release older claims."""
        b = turn.b
        for kind, x, y in b.my_claims():
            if (kind, x, y) == turn.claim:
                continue
            done = kind == self.goal_item and b.view.inventory.get(kind, 0) >= 1
            turn.say("plan", {"type": "goal_claim", "goal": claim_goal(kind, x, y),
                              "status": "done" if done else "release"})
            turn.note(kind="claim", subject=kind, place=(x, y), agent=b.agent_id,
                      status="completed" if done else "released")
        if turn.claim is not None and b.claims.get(turn.claim) != b.agent_id:
            kind, x, y = turn.claim
            turn.say("plan", {"type": "goal_claim", "goal": claim_goal(kind, x, y),
                              "status": "claim"})
            turn.note(kind="claim", subject=kind, place=(x, y), agent=b.agent_id, status="set")
