"""Replay of a real trace (forward, back, divergence) and PNG / GIF / MP4 export."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from memsim.sim.output import read_trace
from memsim.sim.scenario import Scenario
from memsim.viz.replay import Replayer
from memsim.viz.run import EXIT_OK, EXIT_USAGE, cmd_snapshot, record
from memsim.viz.viewer import Viewer

from .conftest import TRACE_STEPS


def _pixels(viewer: Viewer, replayer: Replayer) -> np.ndarray:
    viewer.update(replayer.frame())
    viewer.draw()
    return viewer.pixels()


def test_replay_matches_the_trace_and_back_returns_the_same_frame(traced_run: Path) -> None:
    replayer = Replayer(traced_run, snapshot_every=7)
    viewer = Viewer((960, 608), window=False)
    try:
        assert replayer.length == TRACE_STEPS
        assert replayer.goto(18) == 18
        at_18 = _pixels(viewer, replayer)
        frame = replayer.frame()
        line = list(read_trace(traced_run))[17]
        assert {a: d.action for a, d in frame.decisions.items()} == {
            a: r["action"] for a, r in line["agents"].items()}
        assert replayer.goto(TRACE_STEPS) == TRACE_STEPS
        assert not replayer.divergences and not replayer.frame().note
        later = _pixels(viewer, replayer)
        assert not np.array_equal(at_18, later)
        assert replayer.goto(18) == 18  # back: restore the step-14 snapshot, replay 4 steps
        assert np.array_equal(_pixels(viewer, replayer), at_18)
        assert replayer.goto(0) == 0 and replayer.frame().decisions == {}
        assert replayer.goto(TRACE_STEPS + 50) == TRACE_STEPS  # clamped to the trace
        assert np.array_equal(_pixels(viewer, replayer), later)
    finally:
        replayer.close()


def test_a_replay_that_diverges_from_its_trace_says_where(traced_run: Path,
                                                          tmp_path: Path) -> None:
    shutil.copy(traced_run.parent / "scenario.json", tmp_path / "scenario.json")
    lines = list(read_trace(traced_run))
    agent = sorted(lines[5]["agents"])[0]
    real = lines[5]["agents"][agent]["action"]
    lines[5]["agents"][agent]["action"] = "sleep" if real != "sleep" else "noop"
    tampered = tmp_path / traced_run.name
    tampered.write_text("".join(json.dumps(line) + "\n" for line in lines))
    replayer = Replayer(tampered)
    try:
        replayer.goto(10)
        assert list(replayer.divergences) == [5]
        assert agent in replayer.divergences[5] and real in replayer.divergences[5]
        assert "step 5" in replayer.frame().note
        replayer.goto(5)
        assert replayer.frame().note == ""  # not yet reached at frame 5
    finally:
        replayer.close()


def test_replay_input_errors_name_the_problem(traced_run: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no such file"):
        Replayer(tmp_path / "trace-seed3.jsonl")
    lonely = tmp_path / "trace-seed3.jsonl"
    shutil.copy(traced_run, lonely)
    with pytest.raises(ValueError, match=r"scenario\.json"):
        Replayer(lonely)
    badname = tmp_path / "other.jsonl"
    shutil.copy(traced_run, badname)
    shutil.copy(traced_run.parent / "scenario.json", tmp_path / "scenario.json")
    with pytest.raises(ValueError, match=r"trace-seed<N>\.jsonl"):
        Replayer(badname)
    with pytest.raises(ValueError, match="snapshot_every"):
        Replayer(traced_run, snapshot_every=0)


def test_snapshot_writes_the_frame_as_png(traced_run: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "shots" / "step10.png"
    assert cmd_snapshot(traced_run, 10, out) == EXIT_OK
    image = iio.imread(out)
    assert image.shape[:2] == (720, 1280)
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 50
    assert cmd_snapshot(traced_run, TRACE_STEPS + 1, tmp_path / "x.png") == EXIT_USAGE
    assert f"allowed 0..{TRACE_STEPS}" in capsys.readouterr().err
    assert cmd_snapshot(tmp_path / "trace-seed9.jsonl", 1, tmp_path / "y.png") == EXIT_USAGE


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_record_writes_one_frame_per_step_plus_the_start(viz_scenario: Scenario,
                                                         tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"run{suffix}"
    summary = record(viz_scenario, 3, out, fps=5, max_steps=6, size=(640, 400))
    assert summary.steps == 6
    video = iio.imread(out) if suffix == ".gif" else np.stack(list(iio.imiter(out)))
    assert video.shape[0] == 7
    assert video.shape[1:3] == (400, 640)
    assert not np.array_equal(video[0], video[-1])


def test_record_rejects_an_unknown_format_naming_the_allowed_ones(viz_scenario: Scenario,
                                                                  tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"allowed: \.mp4, \.gif"):
        record(viz_scenario, 3, tmp_path / "run.avi", max_steps=1)
    with pytest.raises(ValueError, match="multiples of 16"):
        record(viz_scenario, 3, tmp_path / "run.mp4", max_steps=1, size=(650, 400))
    with pytest.raises(ValueError, match="fps"):
        record(viz_scenario, 3, tmp_path / "run.gif", fps=0, max_steps=1)
