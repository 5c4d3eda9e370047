"""The viewer's panels, each a function drawing one part of a `Frame` into a rect.

- `draw_top_bar`: step counter, play state and the team's progress toward its goal.
- `WorldMap`: the world image scaled to fit, day/night tint, every agent outlined in its
  colour with its id, and each live agent's field of view.
- `draw_agent_panel`: the followed agent's local view (cut from the world image, so it is
  what its observation shows), vitals as bars and its observation text.
- `MemoryPanel` (`memsim.viz.memory_panel`): the followed agent's (or the team's) memory
  graph.
- `draw_why_panel`: the last decision: action, outcome, reason, retrieved nodes,
  messages read, and an LLM's reasoning and token counts when the record has them.
- `draw_message_log`: delivered messages and rejected sends, newest last.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence

import numpy as np
import pygame

from memsim.viz.frame import Frame
from memsim.viz.style import Style

Colour = tuple[int, int, int]


class TextCache:
    """Rendered text surfaces by (text, colour): font rendering is the slow part of a
    redraw, and most text is the same from frame to frame."""

    def __init__(self, font: pygame.font.Font, limit: int = 4096) -> None:
        self.font = font
        self.limit = limit
        self.line_height = font.get_linesize()
        # Average glyph width, for wrapping text to a width in characters.
        self.char_width = max(font.size("abcdefghijklmnopqrstuvwxyz")[0] / 26, 1.0)
        self._cache: dict[tuple[str, Colour], pygame.Surface] = {}

    def render(self, text: str, colour: Colour) -> pygame.Surface:
        key = (text, colour)
        surface = self._cache.get(key)
        if surface is None:
            if len(self._cache) >= self.limit:
                self._cache.clear()
            surface = self.font.render(text, True, colour)
            self._cache[key] = surface
        return surface

    def width(self, text: str) -> int:
        return self.font.size(text)[0]

    def blit(self, target: pygame.Surface, text: str, colour: Colour, x: int, y: int) -> int:
        """Draw one line; returns its width."""
        surface = self.render(text, colour)
        target.blit(surface, (x, y))
        return surface.get_width()

    def lines(self, target: pygame.Surface, lines: Sequence[tuple[str, Colour]],
              rect: pygame.Rect, y: int | None = None) -> int:
        """Draw lines wrapped to the rect's width, clipped to its bottom; returns the y
        after the last line drawn."""
        y = rect.y if y is None else y
        chars = max(8, int(rect.width / self.char_width))
        for text, colour in lines:
            for part in textwrap.wrap(text, chars) or [""]:
                if y + self.line_height > rect.bottom:
                    return y
                self.blit(target, part, colour, rect.x, y)
                y += self.line_height
        return y


def panel(surface: pygame.Surface, rect: pygame.Rect, style: Style, title: str,
           text: TextCache) -> pygame.Rect:
    """Fill a panel, draw its title; returns the content rect below the title."""
    pygame.draw.rect(surface, style.window.panel, rect)
    text.blit(surface, title, style.window.accent, rect.x + 6, rect.y + 3)
    top = text.line_height + 6
    return pygame.Rect(rect.x + 6, rect.y + top, max(rect.width - 12, 1),
                       max(rect.height - top - 4, 1))


# --------------------------------------------------------------------------- top bar


def draw_top_bar(surface: pygame.Surface, rect: pygame.Rect, frame: Frame, status: str,
                 style: Style, text: TextCache) -> None:
    pygame.draw.rect(surface, style.window.background, rect)
    x = rect.x + 8
    y = rect.y + (rect.height - text.line_height) // 2
    x += text.blit(surface, f"step {frame.step}", style.window.text, x, y) + 16
    x += text.blit(surface, status, style.window.dim_text, x, y) + 16
    if frame.note:
        x += text.blit(surface, frame.note, style.window.error, x, y) + 16
    milestones = frame.milestones
    if not milestones:
        return
    reached = sum(m in frame.reached for m in milestones)
    label = f"goal {frame.goal}: {reached}/{len(milestones)}"
    x += text.blit(surface, label, style.window.text, x, y) + 10
    bar = pygame.Rect(x, rect.y + 6, max(rect.right - x - 8, 10), rect.height - 12)
    segment = bar.width / len(milestones)
    for i, name in enumerate(milestones):
        cell = pygame.Rect(int(bar.x + i * segment) + 1, bar.y, max(int(segment) - 2, 1),
                           bar.height)
        done = name in frame.reached
        pygame.draw.rect(surface, style.window.accent if done else style.window.panel, cell)
        short = abbreviate(name.split("_", 1)[-1], text.width, cell.width - 4)
        if short:
            colour = style.window.background if done else style.window.dim_text
            text.blit(surface, short, colour, cell.x + 2,
                      cell.y + (cell.height - text.line_height) // 2)


def abbreviate(name: str, width: Callable[[str], int], room: int) -> str:
    """`name` as it fits in `room` pixels: whole, else (several ``_`` parts) each part cut
    to 4, then 3 letters (``stone_pickaxe`` -> ``ston_pick``), else cut with a trailing
    ``~``."""
    if width(name) < room:
        return name
    parts = name.split("_")
    for keep in (4, 3) if len(parts) > 1 else ():
        short = "_".join(p[:keep] for p in parts)
        if width(short) < room:
            return short
    while len(name) > 1 and width(name + "~") >= room:
        name = name[:-1]
    return name + "~" if width(name + "~") < room else ""


# --------------------------------------------------------------------------- world map


class WorldMap:
    """The world image scaled into its rect, with agents, ids and fields of view.

    The scaled, tinted world is converted once per new world image; the field-of-view
    boxes are small translucent surfaces cached by size and colour (a window-sized alpha
    overlay per frame cost more than the rest of the map)."""

    def __init__(self, style: Style) -> None:
        self.style = style
        self._scaled: pygame.Surface | None = None
        self._key: tuple[int, int, int, float] | None = None
        self._boxes: dict[tuple[int, int, Colour], pygame.Surface] = {}
        self.origin = (0, 0)
        self.scale = 1.0  # screen pixels per world pixel

    def _tint(self, daylight: float) -> int:
        night = self.style.map.night_tint
        return int(255 * (night + (1.0 - night) * min(max(daylight, 0.0), 1.0)))

    def draw(self, surface: pygame.Surface, rect: pygame.Rect, frame: Frame,
             follow: str | None, text: TextCache) -> None:
        pygame.draw.rect(surface, self.style.window.background, rect)
        height, width = frame.world_rgb.shape[:2]
        scale = min(rect.width / width, rect.height / height)
        size = (max(int(width * scale), 1), max(int(height * scale), 1))
        key = (id(frame.world_rgb), *size, frame.daylight)
        if key != self._key:
            image = pygame.image.frombuffer(np.ascontiguousarray(frame.world_rgb),
                                            (width, height), "RGB")
            scaled = pygame.transform.scale(image, size)
            tint = self._tint(frame.daylight)
            if tint < 255:  # night: darken the whole map (one blend, no per-pixel Python)
                scaled.fill((tint, tint, tint), special_flags=pygame.BLEND_MULT)
            self._scaled, self._key = scaled, key
        self.scale = scale
        self.origin = (rect.x + (rect.width - size[0]) // 2, rect.y + (rect.height - size[1]) // 2)
        assert self._scaled is not None
        surface.blit(self._scaled, self.origin)
        self._draw_agents(surface, frame, follow, text)

    def cell_rect(self, frame: Frame, x: float, y: float, cols: float = 1,
                  rows: float = 1) -> pygame.Rect:
        """Screen rect of world cells (x, y) .. (x + cols, y + rows)."""
        unit = frame.cell_pixels * self.scale
        return pygame.Rect(round(self.origin[0] + x * unit), round(self.origin[1] + y * unit),
                           max(round(cols * unit), 1), max(round(rows * unit), 1))

    def _box(self, size: tuple[int, int], colour: Colour) -> pygame.Surface:
        key = (*size, colour)
        box = self._boxes.get(key)
        if box is None:
            alpha = self.style.map.fov_alpha
            box = pygame.Surface(size, pygame.SRCALPHA)
            box.fill((*colour, alpha // 3))
            pygame.draw.rect(box, (*colour, min(255, alpha * 3)), box.get_rect(), 1)
            self._boxes[key] = box
        return box

    def _draw_agents(self, surface: pygame.Surface, frame: Frame, follow: str | None,
                     text: TextCache) -> None:
        style = self.style.map
        world_cols, world_rows = frame.world_cells
        # A view that covers the whole world from anywhere (navigation) needs no box.
        if frame.view_extent is not None and not (
                frame.view_extent[0] >= 2 * world_cols - 1
                and frame.view_extent[1] >= 2 * world_rows - 1):
            cols, rows = frame.view_extent
            image = self.cell_rect(frame, 0, 0, world_cols, world_rows)
            for i, agent in enumerate(frame.agents):
                if not frame.alive.get(agent, False):
                    continue
                x, y = frame.positions[agent]
                box = self.cell_rect(frame, x - cols // 2, y - rows // 2, cols,
                                     rows).clip(image)  # never over the next panel
                if box.width and box.height:
                    surface.blit(self._box(box.size, style.agent_colour(i)), box.topleft)
        for i, agent in enumerate(frame.agents):
            x, y = frame.positions[agent]
            colour = style.agent_colour(i)
            box = self.cell_rect(frame, x, y).inflate(4, 4)
            width = style.outline_width + (1 if agent == follow else 0)
            if not frame.alive.get(agent, False):
                colour = (colour[0] // 2, colour[1] // 2, colour[2] // 2)
            pygame.draw.rect(surface, colour, box, width)
            if agent == follow:
                pygame.draw.rect(surface, self.style.window.accent, box.inflate(6, 6), 1)
            text.blit(surface, agent.rsplit("_", 1)[-1], colour, box.right + 1,
                      box.y - text.line_height // 2)

    def agent_at(self, frame: Frame, pos: tuple[int, int], radius_cells: float = 1.5
                 ) -> str | None:
        """The agent nearest a screen point, if within `radius_cells` cells of it."""
        unit = frame.cell_pixels * self.scale
        if unit <= 0:
            return None
        wx = (pos[0] - self.origin[0]) / unit - 0.5
        wy = (pos[1] - self.origin[1]) / unit - 0.5
        best, best_d = None, radius_cells
        for agent in frame.agents:
            x, y = frame.positions[agent]
            d = max(abs(x - wx), abs(y - wy))
            if d <= best_d:
                best, best_d = agent, d
        return best


# --------------------------------------------------------------------------- followed agent


def agent_vitals(view: object) -> list[tuple[str, str, str]]:
    """(name, value, most) of the decoded view's vitals (crafting), in the view's order;
    none for a world without vitals."""
    vitals = getattr(view, "vitals", None)
    most = getattr(view, "vital_max", None) or {}
    if not isinstance(vitals, dict):
        return []
    return [(name, str(value), str(most.get(name, value))) for name, value in vitals.items()]


def draw_agent_panel(surface: pygame.Surface, rect: pygame.Rect, frame: Frame, agent: str,
                     observation_text: str, style: Style, text: TextCache) -> pygame.Rect | None:
    """Draw the followed agent: its local view as tiles (`Frame.local_view`), vitals as
    labelled bars read from its decoded view (two columns: name, bar, value, so no label
    sits on a bar) and its observation text. Returns the screen rect of the local view
    (if the world has one)."""
    index = frame.agents.index(agent)
    state = "alive" if frame.alive.get(agent, False) else "dead"
    x, y = frame.positions[agent]
    body = panel(surface, rect, style, f"following {agent} ({state}) at ({x}, {y})", text)
    pygame.draw.rect(surface, style.map.agent_colour(index), rect, 2)
    view_rect = None
    top = body.y
    lines = [line for line in observation_text.splitlines()
             if line and not line.startswith("Vitals:")]
    vitals = agent_vitals(frame.agent_view(agent))
    text_rows = max(len(lines), 1)
    view = frame.local_view(agent)
    if view is not None:
        h, w = view.shape[:2]
        # Integer scale so every cell stays whole; as large as the panel allows after the
        # vitals and a few text lines, up to the style's scale (shrunk, never cut, when
        # a wide view is larger than the panel).
        below = ((len(vitals) + 1) // 2) * (text.line_height + 3) + (
            min(text_rows, 6) + 1) * text.line_height
        room = max(body.height - below, 40)
        scale = max(1, min(style.layout.local_view_scale, body.width // w, room // h))
        image = pygame.image.frombuffer(np.ascontiguousarray(view), (w, h), "RGB")
        size = (w * scale, h * scale)
        fit = min(body.width / w, room / h, style.layout.local_view_scale)
        if size[0] > body.width or size[1] > room or (scale < 2 and fit > 1.2 * scale):
            # too large, or whole multiples leave it small: fit it (cells within a pixel)
            size = (max(int(w * fit), 1), max(int(h * fit), 1))
        if size != (w, h):
            image = pygame.transform.scale(image, size)
        view_rect = surface.blit(image, (body.x + (body.width - size[0]) // 2, top))
        top = view_rect.bottom + 6
    if vitals:
        top, _ = draw_vitals(surface, body, top, vitals, style, text)
    text.lines(surface, [(line, style.window.text) for line in lines],
               pygame.Rect(body.x, top, body.width, max(body.bottom - top, 0)))
    return view_rect


def draw_vitals(surface: pygame.Surface, body: pygame.Rect, top: int,
                vitals: Sequence[tuple[str, str, str]], style: Style, text: TextCache
                ) -> tuple[int, list[pygame.Rect]]:
    """Two columns of ``name [bar] value`` for (name, value, most) triples; returns the y
    below them and the bars' rects (no text is drawn over a bar)."""
    w = style.window
    column = (body.width - 8) // 2
    name_w = max(text.width(name) for name, _, _ in vitals) + 4
    value_w = max(text.width(f"{value}/{most}") for _, value, most in vitals) + 4
    bar_w = max(column - name_w - value_w, 8)
    row_h = text.line_height + 3
    bars = []
    for i, (name, value, most) in enumerate(vitals):
        cx = body.x + (i % 2) * (column + 8)
        cy = top + (i // 2) * row_h
        frac = min(max(int(value) / max(int(most), 1), 0.0), 1.0)
        text.blit(surface, name, w.dim_text, cx, cy)
        bar = pygame.Rect(cx + name_w, cy + 3, bar_w, text.line_height - 5)
        pygame.draw.rect(surface, w.background, bar)
        pygame.draw.rect(surface, w.accent if frac > 0.3 else w.error,
                         (bar.x, bar.y, int(bar.width * frac), bar.height))
        text.blit(surface, f"{value}/{most}", w.text, bar.right + 4, cy)
        bars.append(bar)
    return top + (len(vitals) + 1) // 2 * row_h + 4, bars


# --------------------------------------------------------------------------- memory graph


def draw_why_panel(surface: pygame.Surface, rect: pygame.Rect, frame: Frame, agent: str,
                   style: Style, text: TextCache) -> None:
    decision = frame.decisions.get(agent)
    title = f"why: {agent} at step {frame.step - 1}" if frame.step else f"why: {agent}"
    body = panel(surface, rect, style, title, text)
    w = style.window
    if decision is None:
        text.lines(surface, [("no decision yet", w.dim_text)], body)
        return
    outcome = "ok" if decision.ok else f"failed: {decision.env_reason}"
    if decision.ok is None:
        outcome = ""
    lines: list[tuple[str, Colour]] = [
        (f"action: {decision.action} {outcome}", w.text if decision.ok is not False else w.error),
        (f"reason: {decision.reason or '-'}", w.text),
        (f"retrieved ({len(decision.retrieved)}): " + ", ".join(decision.retrieved[:24]),
         w.dim_text),
    ]
    by_id = {line.msg_id: line for line in frame.log if line.msg_id is not None}
    read = [by_id.get(i) for i in decision.messages_read]
    lines.append((f"messages read ({len(decision.messages_read)}):", w.dim_text))
    lines += [(f"  {m.sender}: {m.kind} {m.text}", w.text) for m in read if m is not None]
    for key, value in decision.extra.items():
        lines.append((f"{key}: {value}", w.accent))
    text.lines(surface, lines, body)


def draw_message_log(surface: pygame.Surface, rect: pygame.Rect, frame: Frame, style: Style,
                     text: TextCache) -> None:
    body = panel(surface, rect, style, f"messages ({len(frame.log)} shown)", text)
    rows = max(body.height // text.line_height, 0)
    index = {a: i for i, a in enumerate(frame.agents)}
    y = body.y
    chars = max(8, int(body.width / text.char_width))
    for line in frame.log[-rows:] if rows else []:
        colour = (style.window.error if line.rejected
                  else style.map.agent_colour(index.get(line.sender, 0)))
        head = f"{line.step:>5} {line.sender}->{line.recipients} {line.kind}: "
        text.blit(surface, (head + line.text)[:chars], colour, body.x, y)
        y += text.line_height
