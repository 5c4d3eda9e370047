"""The memory graph layout: bands, stability, collapsing, zoom and pan (no window)."""

from __future__ import annotations

import numpy as np
import pytest

from memsim.memory import AgentMemory, Fact, open_store
from memsim.viz.memory_layout import (
    EPISODIC_ROWS,
    PAGE_HEIGHT,
    GraphData,
    MemoryLayout,
    ViewTransform,
    read_graph,
)


def _memory(name: str) -> AgentMemory:
    return AgentMemory(open_store("networkx", f"viz-test/{name}", graph_registry={}), "a0",
                       node_budget=None, chunk_size=8)


def _live_step(mem: AgentMemory, step: int) -> None:
    """What an agent writes in one step: an event and a few sightings."""
    facts = [Fact(kind="event", subject="move_left" if step % 3 else "do",
                  outcome="success" if step % 5 else "failure")]
    facts += [Fact(kind="seen_at", subject=kind, place=((step * 7 + i) % 60, (step * 3) % 60),
                   category="resource") for i, kind in enumerate(("tree", "stone", "coal"))]
    if step % 40 == 1:
        facts.append(Fact(kind="subgoal", subject=f"task{step}", status="set"))
    mem.write(facts, step)


def test_positions_of_existing_nodes_never_move() -> None:
    mem = _memory("stable")
    mem.write([Fact(kind="goal", subject="collect_diamond", status="set")], 0)
    layout = MemoryLayout()
    before: dict[str, tuple[float, float]] = {}
    for step in range(1, 120):
        _live_step(mem, step)
        new = layout.update(read_graph(mem.store), step)
        for node_id, pos in before.items():
            assert layout.positions[node_id] == pos, f"{node_id} moved at step {step}"
        assert set(new).isdisjoint(before)
        before.update({i: layout.positions[i] for i in new})
    assert len(before) == mem.store.count()


def test_hierarchy_levels_are_bands_top_to_bottom_and_semantics_above() -> None:
    mem = _memory("bands")
    mem.write([Fact(kind="goal", subject="collect_diamond", status="set")], 0)
    for step in range(1, 30):
        _live_step(mem, step)
    graph = read_graph(mem.store)
    layout = MemoryLayout()
    layout.update(graph, 29)
    ys: dict[str, list[float]] = {}
    for node_id, (label, _) in graph.nodes.items():
        x, y = layout.positions[node_id]
        if label in EPISODIC_ROWS:
            assert y >= 0 and 0 <= x <= layout.page_width(), node_id
            ys.setdefault(label, []).append(y % PAGE_HEIGHT)
        else:
            assert y < 0, f"semantic node {node_id} is not above the episodic bands"
    assert max(ys["Goal"]) < min(ys["Subgoal"]) <= max(ys["Subgoal"]) < min(ys["Chunk"])
    assert max(ys["Chunk"]) < min(ys["Event"])
    # Positions are distinct: no two nodes drawn on top of each other.
    points = {layout.positions[i] for i in graph.nodes}
    assert len(points) == len(graph.nodes)


def test_a_large_graph_collapses_old_chunks_into_their_summaries() -> None:
    mem = _memory("big")
    mem.write([Fact(kind="goal", subject="collect_diamond", status="set")], 0)
    step = 0
    while mem.store.count() < 2200:
        step += 1
        _live_step(mem, step)
    graph = read_graph(mem.store)
    layout = MemoryLayout(collapse_threshold=600, keep_recent_chunks=2)
    layout.update(graph, step)
    shown = layout.visible(graph)
    assert len(shown.ids) < len(graph.nodes) // 2
    chunks = sorted((props["seq"], node_id) for node_id, (label, props) in graph.nodes.items()
                    if label == "Chunk")
    recent = {node_id for _, node_id in chunks[-2:]}
    for node_id, (label, props) in graph.nodes.items():
        if label == "Event":
            assert (node_id in shown.index) == (props["chunk"] in recent)
    # Every old chunk stays, standing for its events (drawn as its summary + count).
    old = chunks[0][1]
    assert old in shown.index and graph.props(old)["summary"]
    assert shown.folded[old] == sum(1 for _, props in graph.nodes.values()
                                    if props.get("chunk") == old)
    assert all(0 <= a < len(shown.ids) and 0 <= b < len(shown.ids) and a != b
               for a, b, _ in shown.edges)
    # Below the threshold nothing is folded.
    small = MemoryLayout(collapse_threshold=10_000)
    small.update(graph, step)
    assert len(small.visible(graph).ids) == len(graph.nodes)


def test_zoom_keeps_the_point_under_the_cursor_and_pan_moves_by_pixels() -> None:
    view = ViewTransform(2.0, 10.0, 20.0)
    point = np.array([[3.0, 4.0]])
    before = view.to_screen(point)[0]
    view.zoom_at(1.5, *before)
    assert np.allclose(view.to_screen(point)[0], before)
    assert view.scale == pytest.approx(3.0)
    view.pan(5, -7)
    assert np.allclose(view.to_screen(point)[0], before + np.array([5.0, -7.0]))
    with pytest.raises(ValueError, match="zoom factor"):
        view.zoom_at(0, 0, 0)


def test_fit_shows_all_bounds_inside_the_rect() -> None:
    view = ViewTransform.fit((-70.0, 0.0, 60.0, 90.0), (100, 50, 400, 300), margin=10)
    corners = view.to_screen(np.array([[-70.0, 0.0], [60.0, 90.0]]))
    assert (corners[:, 0] >= 110).all() and (corners[:, 0] <= 490).all()
    assert (corners[:, 1] >= 60).all() and (corners[:, 1] <= 340).all()


def test_bad_layout_settings_name_the_field() -> None:
    with pytest.raises(ValueError, match="world_size"):
        MemoryLayout(world_size=(0, 5))
    with pytest.raises(ValueError, match="steps_per_page"):
        MemoryLayout(steps_per_page=0)
    assert MemoryLayout().visible(GraphData({}, [])).ids == []


def test_written_step_is_the_nodes_own_time_and_a_first_read_is_not_new() -> None:
    mem = _memory("written")
    mem.write([Fact(kind="goal", subject="collect_diamond", status="set")], 0)
    for step in range(1, 6):
        _live_step(mem, step)
    layout = MemoryLayout()
    layout.update(read_graph(mem.store), 40)  # e.g. a replay jumping to step 40
    graph = read_graph(mem.store)
    for node_id, (label, props) in graph.nodes.items():
        if label == "Event":
            assert layout.written[node_id] == props["step"]
        elif label == "Place":  # no time of its own: already there, so not new
            assert layout.written[node_id] == -1
    _live_step(mem, 41)
    new = layout.update(read_graph(mem.store), 41)
    places = [i for i in new if i.startswith("place:")]
    assert places and all(layout.written[i] == 41 for i in places)
