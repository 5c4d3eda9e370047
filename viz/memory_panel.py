"""The memory panel: the followed agent's (or the team's) memory graph: nodes coloured by
label, edges by type, new nodes ringed for a few frames, this decision's retrieved nodes
lit up; wheel zoom and drag pan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pygame

from memsim.memory.store import GraphStore
from memsim.viz.frame import TEAM_GRAPH, Frame
from memsim.viz.memory_layout import (
    GraphData,
    MemoryLayout,
    ViewTransform,
    VisibleGraph,
    read_graph,
)
from memsim.viz.panels import Colour, TextCache, panel
from memsim.viz.style import Style


def node_caption(node_id: str, label: str, props: Mapping[str, Any], chars: int) -> str:
    """A short readable name for a memory node (what its label in the panel says)."""
    if label == "Chunk":
        summary = str(props.get("summary") or "").split(";")[0]
        name = f"#{props.get('seq', '?')} {summary}".strip()
    elif label == "Subgoal" and props.get("status") not in (None, "active"):
        name = f"{props.get('name', node_id)} ({props['status']})"
    else:
        name = str(props.get("name") or props.get("summary") or node_id.split(":", 1)[-1])
    return name if len(name) <= chars else name[: chars - 1] + "~"


@dataclass
class _GraphView:
    """One graph's layout, view transform and caches (by store identity and revision)."""

    layout: MemoryLayout
    transform: ViewTransform | None = None
    auto_fit: bool = True
    store: GraphStore | None = None  # held so a new store is never taken for the old one
    graph: GraphData | None = None
    visible: VisibleGraph | None = None
    frame_id: int = -1  # the frame last read at (stores that track no revision)
    reads: int = 0  # how many times the store was read (a test checks the cache)
    version: int = 0  # bumped on every read; part of the drawn surface's key
    edge_a: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    edge_b: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    written: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    base: pygame.Surface | None = None  # the drawn graph, without per-frame highlights
    base_key: tuple[Any, ...] | None = None
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))
    label_rects: list[pygame.Rect] = field(default_factory=list)


