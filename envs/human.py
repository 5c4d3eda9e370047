"""``render_mode="human"``: a world's frame shown in a pygame window.

pygame is the ``memsim[viz]`` extra; it is imported when the first frame is shown, so
no other render mode needs it. The frame is scaled up by a whole factor to at least
512 pixels on its longer side. Set ``SDL_VIDEODRIVER=dummy`` to run without a screen
(tests do): the window then exists only in memory and no frame rate is kept.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

MIN_SIDE = 512


class HumanWindow:
    """One window; `show` draws a frame (H x W x 3, uint8) and keeps the frame rate."""

    def __init__(self, title: str, fps: int) -> None:
        self.title, self.fps = title, fps
        self._pygame: Any = None
        self._screen: Any = None
        self._clock: Any = None

    def _open(self, height: int, width: int) -> None:
        try:
            import pygame
        except ModuleNotFoundError as exc:
            raise ModuleNotFoundError(
                "render_mode='human' draws in a pygame window, and pygame is not installed: "
                "pip install 'memsim[viz]' (or use render_mode='rgb_array')",
                name=exc.name) from exc
        pygame.display.init()
        scale = max(1, -(-MIN_SIDE // max(height, width)))
        self._screen = pygame.display.set_mode((width * scale, height * scale))
        pygame.display.set_caption(self.title)
        self._clock = pygame.time.Clock()
        self._pygame = pygame

    def show(self, frame: np.ndarray) -> None:
        if self._screen is None:
            self._open(*frame.shape[:2])
        pygame = self._pygame
        surface = pygame.surfarray.make_surface(np.ascontiguousarray(frame.swapaxes(0, 1)))
        pygame.transform.scale(surface, self._screen.get_size(), self._screen)
        pygame.event.pump()  # keeps the window responsive
        pygame.display.flip()
        if os.environ.get("SDL_VIDEODRIVER") != "dummy":
            self._clock.tick(self.fps)

    def close(self) -> None:
        if self._pygame is not None:
            self._pygame.display.quit()
            self._pygame = self._screen = None
