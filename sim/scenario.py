"""Scenario files: the validated, versioned description of one experiment.

A scenario is a TOML file (shipped ones live in the ``scenarios`` package) with the tables
``[env]``, ``[agents]``, ``[memory]``, ``[comm]`` and ``[run]`` plus a few top-level keys.
Every table forbids unknown keys and values are validated strictly (``zombies = 1`` is not a
boolean), so a typo fails at load time with the file, the field path and the allowed values
named, never mid-episode. See :class:`Scenario` for the fields.
"""

from __future__ import annotations

import contextlib
import importlib.util
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

import memsim.scenarios as _scenarios_pkg
from memsim.agents import registry
from memsim.memory.backends import check_backend_config, check_backend_name
from memsim.sim.comm import CommConfig
from memsim.sim.env_section import _DERIVED_ENV_KEYS, EnvSection, env_section_of
from memsim.sim.families import WorldFamily, family_named

SCENARIO_DIR = Path(_scenarios_pkg.__file__).parent
"""Where the shipped scenarios are (bare names are looked up in the current directory
first: see `load_scenario`)."""

Executor = Literal["langgraph", "direct"]
EXECUTORS: tuple[str, ...] = get_args(Executor)

_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True)
DEFAULT_MAX_STEPS = 10_000
SCENARIO_VERSION = 1  # the file format this code reads
MAX_SEED = 2**63 - 1  # seeds are kept as 64-bit integers (metrics, bench tables)
MAX_STEPS = 10**9
MAX_NESTING = 32  # tables and arrays in a scenario file; a real one nests 3 deep
LLM_TABLE_USERS = ("llm", "llm-skills")  # the policies that read the [llm] table


