"""What every family's `step` takes as an action index, and what it rejects (the rule lives
in `envs.base.WorldParallelEnv`; each family raises its own ActionError); and that the
shared `envs.world.BodyRecord` keeps older snapshots loadable."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

from memsim.envs import crafting, manipulation, navigation

FAMILIES: dict[str, tuple[Callable[[], Any], type[Exception]]] = {
    "crafting": (lambda: crafting.parallel_env(n_agents=2, zombies=False),
                 crafting.ActionError),
    "navigation": (lambda: navigation.parallel_env(task="ballet", n_agents=2),
                   navigation.ActionError),
    "manipulation": (lambda: manipulation.parallel_env(task="shell_game", relay=True,
                                                       n_agents=2),
                     manipulation.ActionError),
}
GYM_ENVS: dict[str, Callable[[], Any]] = {
    "crafting": lambda: crafting.CrafterEnv(zombies=False),
    "navigation": lambda: navigation.NavigationGymEnv(task="ballet"),
    "manipulation": lambda: manipulation.ManipulationEnv(task="shell_game"),
}

NOT_INDICES = [
    pytest.param(float("inf"), id="inf"),
    pytest.param(float("-inf"), id="-inf"),
    pytest.param(float("nan"), id="nan"),
    pytest.param(np.float64("inf"), id="np.inf"),
    pytest.param(Decimal("Infinity"), id="Decimal-inf"),
    pytest.param(1.0, id="1.0"),
    pytest.param(np.float32(1.0), id="np.float32-1"),
    pytest.param(True, id="True"),
    pytest.param(np.bool_(True), id="np.True_"),
    pytest.param(np.array(1), id="0-d-array"),
    pytest.param(np.array([1]), id="1-d-array"),
    pytest.param(Fraction(2, 1), id="Fraction-2"),
    pytest.param(Decimal(1), id="Decimal-1"),
    pytest.param("1", id="str"),
    pytest.param(None, id="None"),
]


@pytest.fixture(params=list(FAMILIES))
def family(request: pytest.FixtureRequest) -> tuple[Any, type[Exception]]:
    make, error = FAMILIES[request.param]
    env = make()
    env.reset(seed=3)
    return env, error


@pytest.mark.parametrize("value", NOT_INDICES)
def test_only_integers_are_action_indices(family: tuple[Any, type[Exception]],
                                          value: Any) -> None:
    env, error = family
    before = env.snapshot()
    n = len(env.action_names)
    with pytest.raises(error) as caught:
        env.step({"agent_0": 0, "agent_1": value})
    message = str(caught.value)
    assert "actions['agent_1']=" in message and repr(value) in message
    assert f"allowed 0..{n - 1}" in message
    # Validated before anything is applied: agent_0's valid action was not taken either.
    assert env.snapshot() == before
    assert env.agents == ["agent_0", "agent_1"]


@pytest.mark.parametrize("value", [
    pytest.param(1, id="int"),
    pytest.param(np.int64(1), id="np.int64"),
    pytest.param(np.int32(1), id="np.int32"),
    pytest.param(np.uint8(1), id="np.uint8"),
])
def test_python_and_numpy_integers_are_accepted(family: tuple[Any, type[Exception]],
                                                value: Any) -> None:
    env, _ = family
    _, _, _, _, infos = env.step({"agent_0": value, "agent_1": 0})
    assert infos["agent_0"]["action"] == env.action_names[1]


@pytest.mark.parametrize("value", [-1, 99, np.int64(-1), np.int64(2**40)])
def test_out_of_range_integers_name_the_range(family: tuple[Any, type[Exception]],
                                              value: Any) -> None:
    env, error = family
    n = len(env.action_names)
    with pytest.raises(error, match=rf"actions\['agent_0'\]=.* is out of range; "
                                    rf"allowed 0\.\.{n - 1}"):
        env.step({"agent_0": value})


@pytest.mark.parametrize("actions", [None, [0, 0], 0, "agent_0"])
def test_step_needs_a_mapping(family: tuple[Any, type[Exception]], actions: Any) -> None:
    env, error = family
    before = env.snapshot()
    with pytest.raises(error, match="mapping"):
        env.step(actions)
    assert env.snapshot() == before


@pytest.mark.parametrize("name", list(GYM_ENVS))
def test_gymnasium_envs_take_what_their_discrete_space_contains(name: str) -> None:
    """Gymnasium's `Discrete` contains 0-d integer arrays (SB3's `model.predict` returns
    one for a single observation), so the single-agent envs take them; floats and bools
    stay rejected there too."""
    env = GYM_ENVS[name]()
    env.reset(seed=0)
    *_, info = env.step(np.array(1))
    assert info["action"] == env.action_names[1]
    *_, info = env.step(np.int64(0))
    assert info["action"] == env.action_names[0]
    for bad in (1.0, True, np.array(1.0), np.array([1])):
        with pytest.raises(ValueError, match="not an action index"):
            env.step(bad)


def test_bodies_pickled_without_a_later_field_load_with_its_default() -> None:
    """Snapshots taken before a body had `alive` (navigation, manipulation) still restore:
    `BodyRecord` fields keep class-level defaults."""
    body = navigation.NavigationWorld(navigation.NavigationConfig(task="ballet")).agents[0]
    del body.__dict__["alive"]  # as pickled by the old Body
    assert pickle.loads(pickle.dumps(body)).alive is True
