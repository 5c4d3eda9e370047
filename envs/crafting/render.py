"""RGB rendering with sprites drawn here in code (no copied assets).

Each material and object kind gets a small tile built from a palette and a pattern on a
16x16 grid, scaled to `tile_pixels` by nearest neighbour. Rendering a view is then one
fancy-indexing gather: `tiles[ids]`, so it stays cheap enough for per-step rgb
observations and for the viewer.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from memsim.envs.crafting.rules import Rules

_BASE = 16

# Colours (RGB) per material; patterns below add texture.
MATERIAL_COLOURS: dict[str, tuple[int, int, int]] = {
    "water": (66, 125, 214),
    "grass": (98, 170, 72),
    "stone": (128, 128, 128),
    "path": (190, 170, 130),
    "sand": (226, 208, 150),
    "tree": (98, 170, 72),
    "lava": (230, 90, 30),
    "coal": (128, 128, 128),
    "iron": (128, 128, 128),
    "diamond": (128, 128, 128),
    "table": (190, 170, 130),
    "furnace": (190, 170, 130),
}
OUTSIDE = (20, 20, 20)
AGENT_COLOURS = [
    (240, 60, 60),
    (60, 120, 240),
    (250, 200, 40),
    (170, 80, 220),
    (40, 200, 200),
    (250, 130, 40),
    (240, 100, 180),
    (120, 220, 90),
]


def _disc(cx: float, cy: float, radius: float) -> np.ndarray:
    ys, xs = np.mgrid[0:_BASE, 0:_BASE] + 0.5
    return (xs - cx) ** 2 + (ys - cy) ** 2 <= radius**2


def _rect(x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    mask = np.zeros((_BASE, _BASE), bool)
    mask[y0:y1, x0:x1] = True
    return mask


def _speckle(seed: int, density: float) -> np.ndarray:
    return np.random.default_rng(seed).random((_BASE, _BASE)) < density


def _material_tile(name: str) -> np.ndarray:
    tile = np.empty((_BASE, _BASE, 3), np.uint8)
    tile[:] = MATERIAL_COLOURS.get(name, (255, 0, 255))
    if name == "grass":
        tile[_speckle(1, 0.12)] = (80, 150, 60)
    elif name == "water":
        for row in (3, 8, 13):
            tile[row, 2:14:2] = (150, 190, 240)
    elif name == "stone":
        tile[_speckle(2, 0.15)] = (105, 105, 105)
    elif name == "sand":
        tile[_speckle(3, 0.1)] = (200, 185, 130)
    elif name == "path":
        tile[_speckle(4, 0.08)] = (170, 150, 110)
    elif name == "lava":
        tile[_speckle(5, 0.25)] = (255, 200, 40)
    elif name == "tree":
        tile[_rect(7, 9, 9, 15)] = (110, 70, 30)
        tile[_disc(8, 6, 5.5)] = (30, 110, 40)
        tile[_speckle(6, 0.06) & _disc(8, 6, 5.5)] = (60, 150, 60)
    elif name in ("coal", "iron", "diamond"):
        colour = {"coal": (25, 25, 25), "iron": (200, 150, 120), "diamond": (200, 250, 255)}[name]
        for cx, cy in ((5, 5), (11, 7), (6, 11), (11, 12)):
            tile[_disc(cx, cy, 1.8)] = colour
    elif name == "table":
        tile[_rect(2, 4, 14, 8)] = (140, 90, 40)
        tile[_rect(3, 8, 5, 14)] = (110, 70, 30)
        tile[_rect(11, 8, 13, 14)] = (110, 70, 30)
    elif name == "furnace":
        tile[_rect(2, 2, 14, 14)] = (90, 90, 90)
        tile[_rect(5, 8, 11, 13)] = (30, 20, 20)
        tile[_rect(6, 9, 10, 12)] = (240, 120, 30)
    return tile


def _object_sprite(kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(colour tile, mask) for an object; the material shows where mask is False."""
    tile = np.zeros((_BASE, _BASE, 3), np.uint8)
    if kind == "agent":
        mask = _disc(8, 8, 6)
        tile[mask] = (255, 255, 255)  # recoloured per agent at render time
        tile[_disc(6, 7, 1.2) | _disc(10, 7, 1.2)] = (20, 20, 20)
    elif kind == "cow":
        mask = _rect(3, 5, 13, 12) | _rect(11, 3, 15, 8)
        tile[mask] = (240, 240, 240)
        tile[_speckle(7, 0.3) & mask] = (60, 40, 30)
    elif kind == "zombie":
        mask = _disc(8, 5, 3.5) | _rect(5, 8, 11, 15)
        tile[mask] = (70, 150, 70)
        tile[_disc(7, 5, 0.9) | _disc(10, 5, 0.9)] = (200, 0, 0)
    elif kind == "skeleton":
        mask = _disc(8, 5, 3.5) | _rect(6, 8, 10, 15)
        tile[mask] = (225, 225, 210)
        tile[_disc(7, 5, 0.9) | _disc(10, 5, 0.9)] = (20, 20, 20)
    elif kind == "arrow":
        mask = _rect(3, 7, 13, 9) | _rect(11, 5, 13, 11)
        tile[mask] = (120, 80, 40)
    elif kind == "plant":
        mask = _rect(7, 6, 9, 14) | _disc(8, 5, 3)
        tile[mask] = (40, 200, 60)
    else:
        mask = _disc(8, 8, 5)
        tile[mask] = (255, 0, 255)
    return tile, mask


