"""Hostile values for the fuzz tests: strings with control characters, NUL, separators
and injection attempts; integers around the 64-bit limits; non-finite floats; deep
nesting; and JSON-like trees of all of them."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import strategies as st

SCALE = int(os.environ.get("MEMSIM_FUZZ_EXAMPLES", "100")) / 100


def examples(n: int) -> int:
    """A test's example count, scaled by MEMSIM_FUZZ_EXAMPLES (percent)."""
    return max(1, round(n * SCALE))


HOSTILE_TEXT = [
    "", " ", "iron: north", "a@b", "ent:x", "x\x00y", "x\x01", "ab\r\n", "ab ", " ab",
    "x'}) DETACH DELETE n //", "\u2028", "ünïcødé ✓ 火", "\\", '"', "\t", "a" * 129,
    "agent_1", "told_by:agent_0",
]
BIG_INTS = [0, 1, -1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, 10**30]

text = st.one_of(
    st.sampled_from(HOSTILE_TEXT),
    st.text(max_size=40),
    st.text(alphabet=st.characters(max_codepoint=0x9F), max_size=12),  # control characters
)
ints = st.one_of(st.sampled_from(BIG_INTS), st.integers(-1000, 1000), st.integers())
floats = st.one_of(st.sampled_from([float("nan"), float("inf"), -0.0, 1e308]), st.floats())
scalars = st.one_of(st.none(), st.booleans(), ints, floats, text)
json_like = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(text, inner, max_size=4)),
    max_leaves=12,
)


def nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value
