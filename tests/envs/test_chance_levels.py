"""Every memory task states its chance level (the best success rate a policy without memory
can reach) on its Gymnasium and PettingZoo envs, and the stated level holds up when
simulated: memoryless policies played through the real env, or the task's own generator
sampled over many seeds, succeed at the stated rate within a binomial tolerance."""

from __future__ import annotations

import json
import sys
from math import comb, perm, sqrt
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import memsim  # noqa: F401  (registers the Gymnasium ids)
from memsim.envs.manipulation import ManipulationConfig, ManipulationEnv
from memsim.envs.manipulation import parallel_env as manipulation_parallel_env
from memsim.envs.manipulation.chance import intercept_chance, take_back_chance
from memsim.envs.manipulation.engine import INTERCEPT_MARGIN, ManipulationWorld
from memsim.envs.manipulation.rules import PHASES
from memsim.envs.navigation import NavigationConfig, load_rules
from memsim.envs.navigation import chance as nav_chance
from memsim.envs.navigation import parallel_env as navigation_parallel_env

try:
    from benchmarks.navigation_memory import run_team_episode
except ImportError:  # pytest run from elsewhere than the repository root
    sys.path.insert(0, str(Path(__file__).parents[2]))
    from benchmarks.navigation_memory import run_team_episode


def _close(rate: float, chance: float, n: int, slack: float = 0.02) -> bool:
    """Within 4 binomial standard errors (plus `slack`) of the stated chance."""
    return abs(rate - chance) <= 4 * sqrt(chance * (1 - chance) / n) + slack


# ---- exposure -------------------------------------------------------------------------


def test_every_memory_task_states_its_chance_level_on_gymnasium_and_pettingzoo() -> None:
    ids = [i for i in gym.registry if i.startswith("memsim/")]
    memory_ids = [i for i in ids if i != "memsim/Crafter-v0"]
    assert len(memory_ids) == 13
    for gym_id in memory_ids:
        env = gym.make(gym_id)
        chance = env.unwrapped.chance_level
        assert isinstance(chance, float) and 0 < chance <= 1, gym_id
        inner = env.unwrapped._env
        assert inner.chance_level == chance  # the ParallelEnv states the same
    assert gym.make("memsim/Crafter-v0").unwrapped.chance_level is None  # not a memory task
    # the current level decides it
    assert navigation_parallel_env(task="ballet", difficulty=2).chance_level == pytest.approx(
        1 / load_rules().tasks["ballet"].level(2)["dancers"])
    assert manipulation_parallel_env(task="shell_game", difficulty=5).chance_level == 1 / 5
    seq = ManipulationEnv(ManipulationConfig(task="seq_of_colors"))
    assert seq.chance_level == 1 / comb(6, 3)  # 3 shown among 3 + 3 distractors
    assert ManipulationEnv(ManipulationConfig(task="chain_of_colors")).chance_level == \
        1 / perm(6, 3)


