"""RL agents: flat encoding, memory features, training wrappers, PPO scripts and `RLPolicy`
playing in a real team step next to a scripted agent."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test

from examples import load_example
from memsim.agents.crafting.view import CraftingDecoder
from memsim.agents.policy import AgentContext, Decision
from memsim.agents.rl import (
    FlatObservation,
    FlatTeamEnv,
    MemoryFeatureObservation,
    MemoryFeatureTracker,
    ObservationEncoder,
    RLPolicy,
    feature_query,
    load_settings,
    make_rl_policy,
    make_rl_policy_from_table,
    memory_features,
)
from memsim.agents.rl.settings import MemoryFeatureSettings
from memsim.envs.crafting import CrafterEnv, CraftingConfig, CraftingParallelEnv, CraftingWorld
from memsim.envs.crafting.engine import DIRECTIONS
from memsim.envs.crafting.observation import Observer
from memsim.envs.crafting.rules import load_rules
from memsim.memory import PlaceRecord, Recall
from memsim.sim.comm import CommConfig
from memsim.sim.episode import build_team, make_executor, run_team
from memsim.sim.rl_training import make_team_parallel_env
from memsim.sim.scenario import MemoryConfig
from memsim.sim.team import StepRecord

QUIET = {"zombies": False, "skeletons": False}
# Small, fast training settings (a settings file is also what users pass with --settings).
FAST_SETTINGS = """
[env]
max_steps = 100
zombies = false
skeletons = false
[ppo]
n_steps = 64
batch_size = 32
n_epochs = 2
[team]
n_agents = 2
num_vec_envs = 2
[eval]
episodes = 1
"""


def clearing(n_agents: int = 1) -> CraftingWorld:
    """A world with a grass clearing in the middle and the agents lined up facing right."""
    world = CraftingWorld(CraftingConfig(n_agents=n_agents, cows=False, **QUIET))
    world.reset(seed=0)
    cx, cy = world.width // 2, world.height // 2
    world.fill(cx - 30, cy - 8, cx + 12, cy + 8, "grass")
    world.line_up(cx, cy, facing=DIRECTIONS["right"])
    return world


def context(obs: dict, recall: Recall | None = None, agent: str = "agent_0") -> AgentContext:
    return AgentContext(agent_id=agent, step=0, observation=obs, facts=[], inbox=[],
                        recall=recall, view=CraftingDecoder(load_rules()).decode(obs))


# ---- encoding ---------------------------------------------------------------------------


def test_flat_encoding_has_a_fixed_size_inside_its_box_and_reflects_the_view() -> None:
    env = CraftingParallelEnv(n_agents=2, **QUIET)
    rules = env.world.rules
    encoder = ObservationEncoder(rules)
    sizes = set()
    rng = np.random.default_rng(0)
    for seed in range(3):
        observations, _ = env.reset(seed=seed)
        for _ in range(30):
            for obs in observations.values():
                vector = encoder.encode(obs)
                sizes.add(vector.shape)
                assert vector.dtype == np.float32 and encoder.space.contains(vector)
            observations, *_ = env.step({a: int(rng.integers(len(env.action_names)))
                                         for a in env.agents})
    assert sizes == {(encoder.size,)}
    # 9x7 view: 13 material + 6 object channels per cell, then 12 + 4 + 4 + 3 body values.
    assert encoder.size == 63 * (13 + 6) + 12 + 4 + 4 + 3
    # The material under the centre cell of the view is one-hot where the layout says.
    obs = observations[env.agents[0]]
    centre = 3 * 9 + 4
    material = int(obs["materials"][3, 4])
    one_hot = encoder.encode(obs)[centre * 13:(centre + 1) * 13]
    assert one_hot.argmax() == material and one_hot.sum() == 1.0
    # Changing one inventory count changes exactly its scaled slot.
    richer = {**obs, "inventory": obs["inventory"].copy()}
    wood = rules.item_names.index("wood")
    richer["inventory"][wood] = 9
    diff = np.flatnonzero(encoder.encode(richer) != encoder.encode(obs))
    assert diff.tolist() == [63 * 19 + wood] and encoder.encode(richer)[diff[0]] == 1.0


def test_encoder_rejects_other_view_sizes_and_unknown_parts() -> None:
    world = clearing()
    obs = Observer(world).symbolic(0)
    with pytest.raises(ValueError, match=r"shape \(7, 9\).*\(5, 5\)"):
        ObservationEncoder(world.rules, 5, 5).encode(obs)
    with pytest.raises(ValueError, match="allowed: materials, objects"):
        ObservationEncoder(world.rules, parts=("materials", "position"))
    with pytest.raises(ValueError, match="crafting world's symbolic observation"):
        ObservationEncoder(world.rules).encode({"grid": np.zeros((7, 9))})


def test_settings_file_errors_name_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[encoding]\nparts = ["materials", "map"]\n[ppo]\nn_step = 3\n')
    with pytest.raises(ValueError, match=r"encoding\.parts\.1.*'materials'") as err:
        load_settings(bad)
    assert "ppo.n_step" in str(err.value)
    bad.write_text("[env]\nzombies = 'often'\n")
    with pytest.raises(ValueError, match="env"):
        load_settings(bad)
    with pytest.raises(FileNotFoundError, match=r"missing\.toml"):
        load_settings(tmp_path / "missing.toml")


def test_gymnasium_check_env_passes_on_the_wrapped_single_agent_env() -> None:
    flat = FlatObservation(CrafterEnv(max_steps=50, **QUIET))
    check_env(flat, skip_render_check=True)
    memory = MemoryFeatureObservation(CrafterEnv(max_steps=50, **QUIET))
    check_env(memory, skip_render_check=True)
    assert memory.observation_space.shape == (flat.observation_space.shape[0] + 4 * 9,)
    obs, _ = memory.reset(seed=1)
    again, _ = memory.reset(seed=1)
    np.testing.assert_array_equal(obs, again)


# ---- memory features ------------------------------------------------------------------


def test_memory_features_take_the_nearest_place_of_each_kind() -> None:
    def place(kind: str, x: int, y: int) -> PlaceRecord:
        return PlaceRecord(f"ent:{kind}@{x},{y}", kind, x, y, None, "observed", 1.0, 0)

    recall = Recall(nearest=[place("iron", 20, 10), place("iron", 12, 6), place("cow", 0, 0)])
    features = memory_features(recall, (10, 10), ("diamond", "iron"), scale=8.0)
    np.testing.assert_allclose(features, [0, 0, 0, 0, 1, 2 / 8, -4 / 8, 6 / 8])
    far = memory_features(Recall(nearest=[place("iron", 100, 10)]), (10, 10), ("iron",), 8.0)
    np.testing.assert_allclose(far, [1, 1, 0, 1])  # clipped to [-1, 1]
    assert not memory_features(None, (3, 3), ("iron",)).any()
    assert feature_query(("iron",), (3, 4)).nearest == ("iron",)


def test_memory_features_carry_a_resource_that_is_out_of_view() -> None:
    world = clearing()
    agent = world.agents[0]
    x0, y0 = agent.x, agent.y
    world.set_material(x0 + 3, y0 + 1, "diamond")
    settings = MemoryFeatureSettings(kinds=("diamond", "iron"), scale=32.0)
    observer = Observer(world)
    saw_it = MemoryFeatureTracker("agent_0", world.rules, settings, "test-rl/saw")
    before = saw_it.reset(observer.symbolic(0))
    np.testing.assert_allclose(before, [1, 3 / 32, 1 / 32, 4 / 32, 0, 0, 0, 0])
    # Walk away: 20 cells left, the diamond is now far out of the 9x7 view.
    world.teleport(0, x0 - 20, y0)
    obs = observer.symbolic(0)
    encoder = ObservationEncoder(world.rules)
    diamond_id = world.rules.materials.index("diamond") + 1
    assert not (obs["materials"] == diamond_id).any()
    remembered = saw_it.observe(obs)
    np.testing.assert_allclose(remembered, [1, 23 / 32, 1 / 32, 24 / 32, 0, 0, 0, 0])
    # An agent standing at the same spot with the same view but no such memory: the
    # encodings are identical, only the memory features tell the two apart.
    never_saw = MemoryFeatureTracker("agent_0", world.rules, settings, "test-rl/never")
    fresh = never_saw.reset(obs)
    assert not fresh.any()
    np.testing.assert_array_equal(encoder.encode(obs), encoder.encode(observer.symbolic(0)))
    # And the wrapper forgets the old world at reset.
    assert not saw_it.reset(obs).any()


def test_unknown_memory_kinds_are_rejected_with_the_allowed_names() -> None:
    world = clearing()
    settings = MemoryFeatureSettings(kinds=("unobtainium",))
    with pytest.raises(ValueError, match=r"unobtainium.*allowed: water, grass"):
        MemoryFeatureTracker("agent_0", world.rules, settings, "test-rl/bad")


# ---- the multi-agent training env -----------------------------------------------------


def test_flat_team_env_passes_the_parallel_api_test() -> None:
    settings = load_settings()
    parallel_api_test(make_team_parallel_env(settings, memory_features=True), num_cycles=60)


def test_flat_team_env_pads_agents_that_dropped_out_until_the_episode_ends() -> None:
    inner = CraftingParallelEnv(n_agents=2, cows=False, team_goal=None, **QUIET)
    env = FlatTeamEnv(inner)
    env.reset(seed=0)
    world = inner.world
    cx, cy = world.width // 2, world.height // 2
    world.fill(cx - 4, cy - 4, cx + 8, cy + 4, "grass")
    world.line_up(cx, cy, spacing=3, facing=DIRECTIONS["right"])
    world.set_material(cx + 4, cy, "lava")  # right of agent_1
    right, noop = inner.action_names.index("move_right"), inner.action_names.index("noop")
    obs, rewards, terms, truncs, _ = env.step({"agent_0": noop, "agent_1": right})
    assert terms == {"agent_0": False, "agent_1": True} and env.agents == ["agent_0", "agent_1"]
    assert inner.agents == ["agent_0"]
    # agent_1 is out: zero observation, no reward, its action ignored; agent_0 plays on.
    obs, rewards, terms, truncs, _ = env.step({"agent_0": noop, "agent_1": right})
    assert not obs["agent_1"].any() and obs["agent_0"].any()
    assert rewards["agent_1"] == 0.0 and not terms["agent_1"] and not truncs["agent_1"]
    world.set_material(cx + 1, cy, "lava")  # right of agent_0
    obs, rewards, terms, truncs, _ = env.step({"agent_0": right, "agent_1": noop})
    assert terms["agent_0"] and truncs["agent_1"] and env.agents == []
    with pytest.raises(RuntimeError, match="reset"):
        env.step({"agent_0": noop})


# ---- RLPolicy ----------------------------------------------------------------------------


def linear_model(encoder: ObservationEncoder, n_actions: int, favourite: int,
                 extra_inputs: int = 0) -> torch.nn.Module:
    """A torch policy whose logits always favour one action."""
    model = torch.nn.Linear(encoder.size + extra_inputs, n_actions)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.zero_()
        model.bias[favourite] = 5.0
    return model


def test_rl_policy_with_a_torch_module_decides_and_explains() -> None:
    world = clearing()
    encoder = ObservationEncoder(world.rules)
    do = world.action_names.index("do")
    policy = RLPolicy(linear_model(encoder, len(world.action_names), do), encoder,
                      model_name="tiny")
    policy.reset("agent_0", 0, world.action_names)
    decision = policy.decide(context(Observer(world).symbolic(0)))
    assert isinstance(decision, Decision) and decision.action == do
    assert decision.reason == "rl: tiny action do"
    assert policy.recall_query(context(Observer(world).symbolic(0))) is None


def test_rl_policy_sampling_is_seeded_per_episode_and_agent() -> None:
    world = clearing()
    encoder = ObservationEncoder(world.rules)
    flat = torch.nn.Linear(encoder.size, len(world.action_names))
    with torch.no_grad():
        flat.weight.zero_()
        flat.bias.zero_()  # uniform: every action equally likely
    obs = Observer(world).symbolic(0)

    def actions(seed: int) -> list[int]:
        policy = RLPolicy(flat, encoder, deterministic=False)
        policy.reset("agent_0", seed, world.action_names)
        return [policy.decide(context(obs)).action for _ in range(20)]

    assert actions(1) == actions(1)
    assert actions(1) != actions(2)


def test_rl_policy_memory_features_come_from_recall_and_are_zero_without_it() -> None:
    world = clearing()
    encoder = ObservationEncoder(world.rules)
    kinds = ("diamond", "iron")
    model = linear_model(encoder, len(world.action_names), 0, extra_inputs=8)
    policy = RLPolicy(model, encoder, memory_kinds=kinds, memory_scale=32.0)
    policy.reset("agent_0", 0, world.action_names)
    obs = Observer(world).symbolic(0)
    x, y = (int(v) for v in obs["position"])
    query = policy.recall_query(context(obs))
    assert query is not None and query.nearest == kinds and query.position == (x, y)
    recall = Recall(nearest=[PlaceRecord("n", "iron", x - 5, y, 5, "observed", 1.0, 0)])
    with_recall = policy.observation_vector(context(obs, recall))
    np.testing.assert_allclose(with_recall[-8:], [0, 0, 0, 0, 1, -5 / 32, 0, 5 / 32])
    assert not policy.observation_vector(context(obs, None))[-8:].any()


def test_make_rl_policy_errors_name_the_file_and_the_sizes(tmp_path: Path) -> None:
    world = clearing()
    encoder = ObservationEncoder(world.rules)
    with pytest.raises(FileNotFoundError, match=r"nowhere\.zip"):
        make_rl_policy(tmp_path / "nowhere.zip")
    odd = tmp_path / "model.onnx"
    odd.write_bytes(b"x")
    with pytest.raises(ValueError, match=r"allowed: \.zip"):
        make_rl_policy(odd)
    module_path = tmp_path / "flat.pt"
    torch.save(linear_model(encoder, len(world.action_names), 1), module_path)
    policy = make_rl_policy(module_path, memory_features=False)
    policy.reset("agent_0", 0, world.action_names)
    assert policy.decide(context(Observer(world).symbolic(0))).action == 1
    with pytest.raises(ValueError, match=r"takes 1220 inputs but this policy makes 1256"):
        make_rl_policy(module_path, memory_features=True)
    # The scenario's [rl] table: plain data, keys checked.
    table = make_rl_policy_from_table({"model_path": str(module_path), "view_width": 9})
    assert table.input_size == 1220
    with pytest.raises(ValueError, match=r"rl\.model_path: required"):
        make_rl_policy_from_table({})
    with pytest.raises(ValueError, match=r"unknown keys \['model'\]; allowed: model_path"):
        make_rl_policy_from_table({"model": "x.zip"})
    with pytest.raises(ValueError, match=r"takes 1220 inputs but this policy makes 498"):
        make_rl_policy(module_path, view_width=5, view_height=5)
    state_path = tmp_path / "weights.pt"
    torch.save(linear_model(encoder, 29, 1).state_dict(), state_path)
    with pytest.raises(ValueError, match=r"not a torch\.nn\.Module"):
        make_rl_policy(state_path)


# ---- training, and RL agents in a real team step ------------------------------------------


@pytest.fixture(scope="module")
def fast_settings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rl") / "fast.toml"
    path.write_text(FAST_SETTINGS)
    return path


@pytest.fixture(scope="module")
def memory_model(tmp_path_factory: pytest.TempPathFactory, fast_settings: Path) -> Path:
    """A PPO trained briefly with memory features by the example script."""
    out = tmp_path_factory.mktemp("rl") / "crafter_mem.zip"
    result = load_example("train_ppo_crafter").main([
        "--timesteps", "512", "--seed", "0", "--out", str(out), "--memory-features",
        "--settings", str(fast_settings)])
    assert result.timesteps >= 512 and result.obs_size == 1220 + 36
    return out


@pytest.mark.slow
def test_ppo_script_trains_and_saves_a_model_that_rl_policy_loads(
        memory_model: Path, fast_settings: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert memory_model.is_file()
    policy = make_rl_policy(memory_model, memory_features=True, settings=fast_settings)
    assert policy.model.num_timesteps >= 512 and policy.model_name == "crafter_mem"
    # A checkpoint pickles the policies: the model must survive it and act the same.
    world = clearing()
    policy.reset("agent_0", 0, world.action_names)
    copy = pickle.loads(pickle.dumps(policy))
    obs = Observer(world).symbolic(0)
    assert copy.decide(context(obs)).action == policy.decide(context(obs)).action
    with pytest.raises(ValueError, match="takes 1256 inputs but this policy makes 1220"):
        make_rl_policy(memory_model, memory_features=False, settings=fast_settings)


def mixed_team(model: Path, seed: int, memory_features: bool, settings: Path,
               memory: bool = True) -> tuple[list[StepRecord], object]:
    """agent_0 scripted, agent_1 the RL policy, in one world with one comm channel."""
    records: list[StepRecord] = []
    config = CraftingConfig(n_agents=2, **QUIET)
    runtime, state = build_team(config, ["scripted", "random"], seed,
                                MemoryConfig(enabled=memory), CommConfig(),
                                namespace=f"test-rl-{seed}", on_step=records.append)
    policy = make_rl_policy(model, memory_features, settings=settings)
    policy.reset("agent_1", seed, runtime.env.action_names)
    runtime.agents["agent_1"].policy = policy
    try:
        run_team(runtime, state, make_executor("direct", runtime), 60)
    finally:
        runtime.close()
    return records, runtime


@pytest.mark.slow
def test_rl_and_scripted_agents_play_one_world_sharing_one_comm_channel(
        memory_model: Path, fast_settings: Path) -> None:
    records, runtime = mixed_team(memory_model, seed=2, memory_features=True,
                                  settings=fast_settings)
    n_actions = len(runtime.env.action_names)
    rl = [r.agents["agent_1"] for r in records if "agent_1" in r.agents]
    scripted = [r.agents["agent_0"] for r in records if "agent_0" in r.agents]
    assert len(rl) == 60
    assert all(r["reason"].startswith("rl: crafter_mem action ") for r in rl)
    assert all(0 <= r["action_id"] < n_actions and r["reason"].endswith(r["action"])
               for r in rl)
    assert not any(r["reason"].startswith("rl:") for r in scripted)
    # Its memory-feature query was answered by its own memory every step...
    assert all(r["retrieved"] for r in rl[1:])
    # ...and what the scripted teammate sent over the shared channel reached it.
    assert runtime.comm.metrics.total.delivered > 0
    assert any(r["messages_read"] for r in rl)
    # Same seed, same trajectory.
    again, _ = mixed_team(memory_model, seed=2, memory_features=True, settings=fast_settings)
    assert [r.agents for r in again] == [r.agents for r in records]


@pytest.mark.slow
def test_shared_policy_team_training_runs_and_its_model_plays_with_memory_off(
        tmp_path: Path, fast_settings: Path) -> None:
    out = tmp_path / "team.zip"
    result = load_example("train_ppo_team").main([
        "--timesteps", "300", "--seed", "1", "--out", str(out), "--settings", str(fast_settings)])
    # One rollout is n_steps (64) x 2 worlds x 2 agents = 256 agent-steps.
    assert result.timesteps >= 300 and out.is_file() and result.obs_size == 1220
    records, _ = mixed_team(out, seed=3, memory_features=False, settings=fast_settings,
                            memory=False)
    rl = [r.agents["agent_1"] for r in records if "agent_1" in r.agents]
    assert rl and all(r["reason"].startswith("rl: team action ") and r["retrieved"] == []
                      for r in rl)
