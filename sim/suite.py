"""Benchmark suite files: a grid of scenario x agents x ablation x seed.

A suite is a TOML file in ``scenarios/suites/`` (or any path) naming base scenarios of any
family, team sizes, ablations (overrides deep-merged into the scenario's tables and
re-validated, so a bad override fails before anything runs), seeds and a step limit; see
``scenarios/suites/coop-diamond.toml`` and :class:`Suite`. :func:`expand_suite` turns a
suite into its cells; :mod:`memsim.sim.bench` runs them and :mod:`memsim.sim.bench_report`
reports them.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from memsim.envs.rules_common import deep_merge  # suites and rules files merge alike
from memsim.sim.scenario import (
    SCENARIO_DIR,
    Scenario,
    ScenarioError,
    load_scenario,
    resolve_named_file,
    validate_scenario,
)

SUITE_DIR = SCENARIO_DIR / "suites"
"""Where bare suite names are looked up (``<name>.toml``)."""

_NAME = r"^[a-z0-9-]+$"
# Keys the grid itself sets: an ablation may not override them.
_GRID_KEYS = {("name",): "the suite runs each scenario under its own name",
              ("seeds",): "the suite's seeds", ("agents", "count"): "the suite's agents list"}
_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True)

class SuiteError(ScenarioError):
    """A suite file is unreadable or invalid; the message names the file and the field."""


class Baseline(BaseModel):
    """``[baseline]``: the cell group that "fewer steps than 1 agent" compares with."""

    model_config = _STRICT

    agents: int = Field(1, ge=1, le=64)
    ablation: str = "full"


class Reference(BaseModel):
    """``[reference]``: published "fewer steps than one agent" figures, by team size."""

    model_config = _STRICT

    source: str = Field(min_length=1)
    fewer_steps_percent: dict[Annotated[str, Field(pattern=r"^[1-9][0-9]*$")], float]


class Suite(BaseModel):
    """A benchmark grid: scenarios x agent counts x ablations x seeds."""

    model_config = _STRICT

    name: str = Field(pattern=_NAME, max_length=60)
    description: str = ""
    version: int = Field(ge=1)
    scenarios: list[str] = Field(min_length=1, description="scenario names or paths")
    agents: list[Annotated[int, Field(ge=1, le=64)]] = Field(
        default_factory=list, description="team sizes; empty: each scenario's own count")
    ablations: dict[str, dict[str, Any]] = Field(
        default_factory=lambda: {"full": {}}, min_length=1,
        description="name -> overrides of the scenario's tables; the first is the reference")
    seeds: int | list[Annotated[int, Field(ge=0)]] | str = Field(
        30, description="a count (seeds 0..N-1), a list of seeds, or a string as "
        "`--seeds` takes it: '30', '100-129', '3,5,8', '0-4,10'")
    max_steps: int | None = Field(None, ge=1, description="overrides the scenarios' max_steps")
    baseline: Baseline | None = None
    reference: Reference | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Suite:
        problems = []
        for name, overrides in self.ablations.items():
            if not re.match(_NAME, name):
                problems.append(f"ablations: name {name!r} must match {_NAME}")
            for path, why in _GRID_KEYS.items():
                if _get_path(overrides, path) is not None:
                    problems.append(f"ablations.{name}: {'.'.join(path)} is set by {why}")
        if isinstance(self.seeds, int) and self.seeds < 1:
            problems.append(f"seeds: must be >= 1 (got {self.seeds})")
        if isinstance(self.seeds, list) and len(set(self.seeds)) != len(self.seeds):
            problems.append("seeds: must not repeat")
        if isinstance(self.seeds, str):
            try:
                parse_seeds(self.seeds)
            except ValueError as exc:
                problems.append(f"seeds: {exc}")
        if len(set(self.agents)) != len(self.agents):
            problems.append("agents: must not repeat")
        if self.baseline is not None:
            if self.baseline.ablation not in self.ablations:
                problems.append(f"baseline.ablation: {self.baseline.ablation!r} is not an "
                                f"ablation; allowed: {', '.join(self.ablations)}")
            if self.agents and self.baseline.agents not in self.agents:
                problems.append(f"baseline.agents: {self.baseline.agents} is not in agents; "
                                f"allowed: {', '.join(map(str, self.agents))}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def seed_list(self) -> list[int]:
        """The seeds to run."""
        if isinstance(self.seeds, int):
            return list(range(self.seeds))
        return parse_seeds(self.seeds) if isinstance(self.seeds, str) else list(self.seeds)

    def reference_ablation(self) -> str:
        """The ablation the others are compared with: the first."""
        return next(iter(self.ablations))

    def baseline_ablation(self) -> str:
        """The ablation of the baseline group (default: the first ablation)."""
        return self.baseline.ablation if self.baseline else next(iter(self.ablations))


MAX_SEEDS = 100_000
_SEED_ITEM = re.compile(r"^(\d+)(?:\s*-\s*(\d+))?$")


def parse_seeds(text: str) -> list[int]:
    """Seeds from text: ``30`` (seeds 0..29), ``100-129`` (a range, both ends included),
    ``3,5,8`` (a list) or a mix, ``0-4,10``. A single seed is a range: ``7-7``. Raises
    ``ValueError`` saying what is wrong (the caller names the option or field)."""
    text = text.strip()
    if not text:
        raise ValueError("no seeds given; use N (seeds 0..N-1), A-B, or a list such as 3,5,8")
    if text.isdigit():
        count = int(text)
        if not 1 <= count <= MAX_SEEDS:
            raise ValueError(f"a seed count must be in 1..{MAX_SEEDS:,}, got {text!r}")
        return list(range(count))
    seeds: list[int] = []
    for item in text.split(","):
        match = _SEED_ITEM.match(item.strip())
        if match is None:
            raise ValueError(f"{item.strip()!r} in {text!r} is not a seed or a range A-B of "
                             "non-negative integers (e.g. 0-4,10)")
        first = int(match[1])
        last = first if match[2] is None else int(match[2])
        if last < first:
            raise ValueError(f"range {item.strip()!r} goes down; write {last}-{first}")
        if len(seeds) + last - first >= MAX_SEEDS:
            raise ValueError(f"more than {MAX_SEEDS:,} seeds in {text!r}")
        seeds.extend(range(first, last + 1))
    repeated = sorted(s for s, n in Counter(seeds).items() if n > 1)
    if repeated:
        raise ValueError(f"seeds repeat in {text!r}: {', '.join(map(str, repeated[:5]))}")
    return seeds


def format_seeds(seeds: Sequence[int]) -> str:
    """Seeds as :func:`parse_seeds` reads them, runs as ranges: ``0-4,10`` (a lone seed
    ``7`` as ``7-7``, since ``7`` alone is a count; no seeds: ``""``)."""
    runs: list[list[int]] = []
    for seed in seeds:
        if runs and seed == runs[-1][1] + 1:
            runs[-1][1] = seed
        else:
            runs.append([seed, seed])
    text = ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)
    return f"{text}-{text}" if text.isdigit() else text


def _get_path(data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = data
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


# --------------------------------------------------------------------------- loading


def resolve_suite(name_or_path: str | Path) -> Path:
    """The suite file: a bare name in :data:`SUITE_DIR` or a path to a TOML file."""
    return resolve_named_file(name_or_path, SUITE_DIR, "suite", SuiteError)


def load_suite(name_or_path: str | Path) -> tuple[Suite, Path]:
    """Read and validate a suite file; returns the suite and its path."""
    path = resolve_suite(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(str(path), [f"invalid TOML: {exc}"]) from None
    try:
        return Suite.model_validate(data, strict=True), path
    except ValidationError as exc:
        raise SuiteError(str(path), _suite_problems(exc)) from None


def _suite_problems(exc: ValidationError) -> list[str]:
    """One ``<field.path>: <problem>`` line per error; unknown keys list the allowed ones."""
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        where = ".".join(str(p) for p in loc)
        if err["type"] == "extra_forbidden":
            model: Any = Suite
            if len(loc) == 2:
                model = {"baseline": Baseline, "reference": Reference}.get(str(loc[0]))
            allowed = f"; allowed: {', '.join(model.model_fields)}" if model else ""
            problems.append(f"{where}: unknown key{allowed}")
            continue
        msg = err["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {msg}" if where else msg)
    return problems


# --------------------------------------------------------------------------- the grid


@dataclass(frozen=True)
class Cell:
    """One episode of the grid; ``config`` is the validated scenario as plain data."""

    suite: str
    scenario: str
    family: str
    agents: int
    ablation: str
    seed: int
    config: dict[str, Any]
    config_hash: str

    @property
    def key(self) -> tuple[Any, ...]:
        """The identity of the cell in a results file (``config_hash`` changes when the
        cell's scenario does, so an edited ablation reruns)."""
        return (self.scenario, self.agents, self.ablation, self.seed, self.config_hash)

    def payload(self) -> dict[str, Any]:
        """Plain data for a worker process or a Ray task (spawn-safe: no objects)."""
        return {"suite": self.suite, "scenario": self.scenario, "family": self.family,
                "agents": self.agents, "ablation": self.ablation, "seed": self.seed,
                "config": self.config, "config_hash": self.config_hash}


def row_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """The cell identity of a results row."""
    return (row["scenario"], int(row["agents"]), row["ablation"], int(row["seed"]),
            row["config_hash"])


def cell_scenario(base: Scenario, agents: int, ablation: str, overrides: Mapping[str, Any],
                  max_steps: int | None, source: str) -> Scenario:
    """The validated scenario of one grid cell (any seed): base + agents + ablation.

    The cell runs under its own name (``<base>-<N>a-<ablation>``) so concurrent cells never
    share a memory namespace on a server backend; the executor is ``direct``.
    """
    data = deep_merge(base.model_dump(), overrides)
    data["name"] = f"{base.name}-{agents}a-{ablation}"
    data["agents"] = {**data["agents"], "count": agents}
    data["seeds"] = [0]
    if max_steps is not None:
        data["max_steps"] = max_steps
    data["run"] = {**data["run"], "executor": "direct", "checkpoint_every": 0}
    return validate_scenario(data, source=source)


def _config_hash(config: Mapping[str, Any]) -> str:
    """A digest of what determines a cell's episode (not its seed list or description)."""
    text = json.dumps({k: v for k, v in config.items() if k not in ("seeds", "description")},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _scenario_path(entry: str, suite_path: Path | None) -> str | Path:
    """A scenario entry: a bare name, or a path relative to the suite file."""
    if ("/" in entry or entry.endswith(".toml")) and suite_path is not None:
        path = Path(entry)
        return path if path.is_absolute() else suite_path.parent / path
    return entry


def expand_suite(suite: Suite, source: Path | None = None,
                 seeds: int | Sequence[int] | None = None) -> list[Cell]:
    """Every cell of the grid, in grid order; all scenarios are validated before returning.

    ``seeds`` replaces the suite's seeds: a count (``0..seeds-1``) or a list. Raises
    :class:`SuiteError` naming the suite file and, per bad cell, the ablation and field.
    """
    where = str(source) if source is not None else suite.name
    seed_list = (suite.seed_list() if seeds is None else
                 list(range(seeds)) if isinstance(seeds, int) else list(seeds))
    problems: list[str] = []
    cells: list[Cell] = []
    for entry in suite.scenarios:
        try:
            base = load_scenario(_scenario_path(entry, source))
        except ScenarioError as exc:
            problems.append(f"scenarios: {entry!r}: {exc}")
            continue
        for agents in suite.agents or [base.agents.count]:
            for ablation, overrides in suite.ablations.items():
                try:
                    scenario = cell_scenario(base, agents, ablation, overrides,
                                             suite.max_steps, where)
                except ScenarioError as exc:
                    problems.extend(f"ablations.{ablation} ({base.name}, {agents} agents): {p}"
                                    for p in exc.problems)
                    continue
                if scenario.memory.persist_across_episodes:
                    # Carried-over memory would make a cell depend on the cells run before it.
                    problems.append(f"ablations.{ablation} ({base.name}): memory."
                                    "persist_across_episodes must be false in a suite (every "
                                    "cell is an independent episode)")
                    continue
                config = scenario.model_dump()
                digest = _config_hash(config)
                for seed in seed_list:
                    cells.append(Cell(suite.name, base.name, scenario.env.family, agents,
                                      ablation, seed, {**config, "seeds": [seed]}, digest))
    if problems:
        raise SuiteError(where, problems)
    return cells


