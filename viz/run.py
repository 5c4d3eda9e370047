"""Entry points: watch a run live, record it to video, replay a trace, snapshot a frame.

Live and recorded runs go through `sim.episode.run_episode` like any other run, so they
write the same trace, checkpoints and summary; the viewer plugs in as its `watch`:

- `LiveWatch(viewer, speed, ...)`: draws every step in a window, honours pause, single
  step, speed and quit (quitting raises `sim.episode.StopEpisode`: the episode ends
  early and its summary, trace and metrics are still written).
- `RecordWatch(out_path, fps, size, follow)`: draws every step off-screen into an MP4 or
  GIF (by extension); `close()` finishes the file.
- `run_live(scenario, seed, ...)` / `record(scenario, seed, out_path, ...)`: one episode
  with either watch.
- `Replayer`-based: `cmd_view(trace)` replays a trace in a window (forward, back),
  `snapshot(trace, step, out_png)` / `cmd_snapshot` saves one frame as PNG.

The `cmd_*` functions return exit codes (0 ok, 1 failed, 2 bad input, 130 interrupted)
and print errors naming what was wrong; the others raise `ValueError` for bad input.
Nothing under `sim/` or `envs/` imports this package at module level, so a run without
the viewer pays no rendering cost and never loads pygame.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pygame

from memsim.sim.episode import StopEpisode, run_episode
from memsim.sim.output import EpisodeSummary
from memsim.sim.scenario import Scenario, ScenarioError, load_scenario, validate_scenario
from memsim.sim.team import StepRecord, TeamRuntime, TeamState
from memsim.viz.frame import MessageLog, frame_from_runtime
from memsim.viz.replay import Replayer
from memsim.viz.viewer import Viewer, display_problem, headless

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".gif")
RENDER_MODE = "rgb_array"  # what run_episode must build the env with for a watch to draw


def resolve_scenario(scenario: Scenario | str | Path, max_steps: int | None = None) -> Scenario:
    """A `Scenario` as given, or loaded by name / path (`ScenarioError` names the problem),
    with `max_steps` overridden when given."""
    scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if max_steps is None:
        return scenario
    data = scenario.model_dump()
    data["max_steps"] = max_steps
    return validate_scenario(data, source=f"{scenario.name} (max_steps override)")


def check_video_path(out_path: str | Path) -> Path:
    """`out_path` as a Path if its extension is a video format we write, else ValueError."""
    out_path = Path(out_path)
    if out_path.suffix.lower() not in VIDEO_EXTENSIONS:
        raise ValueError(f"out_path {str(out_path)!r}: extension {out_path.suffix!r} is not "
                         f"supported; allowed: {', '.join(VIDEO_EXTENSIONS)}")
    return out_path


def _wait(viewer: Viewer, seconds: float) -> None:
    """Keep the window responsive (events, redraws) for `seconds` or until a key asks
    for something (quit, single step, unpause after a pause)."""
    fps = viewer.style.window.fps
    deadline = time.perf_counter() + seconds
    while True:
        viewer.handle_events()
        s = viewer.state
        if s.quit or s.step_requests or s.back_requests:
            return
        left = deadline - time.perf_counter()
        if left <= 0 and not s.paused:
            return
        viewer.draw()  # a redraw of the same frame: cheap (cached panels)
        time.sleep(min(max(left, 0.0), 1.0 / fps) if not s.paused else 1.0 / fps)


class _FrameFeed:
    """Turns watch calls into frames: a new episode (record None) resets the message log
    and the viewer's memory layouts; a step adds its messages to the log."""

    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer
        self.log = MessageLog(viewer.style.log.lines)

    def show(self, runtime: TeamRuntime, state: TeamState, record: StepRecord | None) -> None:
        if record is None:
            self.viewer.new_episode()
            self.log = MessageLog(self.viewer.style.log.lines)
        else:
            self.log.add_step(int(state["team_step"]), state.get("inboxes", {}), record.sent)
        decisions = record.agents if record is not None else None
        self.viewer.update(frame_from_runtime(runtime, state, decisions, self.log))


