"""`Frame`: everything the viewer draws for one moment of an episode, as plain data.

A frame is built from a live `TeamRuntime` and its current `TeamState` plus the last
`StepRecord` (`frame_from_runtime`), or, for replay, from the same objects of a replayed
run with the trace line's decision records (`viz.replay`). It reads the world only
through the `envs.base.MemsimWorld` surface (`render`, `state`, `agent_positions`,
`text_observation`, achievements), so it works for every world family, and memory only
through `GraphStore` reads, and never changes either.

`frame.step` is the number of team steps completed: frame 0 is the world after reset,
frame N the world after trace line N-1 was acted, and its decisions are that line's.

The memory stores and the text observation are reached on demand (`graph_store`,
`observation_text`) because only the followed agent's are shown; the memory panel reads a
store only when its `revision` changed. They read the source as it is, so they are valid
until the source steps again (the viewer draws a frame before the next step is taken).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from memsim.memory.store import GraphStore
from memsim.sim.families import family_of
from memsim.viz.local_view import local_view_image

OUTSIDE = (20, 20, 20)  # cells beyond the world's edge in a local view
TEAM_GRAPH = "team"
"""`graph_store` key of the team's shared graph."""

# Decision-record keys LLM policies may add, shown in the "why" panel when present.
LLM_EXTRA_KEYS: tuple[str, ...] = ("reasoning", "thinking", "tokens", "usage", "prompt_tokens",
                                   "completion_tokens", "latency_ms", "model")


@dataclass(slots=True)
class DecisionView:
    """One agent's decision at one step, as a trace line or a `StepRecord` holds it."""

    action: str
    reason: str = ""
    ok: bool | None = None
    env_reason: str = ""
    retrieved: list[str] = field(default_factory=list)
    messages_read: list[int] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> DecisionView:
        return cls(
            action=str(record.get("action", "?")),
            reason=str(record.get("reason", "")),
            ok=record.get("ok"),
            env_reason=str(record.get("env_reason", "")),
            retrieved=[str(i) for i in record.get("retrieved", [])],
            messages_read=[int(i) for i in record.get("messages_read", []) if i is not None],
            extra={k: record[k] for k in LLM_EXTRA_KEYS if k in record},
        )


@dataclass(frozen=True, slots=True)
class LogLine:
    """One message-log entry: a delivered message, or a send the channel rejected."""

    step: int
    sender: str
    recipients: str
    kind: str
    text: str
    msg_id: int | None = None
    rejected: bool = False


class MessageLog:
    """Messages by the step they were delivered for; `upto(step)` is the log at a frame.
    Keeps only what `upto` can show, and forgets what is after a step on `rewind`."""

    def __init__(self, keep: int = 60) -> None:
        self.keep = keep
        self.lines: list[LogLine] = []
        self._ids: set[tuple[int, int | None, str]] = set()

    def add_step(self, frame_step: int, inboxes: Mapping[str, Sequence[Any]],
                 sent: Sequence[Mapping[str, Any]] = ()) -> None:
        """Record the messages delivered for `frame_step` (from `TeamState["inboxes"]`;
        a broadcast arrives in several inboxes and is logged once) and rejected sends."""
        for _, inbox in sorted(inboxes.items()):
            for msg in inbox:
                key = (frame_step, msg.msg_id, msg.sender)
                if key in self._ids:
                    continue
                self._ids.add(key)
                to = "all" if msg.recipients is None else ",".join(msg.recipients)
                self.lines.append(LogLine(frame_step, msg.sender, to, str(msg.kind.value),
                                          msg.payload.summary(), msg.msg_id))
        for item in sent:
            if not item.get("accepted", True):
                self.lines.append(LogLine(frame_step, str(item.get("from", "?")), "-",
                                          "rejected", str(item.get("error", "")), None, True))
        # Bound memory: keep a margin so rewinding a little still has history to show.
        if len(self.lines) > 4 * self.keep:
            self.lines = self.lines[-2 * self.keep:]

    def rewind(self, frame_step: int) -> None:
        """Forget entries after `frame_step` (before replaying forward again)."""
        self.lines = [line for line in self.lines if line.step <= frame_step]
        self._ids = {k for k in self._ids if k[0] <= frame_step}

    def upto(self, frame_step: int) -> list[LogLine]:
        return [line for line in self.lines if line.step <= frame_step][-self.keep:]


def milestones_for(goal: str | None, milestones: Sequence[str]) -> tuple[str, ...]:
    """The milestones shown in the progress bar: the family's milestones up to the goal
    (a tech tree), else the goal alone."""
    milestones = tuple(milestones)
    if goal in milestones:
        return milestones[: milestones.index(goal) + 1]
    return (goal,) if goal else ()