class ScenarioError(ValueError):
    """A scenario could not be read or is invalid; the message names file, field and fix."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def policy_names() -> tuple[str, ...]:
    """Policy names a scenario may use: the built-in ones, then ``memsim.policies`` entry
    points (import paths ``package.module:Class`` are accepted besides these)."""
    return registry.policy_names()


def _check_policy(name: str) -> str:
    return registry.check_policy_name(name)


PolicyName = Annotated[str, AfterValidator(_check_policy)]


class AgentsSection(BaseModel):
    """``[agents]``: how many agents and which policy each runs."""

    model_config = _STRICT

    count: int = Field(ge=1, le=64)
    policy: PolicyName = "scripted"
    policies: dict[str, PolicyName] = Field(
        default_factory=dict, description="per-agent overrides, e.g. {agent_1 = 'random'}"
    )

    @model_validator(mode="after")
    def _known_agents(self) -> AgentsSection:
        ids = self.agent_ids()
        unknown = sorted(set(self.policies) - set(ids))
        if unknown:
            raise ValueError(
                f"policies: {', '.join(map(repr, unknown))} is not an agent of this scenario; "
                f"allowed: {', '.join(ids)}"
            )
        return self

    def agent_ids(self) -> list[str]:
        """The agent ids the crafting env uses: ``agent_0`` .. ``agent_{count-1}``."""
        return [f"agent_{i}" for i in range(self.count)]

    def policy_for(self, agent_id: str) -> str:
        """The policy name of one agent (its override, else the default)."""
        return self.policies.get(agent_id, self.policy)


def _check_backend(name: str) -> str:
    try:
        check_backend_name(name)
    except ModuleNotFoundError as exc:  # a server client not installed: say which extra
        raise ValueError(str(exc)) from None
    return name


MemoryBackend = Annotated[str, AfterValidator(_check_backend)]
"""A memory backend: a name registered in `memsim.memory.backends.BACKENDS`, a
``memsim.stores`` entry point, or a store class by import path."""


class MemoryConfig(BaseModel):
    """``[memory]``: each agent's knowledge-graph memory (``enabled=false``: memory off).
    The one form of the memory settings, from the scenario file to the stores."""

    model_config = _STRICT

    enabled: bool = True
    backend: MemoryBackend = "networkx"
    node_budget: int = Field(5000, ge=64, le=10_000_000)
    chunk_size: int = Field(16, ge=1, le=256)  # AgentMemory's own bound
    shared: bool = Field(False, description="also keep a team SharedMemory")
    persist_across_episodes: bool = Field(
        False, description="keep semantic memory between the seeds of one run"
    )
    run_id: str | None = Field(
        None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=100,
        description="reuse this run id's memory namespaces on purpose (default: a new "
        "run id per run, so runs never overwrite each other's memory)",
    )
    retrieve_budget: int = Field(16, ge=1, le=10_000, description="items per retrieval")
    mirror: bool = Field(
        True, description="server backends: read from an in-process copy of each namespace "
        "the run writes (every write still goes to the server), so an agent-step is one "
        "round trip; false: every read is a server query")
    config: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="backend connection kwargs (url, uri, user, ...)"
    )

    @field_validator("config")
    @classmethod
    def _backend_takes_config(cls, config: dict[str, Any], info: Any) -> dict[str, Any]:
        # Checked without connecting: the keys the backend takes, in range.
        backend = info.data.get("backend")
        if backend is not None:
            # A server client that is not installed is memory.backend's error.
            with contextlib.suppress(ModuleNotFoundError):
                check_backend_config(backend, config)
        return config


class RunSection(BaseModel):
    """``[run]``: how the episode is executed and what it records."""

    model_config = _STRICT

    executor: Executor = Field(
        default_factory=lambda: default_executor(),
        description="langgraph when the memsim[langgraph] extra is installed, else direct "
        "(the same node functions in the same order: the same trajectories)")
    trace_observations: bool = False
    checkpoint_every: int = Field(0, ge=0, description="0 = no checkpoints")

    @field_validator("executor")
    @classmethod
    def _executor_installed(cls, executor: str) -> str:
        if executor == "langgraph" and not langgraph_installed():
            raise ValueError("'langgraph' needs LangGraph, which is not installed: pip "
                             "install 'memsim[langgraph]', or use 'direct' (the same "
                             "trajectories, without LangGraph)")
        return executor


def langgraph_installed() -> bool:
    """Whether the ``memsim[langgraph]`` extra (LangGraph) is installed."""
    try:
        return importlib.util.find_spec("langgraph") is not None
    except (ImportError, ValueError):  # blocked (None in sys.modules) or broken
        return False


def default_executor() -> str:
    """``langgraph`` when it is installed, else ``direct``."""
    return "langgraph" if langgraph_installed() else "direct"


class Scenario(BaseModel):
    """One experiment: world, team, memory, comm, run settings and the seeds to run."""

    model_config = _STRICT

    name: str = Field(pattern=r"^[a-z0-9-]+$", max_length=100)
    description: str = ""
    version: int = Field(ge=1, le=SCENARIO_VERSION)
    seeds: list[Annotated[int, Field(ge=0, le=MAX_SEED)]] = Field(default_factory=lambda: [0],
                                                                  min_length=1)
    max_steps: int = Field(DEFAULT_MAX_STEPS, ge=1, le=MAX_STEPS)
    env: EnvSection
    agents: AgentsSection
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    comm: CommConfig = Field(default_factory=CommConfig)
    run: RunSection = Field(default_factory=RunSection)
    llm: dict[str, str | int | float | bool | list[str]] = Field(
        default_factory=dict,
        description="settings of the 'llm' and 'llm-skills' policies (endpoint, model, ...)"
    )
    rl: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="settings of the 'rl' policy (model file, ...)"
    )

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError("seeds must not repeat")
        return seeds

    @model_validator(mode="after")
    def _world_fits_team(self) -> Scenario:
        # Cross-table checks of the world config (e.g. too many agents for the map) run here.
        try:
            self.env_config(self.agents.count)
        except ValidationError as exc:
            raise ValueError(
                "env / agents.count: " + "; ".join(e["msg"] for e in exc.errors())
            ) from None
        return self

    @model_validator(mode="after")
    def _policy_settings_present(self) -> Scenario:
        # Checked at load time so a run does not fail after its first seeds.
        used = {self.agents.policy_for(a) for a in self.agents.agent_ids()}
        if "rl" in used:
            if self.env.family != "crafting":
                raise ValueError(f"agents: policy 'rl' plays the crafting world only, not "
                                 f"{self.env.family!r}")
            if not isinstance(self.rl.get("model_path"), str):
                raise ValueError("rl.model_path: required by policy 'rl' (a .zip from "
                                 "examples/train_ppo_*.py, or a .pt torch module)")
        if used & set(LLM_TABLE_USERS):
            from memsim.agents.llm.config import LLMConfig
            from memsim.agents.messages import format_validation_error

            unknown = sorted(set(self.llm) - set(LLMConfig.model_fields))
            if unknown:
                raise ValueError(f"llm: unknown key(s) {unknown}; allowed: "
                                 f"{', '.join(LLMConfig.model_fields)}")
            # The values given (endpoint and model may still come from the environment).
            try:
                LLMConfig.model_validate({"base_url": "http://placeholder", "model": "m",
                                          **self.llm})
            except ValidationError as exc:
                raise ValueError("llm." + format_validation_error(exc)) from None
        for name, users in (("llm", LLM_TABLE_USERS), ("rl", ("rl",))):
            if not used & set(users) and getattr(self, name):
                raise ValueError(f"{name}: settings given but no agent uses policy "
                                 f"{' or '.join(map(repr, users))}")
        return self

    @model_validator(mode="after")
    def _policies_see_their_observations(self) -> Scenario:
        # Every agent's perception reads the symbolic observation (LLM agents also get its
        # text form), so a world set to emit only text or pixels fails every seed.
        obs_mode = getattr(self.env, "obs_mode", "symbolic")
        if obs_mode != "symbolic":
            used = sorted({self.agents.policy_for(a) for a in self.agents.agent_ids()})
            raise ValueError(
                f"env.obs_mode: {obs_mode!r} cannot be used with policy "
                f"{', '.join(map(repr, used))}: agents perceive the symbolic observation (LLM "
                "agents get its text form as well); allowed: 'symbolic'")
        return self

    @property
    def family(self) -> WorldFamily:
        """The world family of ``[env]``."""
        return family_named(self.env.family)

    def env_config(self, n_agents: int | None = None) -> BaseModel:
        """The world config for ``n_agents`` (default ``agents.count``) and ``max_steps``."""
        settings = self.env.model_dump(exclude={"family", *_DERIVED_ENV_KEYS})
        count = self.agents.count if n_agents is None else n_agents
        return self.family.config_model(**settings, n_agents=count, max_steps=self.max_steps)

    def policy_settings(self) -> dict[str, dict[str, Any]]:
        """Per-policy tables (``llm``, ``rl``) for the policies that take settings."""
        return {**{name: dict(self.llm) for name in LLM_TABLE_USERS}, "rl": dict(self.rl)}

    def comm_config(self) -> CommConfig:
        """The comm channel settings (``enabled=false`` is the comm-off ablation)."""
        return self.comm

    def with_overrides(
        self,
        seed: int | None = None,
        agents: int | None = None,
        memory_backend: str | None = None,
        executor: str | None = None,
        seeds: list[int] | None = None,
        max_steps: int | None = None,
        policy: str | None = None,
    ) -> Scenario:
        """A validated copy with command-line overrides applied (``None`` keeps the value).
        `seed` runs one seed, `seeds` several (not both); `policy` is every agent's
        policy (per-agent overrides of the file are dropped)."""
        if seed is not None and seeds is not None:
            raise ScenarioError(f"{self.name} (overrides)", ["give --seed or --seeds, not both"])
        data = self.model_dump()
        if seed is not None:
            data["seeds"] = [seed]
        if seeds is not None:
            data["seeds"] = list(seeds)
        if max_steps is not None:
            data["max_steps"] = max_steps
        if agents is not None:
            data["agents"]["count"] = agents
        if policy is not None:
            data["agents"]["policy"] = policy
            data["agents"]["policies"] = {}
        if memory_backend is not None:
            data["memory"]["backend"] = memory_backend
        if executor is not None:
            data["run"]["executor"] = executor
        return validate_scenario(data, source=f"{self.name} (overrides)")


def _allowed_keys(loc: tuple[int | str, ...], section: type[BaseModel] | None) -> list[str] | None:
    """Field names of the model at ``loc`` (for 'unknown key' errors), if it is a model.
    ``section`` is the ``[env]`` model chosen by the family, when ``loc`` is inside it."""
    model: Any = Scenario
    for part in loc:
        if model is Scenario and part == "env" and section is not None:
            model = section
            continue
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None or not (
            isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
        ):
            return None
        model = field.annotation
    names = [n for n in model.model_fields if not (model is section and n in _DERIVED_ENV_KEYS)]
    return sorted(names)


def _describe(exc: ValidationError, data: Mapping[str, Any]) -> list[str]:
    """One ``<field.path>: <problem>`` line per error, with allowed keys for unknown keys."""
    problems = []
    section = env_section_of(data)
    for err in exc.errors():
        loc = tuple(err["loc"])
        path = ".".join(str(p) for p in loc)
        if err["type"] in ("family_missing", "family_invalid"):
            problems.append(f"{path}.family: {err['msg']}")
            continue
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(loc[:-1], section if loc[:1] == ("env",) else None)
            msg = "unknown key"
            if allowed is not None:
                msg += f"; allowed: {', '.join(allowed)}"
        else:
            msg = err["msg"].removeprefix("Value error, ")
            inp = err.get("input")
            if err["type"] not in ("value_error", "missing") and isinstance(
                inp, str | int | float | bool
            ):
                msg += f" (got {inp!r})"
        # Model-level checks have an empty location; their message names the fields.
        problems.append(f"{path}: {msg}" if path else msg)
    return problems


def validate_scenario(data: Mapping[str, Any], source: str = "<scenario>") -> Scenario:
    """Validate a parsed scenario mapping; raise :class:`ScenarioError` naming ``source``."""
    depth = _nesting(data)
    if depth > MAX_NESTING:
        raise ScenarioError(source, [f"tables and arrays nest {depth} deep; max {MAX_NESTING}"])
    try:
        return Scenario.model_validate(dict(data), strict=True)
    except ValidationError as exc:
        raise ScenarioError(source, _describe(exc, data)) from None


def _nesting(value: Any, depth: int = 0) -> int:
    """How deep tables and arrays nest (stops counting past MAX_NESTING, so it cannot run
    out of stack itself)."""
    if depth > MAX_NESTING or not isinstance(value, Mapping | list | tuple):
        return depth
    items = value.values() if isinstance(value, Mapping) else value
    return max((_nesting(v, depth + 1) for v in items), default=depth + 1)


def resolve_named_file(
    name_or_path: str | Path,
    directory: Path,
    kind: str = "scenario",
    error: type[ScenarioError] = ScenarioError,
) -> Path:
    """A TOML file by bare name (``<directory>/<name>.toml``) or by path; `error` names
    what is missing and, for a bare name, the `kind`s that are available."""
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or "/" in text or text.endswith(".toml"):
        path = Path(name_or_path)
        if not path.is_file():
            raise error(text, ["file not found"])
        return path
    path = directory / f"{text}.toml"
    if not path.is_file():
        available = ", ".join(p.stem for p in sorted(directory.glob("*.toml"))) or "(none)"
        raise error(text, [f"no such {kind}; available: {available}"])
    return path


def scenario_dirs() -> list[Path]:
    """Where bare scenario names are looked up, in order: the current directory, its
    ``scenarios/`` folder, then the shipped scenarios (:data:`SCENARIO_DIR`)."""
    here = Path.cwd()
    dirs = [here, here / "scenarios", SCENARIO_DIR]
    unique: list[Path] = []
    for d in dirs:
        if d.is_dir() and all(d.resolve() != u.resolve() for u in unique):
            unique.append(d)
    return unique


def find_scenario(name_or_path: str | Path) -> Path:
    """The file of a scenario: a path as given, or a bare name's ``<name>.toml`` from the
    first of `scenario_dirs` that has it."""
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or "/" in text or text.endswith(".toml"):
        return resolve_named_file(name_or_path, SCENARIO_DIR)
    for directory in scenario_dirs():
        if (directory / f"{text}.toml").is_file():
            return directory / f"{text}.toml"
    return resolve_named_file(text, SCENARIO_DIR)  # the error lists the shipped ones


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a scenario by path to a TOML file, or by bare name: ``<name>.toml`` in the
    current directory, then in ``./scenarios/``, then among the shipped ones."""
    path = find_scenario(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(str(path), [f"invalid TOML: {exc}"]) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(str(path), [f"not UTF-8 text: {exc}"]) from None
    except RecursionError:
        raise ScenarioError(str(path), [f"tables and arrays nest too deep; max "
                                        f"{MAX_NESTING}"]) from None
    except OSError as exc:
        raise ScenarioError(str(path), [f"cannot be read: {exc.strerror or exc}"]) from None
    return validate_scenario(data, source=str(path))


def list_scenarios(directory: Path | None = None) -> list[tuple[str, str]]:
    """``(name, description)`` of each scenario ``*.toml`` in ``directory`` (default:
    shipped ones); TOML files with none of a scenario's keys (a pyproject.toml) are left
    out.

    An invalid file is listed with its error as the description so one bad file does not
    hide the others.
    """
    result = []
    for path in sorted((directory or SCENARIO_DIR).glob("*.toml")):
        try:
            result.append((path.stem, load_scenario(path).description))
        except ScenarioError as exc:
            if _looks_like_a_scenario(path):
                result.append((path.stem, f"INVALID: {'; '.join(exc.problems)}"))
    return result


def _looks_like_a_scenario(path: Path) -> bool:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError, OSError):
        return path.parent == SCENARIO_DIR
    return bool({"name", "version", "env", "agents", "seeds"} & set(data))