class LiveWatch:
    """A `run_episode` watch drawing every step in `viewer`'s window at `speed` steps per
    second (the user changes it with + / -). Space pauses, n steps once, q or closing the
    window raises `StopEpisode` (and sets `quit`). With `hold`, the last frame of an
    episode (done, or at `max_steps`) stays up, paused, until the user continues (space
    or n) or quits."""

    def __init__(self, viewer: Viewer, speed: float = 10.0, paused: bool = False,
                 hold: bool = True, max_steps: int | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be > 0 steps per second, got {speed}")
        self.viewer = viewer
        self.hold = hold
        self.feed = _FrameFeed(viewer)
        viewer.state.speed, viewer.state.paused = speed, paused
        self.max_steps = max_steps

    @property
    def quit(self) -> bool:
        """Whether the user asked to quit."""
        return self.viewer.state.quit

    def __call__(self, runtime: TeamRuntime, state: TeamState,
                 record: StepRecord | None) -> None:
        self.feed.show(runtime, state, record)
        viewer, s = self.viewer, self.viewer.state
        viewer.draw()
        over = bool(state.get("done")) or (self.max_steps is not None
                                           and state["team_step"] >= self.max_steps)
        if over:
            if self.hold and not s.quit:
                self._hold()
            if s.quit:
                raise StopEpisode
            return
        while True:  # pace the run: wait for the next step to be due (or asked for)
            _wait(viewer, 1.0 / s.speed)
            if s.quit:
                raise StopEpisode
            if s.paused and not s.step_requests:
                continue
            s.step_requests = max(s.step_requests - 1, 0)
            self._no_back()
            return

    def _hold(self) -> None:
        s = self.viewer.state
        s.paused, s.step_requests = True, 0
        while s.paused and not s.quit and not s.step_requests:
            _wait(self.viewer, 0.1)
            self._no_back()
        s.step_requests = 0

    def _no_back(self) -> None:
        if self.viewer.state.back_requests:
            self.viewer.state.back_requests = 0
            self.viewer.say("b: a live run cannot step back (replay its trace with "
                            "`memsim view` to)")


class RecordWatch:
    """A `run_episode` watch writing every frame (the start, then one per team step)
    off-screen to an MP4 or GIF. The size must be a multiple of 16 for MP4 (the codec's
    block size); the default, 1280x720, is. Call `close()` to finish the file."""

    def __init__(self, out_path: str | Path, fps: float = 10.0,
                 size: tuple[int, int] | None = None, follow: str | None = None) -> None:
        self.out_path = check_video_path(out_path)
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        headless()
        self.viewer = Viewer(size, window=False)
        if self.out_path.suffix.lower() == ".mp4" and any(
                d % 16 for d in self.viewer.surface.get_size()):
            size = self.viewer.surface.get_size()
            self.viewer.close()
            raise ValueError(f"size {size}: MP4 needs both sides to be multiples of 16")
        self.follow = follow
        self.feed = _FrameFeed(self.viewer)
        self.frames = 0
        self.out_path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = _writer(self.out_path, fps)

    def __call__(self, runtime: TeamRuntime, state: TeamState,
                 record: StepRecord | None) -> None:
        self.feed.show(runtime, state, record)
        if self.follow is not None:
            if self.follow not in runtime.agents:
                raise ValueError(f"follow: agent {self.follow!r} is not in this run; "
                                 f"allowed: {', '.join(runtime.agents)}")
            self.viewer.state.follow = self.follow
        self.viewer.draw()
        self._writer.append_data(self.viewer.pixels())
        self.frames += 1

    def close(self) -> None:
        """Finish the video file and release the off-screen viewer (idempotent)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self.viewer.close()


def run_live(
    scenario: Scenario | str | Path,
    seed: int,
    *,
    max_steps: int | None = None,
    viewer: Viewer | None = None,
    speed: float = 10.0,
    paused: bool = False,
    hold: bool = True,
    out_dir: Path | None = None,
) -> EpisodeSummary:
    """Run one episode through `run_episode` while drawing it after every step.

    `max_steps` defaults to the scenario's; `hold` keeps the last frame up until the user
    continues or quits; `out_dir` gets the trace as with `memsim run`. If the user quits,
    the episode ends early (`viewer.state.quit` is then True) and its summary is returned.
    """
    scenario = resolve_scenario(scenario, max_steps)
    own_viewer = viewer is None
    if viewer is None:
        viewer = Viewer(title=f"memsim: {scenario.name} seed {seed}")
    watch = LiveWatch(viewer, speed, paused, hold, scenario.max_steps)
    try:
        return run_episode(scenario, seed, out_dir, watch=watch, render_mode=RENDER_MODE)
    finally:
        if own_viewer:
            viewer.close()


def _writer(out_path: Path, fps: float) -> Any:
    import imageio.v2 as imageio

    if out_path.suffix.lower() == ".mp4":
        return imageio.get_writer(out_path, fps=fps, codec="libx264", quality=7,
                                  macro_block_size=16, ffmpeg_log_level="error")
    return imageio.get_writer(out_path, mode="I", duration=1000.0 / fps, loop=0)


def record(
    scenario: Scenario | str | Path,
    seed: int,
    out_path: str | Path,
    fps: float = 10.0,
    max_steps: int | None = None,
    size: tuple[int, int] | None = None,
    follow: str | None = None,
    out_dir: Path | None = None,
) -> EpisodeSummary:
    """Run one episode through `run_episode` headless and write every frame (the start,
    then one per team step) to an MP4 or GIF; `out_dir` gets the trace as with
    `memsim run`. Returns the episode's summary (frames written: steps + 1)."""
    scenario = resolve_scenario(scenario, max_steps)
    watch = RecordWatch(out_path, fps, size, follow)
    try:
        return run_episode(scenario, seed, out_dir, watch=watch, render_mode=RENDER_MODE)
    finally:
        watch.close()


def record_path(out_path: str | Path, seed: int, several: bool) -> Path:
    """Where seed `seed` of a recorded run goes: `out_path`, or with several seeds
    ``<stem>-seed<N><ext>`` beside it."""
    out_path = Path(out_path)
    return out_path.with_name(f"{out_path.stem}-seed{seed}{out_path.suffix}") if several \
        else out_path


class RunWatcher:
    """What `memsim run --viz` / `--record OUT` plug into each seed's `run_episode`.

    `--viz`: one window for all seeds, one after another (with `hold`, the last
    episode's final frame stays up until the user quits); quitting stops the current
    episode and the seeds after it (`stopped`). `--record`: one video per seed (see
    `record_path`)."""

    def __init__(self, scenario: Scenario, *, viz: bool = False,
                 record: str | Path | None = None, speed: float = 10.0, fps: float = 10.0,
                 size: tuple[int, int] | None = None, hold: bool = True) -> None:
        if viz == (record is not None):
            raise ValueError("give exactly one of viz (watch live) or record (a video path)")
        self.seeds = list(scenario.seeds)
        self.max_steps = scenario.max_steps
        self.record = check_video_path(record) if record is not None else None
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.fps, self.size, self.hold = fps, size, hold
        self.viewer: Viewer | None = None
        self.live: LiveWatch | None = None
        self._recording: RecordWatch | None = None
        if viz:
            self.viewer = Viewer(size, title=f"memsim: {scenario.name}")
            self.live = LiveWatch(self.viewer, speed, hold=False, max_steps=self.max_steps)

    @property
    def stopped(self) -> bool:
        """Whether the user quit the window (run no more seeds)."""
        return self.viewer is not None and self.viewer.state.quit

    def episode_kwargs(self, seed: int) -> dict[str, Any]:
        """`run_episode` keyword arguments for `seed` (its watch and render mode)."""
        if self.live is not None:
            self.live.hold = self.hold and seed == self.seeds[-1]
            if self.viewer is not None:
                pygame.display.set_caption(f"memsim: seed {seed}")
            return {"watch": self.live, "render_mode": RENDER_MODE}
        assert self.record is not None
        self.finish()
        path = record_path(self.record, seed, len(self.seeds) > 1)
        self._recording = RecordWatch(path, self.fps, self.size)
        return {"watch": self._recording, "render_mode": RENDER_MODE}

    def finish(self) -> Path | None:
        """End the current seed's recording (if any); returns the file written."""
        recording, self._recording = self._recording, None
        if recording is None:
            return None
        recording.close()
        return recording.out_path

    def close(self) -> None:
        """Finish any recording and close the window (idempotent)."""
        self.finish()
        if self.viewer is not None:
            self.viewer.close()


def snapshot(trace: str | Path, step: int, out_png: str | Path,
             size: tuple[int, int] | None = None, follow: str | None = None) -> Path:
    """Replay `trace` to frame `step` (after `step` team steps) and save it as a PNG."""
    if Path(out_png).suffix.lower() != ".png":
        raise ValueError(f"out {str(out_png)!r}: extension {Path(out_png).suffix!r} is not "
                         "supported; allowed: .png")
    replayer = Replayer(trace)
    viewer = Viewer(size, window=False)
    try:
        if not replayer.start <= step <= replayer.length:
            raise ValueError(f"step {step} is outside the trace: allowed "
                             f"{replayer.start}..{replayer.length}")
        if follow is not None and follow not in replayer.runtime.agents:
            raise ValueError(f"follow: agent {follow!r} is not in this run; allowed: "
                             f"{', '.join(replayer.runtime.agents)}")
        replayer.goto(step)
        viewer.state.follow = follow
        viewer.update(replayer.frame())
        return viewer.screenshot(out_png)
    finally:
        viewer.close()
        replayer.close()


# --------------------------------------------------------------------------- CLI


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def cmd_view(trace: Path, *, snapshot_every: int = 50, speed: float = 10.0,
             size: tuple[int, int] | None = None) -> int:
    """`memsim view TRACE`: replay a trace in a window. Space pauses, n / → steps on,
    b / ← steps back, q quits. Returns an exit code."""
    problem = display_problem()
    if problem is not None:
        _error(f"memsim view cannot open a window ({problem}); save frames instead: "
               f"memsim snapshot {trace} --step N OUT.png")
        return EXIT_USAGE
    try:
        replayer = Replayer(trace, snapshot_every=snapshot_every)
    except (ValueError, ScenarioError) as exc:
        _error(str(exc))
        return EXIT_USAGE
    try:
        viewer = Viewer(size, title=f"memsim view: {Path(trace).name}")
    except (ValueError, pygame.error) as exc:
        replayer.close()
        _error(f"cannot open the viewer window: {exc}")
        return EXIT_FAILED
    viewer.state.speed = speed
    try:
        _view_loop(viewer, replayer)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    finally:
        viewer.close()
        replayer.close()
    for step, what in sorted(replayer.divergences.items())[:1]:
        _error(f"the replay diverged from the trace at step {step}: {what}")
        return EXIT_FAILED
    return EXIT_OK


def _view_loop(viewer: Viewer, replayer: Replayer) -> None:
    s = viewer.state
    viewer.update(replayer.frame())
    while not s.quit:
        _wait(viewer, 1.0 / s.speed)
        if s.quit:
            break
        if s.back_requests:
            target = replayer.step - s.back_requests
            s.back_requests = 0
            if target < replayer.start:
                viewer.say(f"b: the trace starts at step {replayer.start}")
        elif s.step_requests or not s.paused:
            target = replayer.step + 1
            s.step_requests = max(s.step_requests - 1, 0)
        else:
            continue
        if target > replayer.length:
            if not s.paused:
                viewer.say(f"the end of the trace (step {replayer.length}): b steps back, "
                           "q quits")
            s.paused = True  # the end of the trace: wait for the user
            continue
        replayer.goto(target)
        viewer.update(replayer.frame())


def cmd_snapshot(trace: Path, step: int, out: Path, follow: str | None = None) -> int:
    """`memsim snapshot TRACE --step N out.png`; returns an exit code."""
    headless()
    try:
        path = snapshot(trace, step, out, follow=follow)
    except (ValueError, ScenarioError) as exc:
        _error(str(exc))
        return EXIT_USAGE
    print(f"wrote {path}")
    return EXIT_OK
