"""The memory panel as a reader sees it: the followed agent's (or the team's) memory read
by `viz.memory_read` and drawn in the world's terms (the default; `g` shows the raw graph,
`viz.memory_panel`).

Top to bottom:

- **believed map**: the world's cells in the world map's orientation and, when the panel
  has room, its scale (else the largest whole number of pixels per cell that fits);
  remembered places are lit, unknown cells dark; each sighting is a square in its kind's
  colour (hollow: told by a teammate; crossed: gone), the trail a line, claims and cells
  set aside are marked, the active subgoal's target ringed. Labels only for this step's
  retrieved sightings, the target and the cell under the mouse, placed where they overlap
  no other label (else left out: hovering shows them). `o` draws the same map over the
  world map (`draw_overlay`), where every cell lines up exactly.
- **legend**: sightings per kind, coloured as on the map, most first.
- **knows**: the kinds and recipes it knows, by name (wrapped, "+n more").
- **with others**: open claims, commitments and cells set aside, in words.
- **timeline**: goal ▸ subgoal ▸ chunk, newest at the bottom, full text wrapped;
  this step's retrieved items in the accent colour, the active ones bright.

Every text box drawn is kept in `label_rects` (screen coordinates): the tests check that
no two overlap. The map is drawn to a cached surface per memory revision; each frame adds
the highlights, labels and text (cached glyphs).
"""

from __future__ import annotations

import textwrap
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pygame

from memsim.memory.store import GraphStore
from memsim.viz.frame import TEAM_GRAPH, Frame
from memsim.viz.memory_layout import read_graph
from memsim.viz.memory_read import MemoryReading, read_memory
from memsim.viz.panels import Colour, TextCache, panel
from memsim.viz.style import Style

# Where a label may go around its cell, in order of preference (dx, dy as label anchors).
_PLACES = ("right", "left", "above", "below", "above-right", "below-right", "above-left",
           "below-left")
TIMELINE_DOT = {"Goal": "Goal", "Subgoal": "Subgoal", "Chunk": "Chunk"}


@dataclass(slots=True)
class _Cached:
    """One store's reading, re-read only when the store's revision changes."""

    store: GraphStore | None = None
    revision: int | None = None
    frame_id: int = -1
    reading: MemoryReading | None = None
    reads: int = 0


def kind_colour(kind: str, style: Style) -> Colour:
    """A kind's colour: the style's `[reading.kind_colours]`, else a stable hue of its name."""
    colours = style.reading.kind_colours
    if kind in colours:
        return colours[kind]
    h = zlib.crc32(kind.encode())
    return (90 + h % 150, 90 + (h >> 8) % 150, 90 + (h >> 16) % 150)


