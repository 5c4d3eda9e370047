"""Seeded procedural generation of a crafting world, vectorised with numpy.

Follows Crafter's worldgen.py: a grass clearing around the spawn point, lakes with sand
shores, mountains with caves, tunnels, coal, iron, diamonds and lava, trees in the
grassland, then cows, zombies and skeletons. Crafter evaluates OpenSimplex noise cell by
cell (~0.5 s for 64x64); here each noise field is gradient noise over the whole map
(noise.py: numpy, or a numba kernel with the same results). Same seed, same world, bit
for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memsim.envs.crafting.noise import GradientNoise
from memsim.envs.crafting.rules import Rules


@dataclass(frozen=True)
class GeneratedWorld:
    """Materials as ids (`rules.material_ids`), indexed [y, x]; creatures as (kind, x, y)."""

    materials: np.ndarray
    tunnels: np.ndarray
    spawn_points: list[tuple[int, int]]
    creatures: list[tuple[str, int, int]]


def generate_world(
    rules: Rules,
    width: int,
    height: int,
    n_agents: int,
    seed: int | np.random.SeedSequence,
    compiled_noise: bool | None = None,
) -> GeneratedWorld:
    """Generate materials, tunnels, spawn points and initial creatures. `compiled_noise`
    as `GradientNoise`'s `compiled` (the world is the same either way)."""
    gen = rules.worldgen
    rng = np.random.default_rng(seed)
    noise = GradientNoise(rng, compiled_noise)
    mid = rules.material_ids
    # x along columns and y along rows, broadcast to (height, width) where combined
    xs = np.arange(width, dtype=np.float64)[None, :]
    ys = np.arange(height, dtype=np.float64)[:, None]
    cx, cy = width // 2, height // 2

    start = gen["start_radius"] - np.sqrt((xs - cx) ** 2 + (ys - cy) ** 2)
    start = start + 2 * noise(xs, ys, 8, 3)
    start = 1 / (1 + np.exp(-start))
    water = noise(xs, ys, 3, {15: 1, 5: 0.15}, False) + gen["water_offset"]
    water = water - 2 * start
    mountain = noise(xs, ys, 0, {15: 1, 5: 0.3})
    mountain = mountain - 4 * start - 0.3 * water

    def uniform() -> np.ndarray:
        return rng.random((height, width))

    materials = np.full((height, width), mid["grass"], dtype=np.uint8)
    tunnels = np.zeros((height, width), dtype=bool)
    # Each cell takes the first rule that matches, as in Crafter's if/elif chain; `free`
    # tracks which cells are still undecided.
    free = np.ones((height, width), dtype=bool)

    def assign(mask: np.ndarray, material: str) -> None:
        nonlocal free
        chosen = free & mask
        materials[chosen] = mid[material]
        free = free & ~chosen

    assign(start > 0.5, "grass")
    in_mountain = free & (mountain > gen["mountain_above"])
    cave = gen["cave"]
    assign(
        in_mountain & (noise(xs, ys, 6, 7) > cave["noise"]) & (mountain > cave["mountain"]), "path"
    )
    horizontal = in_mountain & free & (noise(2 * xs, ys / 5, 7, 3) > gen["tunnel_noise"])
    vertical = (
        in_mountain & free & ~horizontal & (noise(xs / 5, 2 * ys, 7, 3) > gen["tunnel_noise"])
    )
    tunnels |= horizontal | vertical
    assign(horizontal | vertical, "path")
    coal, iron, diamond, lava = gen["coal"], gen["iron"], gen["diamond"], gen["lava"]
    assign(in_mountain & (noise(xs, ys, 1, 8) > coal["noise"]) & (uniform() < coal["prob"]), "coal")
    assign(in_mountain & (noise(xs, ys, 2, 6) > iron["noise"]) & (uniform() < iron["prob"]), "iron")
    assign(
        in_mountain & (mountain > diamond["mountain"]) & (uniform() < diamond["prob"]), "diamond"
    )
    assign(
        in_mountain & (mountain > lava["mountain"]) & (noise(xs, ys, 6, 5) > lava["noise"]), "lava"
    )
    assign(in_mountain, "stone")
    low, high = gen["sand_band"]
    assign((water > low) & (water <= high) & (noise(xs, ys, 4, 9) > -0.2), "sand")
    assign(water > gen["water_above"], "water")
    tree = gen["tree"]
    assign((noise(xs, ys, 5, 7) > tree["noise"]) & (uniform() < tree["prob"]), "tree")
    # The rest stays grass.

    _guarantee_minimum(rules, materials, mountain, rng)
    walkable_lookup = np.zeros(256, dtype=bool)
    walkable_lookup[[mid[m] for m in rules.walkable]] = True
    walkable = walkable_lookup[materials]
    spawn_points = _spawn_points(rules, walkable, n_agents, cx, cy, rng)
    creatures = _place_creatures(rules, materials, walkable, tunnels, cx, cy, spawn_points, rng)
    return GeneratedWorld(materials, tunnels, spawn_points, creatures)