def _scale(array: np.ndarray, pixels: int) -> np.ndarray:
    index = (np.arange(pixels) * _BASE) // pixels
    return array[index][:, index]


@cache
def tileset(rules: Rules, pixels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(material tiles [n+1, p, p, 3], object tiles [k+1, p, p, 3], object masks)."""
    materials = [np.full((_BASE, _BASE, 3), OUTSIDE, np.uint8)]
    materials += [_material_tile(name) for name in rules.materials]
    objects = [np.zeros((_BASE, _BASE, 3), np.uint8)]
    masks = [np.zeros((_BASE, _BASE), bool)]
    for kind in rules.objects:
        tile, mask = _object_sprite(kind)
        objects.append(tile)
        masks.append(mask)
    return (
        np.stack([_scale(t, pixels) for t in materials]),
        np.stack([_scale(t, pixels) for t in objects]),
        np.stack([_scale(m, pixels) for m in masks]),
    )


def render_grid(
    rules: Rules,
    materials: np.ndarray,
    objects: np.ndarray,
    agents: np.ndarray,
    pixels: int,
    daylight: float = 1.0,
) -> np.ndarray:
    """Render id grids `[rows, cols]` to an RGB image `[rows*p, cols*p, 3]`."""
    mat_tiles, obj_tiles, obj_masks = tileset(rules, pixels)
    rows, cols = materials.shape
    image = mat_tiles[materials]  # [rows, cols, p, p, 3]
    has_object = objects > 0
    if has_object.any():
        r_idx, c_idx = np.nonzero(has_object)
        kinds = objects[r_idx, c_idx]
        sprites = obj_tiles[kinds].copy()
        masks = obj_masks[kinds]
        who = agents[r_idx, c_idx]
        for i in np.flatnonzero(who):
            colour = np.array(AGENT_COLOURS[(int(who[i]) - 1) % len(AGENT_COLOURS)], np.uint8)
            body = np.all(sprites[i] == 255, axis=-1)
            sprites[i][body] = colour
        cells = image[r_idx, c_idx]
        cells[masks] = sprites[masks]
        image[r_idx, c_idx] = cells
    image = image.transpose(0, 2, 1, 3, 4).reshape(rows * pixels, cols * pixels, 3)
    if daylight < 0.5:
        # Night: darken, as Crafter does, so rgb agents feel the day cycle.
        image = (image * (0.5 + daylight)).astype(np.uint8)
    return image