class MemoryPanel:
    """The memory graph of the followed agent or the team, with zoom and pan.

    Speed: a store is read (`GraphStore.structure`) only when its `revision` changed, the
    collapse pass runs once per read, and the graph is drawn to a cached surface redrawn
    only after a read or a change of the view (zoom, pan, resize). Each frame then blits
    that surface and draws the few highlights on top: this decision's retrieved nodes
    (halo, caption, the edges between them) and newly written nodes (ring)."""

    def __init__(self, style: Style) -> None:
        self.style = style
        self.views: dict[str, _GraphView] = {}
        self.drawn_nodes = 0  # nodes drawn inside the panel at the last draw
        self.rect = pygame.Rect(0, 0, 1, 1)
        self.key: str | None = None
        m = style.memory
        bg = style.window.panel
        # Edges pre-blended with the panel colour: solid lines are much cheaper than alpha.
        self._faint = {t: _blend(col, bg, m.faint_edge_alpha) for t, col in
                       m.edge_colours.items()}
        self._strong = {t: _blend(col, bg, m.edge_alpha) for t, col in m.edge_colours.items()}
        self._sprites: dict[tuple[Colour, int, bool], pygame.Surface] = {}

    def view(self, key: str, frame: Frame) -> _GraphView:
        view = self.views.get(key)
        if view is None:
            height, width = frame.world_rgb.shape[:2]
            size = (width // frame.cell_pixels, height // frame.cell_pixels)
            m = self.style.memory
            view = _GraphView(MemoryLayout(size, steps_per_page=m.steps_per_page,
                                           collapse_threshold=m.collapse_threshold,
                                           keep_recent_chunks=m.keep_recent_chunks))
            self.views[key] = view
        return view

    def reset(self) -> None:
        """Forget every layout and cache (a new episode: new stores, new graphs)."""
        self.views.clear()

    def refresh(self, key: str, frame: Frame, frame_id: int) -> _GraphView:
        """Read the graph if it changed since the last read, place new nodes, recompute
        what shows. An unchanged revision of the same store is not read again."""
        view = self.view(key, frame)
        store = frame.graph_store(key)
        if store is None:
            view.store = view.graph = view.visible = None
            return view
        revision = store.revision
        if store is view.store and view.graph is not None and (
                view.frame_id == frame_id or (revision is not None
                                              and revision == view.graph.revision)):
            return view
        view.store, view.frame_id = store, frame_id
        view.graph = read_graph(store)
        view.reads += 1
        view.version += 1
        view.layout.update(view.graph, frame.step)
        visible = view.visible = view.layout.visible(view.graph)
        n_edges = len(visible.edges)
        view.edge_a = np.fromiter((e[0] for e in visible.edges), np.int64, n_edges)
        view.edge_b = np.fromiter((e[1] for e in visible.edges), np.int64, n_edges)
        written = view.layout.written
        view.written = np.array([written.get(i, -1) for i in visible.ids], np.int64)
        # Fitted to this frame's nodes (until the user zooms or pans), so a frame looks
        # the same however it was reached (replay forward or back).
        if view.auto_fit:
            self.fit(view)
        return view

    def fit(self, view: _GraphView) -> None:
        ids = view.visible.ids if view.visible is not None else None
        view.transform = ViewTransform.fit(view.layout.bounds(ids, frames=True),
                                           tuple(self.rect),
                                           margin=self.style.memory.fit_margin)

    def zoom(self, factor: float, pos: tuple[int, int]) -> None:
        view = self.views.get(self.key or "")
        if view is None or view.transform is None:
            return
        m = self.style.memory
        view.transform.zoom_at(factor, pos[0], pos[1], m.zoom_min, m.zoom_max)
        view.auto_fit = False

    def pan(self, dx: int, dy: int) -> None:
        view = self.views.get(self.key or "")
        if view is None or view.transform is None:
            return
        view.transform.pan(dx, dy)
        view.auto_fit = False

    def refit(self) -> None:
        view = self.views.get(self.key or "")
        if view is not None:
            view.auto_fit = True
            self.fit(view)

    def draw(self, surface: pygame.Surface, rect: pygame.Rect, frame: Frame, key: str,
             frame_id: int, retrieved: Sequence[str], text: TextCache) -> None:
        # Nodes are fitted into the panel's body: below the title, above the legend.
        top, bottom = text.line_height + 6, 3 * text.line_height + 12
        body_rect = pygame.Rect(rect.x + 6, rect.y + top, max(rect.width - 12, 1),
                                max(rect.height - top - bottom, 1))
        resized = body_rect != self.rect
        self.rect, self.key = body_rect, key
        view = self.refresh(key, frame, frame_id)
        if resized and view.auto_fit and view.visible is not None:
            self.fit(view)
        owner = "team graph" if key == TEAM_GRAPH else f"memory of {key}"
        graph, visible = view.graph, view.visible
        if graph is None or visible is None or view.transform is None:
            body = panel(surface, rect, self.style, f"{owner}: none", text)
            self.drawn_nodes = 0
            text.blit(surface, "no memory graph (memory off)", self.style.window.dim_text,
                      body.x, body.y)
            return
        switch = "  [m] agent" if key == TEAM_GRAPH else (
            "  [m] team" if frame.has_team_graph else "")
        title = f"{owner}: {len(graph.nodes)} nodes, {len(visible.ids)} shown{switch}"
        panel(surface, rect, self.style, title, text)
        t = view.transform
        base_key = (view.version, t.scale, t.offset_x, t.offset_y, tuple(body_rect))
        if view.base is None or view.base_key != base_key:
            self._draw_base(view, body_rect, text)
            view.base_key = base_key
        assert view.base is not None
        surface.blit(view.base, body_rect.topleft)
        surface.set_clip(body_rect)
        try:
            self._draw_highlights(surface, body_rect, view, frame.step, retrieved, text)
        finally:
            surface.set_clip(None)
        self._legend(surface, pygame.Rect(rect.x + 6, body_rect.bottom + 4, rect.width - 12,
                                          bottom - 6), text)

    # -- drawing ----------------------------------------------------------------------

    def _radii(self, view: _GraphView) -> dict[str, int]:
        """Node radius in pixels by label at the view's zoom (see `[memory]` node_*)."""
        m = self.style.memory
        assert view.transform is not None
        r = min(max(view.transform.scale * m.node_size, m.node_radius), m.node_radius_max)
        return {label: max(round(r * m.label_scale.get(label, 1.0)), 1)
                for label in m.label_colours}

    def _sprite(self, colour: Colour, radius: int, folded: bool) -> pygame.Surface:
        """A node disc (folded nodes get a light rim: they stand for hidden nodes)."""
        key = (colour, radius, folded)
        sprite = self._sprites.get(key)
        if sprite is None:
            size = 2 * radius + 3
            sprite = pygame.Surface((size, size), pygame.SRCALPHA)
            c = size // 2
            pygame.draw.circle(sprite, colour, (c, c), radius)
            if folded:
                pygame.draw.circle(sprite, (235, 235, 235), (c, c), radius + 1, 1)
            self._sprites[key] = sprite
        return sprite

    def _draw_base(self, view: _GraphView, body: pygame.Rect, text: TextCache) -> None:
        """Draw the graph into `view.base` (panel-local coordinates): faint edges, then
        hierarchy edges, nodes (sized by level), and captions where there is room."""
        m = self.style.memory
        visible, transform = view.visible, view.transform
        assert visible is not None and transform is not None and view.graph is not None
        if view.base is None or view.base.get_size() != body.size:
            view.base = pygame.Surface(body.size)
        base = view.base
        base.fill(self.style.window.panel)
        self._draw_frames(base, view, body, text)
        pts = transform.to_screen(visible.xy) - (body.x, body.y)
        view.points = pts.astype(np.int64)
        ipts = view.points.tolist()
        w, h = body.size
        margin = 2 * m.node_radius_max
        inside = ((pts[:, 0] >= -margin) & (pts[:, 0] <= w + margin)
                  & (pts[:, 1] >= -margin) & (pts[:, 1] <= h + margin))
        line = pygame.draw.line
        strong_types, hidden = set(m.strong_edges), set(m.hidden_edges)
        strong = []
        default = (90, 90, 90)
        for a, b, etype in visible.edges:
            if (inside[a] or inside[b]) and etype not in hidden:
                if etype in strong_types:
                    strong.append((a, b, etype))
                else:
                    line(base, self._faint.get(etype, default), ipts[a], ipts[b])
        for a, b, etype in strong:
            line(base, self._strong.get(etype, default), ipts[a], ipts[b])
        folded = visible.folded
        blits = []
        captions: list[tuple[int, int]] = []
        order = np.flatnonzero(inside).tolist()
        labelled = m.labelled
        radii = self._radii(view)
        smallest = min(radii.values())
        for i in order:
            label = visible.labels[i]
            node_id = visible.ids[i]
            r = radii.get(label, smallest)
            sprite = self._sprite(m.label_colour(label), r, node_id in folded)
            half = sprite.get_width() // 2
            blits.append((sprite, (ipts[i][0] - half, ipts[i][1] - half)))
            if label in labelled:
                captions.append((labelled.index(label), i))
        base.blits(blits, doreturn=False)
        self.drawn_nodes = len(order)
        # Captions by level (goal first), skipped where they would overlap another.
        view.label_rects = []
        nodes = view.graph.nodes
        for _, i in sorted(captions):
            node_id = visible.ids[i]
            label = visible.labels[i]
            caption = node_caption(node_id, label, nodes[node_id][1], m.caption_chars)
            count = folded.get(node_id)
            if count:
                caption += f" +{count}"
            self._caption(base, caption, ipts[i], radii.get(label, smallest),
                          self.style.window.text, view.label_rects, text, (w, h))

    def _draw_frames(self, base: pygame.Surface, view: _GraphView, body: pygame.Rect,
                     text: TextCache) -> None:
        """The mini-map's outline and the timeline pages' step ranges, dim, behind nodes."""
        w, transform, layout = self.style.window, view.transform, view.layout
        assert transform is not None
        x0, y0, x1, y1 = layout.map_bounds()
        corners = transform.to_screen(np.array([[x0, y0], [x1, y1]])) - (body.x, body.y)
        (sx0, sy0), (sx1, sy1) = corners.astype(int).tolist()
        outline = pygame.Rect(sx0, sy0, max(sx1 - sx0, 1), max(sy1 - sy0, 1))
        pygame.draw.rect(base, _blend(w.dim_text, w.panel, 60), outline, 1)
        text.blit(base, "where things are (believed)", w.dim_text, outline.x,
                  outline.y - text.line_height - 2)
        for page in range(layout.pages()):
            _, py = (transform.to_screen(np.array([[0.0, layout.page_top(page)]]))[0]
                      - (body.x, body.y)).astype(int).tolist()
            first = page * layout.steps_per_page
            label = f"steps {first}-{first + layout.steps_per_page - 1}"
            right = transform.to_screen(np.array([[layout.page_width(), 0.0]]))[0][0] - body.x
            text.blit(base, label, _blend(w.dim_text, w.panel, 160),
                      int(right) - text.width(label), py - text.line_height - 2)

    def _caption(self, target: pygame.Surface, caption: str, at: Sequence[int], radius: int,
                 colour: Colour, taken: list[pygame.Rect], text: TextCache,
                 size: tuple[int, int], force: bool = False) -> bool:
        """Draw a caption right of a node on a dark backing, unless it would overlap a
        caption already drawn (`force`: draw anyway). Returns whether it was drawn."""
        rendered = text.render(caption, colour)
        box = rendered.get_rect()
        box.midleft = (at[0] + radius + 3, at[1])
        if box.right > size[0]:  # no room on the right: put it on the left
            box.midright = (at[0] - radius - 3, at[1])
        back = box.inflate(4, 0)
        if not force and back.collidelist(taken) != -1:
            return False
        taken.append(back)
        target.fill(self.style.window.background, back)
        target.blit(rendered, box)
        return True

    def _draw_highlights(self, surface: pygame.Surface, body: pygame.Rect, view: _GraphView,
                         step: int, retrieved: Sequence[str], text: TextCache) -> None:
        """Per frame, over the cached graph: rings on nodes written in the last few
        steps, and this decision's retrieved nodes with their captions and the edges
        between them."""
        m, visible = self.style.memory, view.visible
        assert visible is not None
        pts = view.points + np.array([body.x, body.y])
        radii = self._radii(view)
        smallest = min(radii.values())
        if step > 0 and len(view.written):
            new = np.flatnonzero((view.written > step - m.highlight_frames)
                                 & (view.written <= step))
            for i in new.tolist():
                r = radii.get(visible.labels[i], smallest)
                pygame.draw.circle(surface, (255, 255, 255), pts[i].tolist(), r + 2, 1)
        shown = [visible.index[i] for i in dict.fromkeys(retrieved) if i in visible.index]
        if not shown:
            return
        # The retrieved subgraph: edges between two retrieved nodes.
        idx = np.array(shown, np.int64)
        between = np.flatnonzero(np.isin(view.edge_a, idx) & np.isin(view.edge_b, idx))
        accent = self.style.window.accent
        for e in between.tolist():
            a, b = int(view.edge_a[e]), int(view.edge_b[e])
            pygame.draw.line(surface, accent, pts[a].tolist(), pts[b].tolist(), 2)
        taken = [r.move(body.x, body.y) for r in view.label_rects]
        nodes = view.graph.nodes if view.graph is not None else {}
        for i in shown:
            node_id, label = visible.ids[i], visible.labels[i]
            r = radii.get(label, smallest)
            centre = pts[i].tolist()
            pygame.draw.circle(surface, accent, centre, r + 4, 2)
            pygame.draw.circle(surface, m.label_colour(label), centre, r)
            props = nodes[node_id][1] if node_id in nodes else {}
            self._caption(surface, node_caption(node_id, label, props, m.caption_chars),
                          centre, r + 2, accent, taken, text, (body.right, body.bottom))

    def _legend(self, surface: pygame.Surface, area: pygame.Rect, text: TextCache) -> None:
        """Colour key of the node labels (wrapped to two rows), then the marks."""
        w, m = self.style.window, self.style.memory
        x, y = area.x, area.y
        half = text.line_height // 2
        for label, colour in m.label_colours.items():
            item_w = text.width(label) + 18
            if x + item_w > area.right:
                x, y = area.x, y + text.line_height + 2
            pygame.draw.circle(surface, colour, (x + 6, y + half), 5)
            text.blit(surface, label, w.text, x + 14, y)
            x += item_w
        x, y = area.x, y + text.line_height + 2
        if y + text.line_height > area.bottom + 2:
            return
        pygame.draw.circle(surface, w.accent, (x + 6, y + half), 6, 2)
        x += 14 + text.blit(surface, "retrieved now", w.dim_text, x + 14, y) + 8
        pygame.draw.circle(surface, (255, 255, 255), (x + 6, y + half), 6, 1)
        x += 14 + text.blit(surface, "new", w.dim_text, x + 14, y) + 8
        pygame.draw.circle(surface, (235, 235, 235), (x + 6, y + half), 5, 1)
        text.blit(surface, "+n folded", w.dim_text, x + 14, y)


def _blend(colour: Sequence[int], background: Sequence[int], alpha: int) -> Colour:
    a = alpha / 255
    r, g, b = (int(c * a + bg * (1 - a)) for c, bg in zip(colour, background, strict=True))
    return r, g, b


# --------------------------------------------------------------------------- why + log
