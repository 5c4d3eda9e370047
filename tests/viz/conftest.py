"""Viewer tests run headless: SDL's dummy video driver, set before pygame opens anything.

`viz_scenario` is a small but real scenario (3 scripted agents, team graph on) and
`traced_run` a real `run_episode` of it with its trace and the `scenario.json` that
`memsim run` writes next to it.
"""

from __future__ import annotations

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_AUDIODRIVER"] = "dummy"

from pathlib import Path

import pytest

from memsim.sim.episode import run_episode
from memsim.sim.output import trace_path
from memsim.sim.scenario import Scenario, validate_scenario

TRACE_STEPS = 30


@pytest.fixture(scope="session")
def viz_scenario() -> Scenario:
    return validate_scenario({
        "name": "viz-test",
        "version": 1,
        "seeds": [3],
        "max_steps": TRACE_STEPS,
        "env": {"family": "crafting", "width": 32, "height": 32, "zombies": False,
                "skeletons": False},
        "agents": {"count": 3, "policy": "scripted"},
        "memory": {"shared": True},
        "run": {"executor": "direct"},
    })


@pytest.fixture(scope="session")
def traced_run(viz_scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trace of one real episode, with scenario.json beside it (as `memsim run`)."""
    out = tmp_path_factory.mktemp("run")
    (out / "scenario.json").write_text(viz_scenario.model_dump_json(indent=2))
    run_episode(viz_scenario, seed=3, out_dir=out)
    return trace_path(out, 3)
