"""A stable, incremental 2-D layout for a memory graph, and the zoom/pan transform.

Pure Python + numpy (no pygame), so it is testable without a window.

Layout space (units; the screen transform scales it):

The viewer's memory panel is taller than wide, so the two halves are stacked:

- **Semantic** (y < 0, above): places, regions and entity instances at their world
  coordinates (a mini-map of what the agent believes, `MAP_SIZE` units square, at the
  left), rows of agents, entity kinds, recipes and messages beside it, and overflow
  rows above it (growing upwards).
- **Episodic** (y >= 0, below): horizontal bands, top to bottom Goal, Subgoal, Chunk,
  Event. A node's x is its time (an event's `step`, a chunk's `step_from`, a goal's
  `valid_from`) so a chunk sits above its events and a subgoal above its chunks. Time
  wraps into pages of `steps_per_page` steps, `PAGE_WIDTH` wide, stacked downwards, so
  a long episode grows down, not into an endless strip.

Each node id gets its position once, the first time the layout sees it, and keeps it for
good (also if it is evicted and comes back), so nothing jumps from frame to frame.

Beyond `collapse_threshold` nodes, `visible()` folds the events of old chunks into their
chunk (drawn as the chunk's summary with a count) and places into their region, so a
2,000+ node graph stays legible; edges are re-attached to what stays visible.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from memsim.memory.store import GraphStore

# Episodic band rows within one page (units from the page's top).
EPISODIC_ROWS: dict[str, tuple[float, ...]] = {
    "Goal": (0.0, 1.2),
    "Subgoal": (2.8, 4.2),
    "Chunk": (6.0, 7.4),
    "Event": (9.2, 10.2, 11.2, 12.2),
}
PAGE_HEIGHT = 16.0  # the rows above plus a gap (for the page's step range) between pages
PAGE_WIDTH = 64.0  # an episodic page's width in units
MAP_SIZE = 40.0  # side of the semantic mini-map in units (at the left, above the pages)
MAP_GAP = 4.0  # between the mini-map's bottom edge and y = 0
MAP_TITLE_ROOM = 3.0  # above the mini-map, for its title when the view is fitted
SLOT_WIDTH = 2.0  # spacing of the semantic nodes in rows beside / above the map
SIDE_X = MAP_SIZE + 4.0  # where the rows beside the map start
# Rows beside the map: label -> (first row, rows), rows counted down from the map's top.
# A full band spills into the overflow rows above the map, which grow upwards.
SEMANTIC_ROWS: dict[str, tuple[int, int]] = {
    "Agent": (0, 1),
    "Kind": (2, 5),
    "Recipe": (8, 5),
    "Other": (14, 6),  # messages and anything else
}
ENTITY_OFFSET = (0.35, -0.35)  # an entity instance beside the place it is at
REGION_NUDGE = 0.45  # cells; region centres are whole or half cells, places whole ones

# The time property each episodic label is placed by.
_TIME_PROP = {"Goal": "valid_from", "Subgoal": "valid_from", "Chunk": "step_from",
              "Event": "step"}
# Properties the layout and the panels read, asked of backends that copy what they return.
KEPT_PROPS = ("step", "step_from", "step_to", "valid_from", "valid_to", "x", "y", "rx", "ry",
              "size", "region", "instance", "kind", "name", "chunk", "seq", "summary",
              "consolidated", "action", "outcome", "status", "text", "sender", "n_events")

Props = Mapping[str, Any]


@dataclass(slots=True)
class GraphData:
    """One read of a memory graph: ``id -> (label, props)`` and directed typed edges.

    Read-only: on the embedded backend the property mappings are the store's own, valid
    while `revision` is the store's current one."""

    nodes: Mapping[str, tuple[str, Props]]
    edges: list[tuple[str, str, str]]  # (src, type, dst)
    revision: int | None = None

    def label(self, node_id: str) -> str:
        return self.nodes[node_id][0]

    def props(self, node_id: str) -> Props:
        entry = self.nodes.get(node_id)
        return entry[1] if entry is not None else {}


