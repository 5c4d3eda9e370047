"""Seeded gradient noise for world generation: numpy, or a numba kernel when installed.

Crafter evaluates OpenSimplex noise cell by cell (~0.5 s for a 64x64 world). Here each
octave is gradient (Perlin) noise over the whole map, scaled to OpenSimplex's spread so
Crafter's thresholds keep their meaning. Two implementations compute every octave with
the same floating-point operations in the same order, so they agree bit for bit (tested):

- numpy, the reference: whole-map array operations, about 0.45 ms per 64x64 octave;
- a numba kernel (the `fast` extra), one pass over the cells, about ten times faster.

numba's import and the loading of its compiled code (cached on disk) cost about 1 s per
process, which about 200 worlds' savings repay. So by default a process switches to the
kernel once it has generated `COMPILE_AFTER_WORLDS` worlds (RL training makes thousands;
a scripted run a few). `MEMSIM_NUMBA=1` uses it from the first world, `MEMSIM_NUMBA=0`
never (the setting is read until the kernel is loaded). Either way, the same seed gives
the same world.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any

import numpy as np

# Gradient (Perlin) noise has std ~0.216 on 2D lattices; OpenSimplex noise3 has ~0.315.
NOISE_SCALE = 0.315 / 0.216

COMPILE_AFTER_WORLDS = 200

# The compiled octave, once looked up: None until then, False where numba is unavailable.
_kernel: Callable[..., np.ndarray] | bool | None = None
_worlds_made = 0  # GradientNoise objects made in this process: one per world


def compiled_octave(now: bool = False) -> Callable[..., np.ndarray] | None:
    """The numba octave kernel, or None: without numba, with `MEMSIM_NUMBA=0`, or before
    this process made `COMPILE_AFTER_WORLDS` worlds (unless `MEMSIM_NUMBA=1`). `now`:
    load it regardless of the setting and the count."""
    global _kernel
    if _kernel is None:
        setting = os.environ.get("MEMSIM_NUMBA", "")
        if not now and (setting == "0" or (
                setting != "1" and _worlds_made < COMPILE_AFTER_WORLDS)):
            return None
        _kernel = False
        with contextlib.suppress(ImportError):  # no numba: numpy, the same worlds
            _kernel = _compile()
    return _kernel or None


def _compile() -> Callable[..., np.ndarray]:
    from numba import njit

    # No fastmath: without it LLVM may not reorder or fuse (FMA) the float operations, so
    # every value is rounded as numpy rounds it.
    @njit(cache=True, nogil=True)
    def octave(
        xs: Any, ys: Any, perm: Any, cos_table: Any, sin_table: Any, scale: float
    ) -> Any:  # pragma: no cover - compiled; checked against `_numpy_octave` in the tests
        width, height = xs.shape[0], ys.shape[0]
        out = np.empty((height, width))
        x0 = np.floor(xs).astype(np.int64)
        y0 = np.floor(ys).astype(np.int64)
        fx, fy = xs - x0, ys - y0
        u = fx * fx * fx * (fx * (fx * 6 - 15) + 10)
        v = fy * fy * fy * (fy * (fy * 6 - 15) + 10)
        col0 = np.empty(width, np.int64)
        col1 = np.empty(width, np.int64)
        for c in range(width):
            col0[c] = perm[x0[c] & 255]
            col1[c] = perm[(x0[c] + 1) & 255]
        fx1 = fx - 1
        for r in range(height):
            row0, row1 = y0[r] & 255, (y0[r] + 1) & 255
            dy0 = fy[r]
            dy1 = dy0 - 1
            vr = v[r]
            for c in range(width):
                dx0, dx1 = fx[c], fx1[c]
                g = perm[(col0[c] + row0) & 255]
                n00 = cos_table[g] * dx0 + sin_table[g] * dy0
                g = perm[(col1[c] + row0) & 255]
                n10 = cos_table[g] * dx1 + sin_table[g] * dy0
                g = perm[(col0[c] + row1) & 255]
                n01 = cos_table[g] * dx0 + sin_table[g] * dy1
                g = perm[(col1[c] + row1) & 255]
                n11 = cos_table[g] * dx1 + sin_table[g] * dy1
                top = n00 + u[c] * (n10 - n00)
                bottom = n01 + u[c] * (n11 - n01)
                out[r, c] = (top + vr * (bottom - top)) * scale
        return out

    return octave


class GradientNoise:
    """Independent gradient-noise fields, one per `z` (Crafter's third noise coordinate).

    Coordinates are separable: x varies along columns only, as a (1, W) array, and y
    along rows only, as (H, 1); a field is (H, W)."""

    def __init__(self, rng: np.random.Generator, compiled: bool | None = None) -> None:
        """`compiled`: use the numba kernel (True), numpy (False), or decide as
        `compiled_octave` does (None)."""
        self._tables: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._tiled: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        global _worlds_made
        _worlds_made += 1
        self._seed = int(rng.integers(0, 2**31 - 1))
        kernel = None if compiled is False else compiled_octave(now=bool(compiled))
        if compiled and kernel is None:
            raise ImportError("compiled noise needs numba: pip install 'memsim[fast]'")
        self._kernel = kernel

    def _table(self, z: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The permutation of 0-255 and the cosine and sine of the gradient angles."""
        if z not in self._tables:
            rng = np.random.default_rng([self._seed, z])
            perm = rng.permutation(256)
            angle = rng.random(256) * 2 * np.pi
            self._tables[z] = perm, np.cos(angle), np.sin(angle)
        return self._tables[z]

    def _tiled_table(self, z: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The permutation repeated once (so an index a + b with a, b < 256 needs no
        wrap), and the gradient's x and y parts hashed by it, for the numpy octave."""
        if z not in self._tiled:
            perm, cos_table, sin_table = self._table(z)
            tiled = np.concatenate((perm, perm))
            self._tiled[z] = tiled, cos_table[tiled], sin_table[tiled]
        return self._tiled[z]

    def octave(self, xs: np.ndarray, ys: np.ndarray, z: int) -> np.ndarray:
        """One octave over x coordinates of shape (1, W) and y coordinates of (H, 1)."""
        # Offset so integer cells do not sit on lattice points (where noise is 0).
        xs = xs + 0.5 + 17.0 * z
        ys = ys + 0.5
        if self._kernel is not None:
            perm, cos_table, sin_table = self._table(z)
            return self._kernel(xs[0], ys[:, 0], perm, cos_table, sin_table, NOISE_SCALE)
        return self._numpy_octave(xs, ys, z)

    def _numpy_octave(self, xs: np.ndarray, ys: np.ndarray, z: int) -> np.ndarray:
        perm, grad_x, grad_y = self._tiled_table(z)
        x0 = np.floor(xs).astype(np.int64)
        y0 = np.floor(ys).astype(np.int64)
        fx, fy = xs - x0, ys - y0
        column_hash = (perm[x0 & 255], perm[(x0 + 1) & 255])
        row = (y0 & 255, (y0 + 1) & 255)

        def corner(i: int, j: int, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
            h = column_hash[i] + row[j]
            return grad_x[h] * dx + grad_y[h] * dy

        u = fx * fx * fx * (fx * (fx * 6 - 15) + 10)
        v = fy * fy * fy * (fy * (fy * 6 - 15) + 10)
        n00 = corner(0, 0, fx, fy)
        n10 = corner(1, 0, fx - 1, fy)
        n01 = corner(0, 1, fx, fy - 1)
        n11 = corner(1, 1, fx - 1, fy - 1)
        top = n00 + u * (n10 - n00)
        bottom = n01 + u * (n11 - n01)
        return (top + v * (bottom - top)) * NOISE_SCALE

    def __call__(
        self,
        xs: np.ndarray,
        ys: np.ndarray,
        z: int,
        sizes: float | dict[float, float],
        normalize: bool = True,
    ) -> np.ndarray:
        """Crafter's `_simplex(x, y, z, sizes, normalize)`: weighted octaves."""
        if not isinstance(sizes, dict):
            sizes = {sizes: 1.0}
        value = np.zeros(np.broadcast(xs, ys).shape)
        for size, weight in sizes.items():
            value += weight * self.octave(xs / size, ys / size, z)
        if normalize:
            value /= sum(sizes.values())
        return value
