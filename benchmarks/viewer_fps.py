"""Viewer frame rate: a 64x64 world, 6 agents, a followed agent with a 2,000-node memory.

Headless (SDL dummy driver, a real pygame display surface). Builds the 6-agent DAMCS
team as `memsim run --viz` does, runs it 120 steps, then writes real facts (events and
sightings, as perception would) into agent_0's memory until it holds 2,000 nodes, and
measures:

- redraw: `draw()` of the same frame (what a paused or waiting viewer does each tick)
- new frame: one team step (not timed), then `frame_from_runtime` + `update` + `draw`
  (the world rendered, the followed memory re-read because the step wrote to it, laid
  out, collapsed and drawn): the per-step cost of a live run

and the mean milliseconds per new frame spent in each part. The machine may be shared:
frames per second are given by wall clock and by this process's CPU time (what an
otherwise idle machine would show), and the parts say where time goes.

    .venv/bin/python benchmarks/viewer_fps.py [--frames 120] [--graph]

The memory panel is measured in its default view (read in the world's terms,
`viz.reading_panel`); `--graph` measures the graph view (`g`) instead.

Target: > 30 new frames per second.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from memsim.memory import Fact
from memsim.sim.episode import build_scenario_team, make_executor
from memsim.sim.scenario import load_scenario
from memsim.sim.team import StepRecord
from memsim.viz import frame as frame_module
from memsim.viz import memory_layout, memory_panel, panels, reading_panel
from memsim.viz import viewer as viewer_module
from memsim.viz.frame import MessageLog, frame_from_runtime
from memsim.viz.viewer import Viewer

NODES = 2000
PARTS: dict[str, float] = defaultdict(float)  # part -> CPU seconds over the timed frames


def _timed(owner: Any, name: str, part: str) -> None:
    """Wrap `owner.name` so the CPU time spent in it adds to PARTS[part]."""
    original: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            PARTS[part] += time.process_time() - start

    setattr(owner, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--graph", action="store_true",
                        help="measure the memory panel's graph view (g) instead of the "
                        "default read view")
    args = parser.parse_args()
    scenario = load_scenario("damcs-diamond-6")
    records: list[StepRecord] = []
    runtime, state = build_scenario_team(scenario, 0, records.append, render_mode="rgb_array")
    executor = make_executor("direct", runtime)
    log = MessageLog()

    def step() -> None:
        nonlocal state
        state = executor.step(state)
        log.add_step(state["team_step"], state["inboxes"], records[-1].sent)

    for _ in range(120):
        step()
    memory = runtime.agents["agent_0"].memory
    at = state["team_step"]
    while memory.store.count() < NODES:  # the same kinds of facts perception writes
        at += 1
        memory.write([Fact(kind="event", subject="move_left", outcome="success"),
                      Fact(kind="seen_at", subject="stone", place=(at % 64, (at // 64) % 64),
                           category="resource")], at)
    viewer = Viewer((1280, 720))
    viewer.state.graph_view = args.graph
    viewer.update(frame_from_runtime(runtime, state, records[-1].agents, log))
    viewer.draw()
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(args.frames):
        viewer.draw()
    redraw = args.frames / (time.perf_counter() - start)
    redraw_cpu = args.frames / (time.process_time() - cpu)

    _timed(frame_module, "world_image", "world render (env.render)")
    _timed(memory_panel, "read_graph", "memory read (structure)")
    _timed(memory_layout.MemoryLayout, "update", "memory layout (new nodes)")
    _timed(memory_layout.MemoryLayout, "visible", "memory collapse (visible)")
    _timed(memory_panel.MemoryPanel, "_draw_base", "memory draw (cached surface)")
    _timed(memory_panel.MemoryPanel, "_draw_highlights", "memory highlights")
    _timed(reading_panel, "read_graph", "memory read (structure, read view)")
    _timed(reading_panel, "read_memory", "memory reading (read view)")
    _timed(reading_panel.ReadingPanel, "draw", "memory panel, read view (all)")
    _timed(panels.WorldMap, "draw", "world map")
    _timed(memory_panel.MemoryPanel, "draw", "memory panel, graph view (all)")
    for name in ("draw_agent_panel", "draw_why_panel", "draw_message_log", "draw_top_bar"):
        _timed(viewer_module, name, name.removeprefix("draw_").replace("_", " "))
    _timed(viewer, "draw", "draw (all panels)")
    _timed(frame_module, "frame_from_runtime", "frame (incl. render)")
    PARTS.clear()
    elapsed = elapsed_cpu = 0.0
    for _ in range(args.frames):
        step()
        start, cpu = time.perf_counter(), time.process_time()
        viewer.update(frame_module.frame_from_runtime(runtime, state, records[-1].agents, log))
        viewer.draw()
        elapsed += time.perf_counter() - start
        elapsed_cpu += time.process_time() - cpu
    fresh, fresh_cpu = args.frames / elapsed, args.frames / elapsed_cpu
    if args.graph:
        reads = viewer.memory.views["agent_0"].reads
        shown = f"graph view: {viewer.memory_drawn_nodes} nodes drawn after collapsing"
    else:
        reads = viewer.reading.cache["agent_0"].reads
        shown = f"read view: {viewer.memory_drawn_nodes} sightings on the believed map"
    print(f"world 64x64, 6 agents, followed memory {memory.store.count()} nodes at the end "
          f"({shown}), window 1280x720, {reads} memory reads")
    print("                                          wall clock   CPU time  (frames/s)")
    print(f"redraw (same frame):                       {redraw:8.1f}   {redraw_cpu:8.1f}")
    print(f"new frame (step + read + lay out + draw):  {fresh:8.1f}   {fresh_cpu:8.1f}"
          "   (target > 30)")
    print("per new frame, CPU ms (nested: draw includes the panels, frame the render):")
    for part, seconds in PARTS.items():
        print(f"  {part:32s} {1000 * seconds / args.frames:6.2f}")
    viewer.close()
    executor.close()
    runtime.close()


if __name__ == "__main__":
    main()
