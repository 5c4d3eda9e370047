"""The manipulation perception adapter and scripted solver, and the proof that memory
matters: with memory the solver solves (nearly) every seed, with memory off it falls to
about chance, and wiping its memory once the cue is gone does the same (it keeps no cue
in Python). Relay variants work through messages only."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from memsim.agents.manipulation.perception import ManipulationPerception, cue_place
from memsim.agents.manipulation.solver import ManipulationSolver
from memsim.agents.manipulation.view import ManipulationDecoder
from memsim.agents.policy import AgentContext, Policy
from memsim.envs.manipulation import TASKS, ManipulationConfig, load_rules, parallel_env
from memsim.envs.manipulation.chance import chance_level
from memsim.memory import PlaceRecord, Recall

try:
    from benchmarks.manipulation_memory import success_rate
except ImportError:  # pytest run from elsewhere than the repository root
    sys.path.insert(0, str(Path(__file__).parents[2]))
    from benchmarks.manipulation_memory import success_rate

RULES = load_rules()
ACTION = {name: i for i, name in enumerate(RULES.actions)}
SEEDS = range(12)
SCENARIOS = sorted((Path(__file__).parents[2] / "scenarios").glob("manip-*.toml"))
# Where the cue is gone for good: the shuffle is over, the item has left its start cell.
FORGET_IN = {"take_it_back": "return"}


def _context(config: ManipulationConfig, obs: dict, step: int, recall: Recall | None = None,
             agent: str = "agent_0") -> AgentContext:
    return AgentContext(agent_id=agent, step=step, observation=obs, facts=[], inbox=[],
                        recall=recall, action_names=RULES.actions,
                        view=ManipulationDecoder(config).decode(obs))


def _record(kind: str, x: int, y: int, step: int, provenance: str = "observed") -> PlaceRecord:
    return PlaceRecord(f"ent:{kind}@{x},{y}", kind, x, y, 0, provenance, 1.0, step)


# ---- perception ---------------------------------------------------------------------


def test_perception_reports_items_and_cues_at_table_coordinates() -> None:
    config = ManipulationConfig(task="bunch_of_colors", difficulty=3)
    e = parallel_env(config)
    obs, _ = e.reset(seed=0)
    perception = ManipulationPerception("agent_0", config)
    facts = perception.perceive(perception.decode(obs["agent_0"]), {}, 0)
    cues = {f.subject: f.place for f in facts if f.kind == "seen_at"}
    shown = [RULES.colours[c - 1] for c in e.world.cue_sequence]
    assert cues == {f"cue_{c}_cube": cue_place(config, k) for k, c in enumerate(shown)}
    assert cue_place(config, 2) == (2, RULES.task("bunch_of_colors").table[1])
    assert not any(f.kind == "surveyed" for f in facts)  # a hidden cue must stay remembered
    while e.world.phase() != "action":
        obs, *_ = e.step({"agent_0": ACTION["noop"]})
    obs, _, _, _, infos = e.step({"agent_0": ACTION["up"]})
    facts = perception.perceive(perception.decode(obs["agent_0"]), infos["agent_0"],
                                e.world.step_count)
    seen = {(f.subject, f.place) for f in facts if f.kind == "seen_at"}
    gx, gy = e.world.grippers[0].x, e.world.grippers[0].y
    vw, vh = RULES.task("bunch_of_colors").view
    expected = {(f"{RULES.colours[i.colour - 1]}_cube", (i.x, i.y)) for i in e.world.items
                if abs(i.x - gx) <= vw // 2 and abs(i.y - gy) <= vh // 2}
    assert seen == expected and expected  # the display is blank now: no cue facts
    events = [f for f in facts if f.kind == "event"]
    assert events[0].subject == "up" and events[0].outcome == "success"


# ---- the solver in isolation ---------------------------------------------------------


def test_solver_is_a_policy_and_guesses_are_seeded() -> None:
    config = ManipulationConfig(task="shell_game")
    solver = ManipulationSolver(config)
    assert isinstance(solver, Policy)
    e = parallel_env(config)
    obs, _ = e.reset(seed=0)
    while e.world.phase() != "action" or e.world.step_count < e.world.delay_end + 1:
        obs, *_ = e.step({"agent_0": ACTION["noop"]})
    walks = set()
    for seed in range(12):
        solver.reset("agent_0", seed, RULES.actions)
        first = solver.decide(_context(config, obs["agent_0"], 30)).action
        solver.reset("agent_0", seed, RULES.actions)
        assert solver.decide(_context(config, obs["agent_0"], 30)).action == first
        walks.add(first)
    assert len(walks) > 1  # different seeds guess differently


def test_shell_solver_follows_the_moving_cup_into_memory() -> None:
    config = ManipulationConfig(task="shell_game")
    e = parallel_env(config)
    obs, _ = e.reset(seed=5)
    solver = ManipulationSolver(config)
    solver.reset("agent_0", 5, RULES.actions)
    ball = e.world.items[-1]
    start = (ball.x, ball.y)
    while not obs["agent_0"]["moved"].any():  # up to the first step the cups are seen moving
        start = (ball.x, ball.y)
        obs, *_ = e.step({"agent_0": ACTION["noop"]})
    recall = Recall(nearest=[_record("red_ball", *start, 0)])
    decision = solver.decide(_context(config, obs["agent_0"], e.world.step_count, recall))
    notes = {(n.kind, n.place, n.provenance) for n in decision.memory_notes}
    if (ball.x, ball.y) != start:
        assert notes == {("gone_from", start, "inferred"),
                         ("seen_at", (ball.x, ball.y), "inferred")}
    else:
        assert notes == set()
    # a cup that left some other cell is not the ball's
    recall = Recall(nearest=[_record("red_ball", 0, 0, 0)])
    assert not solver.decide(_context(config, obs["agent_0"], 9, recall)).memory_notes


def test_ordered_solver_goes_for_the_earliest_remaining_cue() -> None:
    config = ManipulationConfig(task="chain_of_colors")
    e = parallel_env(config)
    obs, _ = e.reset(seed=1)
    while e.world.phase() != "action":
        obs, *_ = e.step({"agent_0": ACTION["noop"]})
    solver = ManipulationSolver(config)
    solver.reset("agent_0", 1, RULES.actions)
    names = [RULES.colours[c - 1] for c in e.world.cue_sequence]
    for first in (0, 1):  # whichever the memory says came first is the target
        order = names[first:] + names[:first]
        recall = Recall(nearest=[_record(f"cue_{n}_cube", 0, 7, 5 * k, "told_by:agent_0")
                                 for k, n in enumerate(order)])
        reason = solver.decide(_context(config, obs["agent_0"], 20, recall)).reason
        assert f"still to touch: {order[0]}_cube" in reason


# ---- the proof: memory on solves, memory off guesses ---------------------------------


@pytest.mark.parametrize("task", TASKS)
def test_memory_solves_and_no_memory_is_chance(task: str) -> None:
    config = ManipulationConfig(task=task)  # type: ignore[arg-type]
    on = success_rate(config, SEEDS, memory=True)
    off = success_rate(config, SEEDS, memory=False)
    odds = chance_level(config)
    assert on >= 11 / 12, f"{task}: memory on solved {on:.2f}"
    # 12 seeds: allow sampling noise around chance, far below the memory rate
    assert off <= odds + 0.3 and on - off >= 0.5, f"{task}: memory off {off:.2f}"


@pytest.mark.parametrize("task", TASKS)
def test_forgetting_after_the_cue_is_like_no_memory(task: str) -> None:
    config = ManipulationConfig(task=task)  # type: ignore[arg-type]
    forgot = success_rate(config, SEEDS, memory=True, forget_in=FORGET_IN.get(task, "action"))
    assert forgot <= chance_level(config) + 0.3, f"{task}: solved {forgot:.2f} after forgetting"


@pytest.mark.parametrize(("task", "level"), [("remember_color", 9), ("remember_shape", 9),
                                             ("shell_game", 5), ("seq_of_colors", 9),
                                             ("chain_of_colors", 9), ("bunch_of_colors", 9),
                                             ("intercept", 2)])
def test_memory_solves_the_hardest_level(task: str, level: int) -> None:
    config = ManipulationConfig(task=task, difficulty=level)  # type: ignore[arg-type]
    assert success_rate(config, range(6), memory=True) == 1.0


# ---- relay --------------------------------------------------------------------------


@pytest.mark.parametrize("task", TASKS)
def test_relay_actor_acts_on_what_it_was_told(task: str) -> None:
    config = ManipulationConfig(task=task, relay=True, n_agents=2)  # type: ignore[arg-type]
    told = success_rate(config, range(8), memory=True)
    alone = success_rate(config, range(8), memory=True, comm=False)
    assert told >= 7 / 8, f"{task}: relay solved {told:.2f}"
    assert alone <= chance_level(config) + 0.35, f"{task}: without comm {alone:.2f}"


def test_relay_with_two_actors() -> None:
    config = ManipulationConfig(task="bunch_of_colors", relay=True, n_agents=3)
    assert success_rate(config, range(4), memory=True) == 1.0


# ---- scenarios ----------------------------------------------------------------------


def test_every_task_has_a_scenario_and_a_relay_scenario() -> None:
    names = {p.stem for p in SCENARIOS}
    for task in TASKS:
        base = "manip-" + task.replace("_", "-")
        assert {base, base + "-relay"} <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_env_tables_build_a_valid_config(path: Path) -> None:
    data = tomllib.loads(path.read_text())
    assert data["name"] == path.stem
    env = {k: v for k, v in data["env"].items() if k != "family"}
    assert data["env"]["family"] == "manipulation"
    config = ManipulationConfig(**env, n_agents=data["agents"]["count"],
                                max_steps=data["max_steps"])
    assert config.relay == path.stem.endswith("-relay")
    assert config.episode_steps == RULES.task(config.task).max_steps(config.level)
    assert success_rate(config, data["seeds"][:2], memory=data["memory"]["enabled"],
                        comm=data["comm"]["enabled"]) == 1.0
