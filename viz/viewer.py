"""`Viewer`: the pygame window (or an off-screen surface) that draws `Frame`s.

    viewer = Viewer()                 # a resizable window; Viewer(window=False) off-screen
    viewer.update(frame)              # a new moment of the episode
    viewer.handle_events()            # keys and mouse -> viewer.state
    viewer.draw()                     # the window's surface, drawn

Controls: space pause, n or → one step, ← or b one step back (replay), + / - speed,
0-9 (agent_0 .. agent_9) or a click on the map to follow an agent, m the team's shared
graph, o the believed map over the world map, mouse wheel zoom and drag pan in the
memory panel (f: fit again), q or Esc quit. The window resizes. A key that can do
nothing now says why in the status line.

A window needs a display: `display_problem()` tells, before SDL opens anything, why
there is none (`Viewer(window=True)` raises `NoDisplayError` with it).

The viewer only reads frames; what happens on pause, step and quit is up to the loop
driving it (`viz.run`), which reads `viewer.state`.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pygame

from memsim.viz.frame import TEAM_GRAPH, Frame
from memsim.viz.memory_panel import MemoryPanel
from memsim.viz.panels import (
    TextCache,
    WorldMap,
    draw_agent_panel,
    draw_message_log,
    draw_top_bar,
    draw_why_panel,
)
from memsim.viz.reading_panel import ReadingPanel
from memsim.viz.style import Style, load_style

SPEED_MIN, SPEED_MAX = 0.25, 1000.0  # team steps per second
SPEED_FACTOR = 1.5
MESSAGE_SECONDS = 4.0  # how long a status-line message stays
_DIGITS = {getattr(pygame, f"K_{d}"): d for d in range(10)} | {
    getattr(pygame, f"K_KP{d}"): d for d in range(10)}


class NoDisplayError(ValueError):
    """There is no display to open a window on (the message says why)."""


def display_problem() -> str | None:
    """Why a window cannot be shown here, or None. Checked before SDL is asked (on Linux
    without DISPLAY / WAYLAND_DISPLAY and no SDL_VIDEODRIVER, SDL falls back to an
    invisible off-screen driver), then by starting pygame's display."""
    env = os.environ
    if not env.get("SDL_VIDEODRIVER") and sys.platform.startswith(("linux", "freebsd")) and \
            not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        return "no display: DISPLAY and WAYLAND_DISPLAY are not set"
    try:
        pygame.display.init()
    except pygame.error as exc:
        return f"no display: {exc}"
    driver = pygame.display.get_driver()
    if driver in ("offscreen", "dummy") and env.get("SDL_VIDEODRIVER") != driver:
        pygame.display.quit()
        return f"no display: SDL chose its invisible {driver!r} driver"
    return None


@dataclass
class ViewState:
    """What the user asked for; the driving loop reads it."""

    paused: bool = False
    speed: float = 10.0  # team steps per second
    step_requests: int = 0  # single steps forward asked for while paused
    back_requests: int = 0  # single steps back (replay only)
    follow: str | None = None
    show_team: bool = False
    overlay: bool = False  # the believed map drawn over the world map
    graph_view: bool = False  # the memory panel as the raw graph instead of read
    quit: bool = False
    message: str = ""  # a status-line note (why a key did nothing); see `Viewer.say`
    message_until: float = 0.0