def read_graph(store: GraphStore) -> GraphData:
    """Read a whole namespace through `GraphStore.structure` (labels, the properties the
    viewer uses, edge triples), tagged with the store's revision read before it."""
    revision = store.revision
    # The embedded store hands out its own property dicts when asked for all of them
    # (no copy, ~4x faster at 2,000 nodes than filtering); servers send only KEPT_PROPS.
    props: tuple[str, ...] = KEPT_PROPS if store.capabilities.remote else ()
    structure = store.structure(props)
    return GraphData(structure.nodes, structure.edges, revision)


@dataclass(slots=True)
class VisibleGraph:
    """What to draw: node ids, labels, layout positions, edges by index, folded counts."""

    ids: list[str]
    labels: list[str]
    xy: np.ndarray  # [n, 2] layout units
    edges: list[tuple[int, int, str]]
    folded: dict[str, int]  # visible id -> how many hidden nodes it stands for
    index: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.index:
            self.index = {node_id: i for i, node_id in enumerate(self.ids)}


class MemoryLayout:
    """Positions for one graph, assigned once per node id (see module docstring)."""

    def __init__(self, world_size: tuple[int, int] = (64, 64), steps_per_page: int = 128,
                 collapse_threshold: int = 600, keep_recent_chunks: int = 4) -> None:
        if world_size[0] < 1 or world_size[1] < 1:
            raise ValueError(f"world_size must be positive, got {world_size}")
        if steps_per_page < 1:
            raise ValueError(f"steps_per_page must be >= 1, got {steps_per_page}")
        self.world_size = world_size
        self.steps_per_page = steps_per_page
        self.collapse_threshold = collapse_threshold
        self.keep_recent_chunks = keep_recent_chunks
        self.positions: dict[str, tuple[float, float]] = {}
        self.written: dict[str, int] = {}  # id -> step it was written at (see update)
        self._occupied: set[tuple[float, float]] = set()
        self._band_fill: dict[str, int] = {}
        self._pages = 0
        self._overflow = 0  # slots taken in the rows above the map

    # -- placement ------------------------------------------------------------------

    def update(self, graph: GraphData, step: int) -> list[str]:
        """Place the nodes not seen before (at frame `step`); returns their ids, sorted."""
        positions = self.positions
        first_read = not positions
        new = sorted(i for i in graph.nodes if i not in positions)
        for node_id in new:
            label, props = graph.nodes[node_id]
            positions[node_id] = self._place(label, props, step)
            # When it was written: its own time if it has one; else now, unless this is
            # the first read (a replay jumping to step N: nothing there is new).
            t = props.get(_TIME_PROP.get(label, "valid_from"))
            self.written[node_id] = int(t) if isinstance(t, int | float) else (
                -1 if first_read else step)
        return new

    def _place(self, label: str, props: Props, step: int) -> tuple[float, float]:
        if label in EPISODIC_ROWS:
            t = props.get(_TIME_PROP[label])
            return self._episodic(label, int(t) if isinstance(t, int | float) else step)
        if label == "Place" and _has_xy(props):
            return self._map(props["x"], props["y"])
        if label == "Region" and all(k in props for k in ("rx", "ry", "size")):
            # The region's centre, nudged off the cell grid so it never hides a place, and
            # kept on the map (a world smaller than a region has its regions' centres off).
            centre = props["size"] / 2 + REGION_NUDGE
            w, h = self.world_size
            return self._map(min(props["rx"] * props["size"] + centre, w - 1 + REGION_NUDGE),
                             min(props["ry"] * props["size"] + centre, h - 1 + REGION_NUDGE))
        if label == "Entity" and props.get("instance") and _has_xy(props):
            x, y = self._map(props["x"], props["y"])
            return x + ENTITY_OFFSET[0], y + ENTITY_OFFSET[1]
        band = {"Agent": "Agent", "Entity": "Kind", "Recipe": "Recipe"}.get(label, "Other")
        return self._semantic_slot(band)

    def _episodic(self, label: str, t: int) -> tuple[float, float]:
        page, col = divmod(max(t, 0), self.steps_per_page)
        self._pages = max(self._pages, page + 1)
        step_width = PAGE_WIDTH / self.steps_per_page
        x, top = col * step_width, page * PAGE_HEIGHT
        rows = EPISODIC_ROWS[label]
        # Events take rows in turn (t mod rows) so neighbours in time do not touch.
        start = t % len(rows) if label == "Event" else 0
        for nudge in range(64):
            for k in range(len(rows)):
                spot = (x + nudge * step_width / 4, top + rows[(start + k) % len(rows)])
                if spot not in self._occupied:
                    self._occupied.add(spot)
                    return spot
        return x, top + rows[start]  # pathological pile-up: overlap rather than fail

    def _map(self, wx: float, wy: float) -> tuple[float, float]:
        w, h = self.world_size
        side = MAP_SIZE / max(w, h)
        return wx * side, -MAP_GAP - MAP_SIZE + wy * side

    def _semantic_slot(self, band: str) -> tuple[float, float]:
        per_row = int((PAGE_WIDTH - SIDE_X) // SLOT_WIDTH)
        first, rows = SEMANTIC_ROWS[band]
        n = self._band_fill.get(band, 0)
        if n >= rows * per_row:  # the band is full: the overflow rows above the map
            return self._overflow_slot()
        self._band_fill[band] = n + 1
        row, col = divmod(n, per_row)
        return SIDE_X + col * SLOT_WIDTH, -MAP_GAP - MAP_SIZE + (first + row) * SLOT_WIDTH

    def _overflow_slot(self) -> tuple[float, float]:
        row, col = divmod(self._overflow, int(PAGE_WIDTH // SLOT_WIDTH))
        self._overflow += 1
        return col * SLOT_WIDTH, -MAP_GAP - MAP_SIZE - (row + 1) * SLOT_WIDTH

    # -- what to draw -----------------------------------------------------------------

    def visible(self, graph: GraphData) -> VisibleGraph:
        """The nodes to draw (collapsed beyond the threshold) with positions and edges.
        Run once per graph revision, so it is written for speed (~3 ms at 2,000 nodes)."""
        nodes, positions = graph.nodes, self.positions
        rep = self.representatives(graph)
        ids = [i for i in sorted(nodes) if i not in rep and i in positions]
        folded = dict(Counter(shown for shown in rep.values() if shown is not None))
        xy = np.array([positions[i] for i in ids], dtype=np.float64).reshape(-1, 2)
        index = {node_id: i for i, node_id in enumerate(ids)}
        edges: set[tuple[int, int, str]] = set()
        for src, etype, dst in graph.edges:
            if rep:
                src, dst = rep.get(src, src), rep.get(dst, dst)
            ia, ib = index.get(src), index.get(dst)  # type: ignore[arg-type]
            if ia is not None and ib is not None and ia != ib:
                edges.add((ia, ib, etype))
        # Sorted: a store's edge order depends on its history (a restored graph lists them
        # differently), and the drawing must not.
        return VisibleGraph(ids, [nodes[i][0] for i in ids], xy, sorted(edges), folded, index)

    def representatives(self, graph: GraphData) -> dict[str, str | None]:
        """For each hidden node, the visible node it folds into (None: just hidden).
        Empty below the collapse threshold."""
        nodes = graph.nodes
        if len(nodes) <= self.collapse_threshold:
            return {}
        chunks = sorted((props.get("seq", 0), node_id) for node_id, (label, props)
                        in nodes.items() if label == "Chunk")
        keep = self.keep_recent_chunks
        recent = {node_id for _, node_id in chunks[len(chunks) - keep:]} if keep else set()
        rep: dict[str, str | None] = {}
        for node_id, (label, props) in nodes.items():
            if label == "Event":
                chunk = props.get("chunk")
                if chunk not in recent:
                    rep[node_id] = chunk if chunk in nodes else None
            elif label == "Place" and "region" in props:
                region = f"region:{props['region']}"
                rep[node_id] = region if region in nodes else None
        return rep

    def map_bounds(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of the semantic mini-map (the world's extent)."""
        w, h = self.world_size
        side = MAP_SIZE / max(w, h)
        x0, y0 = self._map(0, 0)
        return x0, y0, x0 + w * side, y0 + h * side

    def pages(self) -> int:
        """How many timeline pages hold placed episodic nodes."""
        return self._pages

    def page_width(self) -> float:
        """A timeline page's width in units."""
        return PAGE_WIDTH

    def page_top(self, page: int) -> float:
        """The y of a timeline page's first row."""
        return page * PAGE_HEIGHT

    def bounds(self, ids: Sequence[str] | None = None,
               frames: bool = False) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) around the given (default: all placed) nodes; with `frames`,
        also around the mini-map and the width of the timeline pages in use."""
        pts = [self.positions[i] for i in (self.positions if ids is None else ids)]
        if frames:
            mx0, my0, mx1, my1 = self.map_bounds()
            pts += [(mx0, my0 - MAP_TITLE_ROOM), (mx1, my1)]
            if self._pages:
                pts += [(0.0, 0.0), (PAGE_WIDTH, 0.0)]
        if not pts:
            return (-1.0, -1.0, 1.0, 1.0)
        arr = np.asarray(pts)
        (x0, y0), (x1, y1) = arr.min(axis=0), arr.max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)


def _has_xy(props: Mapping[str, Any]) -> bool:
    return isinstance(props.get("x"), int | float) and isinstance(props.get("y"), int | float)


@dataclass(slots=True)
class ViewTransform:
    """screen = layout * scale + offset (uniform scale: zoom; offset: pan)."""

    scale: float = 1.0
    offset_x: float = 0.0
    offset_y: float = 0.0

    def to_screen(self, xy: np.ndarray) -> np.ndarray:
        """Layout points `[n, 2]` to screen pixels `[n, 2]` (floats)."""
        return xy * self.scale + (self.offset_x, self.offset_y)

    def to_layout(self, sx: float, sy: float) -> tuple[float, float]:
        return (sx - self.offset_x) / self.scale, (sy - self.offset_y) / self.scale

    def zoom_at(self, factor: float, sx: float, sy: float,
                lo: float = 1e-3, hi: float = 1e3) -> None:
        """Zoom by `factor` keeping the layout point under screen point (sx, sy) fixed."""
        if factor <= 0:
            raise ValueError(f"zoom factor must be > 0, got {factor}")
        lx, ly = self.to_layout(sx, sy)
        self.scale = min(max(self.scale * factor, lo), hi)
        self.offset_x, self.offset_y = sx - lx * self.scale, sy - ly * self.scale

    def pan(self, dx: float, dy: float) -> None:
        """Move the view by (dx, dy) screen pixels."""
        self.offset_x += dx
        self.offset_y += dy

    @classmethod
    def fit(cls, bounds: tuple[float, float, float, float],
            rect: tuple[int, int, int, int], margin: float = 12.0) -> ViewTransform:
        """The transform showing `bounds` (layout) inside `rect` (x, y, w, h), centred."""
        x0, y0, x1, y1 = bounds
        rx, ry, rw, rh = rect
        width, height = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
        scale = max(min((rw - 2 * margin) / width, (rh - 2 * margin) / height), 1e-3)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        return cls(scale, rx + rw / 2 - cx * scale, ry + rh / 2 - cy * scale)
