"""Shell game's shuffle: the cups' pairwise swaps, planned at reset from the episode's rng."""

from __future__ import annotations

import numpy as np

# Per delay step: the (cup index, (dx, dy)) moves made at that step.
Shuffle = list[list[tuple[int, tuple[int, int]]]]


def plan_swaps(n: int, steps: int, rng: np.random.Generator) -> Shuffle:
    """Pairwise swaps filling the delay: one cup goes over, the other under, each moving
    one cell per step. Swaps are drawn among those that still fit (the rules check that
    this always makes at least `min_swaps`); the rest of the delay is still."""
    slots = list(range(n))  # which cup stands at each of the n slots
    plan: Shuffle = []
    while True:
        left = steps - len(plan)
        # slots are two cells apart: a swap of slots a < b takes 2 (b - a) + 2 steps
        pairs = [(a, b) for a in range(n) for b in range(a + 1, n)
                 if 2 * (b - a) + 2 <= left]
        if not pairs:
            break
        a, b = pairs[int(rng.integers(len(pairs)))]
        over, under = slots[a], slots[b]
        plan.append([(over, (0, -1)), (under, (0, 1))])
        plan.extend([(over, (1, 0)), (under, (-1, 0))] for _ in range(2 * (b - a)))
        plan.append([(over, (0, 1)), (under, (0, -1))])
        slots[a], slots[b] = under, over
    plan.extend([] for _ in range(steps - len(plan)))
    return plan
