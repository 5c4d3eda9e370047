"""Rules variants of the crafting world: rules files that extend another, the shipped
variants (`variants/<name>.toml`), specialists (roles the engine enforces), the split
manual and the sparse world."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from memsim.envs.crafting import CraftingConfig, CraftingWorld, parallel_env
from memsim.envs.crafting.rules import (
    DEFAULT_RULES_PATH,
    VARIANTS_DIR,
    RulesError,
    load_rules,
    variant_names,
)

SHIPPED = ["sparse", "specialists", "split-manual"]
SPECIALISTS = VARIANTS_DIR / "specialists.toml"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ---- extends ----------------------------------------------------------------------


def test_extends_deep_merges_tables_and_replaces_other_values(tmp_path: Path) -> None:
    path = _write(tmp_path / "mine.toml", f"""
extends = {str(DEFAULT_RULES_PATH)!r}
[worldgen]
iron = {{ prob = 0.5 }}
[team]
published = ["diamond"]
""")
    base, rules = load_rules(), load_rules(path)
    assert rules.worldgen["iron"] == {"noise": base.worldgen["iron"]["noise"], "prob": 0.5}
    assert rules.worldgen["coal"] == base.worldgen["coal"]
    assert rules.published == frozenset({"diamond"})  # a list replaces
    assert rules.milestones == base.milestones  # the rest of [team] is kept
    assert rules.make.keys() == base.make.keys()


def test_a_chain_of_extends_applies_in_order(tmp_path: Path) -> None:
    _write(tmp_path / "a" / "first.toml", f"""
extends = {str(SPECIALISTS)!r}
[worldgen]
diamond = {{ prob = 0.001 }}
""")
    path = _write(tmp_path / "second.toml", """
extends = "a/first.toml"
[team]
manual = "split"
""")
    rules = load_rules(path)
    assert rules.team_roles == ("builder", "miner")
    assert rules.worldgen["diamond"]["prob"] == 0.001
    assert rules.manual == "split"


def test_an_extends_cycle_names_the_files(tmp_path: Path) -> None:
    _write(tmp_path / "a.toml", 'extends = "b.toml"\n')
    _write(tmp_path / "b.toml", 'extends = "a.toml"\n')
    with pytest.raises(RulesError, match=r"extends makes a cycle: .*a\.toml.* -> .*b\.toml.* -> "
                                         r".*a\.toml"):
        load_rules(tmp_path / "a.toml")


@pytest.mark.parametrize(("text", "message"), [
    ('extends = "nowhere.toml"\n', r"mine\.toml': extends names 'nowhere\.toml', which does not"),
    ("extends = 3\n", r"mine\.toml': extends must be the path of a rules file"),
])
def test_bad_extends_names_the_file_and_the_field(tmp_path: Path, text: str,
                                                  message: str) -> None:
    with pytest.raises(RulesError, match=message):
        load_rules(_write(tmp_path / "mine.toml", text))


def test_an_error_in_an_extending_file_names_the_file_and_the_field(tmp_path: Path) -> None:
    path = _write(tmp_path / "mine.toml", f"""
extends = {str(SPECIALISTS)!r}
[roles.miner]
cannot = ["collect_gold"]
""")
    with pytest.raises(RulesError, match=r"mine\.toml': rules: roles\.miner\.cannot names "
                                         r"'collect_gold'; known: \['collect_tree'"):
        load_rules(path)


def test_rules_are_cached_per_resolved_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(VARIANTS_DIR)
    rules = load_rules(SPECIALISTS)
    assert load_rules(str(SPECIALISTS)) is rules
    assert load_rules("specialists.toml") is rules
    assert load_rules("../variants/specialists.toml") is rules
    assert load_rules() is load_rules(str(DEFAULT_RULES_PATH))


# ---- shipped variants and the config ------------------------------------------------


def test_the_shipped_variants_are_listed() -> None:
    assert variant_names() == SHIPPED
    for name in SHIPPED:
        first = (VARIANTS_DIR / f"{name}.toml").read_text().split("\n")
        assert 'extends = "../rules.toml"' in first


@pytest.mark.parametrize("name", SHIPPED)
def test_every_variant_loads_and_runs(name: str) -> None:
    config = CraftingConfig(variant=name, n_agents=2)
    assert config.rules is load_rules(VARIANTS_DIR / f"{name}.toml")
    env = parallel_env(config)
    env.reset(seed=0)
    assert env.world.rules is config.rules
    for _ in range(20):
        env.step({agent: 5 for agent in env.agents})


def test_an_unknown_variant_lists_the_shipped_ones() -> None:
    with pytest.raises(ValidationError, match=r"variant\n.*'gold' is unknown; allowed: "
                                              r"sparse, specialists, split-manual"):
        CraftingConfig(variant="gold")


def test_variant_and_rules_path_are_not_both_set() -> None:
    with pytest.raises(ValidationError, match=r"set variant \('sparse'\) or rules_path "
                                              r"\('mine.toml'\), not both"):
        CraftingConfig(variant="sparse", rules_path="mine.toml")


def test_a_rules_file_of_your_own_may_extend_a_variant(tmp_path: Path) -> None:
    path = _write(tmp_path / "mine.toml", f"""
