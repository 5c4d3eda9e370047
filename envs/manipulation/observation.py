"""What one agent observes: its local view of the table, its gripper, the cue display (when
it may see it) and the phase.

Symbolic observation (a dict; every array's meaning):

- `table` (view_h, view_w): 0 off the table (or not visible), 1 table, 2 target mark.
- `colour`, `shape` (view_h, view_w): the visible item in each cell (rules ids, 0 none).
- `moved` (view_h, view_w): how that item moved last step (`engine.MOVES`: 0 still, 1 up,
  2 down, 3 left, 4 right, 5-8 diagonals), so motion seen in view can be tracked.
- `agents` (view_h, view_w): other grippers (agent index + 1).
- `cue_colour`, `cue_shape` (display slots): the cue display; zeros outside the cue phase
  and, in relay variants, for everyone but the observer (agent_0).
- `holding` (2,): colour and shape of the held item (0, 0 when empty).
- `position` (2,): the gripper's (x, y) on the table.
- `phase`: index in `rules.PHASES` (cue, delay, action, return, over).
- `phase_step` (1,): steps since the current phase began.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from memsim.envs.manipulation.engine import MOVES, OBSERVER, ManipulationWorld
from memsim.envs.manipulation.rules import PHASES


def observation_space(world: ManipulationWorld) -> spaces.Dict:
    """The symbolic observation space of every agent in `world`."""
    rules, (vw, vh) = world.rules, world.task.view
    view = (vh, vw)
    slots = rules.display_slots
    return spaces.Dict({
        "table": spaces.Box(0, 2, view, np.uint8),
        "colour": spaces.Box(0, len(rules.colours), view, np.uint8),
        "shape": spaces.Box(0, len(rules.shapes), view, np.uint8),
        "moved": spaces.Box(0, len(MOVES) - 1, view, np.uint8),
        "agents": spaces.Box(0, world.config.n_agents, view, np.uint8),
        "cue_colour": spaces.Box(0, len(rules.colours), (slots,), np.uint8),
        "cue_shape": spaces.Box(0, len(rules.shapes), (slots,), np.uint8),
        "holding": spaces.Box(0, max(len(rules.colours), len(rules.shapes)), (2,), np.uint8),
        "position": spaces.Box(0, max(world.width, world.height) - 1, (2,), np.int32),
        "phase": spaces.Discrete(len(PHASES)),
        "phase_step": spaces.Box(0, world.config.episode_steps, (1,), np.int32),
    })


def symbolic(world: ManipulationWorld, index: int) -> dict[str, Any]:
    """Agent `index`'s observation now."""
    vw, vh = world.task.view
    gripper = world.grippers[index]
    layers = {name: np.zeros((vh, vw), np.uint8)
              for name in ("table", "colour", "shape", "moved", "agents")}
    if world.sees_table(index):
        left, top = gripper.x - vw // 2, gripper.y - vh // 2
        marked = world.target if world.stage == "action" and world.outcome is None else None
        others = {(g.x, g.y): i + 1 for i, g in enumerate(world.grippers) if i != index}
        for row in range(vh):
            for col in range(vw):
                x, y = left + col, top + row
                if not world.on_table(x, y):
                    continue
                layers["table"][row, col] = 2 if (x, y) == marked else 1
                layers["agents"][row, col] = others.get((x, y), 0)
                item = world.top_item(x, y)
                if item is not None:
                    layers["colour"][row, col] = item.colour
                    layers["shape"][row, col] = item.shape
                    layers["moved"][row, col] = MOVES[item.moved]
    slots = world.rules.display_slots
    cue_colour, cue_shape = np.zeros(slots, np.uint8), np.zeros(slots, np.uint8)
    if not world.config.relay or index == OBSERVER:
        for slot, (colour, shape) in enumerate(world.cue_now()):
            cue_colour[slot], cue_shape[slot] = colour, shape
    held = gripper.holding
    phase_step = min(world.step_count - world.phase_start(), world.config.episode_steps)
    return {
        **layers,
        "cue_colour": cue_colour,
        "cue_shape": cue_shape,
        "holding": np.array((held.colour, held.shape) if held else (0, 0), np.uint8),
        "position": np.array((gripper.x, gripper.y), np.int32),
        "phase": world.phase_index(),
        "phase_step": np.array((max(phase_step, 0),), np.int32),
    }


def describe(world: ManipulationWorld, index: int, obs: dict[str, Any]) -> str:
    """The observation in plain language (for LLM agents)."""
    rules = world.rules
    vw, vh = world.task.view
    px, py = (int(v) for v in obs["position"])
    phase = PHASES[int(obs["phase"])]
    lines = [f"Task {world.task.name}: phase {phase} (step {int(obs['phase_step'][0])} of it). "
             f"Your gripper is at ({px}, {py}) on a {world.width}x{world.height} table."]
    seen = []
    for row in range(vh):
        for col in range(vw):
            colour, shape = int(obs["colour"][row, col]), int(obs["shape"][row, col])
            x, y = px - vw // 2 + col, py - vh // 2 + row
            if colour or shape:
                seen.append(f"{rules.colours[colour - 1]} {rules.shapes[shape - 1]} at ({x}, {y})")
            if obs["table"][row, col] == 2:
                seen.append(f"the target mark at ({x}, {y})")
    lines.append("You see: " + ("; ".join(seen) if seen else "nothing on the table") + ".")
    cues = [f"slot {k}: {rules.colours[int(c) - 1]} {rules.shapes[int(s) - 1]}"
            for k, (c, s) in enumerate(zip(obs["cue_colour"], obs["cue_shape"], strict=True))
            if c]
    if cues:
        lines.append("The cue display shows " + "; ".join(cues) + ".")
    if obs["holding"][0]:
        c, s = (int(v) for v in obs["holding"])
        lines.append(f"You hold a {rules.colours[c - 1]} {rules.shapes[s - 1]}.")
    return "\n".join(lines)