def _guarantee_minimum(
    rules: Rules, materials: np.ndarray, mountain: np.ndarray, rng: np.random.Generator
) -> None:
    """Turn deep-mountain stone into a resource until its `min_count` is met."""
    mid = rules.material_ids
    deep = rules.worldgen["diamond"]["mountain"]
    for name, minimum in rules.worldgen.get("min_count", {}).items():
        missing = minimum - int((materials == mid[name]).sum())
        if missing <= 0:
            continue
        candidates = np.flatnonzero((materials == mid["stone"]) & (mountain > deep))
        if len(candidates) < missing:
            candidates = np.flatnonzero(materials == mid["stone"])
        chosen = rng.choice(candidates, size=min(missing, len(candidates)), replace=False)
        materials.flat[np.sort(chosen)] = mid[name]


def _spawn_points(
    rules: Rules,
    walkable: np.ndarray,
    n_agents: int,
    cx: int,
    cy: int,
    rng: np.random.Generator,
) -> list[tuple[int, int]]:
    """Distinct walkable cells nearest the centre (ties broken by the seeded rng)."""
    ys, xs = np.nonzero(walkable)
    if len(xs) < n_agents:
        raise ValueError(f"world has {len(xs)} walkable cells; cannot place {n_agents} agents")
    spread = rules.worldgen["spawn_spread"]
    dist = np.maximum(np.abs(xs - cx), np.abs(ys - cy))
    # Prefer cells within the spawn spread in random order, then the nearest others.
    key = np.where(dist <= spread, 0, dist) + rng.random(len(xs)) * 0.5
    # The first n_agents of a stable sort of all keys, without sorting them all: every key
    # up to the n-th smallest, sorted stably (in cell order, as the full sort keeps ties).
    candidates = np.flatnonzero(key <= np.partition(key, n_agents - 1)[n_agents - 1])
    order = candidates[np.argsort(key[candidates], kind="stable")][:n_agents]
    return [(int(xs[i]), int(ys[i])) for i in order]


def _place_creatures(
    rules: Rules,
    materials: np.ndarray,
    walkable: np.ndarray,
    tunnels: np.ndarray,
    cx: int,
    cy: int,
    spawn_points: list[tuple[int, int]],
    rng: np.random.Generator,
) -> list[tuple[str, int, int]]:
    """Cows, zombies and skeletons by the worldgen rules, in row-major (y, x) order."""
    gen = rules.worldgen
    height, width = materials.shape
    xs = np.arange(width)[None, :]
    ys = np.arange(height)[:, None]
    dist = np.sqrt((xs - cx) ** 2 + (ys - cy) ** 2)
    walkable = walkable.copy()
    for x, y in spawn_points:
        walkable[y, x] = False
    roll = rng.random((height, width))
    cows = (
        walkable
        & (materials == rules.material_ids["grass"])
        & (dist > gen["cow_min_dist"])
        & (roll < gen["cow_prob"])
    )
    zombies = walkable & ~cows & (dist > gen["zombie_min_dist"]) & (roll > 1 - gen["zombie_prob"])
    skeletons = (
        walkable & ~cows & ~zombies & tunnels & (rng.random((height, width)) < gen["skeleton_prob"])
    )
    # The masks are disjoint: one kind code per cell, read in row-major order.
    kinds = ("cow", "zombie", "skeleton")
    code = cows + 2 * zombies.astype(np.uint8) + 3 * skeletons.astype(np.uint8)
    rows, cols = np.nonzero(code)
    return [(kinds[k - 1], x, y)
            for k, x, y in zip(code[rows, cols].tolist(), cols.tolist(), rows.tolist(),
                               strict=True)]
