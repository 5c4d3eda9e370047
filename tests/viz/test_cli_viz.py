"""The viewer from the command line, through `memsim.cli.main`: `memsim run --viz / --record`,
`memsim view` and `memsim snapshot`, with real runs of a small scenario."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pygame
import pytest

from memsim.cli import main
from memsim.sim.output import read_trace

from .conftest import TRACE_STEPS

ROOT = Path(__file__).resolve().parents[2]
STEPS = 4

SCENARIO_TOML = f"""
name = "viz-cli"
version = 1
seeds = [1, 2]
max_steps = {STEPS}
[env]
family = "crafting"
width = 16
height = 16
zombies = false
skeletons = false
[agents]
count = 2
policy = "scripted"
[run]
executor = "direct"
"""


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "viz-cli.toml"
    path.write_text(SCENARIO_TOML)
    return path


def _metrics_seeds(out: Path) -> list[int]:
    with (out / "metrics.csv").open() as handle:
        return [int(row["seed"]) for row in csv.DictReader(handle)]


def _key(key: int) -> pygame.event.Event:
    return pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode="", scancode=0)


def test_plain_runs_and_importing_the_cli_never_load_pygame(scenario_file: Path,
                                                             tmp_path: Path) -> None:
    out = tmp_path / "plain"
    code = (
        "import sys\n"
        "import memsim.cli\n"
        "assert 'pygame' not in sys.modules, 'import memsim.cli loaded pygame'\n"
        f"rc = memsim.cli.main(['run', {str(scenario_file)!r}, '--seed', '1', '--quiet',"
        f" '--out', {str(out)!r}])\n"
        "assert rc == 0, rc\n"
        "loaded = sorted(m for m in sys.modules if m == 'pygame' or m.startswith('memsim.viz'))\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (out / "trace-seed1.jsonl").is_file()


def test_record_writes_one_video_per_seed_and_the_usual_outputs(scenario_file: Path,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "run"
    video = tmp_path / "videos" / "ep.gif"
    assert main(["run", str(scenario_file), "--record", str(video), "--fps", "5",
                 "--quiet", "--out", str(out)]) == 0
    for seed in (1, 2):
        frames = iio.imread(tmp_path / "videos" / f"ep-seed{seed}.gif")
        assert frames.shape[0] == STEPS + 1  # the start, then one per team step
        assert len(list(read_trace(out / f"trace-seed{seed}.jsonl"))) == STEPS
    assert not video.exists()
    assert _metrics_seeds(out) == [1, 2]
    # One seed: the path as given.
    one = tmp_path / "one.mp4"
    assert main(["run", str(scenario_file), "--seed", "2", "--record", str(one),
                 "--quiet", "--out", str(tmp_path / "run1")]) == 0
    assert np.stack(list(iio.imiter(one))).shape[0] == STEPS + 1


def test_viz_runs_every_seed_in_one_window_and_writes_the_usual_outputs(
        scenario_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "live"
    assert main(["run", str(scenario_file), "--viz", "--speed", "1000", "--no-hold",
                 "--quiet", "--out", str(out)]) == 0
    for seed in (1, 2):
        assert len(list(read_trace(out / f"trace-seed{seed}.jsonl"))) == STEPS
    assert _metrics_seeds(out) == [1, 2]
    assert not pygame.display.get_init()  # the window was closed at the end


def test_quitting_the_window_ends_the_run_but_keeps_its_results(
        scenario_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "quit"
    pygame.display.init()
    pygame.event.post(_key(pygame.K_q))  # read at the first frame of the first seed
    assert main(["run", str(scenario_file), "--viz", "--speed", "1000", "--quiet",
                 "--out", str(out)]) == 0
    assert _metrics_seeds(out) == [1]  # seed 2 never ran
    assert (out / "trace-seed1.jsonl").read_text() == ""  # stopped before the first step
    assert not (out / "trace-seed2.jsonl").exists()


def test_bad_video_extension_is_a_usage_error_before_anything_runs(
        scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "never"
    assert main(["run", str(scenario_file), "--record", str(tmp_path / "x.avi"),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "'.avi'" in err and ".mp4, .gif" in err
    assert not out.exists()
    # --viz and --record together: argparse's usage error (exit 2).
    assert main(["run", str(scenario_file), "--viz", "--record", "x.gif"]) == 2


def test_snapshot_command_writes_a_png_and_rejects_bad_input(
        traced_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "shot.png"
    assert main(["snapshot", str(traced_run), "--step", "12", str(png),
                 "--follow", "agent_1"]) == 0
    image = iio.imread(png)
    assert image.shape[:2] == (720, 1280) and len(np.unique(image.reshape(-1, 3), axis=0)) > 50
    capsys.readouterr()
    assert main(["snapshot", str(traced_run), "--step", str(TRACE_STEPS + 1), str(png)]) == 2
    assert f"allowed 0..{TRACE_STEPS}" in capsys.readouterr().err
    assert main(["snapshot", str(traced_run), "--step", "1", str(tmp_path / "x.jpg")]) == 2
    assert "allowed: .png" in capsys.readouterr().err
    assert main(["snapshot", str(traced_run), "--step", "1", str(png),
                 "--follow", "agent_9"]) == 2
    assert "agent_9" in capsys.readouterr().err
    lonely = tmp_path / "alone" / traced_run.name
    lonely.parent.mkdir()
    shutil.copy(traced_run, lonely)
    assert main(["snapshot", str(lonely), "--step", "1", str(png)]) == 2
    assert "scenario.json" in capsys.readouterr().err


def test_view_command_replays_until_quit_and_rejects_a_lonely_trace(
        traced_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pygame.display.init()
    pygame.event.post(_key(pygame.K_q))
    assert main(["view", str(traced_run), "--speed", "1000"]) == 0
    assert not pygame.display.get_init()
    lonely = tmp_path / traced_run.name
    shutil.copy(traced_run, lonely)
    assert main(["view", str(lonely)]) == 2
    assert "scenario.json" in capsys.readouterr().err


def test_viz_without_a_display_stops_at_once_and_names_record(
        scenario_file: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in __import__("os").environ.items()
           if k not in ("SDL_VIDEODRIVER", "DISPLAY", "WAYLAND_DISPLAY")}
    done = subprocess.run([sys.executable, "-m", "memsim.cli", "run", str(scenario_file),
                           "--viz", "--seed", "1", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 2
    assert "--record" in done.stderr and "DISPLAY" in done.stderr
    assert not (tmp_path / "out" / "trace-seed1.jsonl").exists()  # nothing ran
    done = subprocess.run([sys.executable, "-m", "memsim.cli", "view",
                           str(tmp_path / "trace-seed1.jsonl")],
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 2 and "memsim snapshot" in done.stderr
