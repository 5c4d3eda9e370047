"""Configuration of one manipulation-memory world (validated; errors name the field)."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from memsim.envs.manipulation.rules import DEFAULT_RULES_PATH, Rules, load_rules

TaskName = Literal[
    "shell_game",
    "remember_color",
    "remember_shape",
    "take_it_back",
    "seq_of_colors",
    "chain_of_colors",
    "bunch_of_colors",
    "intercept",
]
TASKS: tuple[str, ...] = get_args(TaskName)


class ManipulationConfig(BaseModel):
    """Which task, how hard, how many agents; the task itself lives in the rules file.

    `difficulty` is the task's level (items on the table, cups, or the intercept ball's
    steps per cell); None means the task's first level. `max_steps` None means the task's
    episode length for that level. `relay`: agent_0 observes the cue, the others act.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    task: TaskName = "remember_color"
    n_agents: int = Field(1, ge=1, le=8, description="1 alone; 2+ with relay = true (unset "
                          "with relay: 2)")
    max_steps: int | None = Field(None, ge=1, description="truncation (None: the rules')")
    team_goal: str | None = Field("success", description="achievement that ends the episode")
    relay: bool = Field(False, description="agent_0 sees the cue, agents 1.. act on it")
    difficulty: int | None = Field(None, description="the task's level (see rules.toml)")
    tile_pixels: int = Field(16, ge=4, le=64, description="pixels per cell when rendering")
    rules_path: str | None = Field(None, description="alternative rules file")

    @property
    def rules(self) -> Rules:
        """The rules file this config reads (cached)."""
        return load_rules(self.rules_path or DEFAULT_RULES_PATH)

    @property
    def level(self) -> int:
        """The difficulty level in force."""
        task = self.rules.task(self.task)
        return task.levels[0] if self.difficulty is None else self.difficulty

    @property
    def episode_steps(self) -> int:
        """Truncation: `max_steps`, or the task's episode length at this level."""
        if self.max_steps is not None:
            return self.max_steps
        return self.rules.task(self.task).max_steps(self.level)

    @model_validator(mode="before")
    @classmethod
    def _known_task_and_team(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        # Name the allowed tasks in the error rather than pydantic's literal dump.
        if "task" in data and data["task"] not in TASKS:
            raise ValueError(f"task {data['task']!r} is unknown; allowed: {', '.join(TASKS)}")
        # A relay needs an observer and an actor, so an unset team size means 2 there.
        if data.get("relay") is True and data.get("n_agents") is None:
            return {**data, "n_agents": 2}
        return data

    @model_validator(mode="after")
    def _cross_fields(self) -> ManipulationConfig:
        task = self.rules.task(self.task)
        if self.difficulty is not None and self.difficulty not in task.levels:
            raise ValueError(f"difficulty={self.difficulty} is not a level of {self.task}; "
                             f"allowed: {list(task.levels)}")
        if self.relay and self.n_agents < 2:
            raise ValueError("relay=true needs n_agents >= 2 (agent_0 observes, others act)")
        if not self.relay and self.n_agents != 1:
            raise ValueError(f"n_agents={self.n_agents} needs relay=true; alone, n_agents "
                             "must be 1")
        if self.team_goal not in (None, "success"):
            raise ValueError(f"team_goal={self.team_goal!r}; allowed: 'success' or None")
        cue_and_delay = task.cue_length(self.level) + task.delay_steps
        if self.max_steps is not None and self.max_steps <= cue_and_delay:
            raise ValueError(f"max_steps={self.max_steps} leaves no action phase; the cue and "
                             f"delay of {self.task} take {cue_and_delay} steps")
        return self
