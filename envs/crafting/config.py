"""Configuration of one Multi-Agent Crafter world (validated; errors name the field)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from memsim.envs.crafting.rules import (
    DEFAULT_RULES_PATH,
    Rules,
    load_rules,
    variant_names,
    variant_path,
)

ObsMode = Literal["symbolic", "text", "rgb"]
RewardMode = Literal["individual", "team"]


class CraftingConfig(BaseModel):
    """Everything that varies between scenarios; the game itself lives in the rules file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    width: int = Field(64, ge=9, le=1024, description="world width in cells")
    height: int = Field(64, ge=9, le=1024, description="world height in cells")
    n_agents: int = Field(1, ge=1, le=64, description="number of agents")
    max_steps: int = Field(10000, ge=1, description="episode truncation (Crafter: 10000)")
    cows: bool = True
    zombies: bool = True
    skeletons: bool = True
    respawn: bool = Field(False, description="dead agents reappear at a spawn point")
    team_goal: str | None = Field(
        "collect_diamond",
        description="achievement that ends the episode for everyone when any agent gets it",
    )
    reward: RewardMode = Field(
        "individual", description="individual: own unlocks; team: every team-first unlock"
    )
    obs_mode: ObsMode = "symbolic"
    view_width: int = Field(9, ge=3, le=31)
    view_height: int = Field(7, ge=3, le=31)
    tile_pixels: int = Field(8, ge=2, le=64, description="pixels per cell in rgb mode")
    creature_radius: int = Field(
        18,
        ge=1,
        description="only creatures within this L1 distance of some agent act, as in Crafter "
        "(which uses 2 * max(view) = 18)",
    )
    rules_path: str | None = Field(
        None, description="a rules file of your own (it may extend a shipped one)"
    )
    variant: str | None = Field(
        None, description="a shipped variant of the rules (envs/crafting/variants/<name>.toml)"
    )
    roles: list[str] | None = Field(
        None,
        description="the agents' roles, cycled over agents (agent i: roles[i % len]); "
        "None: the rules file's [team] roles; []: no roles",
    )

    @field_validator("view_width", "view_height")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError("must be odd so the agent is at the centre of its view")
        return value

    @field_validator("variant")
    @classmethod
    def _shipped(cls, value: str | None) -> str | None:
        if value is not None and value not in variant_names():
            raise ValueError(f"{value!r} is unknown; allowed: {', '.join(variant_names())}")
        return value

    @field_validator("roles")
    @classmethod
    def _defined(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if value is None or "variant" not in info.data or "rules_path" not in info.data:
            return value  # no override, or the rules file is already in error
        path = _rules_file(info.data["variant"], info.data["rules_path"])
        defined = list(load_rules(path).roles)
        for role in value:
            if role not in defined:
                allowed = ", ".join(defined) or "none ([roles.<name>] tables define roles)"
                raise ValueError(f"{role!r} is not a role of {path}; allowed: {allowed}")
        return value

    @model_validator(mode="after")
    def _fits(self) -> CraftingConfig:
        if self.n_agents > self.width * self.height // 4:
            raise ValueError(
                f"n_agents={self.n_agents} is too many for a {self.width}x{self.height} world"
            )
        return self

    @model_validator(mode="after")
    def _one_rules_file(self) -> CraftingConfig:
        if self.variant is not None and self.rules_path is not None:
            raise ValueError(
                f"set variant ({self.variant!r}) or rules_path ({self.rules_path!r}), not both: "
                "a rules file of your own can extend a shipped variant instead"
            )
        return self

    @model_validator(mode="after")
    def _known_goal(self) -> CraftingConfig:
        # The rules file is read (and checked) here, so a bad one fails with the config.
        rules = self.rules
        if self.team_goal is not None and self.team_goal not in rules.achievements:
            raise ValueError(f"team_goal={self.team_goal!r} is not an achievement of the rules; "
                             f"allowed: {', '.join(rules.achievements)}, or None")
        return self

    @property
    def rules_file(self) -> Path:
        """The rules file this world plays by: `variant`'s, `rules_path` or the default."""
        return _rules_file(self.variant, self.rules_path)

    @property
    def rules(self) -> Rules:
        """The rules (loaded once per file; a bad file raises `RulesError`)."""
        return load_rules(self.rules_file)


def _rules_file(variant: str | None, rules_path: str | None) -> Path:
    if variant is not None:
        return variant_path(variant)
    return Path(rules_path) if rules_path else DEFAULT_RULES_PATH
