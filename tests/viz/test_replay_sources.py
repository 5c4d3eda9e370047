"""Replay takes its actions from the trace: no policy, endpoint or model is built.

- an LLM run (against a real loopback endpoint that answers with fixed decisions) replays
  and snapshots after the endpoint is gone, and with no endpoint configured at all;
- the replay rebuilds each agent's memory exactly as the run left it (perception of the
  re-simulated world, the recorded messages and memory notes);
- a resumed run's trace that starts at its checkpoint's step replays from that checkpoint;
- a trace whose recorded outcomes the re-simulation does not reproduce says where.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pygame
import pytest

from memsim.cli import main
from memsim.sim.episode import run_episode
from memsim.sim.output import read_trace, trace_path
from memsim.sim.scenario import Scenario, validate_scenario
from memsim.viz.replay import Replayer
from memsim.viz.run import EXIT_OK, cmd_snapshot

ACTIONS = ("move_left", "move_up", "do", "move_right", "noop", "move_down")


def _answer(n: int) -> dict[str, Any]:
    content = json.dumps({
        "action": ACTIONS[n % len(ACTIONS)], "reason": f"answer {n}",
        # Free text leaves; a report of a tree the sender does not remember is refused
        # by the sender-side check (agents/llm/say.py) and never sent.
        "messages": [{"to": "all", "kind": "text", "text": f"note {n}"},
                     {"to": "all", "kind": "location", "entity": "tree", "x": n % 7, "y": 3}],
        "memory_notes": [{"kind": "goal", "name": "collect diamond", "status": "set"}]
        if n == 0 else [],
    })
    return {"id": "c", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}]}


@pytest.fixture
def endpoint() -> Iterator[str]:
    """A loopback OpenAI-compatible endpoint answering every request with a decision."""
    count = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            body = json.dumps(_answer(count[0])).encode()
            count[0] += 1
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def _llm_scenario(base_url: str) -> Scenario:
    return validate_scenario({
        "name": "viz-llm", "version": 1, "seeds": [1], "max_steps": 8,
        "env": {"family": "crafting", "width": 24, "height": 24, "zombies": False,
                "skeletons": False},
        "agents": {"count": 2, "policy": "llm"},
        "llm": {"base_url": base_url, "model": "m", "max_retries": 0, "timeout_s": 5},
        "run": {"executor": "direct"},
    })


def _memories(runtime: Any) -> dict[str, Any]:
    out = {}
    for agent_id, agent in runtime.agents.items():
        graph = agent.memory.store.structure(())
        out[agent_id] = (sorted((k, v[0], json.dumps(dict(v[1]), sort_keys=True, default=str))
                                for k, v in graph.nodes.items()), sorted(graph.edges))
    return out


def test_an_llm_run_replays_without_its_endpoint(endpoint: str, tmp_path: Path) -> None:
    scenario = _llm_scenario(endpoint)
    out = tmp_path / "llm"
    out.mkdir()
    (out / "scenario.json").write_text(scenario.model_dump_json(indent=2))
    final: dict[str, Any] = {}

    def watch(runtime: Any, state: Any, record: Any) -> None:
        final.update(_memories(runtime))

    summary = run_episode(scenario, 1, out, watch=watch)
    assert summary.steps == 8 and summary.messages["sent"] > 0
    trace = trace_path(out, 1)
    # The endpoint is gone (the fixture's server still listens: point at a dead port), and
    # then not configured at all: neither is asked for.
    data = json.loads((out / "scenario.json").read_text())
    data["llm"]["base_url"] = "http://127.0.0.1:9/v1"
    (out / "scenario.json").write_text(json.dumps(data))
    replayer = Replayer(trace)
    try:
        assert replayer.goto(8) == 8
        assert replayer.divergences == {}
        assert _memories(replayer.runtime) == final  # notes and heard messages included
        assert replayer.frame().memory_note == ""
    finally:
        replayer.close()
    del data["llm"]["base_url"]
    (out / "scenario.json").write_text(json.dumps(data))
    assert cmd_snapshot(trace, 5, tmp_path / "llm.png") == EXIT_OK
    assert main(["snapshot", str(trace), "--step", "8", str(tmp_path / "end.png")]) == 0
    _view_then_quit(trace)


def _view_then_quit(trace: Path) -> None:
    """`memsim view` opens the replay in a (dummy) window; q quits, exit code 0."""
    pygame.display.init()
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_q, mod=0, unicode="",
                                         scancode=0))
    assert main(["view", str(trace), "--speed", "1000"]) == 0


def test_a_resumed_runs_trace_replays_from_its_checkpoint(tmp_path: Path,
                                                          viz_scenario: Scenario) -> None:
    data = viz_scenario.model_dump()
    data.update(max_steps=24)
    data["run"]["checkpoint_every"] = 10
    scenario = validate_scenario(data)
    first, second = tmp_path / "first", tmp_path / "second"
    for out in (first, second):
        out.mkdir()
        (out / "scenario.json").write_text(scenario.model_dump_json())
    run_episode(scenario, 3, first)
    whole = list(read_trace(trace_path(first, 3)))
    # Resume from the step-20 checkpoint into another directory: its trace starts at 20.
    resumed = tmp_path / "checkpoint-at-20.pkl"
    (first / "checkpoint-seed3.pkl").replace(resumed)
    run_episode(scenario, 3, second, resume=resumed)
    trace = trace_path(second, 3)
    assert [line["step"] for line in read_trace(trace)] == list(range(20, 24))
    assert (second / "checkpoint-seed3-step20.pkl").is_file()
    replayer = Replayer(trace)
    try:
        assert (replayer.start, replayer.length, replayer.step) == (20, 24, 20)
        assert replayer.goto(0) == 20  # clamped to the trace
        assert replayer.goto(24) == 24 and replayer.divergences == {}
        assert replayer.frame().decisions["agent_0"].action == whole[23]["agents"]["agent_0"][
            "action"]
        assert replayer.goto(21) == 21
    finally:
        replayer.close()
    assert cmd_snapshot(trace, 22, tmp_path / "resumed.png") == EXIT_OK
    _view_then_quit(trace)
    (second / "checkpoint-seed3-step20.pkl").unlink()
    (second / "checkpoint-seed3.pkl").unlink(missing_ok=True)
    with pytest.raises(ValueError, match=r"starts at step 20.*checkpoint-seed3-step20\.pkl"):
        Replayer(trace)


def test_an_outcome_the_replay_does_not_reproduce_is_reported(traced_run: Path,
                                                              tmp_path: Path) -> None:
    (tmp_path / "scenario.json").write_text((traced_run.parent / "scenario.json").read_text())
    lines = list(read_trace(traced_run))
    record = lines[7]["agents"]["agent_1"]
    record["ok"] = not record["ok"]
    tampered = tmp_path / traced_run.name
    tampered.write_text("".join(json.dumps(line) + "\n" for line in lines))
    replayer = Replayer(tampered)
    try:
        replayer.goto(12)
        assert list(replayer.divergences) == [7]
        assert "agent_1 ok" in replayer.divergences[7]
        assert "step 7" in replayer.frame().note
    finally:
        replayer.close()


def test_an_older_trace_without_messages_replays_the_world_and_says_so(
        traced_run: Path, tmp_path: Path) -> None:
    (tmp_path / "scenario.json").write_text((traced_run.parent / "scenario.json").read_text())
    lines = list(read_trace(traced_run))
    assert any(line["comm"]["sent"] for line in lines), "the run should have sent messages"
    for line in lines:
        for sent in line["comm"]["sent"]:
            sent.pop("message", None)
        for record in line["agents"].values():
            record.pop("notes", None)
    old = tmp_path / traced_run.name
    old.write_text("".join(json.dumps(line) + "\n" for line in lines))
    replayer = Replayer(old)
    try:
        assert replayer.legacy
        assert replayer.goto(replayer.length) == replayer.length
        assert replayer.divergences == {}  # the world replays exactly
        assert "perception only" in replayer.frame().memory_note
    finally:
        replayer.close()
