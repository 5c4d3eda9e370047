"""Do the memory tasks need memory, and does graph memory help an RL agent? One row per
task x level x method x training seed, resumable.

    nice -n 10 .venv/bin/python benchmarks/rl_memory_tasks.py --out docs/bench/rl-memory \\
        [--tasks ballet shell_game] [--levels 1 2] [--seeds 0 1 2] [--steps 100000] \\
        [--methods ppo ppo_raw ppo_graph recurrent_ppo scripted] [--episodes 100] \\
        [--workers 2]
    .venv/bin/python benchmarks/rl_memory_tasks.py --out docs/bench/rl-memory --report

Methods:

- ``ppo``: Stable-Baselines3 PPO, ``MultiInputPolicy`` on the current observation only
  (the env's Dict observation, each bounded Box divided by its bound:
  `agents.rl.ScaledObservation`, for every learner), 4 envs. No `VecNormalize`: with its
  running observation statistics PPO did not learn even Ballet's mechanics (0.00 greedy at
  50k steps, where the raw observation reaches 0.45 against a chance level of 0.5);
- ``ppo_raw``: the same on the observation as the env gives it (integer ids, cells and
  step counts): a second memoryless baseline, since a scale that helps one learner may
  hinder another;
- ``ppo_graph``: the same with the ``memory`` key of `agents.rl.TaskMemoryObservation`
  (features from the agent's knowledge graph, written every step by the family's
  perception);
- ``recurrent_ppo``: sb3-contrib ``RecurrentPPO`` (``MultiInputLstmPolicy``) on the current
  observation, its LSTM the only memory;
- ``scripted``: the scripted solver with networkx memory (no training; the seed column 0).

Each trained model is evaluated greedily on `--episodes` episode seeds it never trained on
(``EVAL_SEED + i``: training envs draw their seeds from the training seed's stream, far
below). Rows go to ``results.csv`` as they finish; a rerun skips the rows already there.
``--report`` writes ``table.md``: success per task x level x method with a Wilson 95%
interval over every evaluation episode of every seed, whether that interval lies above,
at or below the chance level, each seed's success, and the paired differences of
ppo_graph and recurrent_ppo from each memoryless PPO (ppo, ppo_raw) over the same episode
seeds, with a two-level bootstrap interval (training seeds, then episodes).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

FIELDS = ("family", "task", "level", "method", "seed", "steps", "episodes", "successes",
          "success", "chance", "cpu_seconds", "wall_seconds", "outcomes", "sampled_success",
          "sampled_outcomes")
# Each trained model is evaluated twice on the same episode seeds: greedy (the argmax
# action, `outcomes`) and sampled from its action distribution (`sampled_outcomes`). A
# memoryless policy may need to sample: greedy, it can loop between two cells that look
# alike (right, left, right ...), and the best memoryless policy of a partially observed
# task can be stochastic (Singh, Jaakkola & Jordan 1994). The chance level bounds both.
MODES = {"greedy": "outcomes", "sampled": "sampled_outcomes"}
EVAL_SEED = 1_000_000
METHODS = ("ppo", "ppo_raw", "ppo_graph", "recurrent_ppo", "scripted")
PPO_KWARGS = {"n_steps": 256, "batch_size": 256, "n_epochs": 10, "learning_rate": 3e-4,
              "gamma": 0.99, "gae_lambda": 0.95, "ent_coef": 0.01}
# RecurrentPPO trains ~10x slower per step than PPO here: a smaller LSTM and fewer epochs
RECURRENT_KWARGS = {"batch_size": 256, "n_epochs": 4,
                    "policy_kwargs": {"lstm_hidden_size": 64}}
N_ENVS = 4


def task_list() -> list[tuple[str, str]]:
    from memsim.envs.manipulation import TASKS
    from memsim.envs.navigation import TASK_NAMES
    return [("navigation", t) for t in TASK_NAMES] + [("manipulation", t) for t in TASKS]


def config_for(family: str, task: str, level: int) -> Any:
    """The world config of a task at level `level` (1-based; for manipulation the k-th
    entry of the task's `levels`)."""
    if family == "navigation":
        from memsim.envs.navigation import NavigationConfig
        return NavigationConfig(task=task, difficulty=level)  # type: ignore[arg-type]
    from memsim.envs.manipulation import ManipulationConfig
    levels = ManipulationConfig(task=task).rules.task(task).levels  # type: ignore[arg-type]
    return ManipulationConfig(task=task, difficulty=levels[level - 1])  # type: ignore[arg-type]


def has_level(family: str, task: str, level: int) -> bool:
    try:
        config_for(family, task, level)
    except (ValueError, IndexError):
        return False
    return True


def make_env(family: str, task: str, level: int, method: str) -> Any:
    """The single-agent Gymnasium env a method trains on, under SB3's Monitor: graph-memory
    features for ``ppo_graph``, and every bounded Box scaled to [-1, 1] by its bound
    (`ScaledObservation`) for every learner but ``ppo_raw``."""
    from stable_baselines3.common.monitor import Monitor

    from memsim.agents.rl.task_wrappers import ScaledObservation, TaskMemoryObservation
    from memsim.envs.manipulation import ManipulationEnv
    from memsim.envs.navigation import NavigationGymEnv

    config = config_for(family, task, level)
    env = NavigationGymEnv(config) if family == "navigation" else ManipulationEnv(config)
    if method == "ppo_graph":
        env = TaskMemoryObservation(env)
    return Monitor(env if method == "ppo_raw" else ScaledObservation(env))


def chance_of(family: str, task: str, level: int) -> float:
    from memsim.envs.manipulation import ManipulationEnv
    from memsim.envs.navigation import NavigationGymEnv

    config = config_for(family, task, level)
    env = NavigationGymEnv(config) if family == "navigation" else ManipulationEnv(config)
    return float(env.chance_level)


def _vec(family: str, task: str, level: int, method: str, n: int, seed: int) -> Any:
    from stable_baselines3.common.vec_env import DummyVecEnv

    vec = DummyVecEnv([lambda: make_env(family, task, level, method) for _ in range(n)])
    vec.seed(seed)
    return vec


def evaluate(model: Any, family: str, task: str, level: int, method: str,
             episodes: int, deterministic: bool = True) -> list[int]:
    """Success (0/1) on episode seeds EVAL_SEED + i, greedy or with sampled actions (the
    sampled episodes draw from a generator seeded by the episode seed)."""
    import numpy as np
    import torch

    env = make_env(family, task, level, method)
    recurrent = method == "recurrent_ppo"
    outcomes = []
    for i in range(episodes):
        obs, _ = env.reset(seed=EVAL_SEED + i)
        torch.manual_seed(EVAL_SEED + i)  # what predict samples from
        state, start, done = None, np.ones((1,), bool), False
        while not done:
            batch = {k: np.asarray(v)[None] for k, v in obs.items()}
            if recurrent:
                action, state = model.predict(batch, state=state, episode_start=start,
                                              deterministic=deterministic)
                start = np.zeros((1,), bool)
            else:
                action, _ = model.predict(batch, deterministic=deterministic)
            obs, _, terminated, truncated, info = env.step(int(action[0]))
            done = terminated or truncated
        outcomes.append(int(info.get("outcome") == "success"))
    env.close()
    return outcomes


def scripted_outcomes(family: str, task: str, level: int, episodes: int) -> list[int]:
    sys.path.insert(0, str(Path(__file__).parent))
    config = config_for(family, task, level)
    if family == "navigation":
        from navigation_memory import run_team_episode as nav_episode
        return [int(nav_episode(config, EVAL_SEED + i, True)["outcome"] == "success")
                for i in range(episodes)]
    from manipulation_memory import run_team_episode as manip_episode
    return [int(manip_episode(config, EVAL_SEED + i, True) == "success")
            for i in range(episodes)]


def run_cell(family: str, task: str, level: int, method: str, seed: int, steps: int,
             episodes: int) -> dict[str, Any]:
    """Train (unless scripted) and evaluate one cell; returns its results row."""
    import torch

    torch.set_num_threads(1)
    wall, cpu = time.perf_counter(), time.process_time()
    sampled: list[int] = []
    if method == "scripted":
        outcomes, trained = scripted_outcomes(family, task, level, episodes), 0
    else:
        vec = _vec(family, task, level, method, N_ENVS, seed)
        if method == "recurrent_ppo":
            from sb3_contrib import RecurrentPPO
            model = RecurrentPPO("MultiInputLstmPolicy", vec, seed=seed, device="cpu",
                                 verbose=0, **{**PPO_KWARGS, **RECURRENT_KWARGS})
        else:
            from stable_baselines3 import PPO
            model = PPO("MultiInputPolicy", vec, seed=seed, device="cpu", verbose=0,
                        **PPO_KWARGS)
        model.learn(total_timesteps=steps)
        outcomes = evaluate(model, family, task, level, method, episodes)
        sampled = evaluate(model, family, task, level, method, episodes, deterministic=False)
        trained = int(model.num_timesteps)
        vec.close()
    return {"family": family, "task": task, "level": level, "method": method, "seed": seed,
            "steps": trained, "episodes": len(outcomes), "successes": sum(outcomes),
            "success": round(sum(outcomes) / len(outcomes), 4),
            "chance": round(chance_of(family, task, level), 6),
            "cpu_seconds": round(time.process_time() - cpu, 1),
            "wall_seconds": round(time.perf_counter() - wall, 1),
            "outcomes": "".join(str(o) for o in outcomes),
            "sampled_success": round(sum(sampled) / len(sampled), 4) if sampled else "",
            "sampled_outcomes": "".join(str(o) for o in sampled)}


def read_rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def append_row(path: Path, row: dict[str, Any]) -> None:
    """Append a row; a file written with fewer columns is rewritten first with today's
    header (its rows' new columns empty)."""
    new = not path.exists()
    if not new:
        with path.open(newline="") as f:
            header = next(csv.reader(f), [])
        if tuple(header) != FIELDS:
            old = read_rows(path)
            with path.open("w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=FIELDS, restval="")
                writer.writeheader()
                writer.writerows(old)
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        writer.writerow(row)


def cells(tasks: Iterable[tuple[str, str]], levels: list[int], methods: list[str],
          seeds: list[int]) -> list[tuple[str, str, int, str, int]]:
    """Seeds outermost, then task, then method: an interrupted study has every task at its
    first seeds, each with all its methods (so its paired differences)."""
    out = []
    for seed in seeds:
        for level in levels:
            for family, task in tasks:
                for method in methods:
                    if method == "scripted" and seed != seeds[0]:
                        continue
                    if has_level(family, task, level):
                        out.append((family, task, level, method,
                                    0 if method == "scripted" else seed))
    return out


# ---- report --------------------------------------------------------------------------


BOOTSTRAP = 4000


def _paired(rows: list[dict[str, str]], method: str, reference: str, key: str = "outcomes"
            ) -> tuple[float, float, float, int] | None:
    """Mean paired difference (method - reference) in success over the training seeds both
    ran, each paired episode by episode seed, with a 95% two-level bootstrap interval
    (training seeds resampled, then episodes within each): the spread between training
    seeds counts, not only the episodes'. `key`: the outcomes column (`MODES`)."""
    import numpy as np

    mine = {r["seed"]: r[key] for r in rows if r["method"] == method and r.get(key)}
    base = {r["seed"]: r[key] for r in rows if r["method"] == reference and r.get(key)}
    seeds = sorted(set(mine) & set(base))
    if not seeds:
        return None
    diffs = [np.array([int(a) - int(b) for a, b in zip(mine[s], base[s], strict=True)], float)
             for s in seeds]
    rng = np.random.default_rng(0)
    means = np.empty(BOOTSTRAP)
    for i in range(BOOTSTRAP):
        picked = rng.integers(len(diffs), size=len(diffs)) if len(diffs) > 1 else [0]
        means[i] = np.mean([diffs[k][rng.integers(len(diffs[k]), size=len(diffs[k]))].mean()
                            for k in picked])
    low, high = np.percentile(means, [2.5, 97.5])
    return float(np.mean([d.mean() for d in diffs])), float(low), float(high), len(seeds)


def _shown(diff: tuple[float, float, float, int] | None, bold: bool = False) -> str:
    if diff is None:
        return ""
    text = f"{diff[0]:+.2f} [{diff[1]:+.2f}, {diff[2]:+.2f}]"
    return f"**{text}**" if bold and (diff[1] > 0 or diff[2] < 0) else text


def versus_chance(low: float, high: float, chance: float) -> str:
    """"above" / "below" when the success interval excludes the chance level, else "at".
    Above chance is what only a policy that uses memory can reach."""
    return "above" if low > chance else "below" if high < chance else "at"


def _groups(rows: list[dict[str, str]]) -> list[tuple[tuple[str, str, str],
                                                         list[dict[str, str]]]]:
    """Rows by (family, task, level): navigation first, then by task and level."""
    groups: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    for row in rows:
        groups.setdefault((row["family"], row["task"], row["level"]), []).append(row)
    return sorted(groups.items(), key=lambda kv: (kv[0][0] != "navigation", kv[0][1],
                                                  kv[0][2]))


def _runs(group: list[dict[str, str]], method: str, key: str) -> list[dict[str, str]]:
    """`method`'s rows in `group` that have `key` outcomes, by training seed."""
    return sorted((r for r in group if r["method"] == method and r.get(key)),
                  key=lambda r: int(r["seed"]))


def _pooled(mine: list[dict[str, str]], key: str) -> tuple[int, int, list[float]]:
    """Successes and episodes over the rows' `key` outcomes, and each row's success."""
    runs = [r[key] for r in mine]
    return (sum(o.count("1") for o in runs), sum(len(o) for o in runs),
            [o.count("1") / len(o) for o in runs])


def _table(rows: list[dict[str, str]], key: str) -> list[str]:
    from memsim.sim.bench_stats import wilson_interval

    lines = ["| task | level | chance | method | steps | seeds | success (95% CI) | vs chance "
             "| per seed | Δ vs ppo (95% CI) | Δ vs ppo_raw (95% CI) | CPU s / run |",
             "|---|---:|---:|---|---:|---:|---|---|---|---|---|---:|"]
    for (_, task, level), group in _groups(rows):
        chance = float(group[0]["chance"])
        for method in METHODS:
            mine = _runs(group, method, key)
            if not mine:
                continue
            wins, n, per_seed = _pooled(mine, key)
            low, high = wilson_interval(wins, n)
            runs_cpu = [float(r["cpu_seconds"]) for r in mine]
            shown = " | ".join(_shown(_paired(group, method, reference, key))
                               if method in ("ppo_graph", "recurrent_ppo") else ""
                               for reference in ("ppo", "ppo_raw"))
            steps = "-" if method == "scripted" else f"{int(mine[0]['steps']) // 1000}k"
            lines.append(f"| {task} | {level} | {chance:.3f} | {method} | {steps} | {len(mine)} "
                         f"| {wins / n:.2f} ({low:.2f}-{high:.2f}) | "
                         f"{versus_chance(low, high, chance)} | "
                         f"{' '.join(f'{v:.2f}' for v in per_seed)} | {shown} | "
                         f"{sum(runs_cpu) / len(runs_cpu):.0f} |")
    return lines


def report(out: Path) -> str:
    """table.md: per task x level x method, success with a Wilson 95% interval over every
    evaluation episode of every training seed, each seed's own success, the chance level,
    and the paired difference from memoryless PPO (see `_paired`); one table for greedy
    actions, one for sampled actions (rows that have them)."""
    rows = read_rows(out / "results.csv")
    lines: list[str] = []
    for mode, key in MODES.items():
        lines += [f"## {mode.capitalize()} actions", "", *_table(rows, key), ""]
    cpu = sum(float(r["cpu_seconds"]) for r in rows)
    lines.append(f"{len(rows)} rows, {cpu / 3600:.2f} CPU hours in all.")
    text = "\n".join(lines) + "\n"
    (out / "table.md").write_text(text)
    return text


def summary(out: Path, level: int, mode: str) -> str:
    """The README's table: one line per task at `level`, each learner's pooled success
    (per training seed in brackets), the graph arm against chance and its paired
    differences from both memoryless baselines (bold where the interval excludes zero)."""
    from memsim.sim.bench_stats import wilson_interval

    key = MODES[mode]
    learners = ("ppo", "ppo_raw", "ppo_graph")
    lines = [f"| task (level {level}, {mode}) | chance | memoryless PPO, scaled | "
             "memoryless PPO, raw | PPO + graph memory | vs chance | Δ vs scaled | Δ vs raw "
             "| scripted + memory |", "|---|---:|---:|---:|---:|---|---|---|---:|"]
    for (_, task, lvl), group in _groups(read_rows(out / "results.csv")):
        if int(lvl) != level:
            continue
        pooled = {method: _pooled(mine, key) if (mine := _runs(group, method, key)) else None
                  for method in learners}
        if pooled["ppo_graph"] is None:
            continue
        shown = [f"{p[0] / p[1]:.2f} ({' / '.join(f'{v:.2f}' for v in p[2])})" if p else "-"
                 for p in pooled.values()]
        wins, n, _ = pooled["ppo_graph"]
        chance = float(group[0]["chance"])
        scripted = [float(r["success"]) for r in group if r["method"] == "scripted"]
        lines.append(
            f"| {task} | {chance:.3f} | {' | '.join(shown)} | "
            f"{versus_chance(*wilson_interval(wins, n), chance)} | "
            f"{_shown(_paired(group, 'ppo_graph', 'ppo', key), bold=True)} | "
            f"{_shown(_paired(group, 'ppo_graph', 'ppo_raw', key), bold=True)} | "
            f"{f'{scripted[0]:.2f}' if scripted else '-'} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/bench/rl-memory"))
    parser.add_argument("--tasks", nargs="*", default=None)
    parser.add_argument("--levels", nargs="*", type=int, default=[1, 2])
    parser.add_argument("--methods", nargs="*", default=list(METHODS), choices=METHODS)
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--report", action="store_true", help="only write table.md")
    parser.add_argument("--summary", choices=tuple(MODES), default=None,
                        help="only print the README's table for the first of --levels")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.report:
        print(report(args.out))
        return
    if args.summary:
        print(summary(args.out, args.levels[0], args.summary))
        return
    tasks = [(f, t) for f, t in task_list() if args.tasks is None or t in args.tasks]
    path = args.out / "results.csv"
    done = {(r["task"], r["level"], r["method"], r["seed"]) for r in read_rows(path)}
    todo = [c for c in cells(tasks, args.levels, args.methods, args.seeds)
            if (c[1], str(c[2]), c[3], str(c[4])) not in done]
    print(f"{len(todo)} cells to run ({len(done)} done)", flush=True)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futures = {pool.submit(run_cell, *cell, args.steps, args.episodes): cell
                   for cell in todo}
        for future in as_completed(futures):
            row = future.result()
            append_row(path, row)
            print(f"{row['task']:<18} L{row['level']} {row['method']:<14} seed {row['seed']}: "
                  f"{row['success']:.2f} (chance {row['chance']:.3f}), "
                  f"{row['cpu_seconds']:.0f} CPU s", flush=True)
    print(report(args.out))


if __name__ == "__main__":
    main()
