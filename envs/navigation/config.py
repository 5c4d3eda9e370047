"""Configuration of one navigation memory world (validated; errors name the field)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from memsim.envs.navigation.rules import TaskName, load_rules


class NavigationConfig(BaseModel):
    """Which task, how hard, how many agents; the task parameters live in the rules file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: TaskName = Field(description="which navigation memory task")
    n_agents: int = Field(
        1, ge=1, le=8, description="agents; relay needs 2 or more (unset with relay: 2)"
    )
    max_steps: int | None = Field(
        None, ge=1, description="truncation; None: every phase plus every time limit, + 1"
    )
    team_goal: str = Field("success", description="the achievement that ends the episode")
    relay: bool = Field(
        False, description="only agent_0 sees the cue and cannot move; the others must act on it"
    )
    difficulty: int = Field(1, ge=1, description="level in the rules file (1 = easiest)")
    n_items: int | None = Field(
        None, ge=1, description="overrides the level's item count (goals, doors, dancers, "
        "commands); not for mystery_path"
    )
    tile_pixels: int = Field(8, ge=2, le=64, description="pixels per cell in render()")
    rules_path: str | None = Field(None, description="alternative rules file")

    @model_validator(mode="before")
    @classmethod
    def _relay_team_size(cls, data: Any) -> Any:
        # A relay needs an observer and an actor, so an unset team size means 2 there.
        if isinstance(data, dict) and data.get("relay") is True and data.get("n_agents") is None:
            return {**data, "n_agents": 2}
        return data

    @model_validator(mode="after")
    def _cross_fields(self) -> NavigationConfig:
        rules = load_rules(self.rules_path) if self.rules_path else load_rules()
        task = rules.tasks[self.task]
        if self.relay and self.n_agents < 2:
            raise ValueError(f"n_agents={self.n_agents}: relay=true needs n_agents >= 2 "
                             "(an observer and at least one actor)")
        if not 1 <= self.difficulty <= len(task.levels):
            raise ValueError(f"difficulty={self.difficulty} is not a level of {self.task}; "
                             f"allowed: 1..{len(task.levels)}")
        if self.n_items is not None:
            low, high = task.n_items_range
            if not task.n_items_key:
                raise ValueError(f"n_items: {self.task} has no item count; leave it unset")
            if not low <= self.n_items <= high:
                raise ValueError(f"n_items={self.n_items} ({task.n_items_key}) is out of range "
                                 f"for {self.task}; allowed: {low}..{high}")
            level = task.level(self.difficulty, self.n_items)
            if self.task == "neighbourhood" and level["goals"] > level["n_landmarks"]:
                raise ValueError(f"n_items={self.n_items} goals: must be <= the level's "
                                 f"n_landmarks ({level['n_landmarks']})")
        if self.team_goal != "success":
            raise ValueError(f"team_goal={self.team_goal!r}: allowed: 'success' (every task "
                             "ends on success or failure)")
        return self
