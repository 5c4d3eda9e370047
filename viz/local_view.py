"""An agent's local view as tiles, per world family (no pygame).

- crafting: the cells of the agent's field of view cut out of the world image
  (`crop_view`): what its observation holds, drawn as the world draws it;
- navigation: painted from the decoded `NavigationView` (terrain and marks in view, the
  agent at the centre) with the world's own colours, because the world image shows pits
  that agents cannot see;
- manipulation: painted from the decoded `ManipulationView` (the table in view, the
  items it sees with their colour and shape, target marks, the gripper), because the
  world image shows a ball hidden under its cup.

`local_view_image(env, agent_id, view, ...)` returns an RGB array (rows * p, cols * p, 3)
or None when the world has no local view.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def crop_view(world_rgb: np.ndarray, position: tuple[int, int], extent: tuple[int, int],
              cell_pixels: int, fill: tuple[int, int, int]) -> np.ndarray:
    """The cells of `extent` (cols, rows) centred on `position`, cut out of the world
    image; cells beyond the edge are `fill` (as an agent's own view shows them)."""
    cols, rows = extent
    x, y = position
    p = cell_pixels
    out = np.empty((rows * p, cols * p, 3), np.uint8)
    out[:] = fill
    height, width = world_rgb.shape[0] // p, world_rgb.shape[1] // p
    x0, y0 = x - cols // 2, y - rows // 2
    sx0, sy0 = max(x0, 0), max(y0, 0)
    sx1, sy1 = min(x0 + cols, width), min(y0 + rows, height)
    if sx1 > sx0 and sy1 > sy0:
        out[(sy0 - y0) * p:(sy1 - y0) * p, (sx0 - x0) * p:(sx1 - x0) * p] = \
            world_rgb[sy0 * p:sy1 * p, sx0 * p:sx1 * p]
    return out


def _navigation(env: Any, agent_id: str, view: Any, pixels: int) -> np.ndarray:
    rules = env.world.rules
    palette = np.array([rules.colours["outside"], *rules.terrain_colours], np.uint8)
    terrain = np.clip(np.asarray(view.terrain, np.int64), 0, len(palette) - 1)
    p = pixels
    image = np.repeat(np.repeat(palette[terrain], p, 0), p, 1)
    inner = slice(p // 4, p - p // 4)
    marks = np.asarray(view.marks)
    for r, c in zip(*np.nonzero(marks), strict=True):
        m = int(marks[r, c]) - 1
        if 0 <= m < len(rules.mark_colours):
            image[r * p:(r + 1) * p, c * p:(c + 1) * p][inner, inner] = rules.mark_colours[m]
    colours = rules.colours["agents"]
    index = list(env.possible_agents).index(agent_id)
    half = terrain.shape[0] // 2
    centres = (np.arange(p) + 0.5) / p * 2 - 1
    u, v = np.meshgrid(centres, centres)
    image[half * p:(half + 1) * p, half * p:(half + 1) * p][u**2 + v**2 < 0.5] = \
        colours[index % len(colours)]
    return image


def _manipulation(env: Any, view: Any, extent: tuple[int, int], pixels: int) -> np.ndarray:
    from memsim.envs.manipulation.render import _mask  # the world's own item shapes

    rules = env.world.rules
    style = rules.render
    cols, rows = extent
    p = pixels
    image = np.empty((rows * p, cols * p, 3), np.uint8)
    image[:] = style["off_table"]
    left, top = view.x - cols // 2, view.y - rows // 2
    width, height = env.world.width, env.world.height
    table = np.asarray(style["table"], np.uint8)
    for r in range(rows):
        for c in range(cols):
            if 0 <= left + c < width and 0 <= top + r < height:
                image[r * p:(r + 1) * p, c * p:(c + 1) * p] = table
    line = (table * 0.85).astype(np.uint8)  # the table's faint grid, as the world draws it
    image[::p, :] = np.where(image[::p, :] == table, line, image[::p, :])
    image[:, ::p] = np.where(image[:, ::p] == table, line, image[:, ::p])

    def tile(x: int, y: int) -> np.ndarray:
        c, r = x - left, y - top
        return image[r * p:(r + 1) * p, c * p:(c + 1) * p]

    for x, y in view.marks:
        tile(x, y)[:] = style["target"]
    for (x, y), item in view.items.items():
        colour = style["colours"][rules.colours.index(item.colour)] \
            if item.colour in rules.colours else [200, 200, 200]
        tile(x, y)[_mask(item.shape, p)] = colour
    tile(view.x, view.y)[_mask("ring", p)] = style["gripper"]
    return image


def local_view_image(env: Any, agent_id: str, view: Any, world_rgb: np.ndarray,
                     position: tuple[int, int], extent: tuple[int, int] | None,
                     cell_pixels: int, fill: tuple[int, int, int]) -> np.ndarray | None:
    """The agent's local view as tiles (see module docstring)."""
    if view is not None and hasattr(view, "terrain") and hasattr(env, "world"):
        return _navigation(env, agent_id, view, cell_pixels)
    if extent is not None and view is not None and hasattr(view, "items") and hasattr(
            env, "world"):
        return _manipulation(env, view, extent, cell_pixels)
    if extent is None:
        return None
    return crop_view(world_rgb, position, extent, cell_pixels, fill)
