"""Fuzz: only integral, finite action indices in range are actions (Python or numpy
integers, not bools); anything else is the family's action error naming the agent and the
allowed range, and leaves the world untouched."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from fuzz_strategies import examples, floats, ints, json_like, text
from hypothesis import given, settings
from hypothesis import strategies as st

from memsim.envs import crafting, manipulation, navigation

FAMILIES = {
    "crafting": (lambda: crafting.parallel_env(n_agents=2, zombies=False, width=16,
                                               height=16), crafting.ActionError),
    "navigation": (lambda: navigation.parallel_env(task="ballet", n_agents=2),
                   navigation.ActionError),
    "manipulation": (lambda: manipulation.parallel_env(task="shell_game", relay=True,
                                                       n_agents=2), manipulation.ActionError),
}
NUMPY_TYPES = [np.int8, np.int64, np.uint8, np.uint64, np.float32, np.float64, np.bool_]

values = st.one_of(
    ints, floats, st.booleans(), st.none(), text, json_like,
    st.builds(lambda t, v: t(v % 100), st.sampled_from(NUMPY_TYPES), st.integers(0, 10**6)),
    st.builds(np.array, st.integers(0, 20)),
    st.builds(Fraction, st.integers(-20, 20), st.integers(1, 3)),
    st.builds(Decimal, st.one_of(st.integers(-20, 20), st.sampled_from(["Infinity", "NaN"]))),
)


def is_index(value: Any, n: int) -> bool:
    return (type(value) is int or isinstance(value, np.integer)) and 0 <= int(value) < n


@pytest.fixture(scope="module", params=list(FAMILIES))
def family(request: pytest.FixtureRequest) -> tuple[Any, type[Exception], Any]:
    make, error = FAMILIES[request.param]
    env = make()
    env.reset(seed=5)
    return env, error, env.snapshot()


@settings(max_examples=examples(150))
@given(value=values)
def test_only_integral_indices_in_range_are_actions(family: tuple[Any, type[Exception], Any],
                                                    value: Any) -> None:
    env, error, start = family
    env.restore(start)
    before = env.snapshot()
    n = len(env.action_names)
    if is_index(value, n):
        env.step({"agent_0": value, "agent_1": 0})
        return
    with pytest.raises(error) as caught:
        env.step({"agent_0": 0, "agent_1": value})
    assert "actions['agent_1']" in str(caught.value)
    assert f"0..{n - 1}" in str(caught.value)
    assert env.snapshot() == before