@dataclass(slots=True)
class Frame:
    """What the viewer shows at one moment (see module docstring)."""

    step: int
    agents: tuple[str, ...]
    world_rgb: np.ndarray  # [H, W, 3] the whole world, untinted
    cell_pixels: int
    daylight: float
    view_extent: tuple[int, int] | None  # (cols, rows) of a local view, if the world has one
    positions: dict[str, tuple[int, int]]
    alive: dict[str, bool]
    decisions: dict[str, DecisionView]
    log: list[LogLine]
    goal: str | None
    milestones: tuple[str, ...]
    reached: dict[str, int]
    done: bool = False
    note: str = ""  # e.g. a replay's divergence from its trace
    memory_note: str = ""  # what the memory panel shows, when not the run's memory
    observation_text: Callable[[str], str] = lambda agent_id: ""
    graph_store: Callable[[str], GraphStore | None] = lambda key: None
    has_team_graph: bool = False
    family: str = ""  # the world family's name
    # The followed agent's observation decoded by its family's perception (a typed view:
    # `CraftingView`, `NavigationView`, `ManipulationView`), None for an agent that is out.
    agent_view: Callable[[str], Any] = lambda agent_id: None
    # Its local view as RGB tiles (`viz.local_view`), None if the world has none.
    local_view: Callable[[str], np.ndarray | None] = lambda agent_id: None

    @property
    def world_cells(self) -> tuple[int, int]:
        """The world's size in cells (columns, rows)."""
        p = max(self.cell_pixels, 1)
        return self.world_rgb.shape[1] // p, self.world_rgb.shape[0] // p


def view_extent(env: Any) -> tuple[int, int] | None:
    """(cols, rows) of an agent's local view: the config's view size, else the shape of
    a symbolic observation's grids; None if the world has neither."""
    config = env.config
    if hasattr(config, "view_width") and hasattr(config, "view_height"):
        return int(config.view_width), int(config.view_height)
    try:
        space = env.observation_space(env.possible_agents[0])
    except (KeyError, TypeError, AttributeError, IndexError):
        return None
    # crafting's material grid, navigation's terrain, manipulation's item shapes
    for key in ("materials", "terrain", "shape"):
        try:
            rows, cols = space[key].shape[:2]
        except (KeyError, TypeError, AttributeError, IndexError, ValueError):
            continue
        return int(cols), int(rows)
    return None


def cell_pixels(env: Any, world: Mapping[str, Any], rgb: np.ndarray) -> int:
    """Image pixels per world cell: the image width over the world's width in cells
    (``config.width``, else the width of the first 2-D grid in `env.state()`)."""
    cells = getattr(env.config, "width", None)
    if not isinstance(cells, int):
        grid = next((v for v in world.values() if getattr(v, "ndim", 0) == 2), None)
        if grid is None:
            raise ValueError("the viewer needs config.width or a 2-D grid in env.state() "
                             "to know the world's size in cells")
        cells = grid.shape[1]
    return max(rgb.shape[1] // max(cells, 1), 1)


def world_image(env: Any) -> np.ndarray:
    """The whole world as RGB through `env.render()` (the env needs render_mode
    "rgb_array"; `viz` builds its own envs that way)."""
    image = env.render()
    if image is None:
        raise ValueError(f"env.render() returned None: render_mode is {env.render_mode!r}; "
                         "the viewer needs render_mode='rgb_array'")
    return np.asarray(image)


def frame_from_runtime(runtime: Any, state: Mapping[str, Any],
                       decisions: Mapping[str, Mapping[str, Any]] | None = None,
                       log: MessageLog | None = None, note: str = "") -> Frame:
    """A frame of a live (or replayed) team: `runtime` is a `sim.team.TeamRuntime`,
    `state` its current `TeamState`, `decisions` the last step's per-agent decision
    records (a `StepRecord.agents` or a trace line's ``agents``)."""
    env = runtime.env
    world = env.state()
    rgb = world_image(env)
    alive_arr = world.get("alive")
    # Without an "alive" array, an agent is live while the env lists it; PettingZoo envs
    # list nobody once the episode is over, which is not everyone dying.
    alive = {a: bool(alive_arr[i]) if alive_arr is not None else (
        a in env.agents or not env.agents) for i, a in enumerate(env.possible_agents)}
    daylight = float(np.asarray(world["daylight"]).ravel()[0]) if "daylight" in world else 1.0
    goal = getattr(env.config, "team_goal", None)
    step = int(state["team_step"])
    agents = tuple(env.possible_agents)

    def text(agent_id: str) -> str:
        return env.text_observation(agent_id) if agent_id in agents else ""

    def decoded(agent_id: str) -> Any:
        agent = runtime.agents.get(agent_id)
        obs = state.get("observations", {}).get(agent_id)
        if agent is None or obs is None:
            return None
        return agent.perception.decode(obs)

    extent = view_extent(env)
    cell_px = cell_pixels(env, world, rgb)
    positions = {a: (int(x), int(y)) for a, (x, y) in env.agent_positions().items()}

    def tiles(agent_id: str) -> np.ndarray | None:
        if agent_id not in positions:
            return None
        return local_view_image(env, agent_id, decoded(agent_id), rgb, positions[agent_id],
                                extent, cell_px, OUTSIDE)

    def store(key: str) -> GraphStore | None:
        if key == TEAM_GRAPH:
            return runtime.shared.store if runtime.shared is not None else None
        agent = runtime.agents.get(key)
        return agent.memory.store if agent is not None and agent.memory is not None else None

    return Frame(
        step=step,
        agents=agents,
        world_rgb=rgb,
        cell_pixels=cell_px,
        daylight=daylight,
        view_extent=extent,
        positions=positions,
        alive=alive,
        decisions={a: DecisionView.from_record(r) for a, r in (decisions or {}).items()},
        log=log.upto(step) if log is not None else [],
        goal=goal,
        milestones=milestones_for(goal, family_of(env.config).milestones),
        reached={name: int(s) for name, (s, _) in env.team_achievements.items()},
        done=bool(state.get("done")),
        note=note,
        observation_text=text,
        graph_store=store,
        has_team_graph=runtime.shared is not None,
        family=family_of(env.config).name,
        agent_view=decoded,
        local_view=tiles,
    )
