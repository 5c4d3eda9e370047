"""RL settings as data: `agents/rl/rl.toml`, validated (unknown keys and bad values fail at
load time with the file and the field named)."""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from memsim.envs.crafting import CraftingConfig

DEFAULT_SETTINGS_PATH = Path(__file__).with_name("rl.toml")

EncodingPart = Literal[
    "materials", "objects", "inventory", "vitals", "facing", "daylight", "sleeping",
    "last_action_ok",
]
ENCODING_PARTS: tuple[str, ...] = get_args(EncodingPart)

_STRICT = ConfigDict(extra="forbid", frozen=True)


class EncodingSettings(BaseModel):
    """``[encoding]``: which parts of the symbolic observation make the flat vector."""

    model_config = _STRICT
    parts: tuple[EncodingPart, ...] = ENCODING_PARTS

    @field_validator("parts")
    @classmethod
    def _distinct(cls, parts: tuple[str, ...]) -> tuple[str, ...]:
        if not parts:
            raise ValueError(f"must name at least one part; allowed: {', '.join(ENCODING_PARTS)}")
        if len(set(parts)) != len(parts):
            raise ValueError("a part is listed twice")
        return parts


class MemoryFeatureSettings(BaseModel):
    """``[memory_features]``: the kinds located from memory and how offsets are scaled."""

    model_config = _STRICT
    kinds: tuple[str, ...] = (
        "water", "tree", "stone", "coal", "iron", "diamond", "table", "furnace", "cow")
    scale: float = Field(32.0, gt=0)
    # Training copies envs by pickling them (SuperSuit), which server connections do not
    # survive, and steps thousands of times a second: the embedded store only.
    backend: Literal["networkx"] = "networkx"
    node_budget: int = Field(2000, ge=64)
    chunk_size: int = Field(16, ge=1, le=256)

    @field_validator("kinds")
    @classmethod
    def _distinct(cls, kinds: tuple[str, ...]) -> tuple[str, ...]:
        if not kinds:
            raise ValueError("must name at least one kind")
        if len(set(kinds)) != len(kinds):
            raise ValueError("a kind is listed twice")
        return kinds


class TaskFeatureSettings(BaseModel):
    """``[task_features]``: memory features of the navigation and manipulation tasks
    (`agents.rl.task_features`): the distance scale, the recall kinds, the memory's sizes."""

    model_config = _STRICT
    scale: float = Field(8.0, gt=0)
    # navigation: kinds whose remembered cells are safe / to avoid (per task)
    navigation_safe: tuple[str, ...] = ("safe",)
    navigation_avoid: dict[str, tuple[str, ...]] = Field(default_factory=lambda: {
        "mystery_path": ("pit",), "object_permanence": ("door",), "ballet": ("dancer",),
        "neighbourhood": ("sign",)})
    trail: int = Field(4, ge=2, le=32)  # recent cells counted as visited
    budget: int = Field(128, ge=8)  # places one recall returns
    node_budget: int = Field(2000, ge=64)
    chunk_size: int = Field(16, ge=1, le=256)


class PPOSettings(BaseModel):
    """``[ppo]``: Stable-Baselines3 PPO hyperparameters of the example scripts."""

    model_config = _STRICT
    n_steps: int = Field(256, ge=8)
    batch_size: int = Field(64, ge=2)
    n_epochs: int = Field(4, ge=1)
    learning_rate: float = Field(3e-4, gt=0)
    gamma: float = Field(0.99, gt=0, le=1)
    gae_lambda: float = Field(0.95, gt=0, le=1)
    ent_coef: float = Field(0.01, ge=0)
    net_arch: tuple[int, ...] = (64, 64)

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `stable_baselines3.PPO(...)`."""
        data = self.model_dump(exclude={"net_arch"})
        return {**data, "policy_kwargs": {"net_arch": list(self.net_arch)}}


class TeamSettings(BaseModel):
    """``[team]``: the shared-policy multi-agent training set-up."""

    model_config = _STRICT
    n_agents: int = Field(2, ge=1, le=64)
    num_vec_envs: int = Field(2, ge=1, le=64)


class EvalSettings(BaseModel):
    """``[eval]``: how many episodes the mean episode reward is taken over."""

    model_config = _STRICT
    episodes: int = Field(3, ge=1)


class RLSettings(BaseModel):
    """Everything in `rl.toml`."""

    model_config = _STRICT
    encoding: EncodingSettings = EncodingSettings()
    memory_features: MemoryFeatureSettings = MemoryFeatureSettings()
    task_features: TaskFeatureSettings = TaskFeatureSettings()
    env: dict[str, Any] = Field(default_factory=dict)
    ppo: PPOSettings = PPOSettings()
    team: TeamSettings = TeamSettings()
    eval: EvalSettings = EvalSettings()

    @field_validator("env")
    @classmethod
    def _env_is_a_world_config(cls, env: dict[str, Any]) -> dict[str, Any]:
        CraftingConfig(**env)  # raises naming the field and its allowed values
        return env

    def env_config(self, **overrides: Any) -> CraftingConfig:
        """The training world's config, with overrides (e.g. ``n_agents``)."""
        return CraftingConfig(**{**self.env, **overrides})


@functools.cache
def default_settings() -> RLSettings:
    """The shipped `rl.toml` (read once); what wrappers and encoders use when not told."""
    return load_settings()


def load_settings(path: str | Path | None = None) -> RLSettings:
    """Read and validate an RL settings file (default: the shipped `rl.toml`)."""
    source = Path(path) if path is not None else DEFAULT_SETTINGS_PATH
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"RL settings file {str(source)!r} does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{source}: not valid TOML: {error}") from None
    try:
        return RLSettings(**data)
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        ]
        raise ValueError(f"{source}: " + "; ".join(problems)) from None
