"""What a model says is checked against the sender's own memory before it leaves.

The channel (`sim.comm`) checks that a message is well formed and that the receiver's
memory could store it; it cannot know whether it is true. This check, run by the LLM
policies on every message their model wrote, can: the sender's recall and this step's
perception are what it knows.

- a location report must name something the sender sees or remembers at that cell (or, for
  its own name, where it stands);
- a claim must name a real target, as ``<kind>@<x>,<y>``, that it sees or remembers there;
- an item request or offer must name an item of the world (an offer, one it holds);
- free text is bounded, and refused altogether where the policy turns it off.

A rejected message never reaches the channel, so it is never stored as hearsay; the
policy counts it (`messages_rejected`) and puts the reason in its decision's reason.

`parse_say` reads the skill policy's one-line ``say`` into such a message:
``""`` (nothing), ``"<thing> at <x>,<y>"`` (a location report) or ``"claim <thing> at
<x>,<y>"`` (a claim); anything else is free text.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from memsim.agents.messages import claim_goal
from memsim.agents.policy import AgentContext

_AT = r"(?P<kind>[a-z][a-z0-9_]{0,63})\s+at\s*\(?\s*(?P<x>-?\d{1,6})\s*,\s*(?P<y>-?\d{1,6})\s*\)?"
_CLAIM = re.compile(rf"^claim\s+{_AT}\.?$", re.IGNORECASE)
_LOCATION = re.compile(rf"^{_AT}\.?$", re.IGNORECASE)
_TARGET = re.compile(r"^([A-Za-z][A-Za-z0-9_]{0,63})@(-?\d{1,9}),(-?\d{1,9})$")
_NOTHING = {"", "none", "nothing", "-", "n/a"}


def parse_say(text: str, sender: str, step: int, ttl: int) -> dict[str, Any] | None:
    """The channel message a ``say`` line means (broadcast), or None when it says nothing."""
    line = " ".join(text.split())
    if line.lower().strip(".") in _NOTHING:
        return None
    base = {"sender": sender, "recipients": None, "step": step, "ttl": ttl}
    claim = _CLAIM.match(line)
    if claim is not None:
        goal = claim_goal(claim["kind"].lower(), int(claim["x"]), int(claim["y"]))
        return {**base, "kind": "plan",
                "payload": {"type": "goal_claim", "goal": goal, "status": "claim"}}
    where = _LOCATION.match(line)
    if where is not None:
        return {**base, "kind": "inform", "payload": {
            "type": "location", "entity": where["kind"].lower(), "x": int(where["x"]),
            "y": int(where["y"]), "seen_step": step}}
    return {**base, "kind": "inform", "payload": {"type": "text", "text": line}}


class MessageCheck:
    """The sender-side check (see the module docstring). `items`: the world's item names
    (empty: any); `allow_text`: whether free text may leave at all; `text_chars`: its bound."""

    def __init__(self, items: Collection[str] = (), allow_text: bool = True,
                 text_chars: int = 160) -> None:
        self.items = frozenset(items)
        self.allow_text = allow_text
        self.text_chars = text_chars

    def reject(self, message: Mapping[str, Any], context: AgentContext) -> str | None:
        """Why `message` may not leave (None: it may)."""
        payload = message.get("payload") or {}
        kind = payload.get("type")
        if kind == "location":
            entity, cell = payload.get("entity"), (payload.get("x"), payload.get("y"))
            if entity == context.agent_id:
                if cell != tuple(getattr(context.view, "position", ())):
                    return f"location: {entity} is not at ({cell[0]},{cell[1]})"
                return None
            if not remembered(context, str(entity), cell):
                return f"location: no {entity} remembered at ({cell[0]},{cell[1]})"
            return None
        if kind == "goal_claim":
            goal = str(payload.get("goal", ""))
            target = _TARGET.match(goal)
            if target is None:
                return f"claim: {goal[:40]!r} names no target (<kind>@<x>,<y>)"
            cell = (int(target[2]), int(target[3]))
            if not remembered(context, target[1], cell):
                return f"claim: no {target[1]} remembered at ({cell[0]},{cell[1]})"
            return None
        if kind in ("item_request", "item_offer", "recipe_request"):
            item = str(payload.get("item", ""))
            if self.items and item not in self.items:
                return f"{kind}: {item[:40]!r} is not an item of this world"
            if kind == "item_offer":
                held = (getattr(context.view, "inventory", None) or {}).get(item, 0)
                if held < payload.get("count", 1):
                    return f"item_offer: holds {held} {item}"
            return None
        if kind == "text":
            if not self.allow_text:
                return "free text is off (say a location report or a claim)"
            text = str(payload.get("text", ""))
            if len(text) > self.text_chars:
                return f"text: {len(text)} characters; max {self.text_chars}"
            return None
        return f"{kind}: not a kind a model may send"


def remembered(context: AgentContext, kind: str, cell: tuple[Any, Any]) -> bool:
    """The sender sees `kind` at `cell` now, or its recall holds it there."""
    for fact in context.facts:
        if fact.kind == "seen_at" and fact.subject == kind and fact.place == cell:
            return True
    recall = context.recall
    if recall is None:
        return False
    places = [*recall.nearest, *(s for need in recall.needs for s in need.sources)]
    if any(p.kind == kind and (p.x, p.y) == cell for p in places):
        return True
    return any(t.agent == kind and (t.x, t.y) == cell for t in recall.teammates)
