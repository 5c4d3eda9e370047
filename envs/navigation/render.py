"""RGB rendering drawn here with numpy (no assets, no pygame): for the viewer and tests.

Each cell is a `pixels` square of its terrain colour; a mark fills the inner half of its
cell; pits (invisible to agents) get a dark inner dot; cells whose cue is being shown get a
white outline; agents are discs in their colour.
"""

from __future__ import annotations

import numpy as np

from memsim.envs.navigation.engine import NavigationWorld


def _disc(pixels: int) -> np.ndarray:
    centre = (pixels - 1) / 2
    ys, xs = np.mgrid[0:pixels, 0:pixels]
    return (xs - centre) ** 2 + (ys - centre) ** 2 <= (pixels * 0.35) ** 2


def render_world(world: NavigationWorld, pixels: int) -> np.ndarray:
    """The whole world as an RGB image of shape (height * pixels, width * pixels, 3)."""
    rules, grid = world.rules, world.grid
    palette = np.array([rules.colours["outside"], *rules.terrain_colours], np.uint8)
    image = np.repeat(np.repeat(palette[grid.terrain], pixels, 0), pixels, 1)
    inner = slice(pixels // 4, pixels - pixels // 4)

    def cell(x: int, y: int) -> np.ndarray:
        return image[y * pixels:(y + 1) * pixels, x * pixels:(x + 1) * pixels]

    for x, y in grid.pits:
        cell(x, y)[inner, inner] = rules.colours["pit"]
    for y, x in zip(*np.nonzero(grid.marks), strict=True):
        cell(int(x), int(y))[inner, inner] = rules.mark_colours[int(grid.marks[y, x]) - 1]
    for mark, x, y in grid.shown.get(world.step_count, []):
        block = cell(x, y)
        block[inner, inner] = rules.mark_colours[mark - 1]
        block[[0, -1], :] = rules.colours["shown"]
        block[:, [0, -1]] = rules.colours["shown"]
    body_mask = _disc(pixels)
    colours = rules.colours["agents"]
    for index, body in enumerate(world.agents):
        cell(body.x, body.y)[body_mask] = colours[index % len(colours)]
    return image
