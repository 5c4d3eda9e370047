"""Rules as data, world generation, and bad input."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from memsim.envs.crafting import ActionError, CraftingConfig, CraftingWorld, parallel_env
from memsim.envs.crafting.rules import DEFAULT_RULES_PATH, RulesError, load_rules, parse_rules
from memsim.envs.crafting.worldgen import generate_world


def _rules_data() -> dict:
    with DEFAULT_RULES_PATH.open("rb") as handle:
        return tomllib.load(handle)


def test_rules_match_crafter() -> None:
    """Our single-agent rules are Crafter's rules (checked against the PyPI package)."""
    constants = pytest.importorskip(
        "crafter.constants", reason="crafter (a dev dependency) is needed to compare rules"
    )
    rules = load_rules()
    assert rules.actions == tuple(constants.actions)
    assert rules.materials == tuple(constants.materials)
    assert set(rules.walkable) == set(constants.walkable)
    assert rules.items == constants.items
    assert rules.achievements[:22] == tuple(constants.achievements)
    for name, spec in constants.collect.items():
        ours = rules.collect[name]
        assert (ours.require, ours.receive, ours.leaves) == (
            spec["require"],
            spec["receive"],
            spec["leaves"],
        )
        assert ours.probability == spec.get("probability", 1.0)
    for name, spec in constants.place.items():
        ours = rules.place[name]
        assert (ours.uses, list(ours.where), ours.type) == (
            spec["uses"],
            spec["where"],
            spec["type"],
        )
    for name, spec in constants.make.items():
        ours = rules.make[name]
        assert (ours.uses, list(ours.nearby), ours.gives) == (
            spec["uses"],
            spec["nearby"],
            spec["gives"],
        )


def test_a_new_recipe_is_one_line_of_data(tmp_path: Path) -> None:
    text = DEFAULT_RULES_PATH.read_text()
    text = text.replace(
        '"make_wood_sword", "make_stone_sword", "make_iron_sword",',
        '"make_wood_sword", "make_stone_sword", "make_iron_sword", "make_diamond_sword",',
    )
    text = text.replace(
        "iron_sword = { max = 9, initial = 0 }",
        "iron_sword = { max = 9, initial = 0 }\ndiamond_sword = { max = 9, initial = 0 }",
    )
    text = text.replace(
        "[stations]",
        'diamond_sword = { uses = { wood = 1, diamond = 2 }, nearby = ["table"], gives = 1 }'
        "\n\n[stations]",
    )
    path = tmp_path / "rules.toml"
    path.write_text(text)
    world = CraftingWorld(CraftingConfig(rules_path=str(path), zombies=False))
    world.reset(seed=0)
    a0 = world.agents[0]
    world.set_material(a0.x + 1, a0.y, "table")
    world.give_items(0, wood=1, diamond=2)
    world.step([world.action_names.index("make_diamond_sword")])
    assert world.agents[0].inventory[world.item_index["diamond_sword"]] == 1
    assert world.agents[0].inventory[world.item_index["diamond"]] == 0


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["make"]["wood_pickaxe"]["uses"].update(gold=1),
            "make.wood_pickaxe.uses names 'gold'",
        ),
        (
            lambda d: d["collect"]["tree"].update(leaves="marble"),
            "collect.tree.leaves names 'marble'",
        ),
        (lambda d: d["place"]["table"].update(type="gas"), "place.table.type must be"),
        (lambda d: d["multi_agent"].update(giveable=["health"]), "multi_agent.giveable"),
        (lambda d: d.pop("survival"), "missing required key 'survival'"),
        (lambda d: d["team"].update(milestones=["collect_gold"]), "team.milestones names"),
        (lambda d: d["team"].update(published=["unicorn"]), "team.published names"),
        (lambda d: d.pop("team"), "missing required key 'team'"),
    ],
)
def test_inconsistent_rules_are_rejected_with_the_entry_named(edit, message: str) -> None:
    data = _rules_data()
    edit(data)
    with pytest.raises(RulesError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_rules(data)


def test_missing_rules_file() -> None:
    with pytest.raises(RulesError, match="does not exist"):
        load_rules("/nonexistent/rules.toml")


def test_same_seed_same_world_bit_for_bit() -> None:
    rules = load_rules()
    a = generate_world(rules, 64, 64, 4, 123)
    b = generate_world(rules, 64, 64, 4, 123)
    c = generate_world(rules, 64, 64, 4, 124)
    assert a.materials.tobytes() == b.materials.tobytes()
    assert a.creatures == b.creatures and a.spawn_points == b.spawn_points
    assert a.materials.tobytes() != c.materials.tobytes()


def test_worlds_have_crafter_terrain_and_a_diamond() -> None:
    rules = load_rules()
    seen = set()
    for seed in range(10):
        world = generate_world(rules, 64, 64, 2, seed)
        names = {rules.materials[i - 1] for i in np.unique(world.materials)}
        seen |= names
        minimum = rules.worldgen["min_count"]["diamond"]
        assert (world.materials == rules.material_ids["diamond"]).sum() >= minimum
        for x, y in world.spawn_points:
            assert rules.materials[world.materials[y, x] - 1] in rules.walkable
        assert len(set(world.spawn_points)) == 2
    assert seen >= {
        "water",
        "grass",
        "stone",
        "path",
        "sand",
        "tree",
        "lava",
        "coal",
        "iron",
        "diamond",
    }


def test_configurable_size_and_many_agents() -> None:
    env = parallel_env(width=40, height=24, n_agents=16)
    observations, _ = env.reset(seed=2)
    assert env.state()["materials"].shape == (24, 40)
    assert len(observations) == 16
    positions = {tuple(o["position"]) for o in observations.values()}
    assert len(positions) == 16  # no two agents share a cell


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"n_agents": 0}, "n_agents"),
        ({"obs_mode": "pixels"}, "obs_mode"),
        ({"width": 3}, "width"),
        ({"view_width": 8}, "view_width"),
        ({"reward": "selfish"}, "reward"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_config_names_the_field(overrides: dict, field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        parallel_env(**overrides)


def test_bad_actions_name_the_agent_and_the_allowed_values() -> None:
    env = parallel_env(n_agents=2)
    env.reset(seed=0)
    n = len(env.action_names)
    with pytest.raises(
        ActionError, match=rf"actions\['agent_0'\]=99 is out of range; allowed 0..{n - 1}"
    ):
        env.step({"agent_0": 99})
    with pytest.raises(ActionError, match="out of range"):
        env.step({"agent_0": -1})
    with pytest.raises(ActionError, match="not an action index"):
        env.step({"agent_0": "jump"})
    with pytest.raises(KeyError, match=r"agent_7.*allowed"):
        env.step({"agent_7": 0})
    with pytest.raises(KeyError, match="allowed"):
        env.observation_space("nobody")
    # The world is unchanged by rejected steps.
    assert env.world.step_count == 0


def test_bad_edit_calls_name_the_problem() -> None:
    world = CraftingWorld(CraftingConfig())
    world.reset(seed=0)
    with pytest.raises(ValueError, match="outside the world"):
        world.set_material(-1, 0, "tree")
    with pytest.raises(ValueError, match="material 'gold' is unknown"):
        world.set_material(0, 0, "gold")
    with pytest.raises(ValueError, match="item 'gold' is unknown"):
        world.give_items(0, gold=1)
