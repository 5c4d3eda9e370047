"""Headless frames of all three world families, checked for what a reader needs:

- no two text boxes drawn in the memory panel overlap (map labels, legend, lists,
  timeline), also with a label asked for every sighting and the mouse over a cell;
- the believed map is the world's cell grid: every sighting's cell on the panel maps back
  to the same world cell, the grid has the world map's orientation, and its scale is the
  world map's whenever the panel has room; with `o` the same cells are drawn over the
  world map exactly where the world map draws them;
- the local view is drawn as tiles for every family.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np
import pygame
import pytest

from memsim.sim.episode import build_scenario_team, make_executor
from memsim.sim.scenario import load_scenario, validate_scenario
from memsim.sim.team import StepRecord
from memsim.viz.frame import Frame, MessageLog, frame_from_runtime
from memsim.viz.reading_panel import kind_colour
from memsim.viz.viewer import Viewer

FAMILIES = {
    "crafting": ({"name": "legible-crafting", "version": 1, "seeds": [3], "max_steps": 60,
                  "env": {"family": "crafting", "width": 32, "height": 32},
                  "agents": {"count": 3, "policy": "scripted"}, "memory": {"shared": True},
                  "run": {"executor": "direct"}}, 60),
    "navigation": ("nav-mystery-path-relay", 12),
    "manipulation": ("manip-shell-game-relay", 30),
}


class Run:
    def __init__(self, family: str) -> None:
        source, self.steps = FAMILIES[family]
        scenario = (load_scenario(source) if isinstance(source, str)
                    else validate_scenario(source))
        self.records: list[StepRecord] = []
        self.runtime, self.state = build_scenario_team(scenario, 3, self.records.append,
                                                       render_mode="rgb_array")
        self.executor = make_executor("direct", self.runtime)
        self.log = MessageLog()
        for _ in range(self.steps):
            if self.state.get("done"):
                break
            self.state = self.executor.step(self.state)
            self.log.add_step(self.state["team_step"], self.state["inboxes"],
                              self.records[-1].sent)

    def frame(self) -> Frame:
        return frame_from_runtime(self.runtime, self.state,
                                  self.records[-1].agents if self.records else None, self.log)

    def close(self) -> None:
        self.executor.close()
        self.runtime.close()


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def run(request: pytest.FixtureRequest) -> Iterator[Run]:
    built = Run(request.param)
    yield built
    built.close()


def _overlaps(rects: list[pygame.Rect]) -> list[tuple[pygame.Rect, pygame.Rect]]:
    return [(a, b) for a, b in itertools.combinations(rects, 2) if a.colliderect(b)]


def _draw(viewer: Viewer, frame: Frame, follow: str) -> None:
    viewer.update(frame)
    viewer.state.follow = follow
    viewer.draw()


def test_memory_panel_labels_never_overlap(run: Run) -> None:
    viewer = Viewer((1280, 720), window=False)
    frame = run.frame()
    for agent in frame.agents:
        _draw(viewer, frame, agent)
        panel = viewer.reading
        assert panel.label_rects, f"{agent}: nothing written in the memory panel"
        assert not _overlaps(panel.label_rects), agent
        assert all(viewer.rects["memory"].contains(r) for r in panel.label_rects)
        reading = panel.reading(frame, agent, viewer.frame_id)
        assert reading is not None
        # Every sighting asked for a label at once, and the mouse over a remembered cell:
        # whatever is drawn still does not overlap.
        everything = [s.node_id for s in reading.sightings]
        if reading.sightings:
            cell = reading.sightings[0].cell
            panel.hover = panel.geometry.centre(*cell)
        viewer.memory.reset()
        surface = viewer.surface
        panel.draw(surface, viewer.rects["memory"], frame, agent, viewer.frame_id, everything,
                   viewer.text, frame.cell_pixels * viewer.world_map.scale, "")
        assert not _overlaps(panel.label_rects), agent
        panel.hover = None


def test_believed_map_cells_line_up_with_world_cells(run: Run) -> None:
    viewer = Viewer((1280, 720), window=False)
    frame = run.frame()
    agent = max(frame.agents, key=lambda a: len(
        viewer.reading.reading(frame, a, -1).sightings))  # the one that remembers most
    _draw(viewer, frame, agent)
    reading = viewer.reading.reading(frame, agent, viewer.frame_id)
    geo, wm = viewer.reading.geometry, viewer.world_map
    assert reading.sightings, "this run should have remembered something"
    assert geo.size == frame.world_cells
    world_cell = frame.cell_pixels * wm.scale
    # The world map's scale when it fits, else whole pixels per cell as large as fit.
    room = viewer.rects["memory"].height * viewer.style.reading.map_height
    assert geo.cell <= max(int(world_cell), 1)
    assert geo.cell == int(world_cell) or (geo.cell + 1) * frame.world_cells[1] > \
        room - 2 * viewer.text.line_height or (geo.cell + 1) * frame.world_cells[0] > \
        viewer.rects["memory"].width
    pixels = viewer.pixels()
    for s in reading.sightings:
        centre = geo.centre(s.x, s.y)
        assert geo.cell_at(centre) == (s.x, s.y)
        # Same orientation and scale as the world map, up to the cell size ratio.
        w = wm.cell_rect(frame, s.x, s.y)
        origin = wm.cell_rect(frame, 0, 0)
        assert (w.x - origin.x) / world_cell == pytest.approx(
            (geo.rect(s.x, s.y).x - geo.origin[0]) / geo.cell, abs=0.1)
    # A sighting drawn alone in its cell has its kind's colour there (not a label).
    seen = [s for s in reading.sightings if not s.gone and not s.told
            and len(reading.sighting_at(s.cell)) == 1]
    labels = viewer.reading.label_rects
    for s in seen[:20]:
        x, y = geo.centre(s.x, s.y)
        if geo.cell >= 3 and not any(r.collidepoint(x, y) for r in labels):
            assert tuple(pixels[y, x]) == kind_colour(s.kind, viewer.style), s
    # o: the same cells over the world map, exactly where the world map draws them.
    viewer.state.overlay = True
    viewer.draw()
    over = viewer.pixels()
    for s in seen[:20]:
        box = wm.cell_rect(frame, s.x, s.y)
        if box.width >= 3 and not any(r.collidepoint(box.topleft) for r in labels):
            assert tuple(over[box.y, box.x]) == kind_colour(s.kind, viewer.style), s


def test_local_view_is_drawn_as_tiles_for_every_family(run: Run) -> None:
    viewer = Viewer((1280, 720), window=False)
    frame = run.frame()
    agent = frame.agents[0]
    tiles: Any = frame.local_view(agent)
    assert tiles is not None and tiles.ndim == 3
    cols, rows = frame.view_extent
    assert tiles.shape[:2] == (rows * frame.cell_pixels, cols * frame.cell_pixels)
    _draw(viewer, frame, agent)
    assert viewer.local_view_rect is not None and viewer.local_view_rect.width > 50
    area = viewer.pixels()[viewer.local_view_rect.top:viewer.local_view_rect.bottom,
                           viewer.local_view_rect.left:viewer.local_view_rect.right]
    assert len(np.unique(area.reshape(-1, 3), axis=0)) >= 3


def test_progress_bar_names_are_abbreviated_not_cut() -> None:
    from memsim.viz.panels import abbreviate

    def width(s: str) -> int:
        return 7 * len(s)

    assert abbreviate("wood", width, 80) == "wood"
    assert abbreviate("stone_pickaxe", width, 80) == "ston_pick"
    assert abbreviate("stone_pickaxe", width, 60) == "sto_pic"
    assert abbreviate("extraordinarily", width, 60).endswith("~")
    assert abbreviate("x", width, 3) == ""
