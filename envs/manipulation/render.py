"""RGB rendering of the tabletop with tiles drawn in numpy (no pygame in envs/).

`render_world` draws the whole world for the viewer: the table, the target mark, every
item (hidden ones too: a ball under its cup shows as a dot), the grippers and the cue
display as an extra row below the table.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np

from memsim.envs.manipulation.engine import ManipulationWorld

Mask = Callable[[np.ndarray, np.ndarray], np.ndarray]

# Shape masks over cell coordinates u, v in [-1, 1] (v grows downwards).
_MASKS: dict[str, Mask] = {
    "cube": lambda u, v: (abs(u) < 0.6) & (abs(v) < 0.6),
    "sphere": lambda u, v: u**2 + v**2 < 0.45,
    "cylinder": lambda u, v: (abs(u) < 0.4) & (abs(v) < 0.75),
    "cone": lambda u, v: (v > -0.7) & (v < 0.7) & (abs(u) < (v + 0.7) * 0.55),
    "star": lambda u, v: ((abs(u) < 0.2) | (abs(v) < 0.2) | (abs(abs(u) - abs(v)) < 0.15))
    & (u**2 + v**2 < 0.6),
    "ring": lambda u, v: (u**2 + v**2 < 0.55) & (u**2 + v**2 > 0.2),
    "pyramid": lambda u, v: (v > -0.7) & (v < 0.6) & (abs(u) < (v + 0.7) * 0.6)
    & (abs(u) + 0.2 > (v + 0.7) * 0.2),
    "cross": lambda u, v: ((abs(u) < 0.2) | (abs(v) < 0.2)) & (abs(u) < 0.7) & (abs(v) < 0.7),
    "heart": lambda u, v: ((u + 0.3) ** 2 + (v + 0.2) ** 2 < 0.12)
    | ((u - 0.3) ** 2 + (v + 0.2) ** 2 < 0.12) | ((v > -0.2) & (abs(u) < (0.7 - v) * 0.85)),
    "cup": lambda u, v: (abs(u) < 0.45 + 0.2 * v) & (abs(v) < 0.65),
    "ball": lambda u, v: u**2 + v**2 < 0.3,
    "dot": lambda u, v: u**2 + v**2 < 0.08,  # a hidden ball, seen through its cup
}


@cache
def _mask(shape: str, pixels: int) -> np.ndarray:
    centres = (np.arange(pixels) + 0.5) / pixels * 2 - 1
    u, v = np.meshgrid(centres, centres)
    return np.asarray(_MASKS.get(shape, _MASKS["cube"])(u, v), dtype=bool)


def _fill(image: np.ndarray, x: int, y: int, p: int, colour: list[int]) -> None:
    image[y * p:(y + 1) * p, x * p:(x + 1) * p] = colour


def _stamp(image: np.ndarray, x: int, y: int, p: int, mask: np.ndarray,
           colour: list[int]) -> None:
    tile = image[y * p:(y + 1) * p, x * p:(x + 1) * p]
    tile[mask] = colour


def render_world(world: ManipulationWorld, pixels: int) -> np.ndarray:
    """The whole world as an (H + 1) * p x W * p x 3 uint8 image (last row: the display)."""
    rules, style = world.rules, world.rules.render
    w, h, p = world.width, world.height, pixels
    image = np.zeros(((h + 1) * p, w * p, 3), np.uint8)
    image[:h * p] = style["table"]
    image[h * p:] = style["display"]
    # Faint grid lines so cells can be counted.
    image[:h * p:p, :] = (np.asarray(style["table"]) * 0.85).astype(np.uint8)
    image[:h * p, ::p] = (np.asarray(style["table"]) * 0.85).astype(np.uint8)
    if world.target is not None and world.stage == "action":
        _fill(image, *world.target, p, style["target"])
    palette = style["colours"]
    for item in world.items:
        if item.held_by is not None or not world.on_table(item.x, item.y):
            continue
        if item.role == "candidate" and world.step_count < item.visible_from:
            continue
        shape = rules.shapes[item.shape - 1]
        if world.visible(item) or item.role != "ball":
            _stamp(image, item.x, item.y, p, _mask(shape, p), palette[item.colour - 1])
    for item in world.items:  # hidden balls last, as a dot over their cup
        if item.role == "ball" and not world.visible(item) and world.on_table(item.x, item.y):
            _stamp(image, item.x, item.y, p, _mask("dot", p), palette[item.colour - 1])
    ring = _mask("ring", p)
    for gripper in world.grippers:
        _stamp(image, gripper.x, gripper.y, p, ring, style["gripper"])
    for slot, (colour, shape) in enumerate(world.cue_now()[:w]):
        _stamp(image, slot, h, p, _mask(rules.shapes[shape - 1], p), palette[colour - 1])
    return image
