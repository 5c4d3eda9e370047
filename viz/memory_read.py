"""What a memory graph says, read for a person: `read_memory(graph)` -> `MemoryReading`.

Pure Python (no pygame), so it is testable without a window. The memory panel
(`viz.reading_panel`) draws a reading in the world's own terms instead of as a graph:

- the believed map: remembered places (cells), regions explored, sightings of things at
  their cells (own, told by a teammate, or gone), the agent's trail, its claims and the
  cells it avoids: all in world coordinates, so they line up with the world map;
- what it knows in general: sightings per kind (a legend), the kinds and recipes it
  knows (listed by name, not drawn);
- what it is doing with others: open claims and commitments, cells set aside;
- the timeline: goal ▸ subgoal ▸ chunk, in order, each with its full text.

Messages (hearsay) are not separate here: what a teammate said is in the sightings it
produced (`told`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from memsim.viz.memory_layout import GraphData

Cell = tuple[int, int]


@dataclass(slots=True)
class Sighting:
    """An entity instance the agent believes is (or was) at a cell."""

    node_id: str
    kind: str
    x: int
    y: int
    told: bool = False  # heard from a teammate, not seen
    gone: bool = False  # closed: it was there and is no more

    @property
    def cell(self) -> Cell:
        return self.x, self.y


@dataclass(frozen=True, slots=True)
class TimelineItem:
    """One goal, subgoal or chunk, with the text the panel shows for it."""

    node_id: str
    label: str  # Goal, Subgoal or Chunk
    depth: int  # 0 goal, 1 subgoal, 2 chunk
    step: int  # when it started
    text: str
    active: bool = False


@dataclass(frozen=True, slots=True)
class WorkingItem:
    """An open claim, commitment or cell set aside, in words, with its cell if any."""

    node_id: str
    label: str  # Claim, Commitment or Avoid
    text: str
    cell: Cell | None = None


@dataclass(slots=True)
class MemoryReading:
    """A memory graph as the panel shows it (see module docstring)."""

    nodes: int
    labels: Counter[str]
    places: list[Cell] = field(default_factory=list)
    regions: list[tuple[int, int, int, bool]] = field(default_factory=list)  # x0, y0, size,
    sightings: list[Sighting] = field(default_factory=list)  # explored
    kinds: Counter[str] = field(default_factory=Counter)  # sightings per kind (not gone)
    known_kinds: list[str] = field(default_factory=list)  # kinds it knows of, by name
    recipes: list[str] = field(default_factory=list)
    trail: list[Cell] = field(default_factory=list)  # newest first
    working: list[WorkingItem] = field(default_factory=list)
    timeline: list[TimelineItem] = field(default_factory=list)
    self_cell: Cell | None = None  # where the agent believes it is (its trail's head)
    target: Cell | None = None  # the active subgoal's target cell
    serial: int = 0  # set by a reader that caches drawings of readings

    def sighting_at(self, cell: Cell) -> list[Sighting]:
        return [s for s in self.sightings if s.cell == cell]


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _cell(props: Mapping[str, Any], kx: str = "x", ky: str = "y") -> Cell | None:
    x, y = props.get(kx), props.get(ky)
    if type(x) is int and type(y) is int:  # the common case, fast (2,000+ nodes per read)
        return x, y
    x, y = _int(x), _int(y)
    return (x, y) if x is not None and y is not None else None


def _timeline_text(label: str, node_id: str, props: Mapping[str, Any]) -> str:
    if label == "Goal":
        status = props.get("status", "active")
        return f"goal {props.get('name', node_id)} ({status}, since step " \
               f"{props.get('valid_from', '?')})"
    if label == "Subgoal":
        summary = props.get("summary")
        if summary:
            return f"subgoal {summary}"
        text = f"subgoal {props.get('name', node_id)} ({props.get('status', 'active')}, " \
               f"since step {props.get('valid_from', '?')}"
        target = _cell(props, "target_x", "target_y")
        return text + (f", target ({target[0]},{target[1]}))" if target else ")")
    summary = str(props.get("summary") or "")
    if not summary and props.get("actions"):
        summary = ", ".join(f"{a} x{n}" for a, n in zip(props.get("actions", []),
                                                       props.get("action_counts", []),
                                                       strict=False))
    span = f"steps {props.get('step_from', '?')}-{props.get('step_to', '?')}"
    return f"#{props.get('seq', '?')} {span}: {summary}".rstrip(": ")


def _working_text(label: str, node_id: str, props: Mapping[str, Any]) -> str:
    cell = _cell(props)
    where = f" at ({cell[0]},{cell[1]})" if cell else ""
    if label == "Claim":
        return f"claim: {props.get('agent') or 'someone'} goes for " \
               f"{props.get('kind', '?')}{where}"
    if label == "Avoid":
        reason = f": {props['reason']}" if props.get("reason") else ""
        return f"avoid {props.get('kind', 'cell')}{where} until step " \
               f"{props.get('until', '?')}{reason}"
    parts = node_id.split(":")  # commit:<give|receive>:<item>:<agent>
    if len(parts) >= 4:
        give = parts[1] == "give"
        return f"commitment: {'give' if give else 'receive'} {parts[2]} " \
               f"{'to' if give else 'from'} {':'.join(parts[3:])}"
    return f"commitment {node_id}"


def read_memory(graph: GraphData) -> MemoryReading:
    """Read a memory graph (one pass over its nodes and its hierarchy edges)."""
    nodes = graph.nodes
    reading = MemoryReading(nodes=len(nodes), labels=Counter(v[0] for v in nodes.values()))
    timeline: list[TimelineItem] = []
    self_props: Mapping[str, Any] = {}
    places = reading.places
    for node_id, (label, props) in nodes.items():
        if label == "Event":
            continue
        if label == "Place":
            x, y = props.get("x"), props.get("y")
            if type(x) is int and type(y) is int:
                places.append((x, y))
            else:
                cell = _cell(props)
                if cell is not None:
                    places.append(cell)
        elif label == "Entity":
            cell = _cell(props)
            kind = str(props.get("kind") or props.get("name") or node_id)
            if props.get("instance") and cell is not None:
                gone = "valid_to" in props
                provenance = props.get("provenance")
                reading.sightings.append(Sighting(
                    node_id, kind, cell[0], cell[1],
                    provenance is not None and str(provenance).startswith("told"), gone))
                if not gone:
                    reading.kinds[kind] += 1
            elif not props.get("instance"):
                reading.known_kinds.append(str(props.get("name") or node_id.split(":", 1)[-1]))
        elif label == "Region":
            size = _int(props.get("size"))
            cell = _cell(props, "rx", "ry")
            if size and cell is not None:
                reading.regions.append((cell[0] * size, cell[1] * size, size,
                                        bool(props.get("explored"))))
        elif label == "Recipe":
            reading.recipes.append(str(props.get("name") or node_id.split(":", 1)[-1]))
        elif label == "Agent" and props.get("is_self"):
            self_props = props
        elif label in ("Claim", "Commitment", "Avoid"):
            open_ = "valid_to" not in props and props.get("status", "active") == "active"
            if label == "Avoid":
                open_ = "valid_to" not in props
            if open_:
                reading.working.append(WorkingItem(node_id, label,
                                                   _working_text(label, node_id, props),
                                                   _cell(props)))
        elif label in ("Goal", "Subgoal", "Chunk"):
            depth = {"Goal": 0, "Subgoal": 1, "Chunk": 2}[label]
            step = _int(props.get("step_from" if label == "Chunk" else "valid_from")) or 0
            timeline.append(TimelineItem(node_id, label, depth, step,
                                         _timeline_text(label, node_id, props)))
    trail = self_props.get("trail") or []
    reading.trail = [(int(trail[i]), int(trail[i + 1])) for i in range(0, len(trail) - 1, 2)]
    reading.self_cell = reading.trail[0] if reading.trail else None
    current = {self_props.get("current_goal"), self_props.get("current_subgoal"),
               self_props.get("current_chunk")}
    subgoal = nodes.get(str(self_props.get("current_subgoal")))
    if subgoal is not None:
        reading.target = _cell(subgoal[1], "target_x", "target_y")
    # Chronological; at the same step a goal before its subgoal before its chunk.
    timeline.sort(key=lambda t: (t.step, t.depth, t.node_id))
    reading.timeline = [TimelineItem(t.node_id, t.label, t.depth, t.step, t.text,
                                     t.node_id in current) for t in timeline]
    reading.places.sort()
    reading.sightings.sort(key=lambda s: (s.gone, s.kind, s.y, s.x))
    reading.known_kinds.sort()
    reading.recipes.sort()
    reading.working.sort(key=lambda w: (w.label, w.text))
    return reading
