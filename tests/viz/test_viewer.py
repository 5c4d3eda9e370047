"""The viewer drawn headless, checked as a person would see it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pygame
import pytest

from memsim.envs.crafting.render import render_grid
from memsim.sim.episode import build_scenario_team, make_executor
from memsim.sim.scenario import Scenario, validate_scenario
from memsim.sim.team import StepRecord
from memsim.viz.frame import TEAM_GRAPH, Frame, MessageLog, frame_from_runtime
from memsim.viz.run import run_live
from memsim.viz.viewer import NoDisplayError, Viewer, display_problem


class Team:
    """A real team of the test scenario, stepped by hand, producing frames."""

    def __init__(self, scenario: Scenario) -> None:
        self.records: list[StepRecord] = []
        self.runtime, self.state = build_scenario_team(scenario, 3, self.records.append,
                                                       render_mode="rgb_array")
        self.executor = make_executor("direct", self.runtime)
        self.log = MessageLog()

    def step(self, n: int = 1) -> None:
        for _ in range(n):
            self.state = self.executor.step(self.state)
            self.log.add_step(self.state["team_step"], self.state["inboxes"],
                              self.records[-1].sent)

    def frame(self) -> Frame:
        decisions = self.records[-1].agents if self.records else None
        return frame_from_runtime(self.runtime, self.state, decisions, self.log)


@pytest.fixture
def team(viz_scenario: Scenario) -> Iterator[Team]:
    t = Team(viz_scenario)
    yield t
    t.runtime.close()


@pytest.fixture
def window() -> Iterator[Viewer]:
    viewer = Viewer((960, 600))
    yield viewer
    viewer.close()


def test_frames_have_the_window_size_off_screen_and_in_a_window(team: Team,
                                                                window: Viewer) -> None:
    team.step(2)
    off = Viewer((800, 608), window=False)
    off.update(team.frame())
    assert off.draw().get_size() == (800, 608)
    assert off.pixels().shape == (608, 800, 3)
    window.update(team.frame())
    window.draw()
    assert pygame.display.get_surface().get_size() == (960, 600)
    # Something was drawn in every panel, not just the background.
    pixels = window.pixels()
    for name, rect in window.rects.items():
        patch = pixels[rect.top:rect.bottom, rect.left:rect.right].reshape(-1, 3)
        assert len(np.unique(patch, axis=0)) > 3, f"panel {name} is blank"
    with pytest.raises(ValueError, match="minimum"):
        Viewer((100, 100), window=False)


def test_memory_panel_draws_more_nodes_as_memory_grows(team: Team) -> None:
    viewer = Viewer((960, 600), window=False)
    viewer.state.graph_view = True  # the graph view (g)
    counts = []
    for _ in range(4):
        team.step(5)
        viewer.update(team.frame())
        viewer.draw()
        counts.append(viewer.memory_drawn_nodes)
    stored = team.runtime.agents["agent_0"].memory.store.count()
    assert counts == sorted(counts) and counts[-1] > counts[0] > 0
    assert counts[-1] == stored  # below the collapse threshold every node is drawn


def test_followed_agents_local_view_shows_its_observation(team: Team) -> None:
    viewer = Viewer((1024, 640), window=False)
    team.step(6)
    env = team.runtime.env
    for agent in ("agent_0", "agent_2"):
        viewer.state.follow = agent
        viewer.update(team.frame())
        viewer.draw()
        rect = viewer.local_view_rect
        assert rect is not None
        obs = team.state["observations"][agent]
        # The env's own rgb rendering of the agent's observation (rgb obs mode), unlit.
        expected = render_grid(env.world.rules, obs["materials"], obs["objects"],
                               obs["agents"], env.config.tile_pixels)
        shown = viewer.pixels()[rect.top:rect.bottom, rect.left:rect.right]
        scale = rect.width // expected.shape[1]
        assert shown.shape == (expected.shape[0] * scale, expected.shape[1] * scale, 3)
        assert np.array_equal(shown[::scale, ::scale], expected)


def test_window_resize_relays_out_the_panels(team: Team, window: Viewer) -> None:
    team.step(1)
    window.update(team.frame())
    window.draw()
    window.handle_events([pygame.event.Event(pygame.VIDEORESIZE, w=1200, h=700,
                                             size=(1200, 700))])
    assert window.draw().get_size() == (1200, 700)
    assert pygame.display.get_surface().get_size() == (1200, 700)
    for rect in window.rects.values():
        assert pygame.Rect(0, 0, 1200, 700).contains(rect)
    assert window.rects["map"].width == int(1200 * window.style.layout.map_width)
    # No two panels overlap.
    rects = list(window.rects.values())
    assert not any(a.colliderect(b) for i, a in enumerate(rects) for b in rects[i + 1:])
    window.handle_event(pygame.event.Event(pygame.VIDEORESIZE, w=50, h=50, size=(50, 50)))
    minimum = (window.style.window.min_width, window.style.window.min_height)
    assert window.draw().get_size() == minimum


def _key(key: int) -> pygame.event.Event:
    return pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode="", scancode=0)


def test_keys_and_mouse_control_the_view(team: Team) -> None:
    viewer = Viewer((960, 600), window=False)
    viewer.state.graph_view = True  # the graph view (g)
    team.step(8)
    viewer.update(team.frame())
    viewer.draw()
    s = viewer.state
    viewer.handle_events([_key(pygame.K_SPACE)])
    assert s.paused
    viewer.handle_events([_key(pygame.K_n), _key(pygame.K_RIGHT)])
    assert s.step_requests == 2
    speed = s.speed
    viewer.handle_events([_key(pygame.K_PLUS)])
    assert s.speed > speed
    viewer.handle_events([_key(pygame.K_MINUS), _key(pygame.K_MINUS)])
    assert s.speed < speed
    viewer.handle_events([_key(pygame.K_2)])  # keys are agent ids: 2 is agent_2
    assert s.follow == "agent_2"
    viewer.handle_events([_key(pygame.K_0)])
    assert s.follow == "agent_0"
    viewer.handle_events([_key(pygame.K_2), _key(pygame.K_9)])  # no agent_9: unchanged
    assert s.follow == "agent_2"
    assert "no agent_9" in viewer._status()  # ... and the status line says so
    # Clicking an agent on the map follows it.
    frame = viewer.frame
    x, y = frame.positions["agent_1"]
    click = viewer.world_map.cell_rect(frame, x, y).center
    viewer.handle_events([pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1, pos=click)])
    assert s.follow == "agent_1"
    # m switches the memory panel to the team graph, and back.
    viewer.handle_events([_key(pygame.K_m)])
    assert viewer.graph_key == TEAM_GRAPH
    viewer.draw()
    assert viewer.memory.views[TEAM_GRAPH].graph is not None
    viewer.handle_events([_key(pygame.K_m)])
    assert viewer.graph_key == "agent_1"
    # Wheel zooms at the cursor; drag pans; both change what is drawn.
    viewer.draw()
    view = viewer.memory.views["agent_1"]
    scale = view.transform.scale
    centre = viewer.rects["memory"].center
    before = viewer.pixels()
    viewer.handle_events([pygame.event.Event(pygame.MOUSEWHEEL, x=0, y=2, pos=centre)])
    assert view.transform.scale == pytest.approx(scale * viewer.style.memory.wheel_zoom ** 2)
    offset = view.transform.offset_x
    viewer.handle_events([
        pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1, pos=centre),
        pygame.event.Event(pygame.MOUSEMOTION, pos=(centre[0] + 30, centre[1]), buttons=(1,
                                                                                          0, 0)),
        pygame.event.Event(pygame.MOUSEBUTTONUP, button=1, pos=(centre[0] + 30, centre[1])),
    ])
    assert view.transform.offset_x == pytest.approx(offset + 30)
    viewer.draw()
    assert not np.array_equal(before, viewer.pixels())


def test_m_without_a_team_graph_says_why(tmp_path: Path) -> None:
    scenario = validate_scenario({
        "name": "no-team", "version": 1, "seeds": [1], "max_steps": 2,
        "env": {"family": "crafting", "width": 16, "height": 16},
        "agents": {"count": 2, "policy": "scripted"}, "run": {"executor": "direct"}})
    runtime, state = build_scenario_team(scenario, 1, render_mode="rgb_array")
    viewer = Viewer((960, 600), window=False)
    try:
        viewer.update(frame_from_runtime(runtime, state))
        viewer.handle_events([_key(pygame.K_m)])
        assert viewer.graph_key == "agent_0"
        assert "no team graph" in viewer._status()
    finally:
        runtime.close()


def test_a_window_without_a_display_fails_at_once_naming_record(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SDL_VIDEODRIVER", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert "DISPLAY" in (display_problem() or "")
    with pytest.raises(NoDisplayError, match="--record"):
        Viewer((960, 600))
    assert not pygame.display.get_init()


def test_quit_key_and_window_close_end_cleanly(window: Viewer) -> None:
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    window.handle_events()
    assert window.state.quit
    window.close()
    assert not pygame.display.get_init()
    window.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        window.draw()


def test_run_live_steps_draws_and_stops_on_q(viz_scenario: Scenario) -> None:
    viewer = Viewer((960, 600))
    summary = run_live(viz_scenario, 3, max_steps=4, viewer=viewer, speed=1000, hold=False)
    assert summary.steps == 4 and not viewer.state.quit
    assert viewer.frame.step == 4 and viewer.memory_drawn_nodes > 0
    viewer.close()
    # q pressed before the first step: the run stops at once and the window closes.
    viewer = Viewer((960, 600))
    pygame.event.post(_key(pygame.K_q))
    summary = run_live(viz_scenario, 3, viewer=viewer, speed=1000)
    assert viewer.state.quit and summary.steps == 0
    viewer.close()
    assert not pygame.display.get_init()


def test_memory_is_read_only_when_its_revision_changes(team: Team) -> None:
    viewer = Viewer((960, 600), window=False)
    viewer.state.graph_view = True  # the graph view (g)
    team.step(3)
    viewer.update(team.frame())
    viewer.draw()
    view = viewer.memory.views["agent_0"]
    assert view.reads == 1
    base = view.base
    for _ in range(3):  # new frames of the same moment: same revision, no re-read
        viewer.update(team.frame())
        viewer.draw()
    assert view.reads == 1 and view.base is base and view.base_key is not None
    drawn = viewer.pixels()
    store = team.runtime.agents["agent_0"].memory.store
    revision = store.revision
    team.step(1)  # the agent writes its memory
    assert store.revision != revision
    viewer.update(team.frame())
    viewer.draw()
    assert view.reads == 2
    assert not np.array_equal(drawn, viewer.pixels())


def test_a_new_store_is_read_even_at_the_same_revision(viz_scenario: Scenario) -> None:
    # Two episodes of the same scenario and seed: new stores whose revisions repeat.
    viewer = Viewer((960, 600), window=False)
    viewer.state.graph_view = True  # the graph view (g)
    first, second = Team(viz_scenario), Team(viz_scenario)
    try:
        first.step(2)
        second.step(2)
        viewer.update(first.frame())
        viewer.draw()
        view = viewer.memory.views["agent_0"]
        assert (second.runtime.agents["agent_0"].memory.store.revision
                == first.runtime.agents["agent_0"].memory.store.revision)
        viewer.update(second.frame())
        viewer.draw()
        assert view.reads == 2 and view.store is second.runtime.agents["agent_0"].memory.store
        viewer.new_episode()
        assert viewer.memory.views == {} and viewer.frame is None
    finally:
        first.runtime.close()
        second.runtime.close()


def test_retrieved_nodes_are_ringed_and_captioned(team: Team) -> None:
    viewer = Viewer((1280, 720), window=False)
    viewer.state.graph_view = True  # the graph view (g)
    team.step(12)
    frame = team.frame()
    retrieved = frame.decisions["agent_0"].retrieved
    assert retrieved
    viewer.update(frame)
    viewer.draw()
    view = viewer.memory.views["agent_0"]
    body = viewer.memory.rect
    accent = np.array(viewer.style.window.accent)
    pixels = viewer.pixels()

    def accent_near(node_id: str) -> bool:
        x, y = (view.points[view.visible.index[node_id]] + (body.x, body.y)).tolist()
        patch = pixels[max(y - 12, 0):y + 13, max(x - 12, 0):x + 13].reshape(-1, 3)
        return bool((patch == accent).all(axis=1).any())

    shown = [i for i in retrieved if i in view.visible.index]
    assert shown and all(accent_near(i) for i in shown)
    # The same frame without retrieval: no accent rings.
    frame.decisions["agent_0"].retrieved = []
    viewer.update(frame)
    viewer.draw()
    pixels = viewer.pixels()
    assert not any(accent_near(i) for i in shown)


def test_hierarchy_nodes_get_readable_captions() -> None:
    from memsim.viz.memory_panel import node_caption

    chunk = {"seq": 3, "summary": "move_left x2, do x1; 3 ok, 0 failed; reward 0"}
    assert node_caption("chunk:3", "Chunk", chunk, 40) == "#3 move_left x2, do x1"
    assert node_caption("sub:9:collect_wood", "Subgoal",
                        {"name": "collect_wood", "status": "completed"}, 40) == \
        "collect_wood (completed)"
    assert node_caption("goal:1:collect_diamond", "Goal", {"name": "collect_diamond"}, 8) == \
        "collect~"
    assert node_caption("ent:tree@7,31", "Entity", {"kind": "tree"}, 40) == "tree@7,31"


def test_vitals_labels_sit_beside_their_bars_not_on_them() -> None:
    from memsim.viz.panels import draw_vitals

    viewer = Viewer((960, 600), window=False)
    style, surface = viewer.style, pygame.Surface((300, 100))
    surface.fill(style.window.panel)
    vitals = [("health", "9", "9"), ("food", "2", "9"), ("drink", "5", "9"),
              ("energy", "0", "9")]
    bottom, bars = draw_vitals(surface, pygame.Rect(0, 0, 300, 100), 0, vitals, style,
                               viewer.text)
    assert len(bars) == 4 and bottom <= 100
    assert not any(a.colliderect(b) for i, a in enumerate(bars) for b in bars[i + 1:])
    pixels = np.transpose(pygame.surfarray.array3d(surface), (1, 0, 2))
    bar_colours = {style.window.background, style.window.accent, style.window.error}
    for bar in bars:  # only bar colours inside a bar: no label drawn over it
        patch = pixels[bar.top:bar.bottom, bar.left:bar.right].reshape(-1, 3)
        assert {tuple(int(c) for c in p) for p in np.unique(patch, axis=0)} <= bar_colours
    # ... and the labels were drawn (text colour beside the bars).
    assert (pixels.reshape(-1, 3) == np.array(style.window.text)).all(axis=1).any()


def test_agents_are_outlined_in_the_styles_colours(team: Team) -> None:
    viewer = Viewer((960, 600), window=False)
    team.step(1)
    frame = team.frame()
    viewer.update(frame)
    viewer.draw()
    pixels = viewer.pixels()
    for i, agent in enumerate(frame.agents):
        box = viewer.world_map.cell_rect(frame, *frame.positions[agent]).inflate(4, 4)
        edge = pixels[box.top, box.left:box.right].reshape(-1, 3)
        colour = np.array(viewer.style.map.agent_colour(i))
        assert (edge == colour).all(axis=1).any(), agent


def _one_scenario_per_other_family() -> dict[str, Scenario]:
    """A shipped scenario of each registered world family other than crafting (one that
    needs no model endpoint)."""
    from memsim.sim.families import FAMILIES
    from memsim.sim.scenario import (
        LLM_TABLE_USERS,
        ScenarioError,
        list_scenarios,
        load_scenario,
    )

    found: dict[str, Scenario] = {}
    for name, _ in list_scenarios():
        try:
            scenario = load_scenario(name)
        except ScenarioError:  # a family being added: not registered yet
            continue
        if {scenario.agents.policy, *scenario.agents.policies.values()} & set(
                LLM_TABLE_USERS):
            continue
        family = scenario.env.family
        if family != "crafting" and family in FAMILIES and family not in found:
            found[family] = scenario
    return found


def test_other_world_families_are_drawn_with_their_own_milestones() -> None:
    from memsim.sim.families import family_named

    scenarios = _one_scenario_per_other_family()
    assert "navigation" in scenarios
    viewer = Viewer((960, 600), window=False)
    for family, scenario in scenarios.items():
        records: list[StepRecord] = []
        runtime, state = build_scenario_team(scenario, 0, records.append,
                                             render_mode="rgb_array")
        executor = make_executor("direct", runtime)
        try:
            state = executor.step(state)
            frame = frame_from_runtime(runtime, state, records[-1].agents, MessageLog())
            goal = runtime.env.config.team_goal
            milestones = family_named(family).milestones
            assert frame.milestones == (milestones[:milestones.index(goal) + 1]
                                        if goal in milestones else (goal,))
            viewer.new_episode()
            viewer.update(frame)
            viewer.draw()
            pixels = viewer.pixels()
            for name in ("map", "agent", "memory"):
                rect = viewer.rects[name]
                patch = pixels[rect.top:rect.bottom, rect.left:rect.right].reshape(-1, 3)
                assert len(np.unique(patch, axis=0)) > 3, f"{family}: panel {name} is blank"
            assert viewer.memory_drawn_nodes > 0, family
        finally:
            executor.close()
            runtime.close()
