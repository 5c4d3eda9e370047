"""World generation's two noise implementations, and the spawn points' partial sort."""

from __future__ import annotations

import numpy as np
import pytest

from memsim.envs.crafting import noise
from memsim.envs.crafting.noise import GradientNoise
from memsim.envs.crafting.rules import load_rules, variant_path
from memsim.envs.crafting.worldgen import _spawn_points, generate_world


@pytest.mark.parametrize("seed", [0, 1, 7, 2**31 - 2])
def test_compiled_noise_equals_numpy_noise_bit_for_bit(seed: int, numba_noise: None) -> None:
    xs = np.arange(96, dtype=np.float64)[None, :]
    ys = np.arange(80, dtype=np.float64)[:, None]
    compiled = GradientNoise(np.random.default_rng(seed), compiled=True)
    reference = GradientNoise(np.random.default_rng(seed), compiled=False)
    # The coordinate transforms and octave mixes world generation uses.
    for x, y, z, sizes, normalize in [
        (xs, ys, 8, 3, True),
        (xs, ys, 3, {15: 1, 5: 0.15}, False),
        (xs, ys, 0, {15: 1, 5: 0.3}, True),
        (2 * xs, ys / 5, 7, 3, True),
        (xs / 5, 2 * ys, 7, 3, True),
        (xs - 1000.25, ys + 3000.5, 4, 9, True),  # negative and far lattice cells
    ]:
        a, b = compiled(x, y, z, sizes, normalize), reference(x, y, z, sizes, normalize)
        assert a.shape == b.shape == (80, 96)
        assert np.array_equal(a, b), f"z={z} sizes={sizes}: max diff {np.abs(a - b).max()}"


@pytest.mark.parametrize("rules_name", ["base", "sparse"])
def test_worlds_are_the_same_with_either_noise(rules_name: str, numba_noise: None) -> None:
    rules = load_rules() if rules_name == "base" else load_rules(variant_path("sparse"))
    for seed in range(6):
        a = generate_world(rules, 96, 64, 6, seed, compiled_noise=True)
        b = generate_world(rules, 96, 64, 6, seed, compiled_noise=False)
        assert np.array_equal(a.materials, b.materials)
        assert np.array_equal(a.tunnels, b.tunnels)
        assert (a.spawn_points, a.creatures) == (b.spawn_points, b.creatures)


def test_a_process_switches_to_the_kernel_after_many_worlds(
    monkeypatch: pytest.MonkeyPatch, numba_noise: None
) -> None:
    monkeypatch.setattr(noise, "_kernel", None)
    monkeypatch.delenv("MEMSIM_NUMBA", raising=False)
    monkeypatch.setattr(noise, "_worlds_made", noise.COMPILE_AFTER_WORLDS - 2)
    assert GradientNoise(np.random.default_rng(0))._kernel is None  # world n - 1
    assert GradientNoise(np.random.default_rng(0))._kernel is not None  # world n
    monkeypatch.setattr(noise, "_kernel", None)
    monkeypatch.setattr(noise, "_worlds_made", 0)
    monkeypatch.setenv("MEMSIM_NUMBA", "1")  # from the first world
    assert GradientNoise(np.random.default_rng(0))._kernel is not None


def test_numba_switched_off_or_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(noise, "_kernel", None)
    monkeypatch.setattr(noise, "_worlds_made", 10 * noise.COMPILE_AFTER_WORLDS)
    monkeypatch.setenv("MEMSIM_NUMBA", "0")
    assert GradientNoise(np.random.default_rng(0))._kernel is None  # numpy, same worlds
    monkeypatch.setattr(noise, "_kernel", False)  # as where numba cannot be imported
    monkeypatch.delenv("MEMSIM_NUMBA")
    assert GradientNoise(np.random.default_rng(0))._kernel is None
    with pytest.raises(ImportError, match=r"memsim\[fast\]"):
        GradientNoise(np.random.default_rng(0), compiled=True)


def test_spawn_points_are_the_first_of_a_stable_sort() -> None:
    # The partial sort must pick what a full stable sort of the keys picks, ties included.
    rules = load_rules()
    walkable = np.zeros((40, 40), dtype=bool)
    walkable[5:35, 3:30] = True
    walkable[20, :] = False
    spread = rules.worldgen["spawn_spread"]
    for n_agents in (1, 2, 6, 50, int(walkable.sum())):
        for seed in range(5):
            points = _spawn_points(rules, walkable, n_agents, 20, 20,
                                   np.random.default_rng(seed))
            ys, xs = np.nonzero(walkable)
            dist = np.maximum(np.abs(xs - 20), np.abs(ys - 20))
            key = (np.where(dist <= spread, 0, dist)
                   + np.random.default_rng(seed).random(len(xs)) * 0.5)
            order = np.argsort(key, kind="stable")[:n_agents]
            assert points == [(int(xs[i]), int(ys[i])) for i in order]
    with pytest.raises(ValueError, match="cannot place 3 agents"):
        _spawn_points(rules, np.eye(2, dtype=bool), 3, 1, 1, np.random.default_rng(0))
