"""Trajectories are pinned: shipped scenarios, a few seeds per world family, give traces
byte-identical to the recorded ones (tests/data/golden_traces.json).

A change that alters what agents do must change this file on purpose: rerun with
``MEMSIM_UPDATE_GOLDEN=1`` and say in the commit why the trajectories changed. A
restructuring or a speed-up must leave every hash as it is.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from memsim.sim.episode import run_episode
from memsim.sim.scenario import load_scenario, validate_scenario
from memsim.sim.suite import deep_merge

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "golden_traces.json"
CASES: dict[str, dict[str, Any]] = json.loads(GOLDEN.read_text())
UPDATE = os.environ.get("MEMSIM_UPDATE_GOLDEN") == "1"


def trace_of(case: dict[str, Any], out: Path) -> tuple[str, int]:
    base = load_scenario(case["scenario"])
    data = deep_merge(base.model_dump(), {"run": {"executor": "direct"}})
    data = deep_merge(data, case["overrides"])
    data["seeds"] = [case["seed"]]
    if case["max_steps"] is not None:
        data["max_steps"] = case["max_steps"]
    scenario = validate_scenario(data, source=case["scenario"])
    summary = run_episode(scenario, case["seed"], out)
    text = (out / f"trace-seed{case['seed']}.jsonl").read_bytes()
    return hashlib.sha256(text).hexdigest(), summary.steps


@pytest.mark.parametrize("name", sorted(CASES))
def test_trace_is_byte_identical_to_the_recorded_one(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    digest, steps = trace_of(case, tmp_path)
    if UPDATE:
        CASES[name].update(sha256=digest, steps=steps)
        GOLDEN.write_text(json.dumps(CASES, indent=1) + "\n")
        return
    assert (digest, steps) == (case["sha256"], case["steps"]), (
        f"{name}: the trajectory changed (steps {case['steps']} -> {steps}); if on purpose, "
        "rerun with MEMSIM_UPDATE_GOLDEN=1")