def test_memsim_list_shows_chance_levels(capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from memsim.cli import main

    monkeypatch.setenv("COLUMNS", "240")
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "chance" in out
    assert "0.333" in out  # shell game, remember colour / shape at their default level


# ---- manipulation: memoryless policies through the env ------------------------------------


def _toward(here: np.ndarray, cell: tuple[int, int]) -> str:
    dx, dy = cell[0] - int(here[0]), cell[1] - int(here[1])
    if dx:
        return "right" if dx > 0 else "left"
    if dy:
        return "down" if dy > 0 else "up"
    return "touch"


def _items_in_view(obs: dict[str, Any]) -> dict[tuple[int, int], int]:
    """Cell -> colour * 100 + shape of every item the agent sees."""
    vh, vw = obs["colour"].shape
    x, y = (int(v) for v in obs["position"])
    return {(x - vw // 2 + c, y - vh // 2 + r): int(obs["colour"][r, c]) * 100
            + int(obs["shape"][r, c]) for r, c in zip(*np.nonzero(obs["shape"]), strict=True)}


def _play(config: ManipulationConfig, episodes: int, choose: Any) -> float:
    """Success rate of a policy that, in the acting phase, walks to and touches the cells
    `choose(first acting observation)` names, in order (it remembers only its own plan)."""
    env = ManipulationEnv(config)
    names = env.action_names
    wins = 0
    for seed in range(episodes):
        obs, _ = env.reset(seed=seed)
        plan: list[tuple[int, int]] | None = None
        done = False
        info: dict[str, Any] = {}
        while not done:
            action = "noop"
            if PHASES[int(obs["phase"])] == "action":
                plan = choose(obs) if plan is None else plan
                if plan:
                    action = _toward(obs["position"], plan[0])
                    if action == "touch":
                        plan = plan[1:]
            obs, _, terminated, truncated, info = env.step(names.index(action))
            done = terminated or truncated
        wins += info["outcome"] == "success"
    return wins / episodes


def _lowest(k: int) -> Any:
    """Touch the k items of the lowest colour / shape code in view, lowest first."""
    def choose(obs: dict[str, Any]) -> list[tuple[int, int]]:
        return [cell for cell, _ in sorted(_items_in_view(obs).items(), key=lambda kv: kv[1])][:k]
    return choose


@pytest.mark.parametrize("task", ["remember_color", "remember_shape", "seq_of_colors",
                                  "bunch_of_colors"])
def test_a_memoryless_guess_succeeds_at_the_stated_chance(task: str) -> None:
    config = ManipulationConfig(task=task)
    chance = ManipulationEnv(config).chance_level
    episodes = 400
    rate = _play(config, episodes, _lowest(config.level))
    assert _close(rate, chance, episodes), f"{task}: {rate:.3f} vs chance {chance:.3f}"


def test_shell_game_a_fixed_cup_succeeds_at_the_stated_chance() -> None:
    config = ManipulationConfig(task="shell_game")
    world = ManipulationWorld(config)
    first_cup = (world.items[0].x, world.items[0].y)  # the cups' slots do not change
    chance = ManipulationEnv(config).chance_level
    episodes = 300
    rate = _play(config, episodes, lambda obs: [first_cup])
    assert chance == pytest.approx(1 / 3)
    assert _close(rate, chance, episodes), f"{rate:.3f} vs chance {chance:.3f}"


@pytest.mark.slow
def test_chain_of_colors_a_memoryless_guess_succeeds_at_the_stated_chance() -> None:
    config = ManipulationConfig(task="chain_of_colors")
    chance = ManipulationEnv(config).chance_level
    rate = _play(config, 1500, _lowest(config.level))
    assert _close(rate, chance, 1500, slack=0.005), f"{rate:.4f} vs chance {chance:.4f}"


# ---- manipulation: the derivations against the task's own generator ------------------------


def test_intercept_the_best_fixed_catch_succeeds_at_the_stated_chance() -> None:
    config = ManipulationConfig(task="intercept")
    world = ManipulationWorld(config)
    width, height = world.width, world.height
    chance = ManipulationEnv(config).chance_level
    assert chance == intercept_chance(width, height, config.level, world.cue_end,
                                      config.episode_steps, INTERCEPT_MARGIN[False])
    # the best (cell, step) of the derivation, found again from sampled worlds
    episodes = 4000
    counts: dict[tuple[int, int, int], int] = {}
    cx, cy = width // 2, height // 2
    for seed in range(episodes):
        world.reset(seed)
        for t in range(world.cue_end, config.episode_steps):
            x, y = world.ball_at(t)
            if not world.on_table(x, y):
                break
            if abs(x - cx) + abs(y - cy) <= t - world.cue_end:
                counts[(x, y, t)] = counts.get((x, y, t), 0) + 1
    best = max(counts.values()) / episodes
    assert _close(best, chance, episodes), f"{best:.4f} vs chance {chance:.4f}"


def test_take_it_back_a_guessed_origin_succeeds_at_the_stated_chance() -> None:
    config = ManipulationConfig(task="take_it_back")
    world = ManipulationWorld(config)
    chance = ManipulationEnv(config).chance_level
    assert chance == take_back_chance(world.width, world.height)
    episodes, wins = 6000, 0
    for seed in range(episodes):
        world.reset(seed)
        assert world.target is not None and world.origin is not None
        tx, ty = world.target
        centre = (world.width // 2, world.height // 2)
        # a fixed guess given the mark: the first cell in reading order an origin may be
        guess = next((x, y) for y in range(world.height) for x in range(world.width)
                     if (x, y) != centre and abs(x - tx) + abs(y - ty) >= 3)
        wins += guess == world.origin
    assert _close(wins / episodes, chance, episodes), f"{wins / episodes:.4f} vs {chance:.4f}"


# ---- navigation -------------------------------------------------------------------------


def _memory_off(task: str, episodes: int) -> tuple[float, float]:
    """The scripted solver's success with memory off over seeds 0..episodes-1, and the
    task's stated chance level (default level)."""
    config = NavigationConfig(task=task)
    rate = sum(run_team_episode(config, seed, False)["outcome"] == "success"
               for seed in range(episodes)) / episodes
    return rate, navigation_parallel_env(config).chance_level


@pytest.mark.parametrize("task", ["ballet", "object_permanence"])
def test_navigation_memory_off_solver_guesses_at_the_stated_chance(task: str) -> None:
    episodes = 60
    rate, chance = _memory_off(task, episodes)
    assert _close(rate, chance, episodes, slack=0.05), f"{task}: {rate:.3f} vs {chance:.3f}"


def test_mortar_mayhem_a_guessed_tile_chain_succeeds_at_the_stated_chance() -> None:
    """The derivation is an exact expectation over the generator's tile chain: the task's
    own generator, with a uniformly guessed tile each command, agrees."""
    config = NavigationConfig(task="mortar_mayhem")
    env = navigation_parallel_env(config)
    chance = env.chance_level
    rules = load_rules().tasks["mortar_mayhem"]
    arena, hop = int(rules.params["arena"]), int(rules.params["max_hop"])
    rng = np.random.default_rng(0)
    episodes, wins = 3000, 0
    for seed in range(episodes):
        env.reset(seed=seed)
        here = (arena // 2 + 1, arena // 2 + 1)
        right = True
        for target in env.world.grid.targets:
            options = nav_chance.tile_options(here, arena, hop)
            assert target.cell in options  # the generator draws among these
            right &= options[int(rng.integers(len(options)))] == target.cell
            here = target.cell
        wins += right
    assert _close(wins / episodes, chance, episodes, slack=0.002), f"{wins / episodes} vs {chance}"


@pytest.mark.slow
@pytest.mark.parametrize("task", ["mortar_mayhem", "mystery_path", "neighbourhood"])
def test_navigation_memory_off_solver_stays_at_or_below_the_stated_chance(task: str) -> None:
    episodes = 40
    rate, chance = _memory_off(task, episodes)
    assert rate <= chance + 4 * sqrt(max(chance, 0.01) / episodes), f"{task}: {rate:.3f}"


def test_mystery_path_estimate_converges_from_the_generator() -> None:
    """The estimate is E[P(most likely path | start, goal)] over the generator's paths: with
    one attempt it is at least 1 / (distinct start-goal pairs) / samples and at most 1."""
    level = load_rules().tasks["mystery_path"].level(1)
    args = (level["size"], level["min_path"], level["max_path"], 1)
    small = nav_chance.mystery_path_chance(*args, samples=500, seed=1)
    large = nav_chance.mystery_path_chance(*args, samples=2000, seed=1)
    assert 0 < large <= small <= 1  # more samples, less of the max's upward bias
    assert nav_chance.mystery_path_chance(*args[:3], 3, samples=2000, seed=1) >= large


def _mystery_path_keys() -> list[tuple[str, tuple[int, int, int, int]]]:
    task = load_rules().tasks["mystery_path"]
    out = []
    for number in range(1, len(task.levels) + 1):
        level = task.level(number)
        args = (level["size"], level["min_path"], level["max_path"], level["max_falls"] + 1)
        out.append((nav_chance.mystery_path_key(*args), args))
    return out


def test_every_mystery_path_level_has_its_chance_level_shipped() -> None:
    """The shipped figures match the current generator and levels (a changed generator or
    level changes the key): regenerate chance_levels.json with `mystery_path_chance`."""
    shipped = json.loads(nav_chance.SHIPPED.read_text())
    missing = [key for key, _ in _mystery_path_keys() if key not in shipped]
    assert not missing, f"envs/navigation/chance_levels.json lacks {missing}"


@pytest.mark.slow  # 100k sampled paths: about a minute
def test_the_shipped_mystery_path_chance_level_is_what_the_generator_gives() -> None:
    key, args = _mystery_path_keys()[0]
    shipped = json.loads(nav_chance.SHIPPED.read_text())[key]
    assert nav_chance._sample_mystery_path(*args, nav_chance.MYSTERY_SAMPLES,
                                           nav_chance.MYSTERY_SEED) == shipped