extends = {str(SPECIALISTS)!r}
[team]
roles = ["miner"]
""")
    env = parallel_env(rules_path=str(path), n_agents=2)
    assert env.roles == {"agent_0": "miner", "agent_1": "miner"}


def test_a_scenario_env_table_may_name_a_variant() -> None:
    from memsim.sim.scenario import ScenarioError, validate_scenario

    data = {
        "name": "sparse-2", "version": 1, "seeds": [0], "max_steps": 100,
        "env": {"family": "crafting", "variant": "sparse", "width": 96, "height": 96},
        "agents": {"count": 2, "policy": "scripted"},
    }
    scenario = validate_scenario(data)
    assert scenario.env_config().variant == "sparse"
    data["env"] = {**data["env"], "variant": "dense"}
    with pytest.raises(ScenarioError, match=r"env\.variant: 'dense' is unknown; allowed: sparse"):
        validate_scenario(data)


# ---- roles ---------------------------------------------------------------------------


def test_roles_come_from_the_rules_file_unless_the_config_overrides_them() -> None:
    assert parallel_env(variant="specialists", n_agents=3).roles == {
        "agent_0": "builder", "agent_1": "miner", "agent_2": "builder"}
    assert parallel_env(variant="specialists", n_agents=3, roles=["miner"]).roles == {
        "agent_0": "miner", "agent_1": "miner", "agent_2": "miner"}
    assert set(parallel_env(variant="specialists", n_agents=2, roles=[]).roles.values()) == {
        None}
    assert set(parallel_env(n_agents=2).roles.values()) == {None}
    rules = load_rules(SPECIALISTS)
    assert rules.cannot("builder") == {"collect_stone", "collect_coal", "collect_iron",
                                       "collect_diamond"}
    assert "make_iron_pickaxe" in rules.cannot("miner") and rules.cannot(None) == frozenset()


def test_roles_in_the_config_must_be_defined() -> None:
    with pytest.raises(ValidationError, match=r"roles\n.*'wizard' is not a role of .*"
                                              r"specialists\.toml; allowed: builder, miner"):
        CraftingConfig(variant="specialists", roles=["builder", "wizard"])
    with pytest.raises(ValidationError, match=r"'miner' is not a role of .*rules\.toml; allowed: "
                                              r"none"):
        CraftingConfig(roles=["miner"])


def test_a_world_given_other_rules_checks_the_roles_too() -> None:
    config = CraftingConfig(variant="specialists", roles=["miner"])
    with pytest.raises(ValueError, match=r"roles: 'miner' is not a role of .*rules\.toml; "
                                         r"allowed: \[\]"):
        CraftingWorld(config, rules=load_rules())


@pytest.mark.parametrize(("text", "message"), [
    ('[roles.miner]\ncannot = ["make_gold"]\n', r"roles\.miner\.cannot names 'make_gold'"),
    ('[roles.miner]\ncannot = ["collect_wood"]\n', r"roles\.miner\.cannot names 'collect_wood'"),
    ("[roles.miner]\ncannot = 3\n", r"roles\.miner\.cannot must be a list"),
    ("[roles.miner]\n", r"roles\.miner is missing required key 'cannot'"),
    ('[team]\nroles = ["miner"]\n', r"team\.roles names 'miner'; known: \[\]"),
    ('[team]\nmanual = "half"\n', r"team\.manual is 'half'; allowed: \['full', 'split'\]"),
])
def test_bad_roles_and_manual_are_rejected(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path / "mine.toml", f"extends = {str(DEFAULT_RULES_PATH)!r}\n{text}")
    with pytest.raises(RulesError, match=message):
        load_rules(path)


def _world(roles: list[str] | None = None) -> CraftingWorld:
    """Two agents on a cleared grass field, no creatures; agent_0 at (20, 15) facing
    agent_1 at (21, 15), who faces it."""
    world = CraftingWorld(CraftingConfig(variant="specialists", n_agents=2, width=32,
                                         height=32, zombies=False, skeletons=False,
                                         cows=False, roles=roles))
    world.reset(seed=0)
    world.fill(8, 4, 30, 24, "grass")
    world.line_up(20, 15, spacing=1)
    world.teleport(0, 20, 15, facing=(1, 0))
    world.teleport(1, 21, 15, facing=(-1, 0))
    return world


def _act(world: CraftingWorld, index: int, action: str) -> None:
    actions: list[int | None] = [None, None]
    actions[index] = world.action_names.index(action)
    world.step(actions)


def _stage(world: CraftingWorld, index: int, operation: str) -> str:
    """Make `operation` possible for agent `index` (facing the cell at (x + 1, y) of
    agent_0's place) and return the action that does it."""
    world.teleport(1 - index, 10, 10)
    world.teleport(index, 20, 15, facing=(1, 0))
    verb, _, noun = operation.partition("_")
    rules = world.rules
    world.give_items(index, wood_pickaxe=1, stone_pickaxe=1, iron_pickaxe=1)
    if verb == "collect":
        world.set_material(21, 15, noun)
        return "do"
    world.set_material(20, 16, "table")
    world.set_material(19, 15, "furnace")
    world.give_items(index, **(rules.place[noun] if verb == "place" else rules.make[noun]).uses)
    return operation


@pytest.mark.parametrize(("index", "role", "operation"), [
    (i, role, op) for i, role in enumerate(("builder", "miner"))
    for op in sorted(load_rules(SPECIALISTS).cannot(role))
])
def test_a_forbidden_operation_fails_visibly_and_changes_nothing(index: int, role: str,
                                                                 operation: str) -> None:
    world = _world()
    action = _stage(world, index, operation)
    agent = world.agents[index]
    before = (list(agent.inventory), world.mat.copy(), world.kind.copy())
    _act(world, index, action)
    assert (agent.last_ok, agent.last_reason) == (
        False, f"agent_{index} is a {role} and cannot {operation}")
    assert agent.inventory == before[0] and not agent.achievements
    assert np.array_equal(world.mat, before[1]) and np.array_equal(world.kind, before[2])
    # Without roles the same staged action works.
    free = _world(roles=[])
    _act(free, index, _stage(free, index, operation))
    assert free.agents[index].last_ok, free.agents[index].last_reason
    assert operation in free.agents[index].achievements


def test_the_role_is_checked_before_anything_else() -> None:
    world = _world()
    world.teleport(1, 10, 10, facing=(-1, 0))
    world.set_material(21, 15, "stone")  # agent_0 faces it, without a pickaxe
    _act(world, 0, "do")
    assert world.agents[0].last_reason == "agent_0 is a builder and cannot collect_stone"
    _act(world, 1, "place_table")  # no wood
    assert world.agents[1].last_reason == "agent_1 is a miner and cannot place_table"


# The builder (agent_0, at (20, 15)) cuts trees around it, places a table and a furnace
# beside it and makes the pickaxes; the miner (agent_1, at (21, 15)) mines the stones above
# it, the coal to its right, the iron and the diamond below it. A blocked move only turns.
TREES = [(20, 16), (19, 15), (20, 14), (20, 13), (20, 12)]
STONES = [(21, 14), (21, 13), (21, 12), (21, 11), (21, 10)]
B, M = 0, 1
SCRIPT: list[tuple[int, str]] = [
    (B, "move_down"), (B, "do"), (B, "move_left"), (B, "do"), (B, "place_table"),
    (B, "move_up"), (B, "do"), (B, "move_up"), (B, "do"), (B, "move_up"), (B, "do"),
    (B, "move_down"), (B, "move_down"), (B, "make_wood_pickaxe"), (B, "move_right"),
    (B, "give_wood_pickaxe"),
    (M, "move_up"), (M, "do"),
    *[step for _ in range(4) for step in ((M, "move_up"), (M, "do"))],
    *[(M, "move_down")] * 4, (M, "move_right"), (M, "do"), (M, "move_left"),
    *[(M, "give_stone")] * 5, (M, "give_coal"),
    (B, "make_stone_pickaxe"), (B, "give_stone_pickaxe"),
    (B, "move_up"), (B, "move_down"), (B, "place_furnace"), (B, "move_right"),
    (M, "move_down"), (M, "do"), (M, "move_left"), (M, "give_iron"),
    (B, "make_iron_pickaxe"), (B, "give_iron_pickaxe"),
    (M, "move_down"), (M, "do"),
]


def _run_script(with_gives: bool) -> CraftingWorld:
    world = _world()
    for x, y in TREES:
        world.set_material(x, y, "tree")
    for x, y in STONES:
        world.set_material(x, y, "stone")
    world.set_material(22, 15, "coal")
    world.set_material(21, 16, "iron")
    world.set_material(21, 17, "diamond")
    for index, action in SCRIPT:
        if action.startswith("give_") and not with_gives:
            action = "noop"
        _act(world, index, action)
        agent = world.agents[index]
        if with_gives and not action.startswith("move_"):
            assert agent.last_ok, (index, action, agent.last_reason)
    return world


def test_a_diamond_takes_hand_overs_between_the_builder_and_the_miner() -> None:
    world = _run_script(with_gives=True)
    builder, miner = world.agents
    assert "collect_diamond" in miner.achievements
    assert world.team_achievements["collect_diamond"][1] == "agent_1"
    assert {"make_iron_pickaxe", "place_furnace", "give_item"} <= set(builder.achievements)
    assert {"collect_iron", "give_item"} <= set(miner.achievements)
    # The same actions without the hand-overs get nowhere near the diamond.
    alone = _run_script(with_gives=False)
    assert "collect_diamond" not in alone.team_achievements
    assert "collect_stone" not in alone.team_achievements
    assert "make_stone_pickaxe" not in alone.team_achievements


def test_without_roles_no_action_checks_them() -> None:
    world = CraftingWorld(CraftingConfig(n_agents=2))
    assert world._cannot is None and set(world.roles.values()) == {None}


# ---- the manual ----------------------------------------------------------------------


def test_the_split_manual_deals_the_recipe_book_out() -> None:
    from memsim.agents.crafting.perception import recipe_facts
    from memsim.sim.families import CRAFTING

    full = recipe_facts(load_rules())
    assert load_rules().manual == "full"
    assert recipe_facts(load_rules(), 1, 3) == full
    split = load_rules(VARIANTS_DIR / "split-manual.toml")
    assert split.manual == "split" and recipe_facts(split) == full  # one agent: all
    env = parallel_env(variant="split-manual", n_agents=3)
    shares = [CRAFTING.prior_facts(env, agent) for agent in env.possible_agents]
    assert shares == [full[0::3], full[1::3], full[2::3]]
    assert sorted(f.subject for s in shares for f in s) == sorted(f.subject for f in full)


# ---- the sparse world ----------------------------------------------------------------


def test_the_sparse_world_has_few_iron_and_diamond_deposits() -> None:
    from memsim.envs.crafting.worldgen import generate_world

    rules = load_rules(VARIANTS_DIR / "sparse.toml")
    mid = rules.material_ids
    diamonds, irons = [], []
    for seed in range(10):
        world = generate_world(rules, 96, 96, 6, np.random.SeedSequence(seed).spawn(2)[0])
        diamonds.append(int((world.materials == mid["diamond"]).sum()))
        irons.append(int((world.materials == mid["iron"]).sum()))
    assert min(diamonds) >= 2 and min(irons) >= 3
    assert np.median(diamonds) <= 4 and np.median(irons) <= 8
