"""What the model adds: LLM skill agents vs random-skill vs scripted vs per-step LLM agents.

    python benchmarks/llm_skills_study.py [--url http://host:port/v1 --model NAME]
        [--seeds 0-4] [--steps 500] [--per-step-seeds 0-1] [--per-step-steps 60]
        [--conditions scripted,random-skills,always-first,llm-skills,llm] [--out DIR]

Every condition plays the `llm-skills-2` scenario (2 agents, team diamond, monsters off)
with its policy swapped in:

- `scripted`: the planner (no model);
- `random-skills`: the skills and menu of `llm-skills`, the option drawn uniformly;
- `always-first`: `llm-skills` against a fake endpoint that always answers option 1 (the
  menu lists the next tech-tree step first: this is what the menu alone is worth);
- `llm-skills`: the model picks skills (without --url, the local llama.cpp server with
  SmolLM2-135M, as the tests start it);
- `llm`: the per-step LLM policy (a call per agent per step), on fewer, shorter episodes:
  a 135M model on a shared CPU takes many seconds per call.

Episodes are appended to `<out>/episodes.jsonl` as they finish, and an episode already
there is not run again, so the study can be stopped and resumed. Then it prints, per
milestone and condition, how many episodes reached it and the mean steps to it with a
95% bootstrap interval (an episode that never reached it counts at its step limit), the
same within the per-step horizon, and calls and tokens per episode.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from memsim.sim.bench_stats import mean_interval, wilson_interval
from memsim.sim.episode import run_episode
from memsim.sim.scenario import load_scenario, validate_scenario
from memsim.sim.suite import deep_merge

TESTS_DIR = Path(__file__).resolve().parents[1] / "tests"
SCENARIO = "llm-skills-2"
CONDITIONS = ("scripted", "random-skills", "always-first", "llm-skills", "llm")
USAGE = ("decisions", "calls", "prompt_tokens", "completion_tokens", "latency_s", "fallbacks",
         "choices", "auto_choices", "messages_written", "messages_rejected")


def seeds_of(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        out += list(range(int(low), int(high or low) + 1))
    return out


@contextmanager
def always_first() -> Iterator[dict[str, Any]]:
    """A fake endpoint (tests/fake_llm.py) that answers every skill choice with option 1."""
    sys.path.append(str(TESTS_DIR))
    from fake_llm import ScriptedEndpoint, chat_reply

    # No usage block in the answer: the client counts its tokens approximately.
    server = ScriptedEndpoint(lambda request: chat_reply('{"skill": 1, "say": ""}'))
    try:
        yield {"base_url": server.base_url, "model": "always-first",
               "response_format": "json_schema"}
    finally:
        server.close()


def episode(condition: str, seed: int, steps: int, endpoint: dict[str, Any] | None,
            out: Path) -> dict[str, Any]:
    """One episode of `condition`; its row (milestones, usage totals, option choices)."""
    data = load_scenario(SCENARIO).model_dump()
    policy = {"always-first": "llm-skills"}.get(condition, condition)
    data = deep_merge(data, {"agents": {"policy": policy}, "max_steps": steps})
    if policy.startswith("llm"):
        data["llm"] = {**data["llm"], **(endpoint or {}), "timeout_s": 600.0}
    else:
        data.pop("llm")
        data["run"]["executor"] = "direct"
    data["seeds"] = [seed]
    scenario = validate_scenario(data, source=f"{SCENARIO}/{condition}")
    trace_dir = out / condition
    started = time.perf_counter()
    summary = run_episode(scenario, seed, trace_dir)
    picks: dict[str, int] = {}
    with (trace_dir / f"trace-seed{seed}.jsonl").open(encoding="utf-8") as trace:
        for line in trace:
            for row in json.loads(line)["agents"].values():
                found = re.match(r"(model chose (\d+)|fallback)", row.get("reason", ""))
                if found:
                    key = found[2] or "fallback"
                    picks[key] = picks.get(key, 0) + 1
    return {"condition": condition, "seed": seed, "max_steps": steps, "steps": summary.steps,
            "milestones": summary.milestones, "picks": picks,
            "usage": {k: summary.usage_total(k) for k in USAGE},
            "wall_s": round(time.perf_counter() - started, 1),
            "load_1min": round(os.getloadavg()[0], 2)}  # the machine is shared: say how busy


def run(args: argparse.Namespace, endpoint: dict[str, Any] | None) -> None:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    path = out / "episodes.jsonl"
    done = {(r["condition"], r["seed"]) for r in read(path)}
    plan = []
    for condition in args.conditions:
        per_step = condition == "llm"
        seeds = args.per_step_seeds if per_step else args.seeds
        steps = args.per_step_steps if per_step else args.steps
        plan += [(condition, seed, steps) for seed in seeds if (condition, seed) not in done]
    with ExitStack() as stack:
        fake = stack.enter_context(always_first()) if any(
            c == "always-first" for c, _, _ in plan) else None
        for condition, seed, steps in plan:
            print(f"{condition} seed {seed} ({steps} steps)...", file=sys.stderr, flush=True)
            row = episode(condition, seed, steps, fake if condition == "always-first"
                          else endpoint, out)
            with path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
            print(f"  {row['milestones']} calls {row['usage']['calls']:.0f} "
                  f"({row['wall_s']} s)", file=sys.stderr, flush=True)
    write_csv(read(path), out / "results.csv")
    report(read(path), args)


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    """One line per episode: condition, seed, step limit, the step each team milestone was
    first reached (empty: not within the limit), usage totals, wall time and load."""
    from memsim.sim.families import CRAFTING_MILESTONES

    head = ["condition", "seed", "max_steps", "steps", *CRAFTING_MILESTONES, *USAGE,
            "wall_s", "load_1min"]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(head)
        for r in rows:
            writer.writerow([r["condition"], r["seed"], r["max_steps"], r["steps"],
                             *(r["milestones"].get(m, "") for m in CRAFTING_MILESTONES),
                             *(round(r["usage"][k], 3) for k in USAGE), r["wall_s"],
                             r.get("load_1min", "")])


def read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _estimate(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.0f}" if values else "-"
    est = mean_interval(values)
    if not est.has_interval:  # every value the same
        return f"{est.value:.0f}"
    return f"{est.value:.0f} [{est.low:.0f}, {est.high:.0f}]"


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """Milestones (reached k/n, mean steps with failures at the limit, 95% bootstrap CI),
    within the full horizon and within the per-step policy's, and usage per episode."""
    from memsim.sim.families import CRAFTING_MILESTONES

    conditions = [c for c in CONDITIONS if any(r["condition"] == c for r in rows)]
    by = {c: [r for r in rows if r["condition"] == c] for c in conditions}
    horizon = min((r["max_steps"] for r in rows), default=0)
    for title, limit in (("full episodes", None), (f"first {horizon} steps", horizon)):
        print(f"\nSteps to each team milestone, {title} (reached k/n; mean steps, never "
              "reached = at the limit, 95% bootstrap CI):")
        print(f"{'milestone':<20}" + "".join(f"{c:>26}" for c in conditions))
        for m in CRAFTING_MILESTONES:
            cells = []
            for c in conditions:
                eps = by[c] if limit is None else [r for r in by[c] if r["max_steps"] >= limit]
                if not eps:
                    cells.append("-")
                    continue
                cap = [limit or r["max_steps"] for r in eps]
                reached = [r["milestones"].get(m) for r in eps]
                hits = [s for s, k in zip(reached, cap, strict=True) if s is not None and s <= k]
                steps = [s if s is not None and s <= k else k
                         for s, k in zip(reached, cap, strict=True)]
                cells.append(f"{len(hits)}/{len(eps)} {_estimate(steps)}")
            print(f"{m:<20}" + "".join(f"{x:>26}" for x in cells))
    print("\nPer episode (mean [95% CI]):")
    print(f"{'condition':<16}{'n':>3}{'steps':>7}{'choices':>14}{'calls':>18}"
          f"{'calls/agent-step':>18}{'prompt tok':>22}{'tok/call':>9}{'s/call':>8}"
          f"{'said/rejected':>15}{'option 1 share':>19}")
    for c in conditions:
        eps = by[c]
        calls = [r["usage"]["calls"] for r in eps]
        per = [r["usage"]["calls"] / max(r["usage"]["decisions"], 1) for r in eps]
        prompt = [r["usage"]["prompt_tokens"] for r in eps]
        total_calls = sum(calls) or 1
        picks = {k: sum(r["picks"].get(k, 0) for r in eps) for k in
                 {k for r in eps for k in r["picks"]}}
        chosen = sum(picks.values())
        share = "-"
        if chosen and c != "llm":
            low, high = wilson_interval(picks.get("1", 0), chosen)
            share = f"{picks.get('1', 0) / chosen:.2f} [{low:.2f},{high:.2f}]"
        said = sum(r["usage"]["messages_written"] for r in eps)
        rejected = sum(r["usage"]["messages_rejected"] for r in eps)
        latency = sum(r["usage"]["latency_s"] for r in eps) / total_calls
        choices = _estimate([r["usage"]["choices"] for r in eps])
        print(f"{c:<16}{len(eps):>3}{eps[0]['max_steps']:>7}{choices:>14}{_estimate(calls):>18}"
              f"{sum(per) / len(per):>18.3f}{_estimate(prompt):>22}"
              f"{sum(prompt) / total_calls:>9.0f}{latency:>8.1f}{f'{said}/{rejected}':>15}"
              f"{share:>19}")
    print(f"\n(scenario {SCENARIO}; model {args.model}; seeds {args.seeds_text} at "
          f"{args.steps} steps; the per-step llm arm, a call per agent per step, only seeds "
          f"{args.per_step_text} at {args.per_step_steps} steps: the second table compares "
          f"every arm within that horizon)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="OpenAI-compatible base URL (default: start llama.cpp)")
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--api-key", default="none")
    parser.add_argument("--seeds", default="0-4")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--per-step-seeds", default="0-1")
    parser.add_argument("--per-step-steps", type=int, default=60)
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument("--out", type=Path, default=Path("runs/llm-skills-study"))
    parser.add_argument("--report", action="store_true", help="only print the report")
    args = parser.parse_args()
    args.seeds_text, args.per_step_text = args.seeds, args.per_step_seeds
    args.seeds, args.per_step_seeds = seeds_of(args.seeds), seeds_of(args.per_step_seeds)
    args.conditions = [c for c in args.conditions.split(",") if c]
    unknown = set(args.conditions) - set(CONDITIONS)
    if unknown:
        parser.error(f"--conditions: unknown {sorted(unknown)}; allowed: {CONDITIONS}")
    if args.report:
        write_csv(read(args.out / "episodes.jsonl"), args.out / "results.csv")
        report(read(args.out / "episodes.jsonl"), args)
        return
    needs_model = {"llm-skills", "llm"} & set(args.conditions)
    if args.url or not needs_model:
        endpoint = {"base_url": args.url, "model": args.model, "api_key": args.api_key} \
            if args.url else None
        run(args, endpoint)
        return
    sys.path.append(str(TESTS_DIR))  # after the project imports (see llm_tokens.py)
    from llm_server import start_llama_server

    with start_llama_server() as endpoint:
        run(args, endpoint)


if __name__ == "__main__":
    main()