class MapGeometry:
    """Screen placement of a world's cells: `origin` + cell * `cell` pixels."""

    def __init__(self, origin: tuple[float, float], cell: float, size: tuple[int, int]) -> None:
        self.origin, self.cell, self.size = origin, cell, size

    def rect(self, x: float, y: float, cols: float = 1, rows: float = 1) -> pygame.Rect:
        c = self.cell
        return pygame.Rect(round(self.origin[0] + x * c), round(self.origin[1] + y * c),
                           max(round(cols * c), 1), max(round(rows * c), 1))

    def centre(self, x: float, y: float) -> tuple[int, int]:
        c = self.cell
        return (round(self.origin[0] + (x + 0.5) * c), round(self.origin[1] + (y + 0.5) * c))

    def cell_at(self, pos: tuple[int, int]) -> tuple[int, int] | None:
        x = int((pos[0] - self.origin[0]) // self.cell)
        y = int((pos[1] - self.origin[1]) // self.cell)
        return (x, y) if 0 <= x < self.size[0] and 0 <= y < self.size[1] else None

    @property
    def bounds(self) -> pygame.Rect:
        return self.rect(0, 0, *self.size)


class ReadingPanel:
    """Draws a `MemoryReading` (see module docstring)."""

    def __init__(self, style: Style) -> None:
        self.style = style
        self.cache: dict[str, _Cached] = {}
        self.label_rects: list[pygame.Rect] = []
        self.geometry: MapGeometry | None = None
        self.hover: tuple[int, int] | None = None  # mouse position over the panel
        self._base: pygame.Surface | None = None
        self._base_key: tuple[object, ...] | None = None
        self._fog: dict[tuple[object, ...], pygame.Surface] = {}
        self.drawn_sightings = 0
        self._serial = 0

    def reset(self) -> None:
        self.cache.clear()
        self._base = self._base_key = None
        self._fog.clear()

    # -- reading --------------------------------------------------------------------------

    def reading(self, frame: Frame, key: str, frame_id: int) -> MemoryReading | None:
        """The reading of graph `key` at this frame (re-read when its store changed)."""
        store = frame.graph_store(key)
        cached = self.cache.setdefault(key, _Cached())
        if store is None:
            cached.store = cached.reading = None
            return None
        revision = store.revision
        if store is cached.store and cached.reading is not None and (
                cached.frame_id == frame_id or (revision is not None
                                                and revision == cached.revision)):
            return cached.reading
        cached.store, cached.revision, cached.frame_id = store, revision, frame_id
        cached.reading = read_memory(read_graph(store))
        cached.reads += 1
        self._serial += 1
        cached.reading.serial = self._serial  # what the cached drawings are keyed by
        return cached.reading

    # -- the panel ------------------------------------------------------------------------

    def draw(self, surface: pygame.Surface, rect: pygame.Rect, frame: Frame, key: str,
             frame_id: int, retrieved: Sequence[str], text: TextCache,
             world_cell: float, switches: str) -> None:
        self.label_rects = []
        owner = "team graph" if key == TEAM_GRAPH else f"memory of {key}"
        reading = self.reading(frame, key, frame_id)
        w = self.style.window
        if reading is None:
            body = panel(surface, rect, self.style, f"{owner}: none{switches}", text)
            self.geometry = None
            self._text(surface, text, "no memory graph (memory is off)", w.dim_text,
                       body.x, body.y)
            return
        body = panel(surface, rect, self.style, f"{owner}: {reading.nodes} nodes{switches}",
                     text)
        self.label_rects.append(pygame.Rect(rect.x + 6, rect.y + 3,
                                            text.width(f"{owner}: {reading.nodes} nodes"
                                                       f"{switches}"), text.line_height))
        lh = text.line_height
        world = frame.world_cells
        # The map: up to half the body, whole pixels per cell, at most the world map's.
        map_h = int(body.height * self.style.reading.map_height)
        cell = max(min(int(world_cell) or 1, (body.width - 2) // world[0],
                       (map_h - lh - 4) // world[1]), 1)
        top = body.y
        if frame.memory_note:  # e.g. a replay of an older trace: perception only
            top = self._wrapped(surface, text, frame.memory_note, w.error, body.x, top,
                                body.width, 2)
        title = self._map_title(frame, reading)
        self._text(surface, text, title, w.dim_text, body.x, top)
        top += lh + 2
        size = (world[0] * cell, world[1] * cell)
        origin = (body.x + (body.width - size[0]) // 2, top)
        self.geometry = MapGeometry(origin, cell, world)
        self._draw_map(surface, frame, key, reading, retrieved, text)
        y = top + size[1] + 6
        y = self._legend(surface, reading, body, y, text)
        y = self._knows(surface, reading, body, y, text)
        y = self._working(surface, reading, body, y, text, key, frame)
        self._timeline(surface, reading, pygame.Rect(body.x, y, body.width,
                                                     body.bottom - y), retrieved, text)

    def _map_title(self, frame: Frame, reading: MemoryReading) -> str:
        seen = sum(not s.gone for s in reading.sightings)
        what = {"navigation": "the path and marks it remembers",
                "manipulation": "where it believes the items are"}.get(
            frame.family, "where things are (believed)")
        if not reading.places and not reading.sightings:
            return f"{what}: nothing yet (it has seen and been told of no place)"
        return f"{what}: {len(reading.places)} places, {seen} sightings"

    def _text(self, surface: pygame.Surface, text: TextCache, line: str, colour: Colour,
              x: int, y: int) -> pygame.Rect:
        width = text.blit(surface, line, colour, x, y)
        box = pygame.Rect(x, y, width, text.line_height)
        self.label_rects.append(box)
        return box

    # -- the believed map -----------------------------------------------------------------

    def _fog_surface(self, reading: MemoryReading, world: tuple[int, int],
                     key: tuple[object, ...], alpha: int) -> pygame.Surface:
        """A world-sized mask (one pixel per cell): unknown cells dark, known clear."""
        fog = self._fog.get(key)
        if fog is None:
            mask = np.full((world[0], world[1]), alpha, np.uint8)  # [x, y]
            if reading.places:
                xy = np.array(reading.places, np.int64)
                ok = (xy[:, 0] >= 0) & (xy[:, 0] < world[0]) & (xy[:, 1] >= 0) & (
                    xy[:, 1] < world[1])
                mask[xy[ok, 0], xy[ok, 1]] = 0
            fog = pygame.Surface(world, pygame.SRCALPHA)
            fog.fill((0, 0, 0, 255))
            pygame.surfarray.pixels_alpha(fog)[:] = mask
            if len(self._fog) > 8:
                self._fog.clear()
            self._fog[key] = fog
        return fog

    def _draw_map(self, surface: pygame.Surface, frame: Frame, key: str,
                  reading: MemoryReading, retrieved: Sequence[str], text: TextCache) -> None:
        geo = self.geometry
        assert geo is not None
        bounds = geo.bounds
        base_key = (reading.serial, bounds.size, geo.cell)
        if self._base is None or self._base_key != base_key:
            self._base, self._base_key = self._map_base(reading, geo), base_key
        surface.blit(self._base, bounds.topleft)
        pygame.draw.rect(surface, self.style.window.dim_text, bounds.inflate(2, 2), 1)
        self._draw_marks(surface, geo, frame, key, reading)
        self._map_labels(surface, geo, reading, retrieved, text)

    def _map_base(self, reading: MemoryReading, geo: MapGeometry) -> pygame.Surface:
        """The map without per-frame marks: one pixel per cell in numpy (unknown, known,
        a seen thing's colour), scaled up, cell borders, then what needs lines (regions
        explored, sightings told by a teammate: hollow, gone: crossed)."""
        r = self.style.reading
        (w, h), c = geo.size, geo.cell
        grid = np.empty((w, h, 3), np.uint8)
        grid[:] = r.unknown
        if reading.places:
            xy = np.asarray(reading.places, np.int64)
            ok = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
            grid[xy[ok, 0], xy[ok, 1]] = r.known
        lines = []
        drawn = 0
        filled: dict[tuple[int, int], int] = {}
        for s in reading.sightings:
            if not (0 <= s.x < w and 0 <= s.y < h):
                continue
            drawn += 1
            if s.told or s.gone:
                lines.append(s)
            else:
                grid[s.x, s.y] = kind_colour(s.kind, self.style)
                filled[s.cell] = filled.get(s.cell, 0) + 1
        self.drawn_sightings = drawn
        base = pygame.transform.scale(pygame.surfarray.make_surface(grid), (w * c, h * c))
        if c >= 5:  # cell borders, so neighbouring sightings of a kind stay apart
            for x in range(w + 1):
                pygame.draw.line(base, r.unknown, (x * c, 0), (x * c, h * c))
            for y in range(h + 1):
                pygame.draw.line(base, r.unknown, (0, y * c), (w * c, y * c))
        local = MapGeometry((0, 0), c, geo.size)
        for x0, y0, size, explored in reading.regions:
            if explored:
                pygame.draw.rect(base, r.explored, local.rect(x0, y0, size, size), 1)
        if c >= 6:  # a cell holding several things: a corner tick (hover lists them)
            for (x, y), n in filled.items():
                if n > 1:
                    base.fill(self.style.window.text, (x * c + c - 3, y * c + 1, 2, 2))
        inset = 1 if c >= 5 else 0
        for s in lines:
            box = local.rect(s.x, s.y).inflate(-2 * inset, -2 * inset)
            colour = kind_colour(s.kind, self.style)
            if s.gone:
                pygame.draw.line(base, colour, box.topleft, box.bottomright)
                pygame.draw.line(base, colour, box.bottomleft, box.topright)
            else:
                pygame.draw.rect(base, colour, box, 1)
        return base

    def _draw_marks(self, surface: pygame.Surface, geo: MapGeometry, frame: Frame, key: str,
                    reading: MemoryReading) -> None:
        """Per frame: the trail, claims, cells set aside, the target and the agent."""
        agents = {a: i for i, a in enumerate(frame.agents)}
        colour = self.style.map.agent_colour(agents.get(key, 0))
        if len(reading.trail) > 1:
            pygame.draw.lines(surface, colour, False,
                              [geo.centre(x, y) for x, y in reversed(reading.trail)], 1)
        for item in reading.working:
            if item.cell is None:
                continue
            box = geo.rect(*item.cell).inflate(4, 4)
            if item.label == "Avoid":
                pygame.draw.line(surface, self.style.window.error, box.topleft, box.bottomright, 2)
                pygame.draw.line(surface, self.style.window.error, box.bottomleft, box.topright, 2)
            else:
                pygame.draw.rect(surface, self.style.window.text, box, 1)
        if reading.target is not None:
            pygame.draw.circle(surface, self.style.window.accent, geo.centre(*reading.target),
                               max(geo.cell, 4), 2)
        if key in frame.positions:
            pygame.draw.rect(surface, colour, geo.rect(*frame.positions[key]).inflate(4, 4), 2)

    def _map_labels(self, surface: pygame.Surface, geo: MapGeometry, reading: MemoryReading,
                    retrieved: Sequence[str], text: TextCache) -> None:
        """Labels for retrieved sightings, the target and the hovered cell, each placed
        where it overlaps no label already drawn (else left out)."""
        accent = self.style.window.accent
        wanted: list[tuple[tuple[int, int], str, Colour, bool]] = []
        hover = geo.cell_at(self.hover) if self.hover is not None else None
        if hover is not None:
            here = reading.sighting_at(hover)
            names = ", ".join(dict.fromkeys(f"{s.kind}{' (told)' if s.told else ''}"
                                            f"{' (gone)' if s.gone else ''}" for s in here))
            known = hover in set(reading.places)
            label = f"({hover[0]},{hover[1]}) {names or ('known' if known else 'unknown')}"
            wanted.append((hover, label, self.style.window.text, True))
        if reading.target is not None:
            wanted.append((reading.target, f"target ({reading.target[0]},"
                           f"{reading.target[1]})", accent, False))
        ids = set(retrieved)
        for s in reading.sightings:
            if s.node_id in ids:
                pygame.draw.rect(surface, accent, geo.rect(s.x, s.y).inflate(4, 4), 1)
                wanted.append((s.cell, f"{s.kind} ({s.x},{s.y})", accent, False))
        clip = geo.bounds.inflate(2 * text.line_height, 0).clip(surface.get_rect())
        for cell, label, colour, force in wanted:
            self._place_label(surface, geo, cell, label, colour, text, clip, force)

    def _place_label(self, surface: pygame.Surface, geo: MapGeometry, cell: tuple[int, int],
                     label: str, colour: Colour, text: TextCache, clip: pygame.Rect,
                     force: bool) -> bool:
        cx, cy = geo.centre(*cell)
        half = max(geo.cell // 2, 2) + 3
        rendered = text.render(label, colour)
        box = rendered.get_rect()
        for place in _PLACES:
            if place == "right":
                box.midleft = (cx + half, cy)
            elif place == "left":
                box.midright = (cx - half, cy)
            elif place == "above":
                box.midbottom = (cx, cy - half)
            elif place == "below":
                box.midtop = (cx, cy + half)
            else:
                vertical, horizontal = place.split("-")
                box.bottom = cy - half if vertical == "above" else box.bottom
                box.top = cy + half if vertical == "below" else box.top
                box.left = cx + half if horizontal == "right" else box.left
                box.right = cx - half if horizontal == "left" else box.right
            back = box.inflate(4, 0)
            if not clip.contains(back):
                continue
            hit = back.collidelist(self.label_rects)
            if hit != -1 and force:  # the hovered cell's label wins: drop what is in the way
                self.label_rects = [r for r in self.label_rects if not r.colliderect(back)]
                hit = -1
            if hit == -1:
                surface.fill(self.style.window.background, back)
                surface.blit(rendered, box)
                self.label_rects.append(back)
                return True
        return False

    def draw_overlay(self, surface: pygame.Surface, frame: Frame, key: str, frame_id: int,
                     cell_rect: object) -> None:
        """The believed map over the world map: unknown cells darkened, sightings outlined
        in their kind's colour (`cell_rect(frame, x, y)` is the world map's cell rect)."""
        reading = self.reading(frame, key, frame_id)
        if reading is None:
            return
        world = frame.world_cells
        whole = cell_rect(frame, 0, 0, *world)  # type: ignore[operator]
        fog = self._fog_surface(reading, world, (reading.serial, world), self.style.reading.fog)
        surface.blit(pygame.transform.scale(fog, whole.size), whole.topleft)
        for s in reading.sightings:
            box = cell_rect(frame, s.x, s.y)  # type: ignore[operator]
            pygame.draw.rect(surface, kind_colour(s.kind, self.style), box, 1 if s.told else 2)

    # -- text sections --------------------------------------------------------------------

    def _legend(self, surface: pygame.Surface, reading: MemoryReading, body: pygame.Rect,
                y: int, text: TextCache) -> int:
        lh = text.line_height
        x = body.x
        rows = 0
        items = reading.kinds.most_common()
        for i, (kind, count) in enumerate(items):
            label = f"{kind} {count}"
            width = text.width(label) + 16
            if x + width > body.right:
                rows += 1
                x = body.x
                if rows >= self.style.reading.legend_rows:
                    self._text(surface, text, f"+{len(items) - i} more kinds",
                               self.style.window.dim_text, x, y + rows * (lh + 1))
                    rows += 1
                    break
            cy = y + rows * (lh + 1)
            swatch = pygame.Rect(x, cy + 3, 9, lh - 6)
            surface.fill(kind_colour(kind, self.style), swatch)
            pygame.draw.rect(surface, self.style.window.dim_text, swatch, 1)
            self._text(surface, text, label, self.style.window.text, x + 12, cy)
            x += width
        else:
            rows += 1 if items else 0
        return y + rows * (lh + 1) + (4 if items else 0)

    def _wrapped(self, surface: pygame.Surface, text: TextCache, line: str, colour: Colour,
                 x: int, y: int, width: int, max_lines: int, indent: int = 0) -> int:
        chars = max(int((width - indent) / text.char_width), 8)
        parts = textwrap.wrap(line, chars) or [""]
        if len(parts) > max_lines:
            parts = parts[:max_lines]
            parts[-1] = parts[-1][: max(chars - 1, 1)] + "~"
        for k, part in enumerate(parts):
            while k and text.width(part) > width - indent and len(part) > 1:
                part = part[:-1]
            self._text(surface, text, part, colour, x + (indent if k else 0), y)
            y += text.line_height
        return y

    def _knows(self, surface: pygame.Surface, reading: MemoryReading, body: pygame.Rect,
               y: int, text: TextCache) -> int:
        w = self.style.window
        if reading.recipes:
            y = self._wrapped(surface, text, f"recipes ({len(reading.recipes)}): "
                              + ", ".join(r.removeprefix("make_") for r in reading.recipes),
                              w.dim_text, body.x, y, body.width, 2, 12)
        if reading.known_kinds:
            y = self._wrapped(surface, text, f"kinds known ({len(reading.known_kinds)}): "
                              + ", ".join(reading.known_kinds), w.dim_text, body.x, y,
                              body.width, 2, 12)
        return y + 4

    def _working(self, surface: pygame.Surface, reading: MemoryReading, body: pygame.Rect,
                 y: int, text: TextCache, key: str, frame: Frame) -> int:
        for item in reading.working[: self.style.reading.working_lines]:
            y = self._wrapped(surface, text, item.text, self.style.window.text, body.x, y,
                              body.width, 1)
        hidden = len(reading.working) - self.style.reading.working_lines
        if hidden > 0:
            self._text(surface, text, f"+{hidden} more claims / commitments",
                       self.style.window.dim_text, body.x, y)
            y += text.line_height
        return y + (4 if reading.working else 0)

    def _timeline(self, surface: pygame.Surface, reading: MemoryReading, area: pygame.Rect,
                  retrieved: Sequence[str], text: TextCache) -> None:
        """Newest at the bottom; as many items, each whole (wrapped), as fit."""
        lh = text.line_height
        if area.height < 2 * lh or not reading.timeline:
            return
        w, m = self.style.window, self.style.memory
        self._text(surface, text, "timeline: goal > subgoal > chunk (newest last)",
                   w.dim_text, area.x, area.y)
        room = area.height - lh - 2
        ids = set(retrieved)
        blocks: list[tuple[int, list[str], Colour, str]] = []
        used = 0
        # The active goal stays on top (pinned) however long ago it was set.
        pinned = [t for t in reading.timeline if t.depth == 0 and t.active]
        items = [t for t in reading.timeline if t not in pinned]
        for item in [*pinned, *reversed(items)]:
            indent = 14 * item.depth + 10
            chars = max(int((area.width - indent) / text.char_width), 8)
            lines = textwrap.wrap(item.text, chars) or [""]
            if used + len(lines) * lh > room:
                break
            used += len(lines) * lh
            colour = w.accent if item.node_id in ids else (
                w.text if item.active else w.dim_text)
            blocks.append((indent, lines, colour, item.label))
        y = area.y + lh + 2
        for indent, lines, colour, label in [*blocks[:len(pinned)],
                                              *reversed(blocks[len(pinned):])]:
            dot = m.label_colour(label)
            pygame.draw.circle(surface, dot, (area.x + indent - 6, y + lh // 2), 3)
            for line in lines:
                while text.width(line) > area.width - indent and len(line) > 1:
                    line = line[:-1]
                self._text(surface, text, line, colour, area.x + indent, y)
                y += lh