class Viewer:
    """Draws frames into a resizable window (`window=True`) or an off-screen surface."""

    def __init__(self, size: tuple[int, int] | None = None, *, window: bool = True,
                 style: Style | None = None, title: str = "memsim") -> None:
        self.style = style or load_style()
        w = self.style.window
        size = size or (w.width, w.height)
        if size[0] < w.min_width or size[1] < w.min_height:
            raise ValueError(f"size {size} is below the minimum "
                             f"({w.min_width}, {w.min_height}) set in viz/style.toml [window]")
        self.window = window
        pygame.font.init()
        if window:
            problem = display_problem()
            if problem is not None:
                raise NoDisplayError(f"cannot open a window ({problem}); record the run "
                                     "instead: --record OUT.mp4 (or OUT.gif)")
            pygame.display.set_caption(title)
            self.surface = pygame.display.set_mode(size, pygame.RESIZABLE)
        else:
            self.surface = pygame.Surface(size)
        self.text = TextCache(pygame.font.Font(None, w.font_size + 4))
        self.state = ViewState()
        self.frame: Frame | None = None
        self.frame_id = 0
        self.world_map = WorldMap(self.style)
        self.memory = MemoryPanel(self.style)
        self.reading = ReadingPanel(self.style)
        self.rects: dict[str, pygame.Rect] = {}
        self.local_view_rect: pygame.Rect | None = None
        self._text_key: tuple[int, str] | None = None
        self._text = ""
        self._drag: tuple[int, int] | None = None
        self.closed = False
        self._layout()

    # -- frames -------------------------------------------------------------------

    def new_episode(self) -> None:
        """Forget the memory layouts and caches of the last episode (its stores are gone;
        a new episode's graphs are laid out from scratch)."""
        self.memory.reset()
        self.reading.reset()
        self.frame = None
        self._text_key = None

    def update(self, frame: Frame) -> None:
        """Show `frame` from the next `draw()` on."""
        if frame.agents and (self.state.follow not in frame.agents):
            self.state.follow = frame.agents[0]
        self.frame = frame
        self.frame_id += 1

    @property
    def graph_key(self) -> str | None:
        """Which memory graph the memory panel shows: the followed agent's or the team's."""
        if self.frame is not None and self.state.show_team and self.frame.has_team_graph:
            return TEAM_GRAPH
        return self.state.follow

    @property
    def memory_drawn_nodes(self) -> int:
        """Nodes drawn in the memory panel at the last `draw()` (graph view), or
        sightings drawn on the believed map (the default view)."""
        if self.state.graph_view:
            return self.memory.drawn_nodes
        return self.reading.drawn_sightings

    def draw(self) -> pygame.Surface:
        """Draw the current frame; flips the window if there is one."""
        if self.closed:
            raise RuntimeError("the viewer is closed")
        surface = self.surface
        surface.fill(self.style.window.background)
        frame = self.frame
        if frame is None:
            self.text.blit(surface, "waiting for the first frame...", self.style.window.text,
                           10, 10)
        else:
            self._draw_frame(surface, frame)
        if self.window:
            pygame.display.flip()
        return surface

    def say(self, message: str) -> None:
        """Show `message` in the status line for a few seconds."""
        self.state.message = message
        self.state.message_until = time.monotonic() + MESSAGE_SECONDS

    def _status(self) -> str:
        s = self.state
        if s.message and time.monotonic() < s.message_until:
            return s.message
        state = "paused" if s.paused else f"{s.speed:g} steps/s"
        if self.frame is not None and self.frame.done:
            state = "episode over, " + state
        return state + "  (space n b +/- 0-9 m o g q)"

    def _draw_frame(self, surface: pygame.Surface, frame: Frame) -> None:
        r, style, text = self.rects, self.style, self.text
        follow = self.state.follow or frame.agents[0]
        draw_top_bar(surface, r["top"], frame, self._status(), style, text)
        self.world_map.draw(surface, r["map"], frame, follow, text)
        graph_key = self.graph_key or follow
        if self.state.overlay:
            self.reading.draw_overlay(surface, frame, graph_key, self.frame_id,
                                      self.world_map.cell_rect)
        key = (self.frame_id, follow)
        if key != self._text_key:  # read the observation text once per frame
            self._text_key, self._text = key, frame.observation_text(follow)
        self.local_view_rect = draw_agent_panel(surface, r["agent"], frame, follow,
                                                self._text, style, text)
        decision = frame.decisions.get(follow)
        retrieved = decision.retrieved if decision is not None else []
        if self.state.graph_view:
            self.memory.draw(surface, r["memory"], frame, graph_key, self.frame_id,
                             retrieved, text)
        else:
            switches = "  [g] graph" + ("  [m] agent" if graph_key == TEAM_GRAPH else (
                "  [m] team" if frame.has_team_graph else ""))
            self.reading.draw(surface, r["memory"], frame, graph_key, self.frame_id,
                              retrieved, text, frame.cell_pixels * self.world_map.scale,
                              switches)
        draw_why_panel(surface, r["why"], frame, follow, style, text)
        draw_message_log(surface, r["log"], frame, style, text)

    # -- layout -------------------------------------------------------------------

    def _layout(self) -> None:
        """Three columns under the top bar (see `[layout]` in viz/style.toml)."""
        w, h = self.surface.get_size()
        lay = self.style.layout
        top, gap = lay.top_bar, 4
        body_h = h - top
        left_w = int(w * lay.map_width)
        side_w = int(w * lay.side_width)
        map_h = min(left_w, body_h - int(body_h * lay.log_min_height))  # square if it fits
        why_h = int(body_h * lay.why_height)
        right_x = left_w + side_w + gap
        self.rects = {
            "top": pygame.Rect(0, 0, w, top),
            "map": pygame.Rect(0, top, left_w, map_h),
            "log": pygame.Rect(0, top + map_h + gap, left_w, body_h - map_h - gap),
            "agent": pygame.Rect(left_w + gap, top, side_w - gap, body_h - why_h - gap),
            "why": pygame.Rect(left_w + gap, top + body_h - why_h, side_w - gap, why_h),
            "memory": pygame.Rect(right_x, top, w - right_x - gap, body_h),
        }

    def resize(self, width: int, height: int) -> None:
        """Resize the window (clamped to the style's minimum) and lay the panels out again."""
        w = self.style.window
        size = (max(int(width), w.min_width), max(int(height), w.min_height))
        if self.window:
            self.surface = pygame.display.set_mode(size, pygame.RESIZABLE)
        else:
            self.surface = pygame.Surface(size)
        self._layout()

    # -- input --------------------------------------------------------------------

    def handle_events(self, events: list[pygame.event.Event] | None = None) -> None:
        """Apply pending window events (or the given ones) to `self.state`."""
        if events is None:
            events = pygame.event.get() if self.window else []
        for event in events:
            self.handle_event(event)

    def handle_event(self, event: pygame.event.Event) -> None:
        s = self.state
        if event.type == pygame.QUIT:
            s.quit = True
        elif event.type == pygame.VIDEORESIZE:
            self.resize(event.w, event.h)
        elif event.type == pygame.KEYDOWN:
            self._key(event)
        elif event.type == pygame.MOUSEWHEEL:
            pos = getattr(event, "pos", None) or pygame.mouse.get_pos()
            if self.rects["memory"].collidepoint(pos) and not s.graph_view:
                self.say("wheel: zoom works in the graph view (g)")
            elif self.rects["memory"].collidepoint(pos):
                factor = self.style.memory.wheel_zoom ** event.y
                self.memory.zoom(factor, pos)
        elif event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            if self.rects["memory"].collidepoint(event.pos) and s.graph_view:
                self._drag = event.pos
            elif self.rects["map"].collidepoint(event.pos) and self.frame is not None:
                agent = self.world_map.agent_at(self.frame, event.pos)
                if agent is not None:
                    s.follow = agent
        elif event.type == pygame.MOUSEBUTTONUP and event.button == 1:
            self._drag = None
        elif event.type == pygame.MOUSEMOTION and self._drag is None:
            inside = self.rects["memory"].collidepoint(event.pos)
            self.reading.hover = event.pos if inside else None
        elif event.type == pygame.MOUSEMOTION and self._drag is not None:
            x, y = event.pos
            self.memory.pan(x - self._drag[0], y - self._drag[1])
            self._drag = (x, y)

    def _key(self, event: pygame.event.Event) -> None:
        s, key = self.state, event.key
        if key in (pygame.K_q, pygame.K_ESCAPE):
            s.quit = True
        elif key == pygame.K_SPACE:
            s.paused = not s.paused
        elif key in (pygame.K_n, pygame.K_RIGHT):
            s.paused = True
            s.step_requests += 1
        elif key in (pygame.K_b, pygame.K_LEFT):
            s.paused = True
            s.back_requests += 1
        elif key in (pygame.K_PLUS, pygame.K_EQUALS, pygame.K_KP_PLUS):
            s.speed = min(s.speed * SPEED_FACTOR, SPEED_MAX)
        elif key in (pygame.K_MINUS, pygame.K_KP_MINUS):
            s.speed = max(s.speed / SPEED_FACTOR, SPEED_MIN)
        elif key == pygame.K_m:
            if self.frame is not None and not self.frame.has_team_graph:
                s.show_team = False
                self.say("m: this run keeps no team graph (its [memory] shared is off)")
            else:
                s.show_team = not s.show_team
        elif key == pygame.K_o:
            s.overlay = not s.overlay
            memory_off = self.frame is not None and self.frame.graph_store(
                self.graph_key or s.follow or "") is None
            self.say("o: nothing to draw: this agent keeps no memory (memory is off)"
                     if s.overlay and memory_off else "o: believed map " + (
                         "over the world map" if s.overlay else "off the world map"))
        elif key == pygame.K_g:
            s.graph_view = not s.graph_view
        elif key == pygame.K_f:
            if not s.graph_view:
                self.say("f: fitting is for the graph view (g)")
            self.memory.refit()
        elif key in _DIGITS and self.frame is not None:
            agent = agent_for_digit(self.frame.agents, _DIGITS[key])
            if agent is None:
                self.say(f"{_DIGITS[key]}: no agent_{_DIGITS[key]} in this run "
                         f"({', '.join(self.frame.agents)})")
            else:
                s.follow = agent

    # -- output -------------------------------------------------------------------

    def screenshot(self, path: str | Path) -> Path:
        """Draw and save the current view as an image (PNG by extension)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        pygame.image.save(self.draw(), str(path))
        return path

    def pixels(self) -> np.ndarray:
        """The last drawn surface as an RGB array [height, width, 3]."""
        return np.transpose(pygame.surfarray.array3d(self.surface), (1, 0, 2)).copy()

    def close(self) -> None:
        """Close the window (idempotent); pygame's display shuts down with it."""
        if self.closed:
            return
        self.closed = True
        if self.window:
            pygame.display.quit()


def agent_for_digit(agents: tuple[str, ...], digit: int) -> str | None:
    """The agent a digit key follows: the one whose id ends in ``_<digit>`` (agent ids are
    0-based: key 0 is agent_0), else None."""
    return next((a for a in agents if a.rsplit("_", 1)[-1] == str(digit)), None)


def headless() -> None:
    """Use SDL's dummy video driver (no screen needed), unless a driver is already set."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
