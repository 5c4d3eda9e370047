"""A memory server that dies mid-run: the run stops with "memory lost", never goes on with
an empty memory, and resumes from its last checkpoint to the same trajectory.

Regression tests of the reliability pass: after a FalkorDB restart the client reconnected
silently; when another client touched the graph first, the run went on with an empty
memory and exited 0; restarted alone it failed with "Invalid graph operation on empty
key". Each test runs its own server (`restartable_falkordb`) and restarts it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from memsim.cli import main
from memsim.memory import MemoryLostError, NodeRecord, open_store
from memsim.sim.episode import run_episode
from memsim.sim.output import read_trace
from memsim.sim.scenario import validate_scenario

pytestmark = pytest.mark.integration


def test_a_restarted_server_is_memory_lost_not_an_empty_memory(restartable_falkordb: Any
                                                                ) -> None:
    server = restartable_falkordb
    store = open_store("falkordb", "fault-a", **server.config)
    store.upsert_nodes([NodeRecord("n", "Entity", {"kind": "tree"})])
    server.restart()
    with pytest.raises(MemoryLostError, match=r"memory lost.*fault-a.*is missing"):
        store.get(["n"])
    store.close()


def test_another_client_touching_the_graph_first_does_not_hide_the_loss(
        restartable_falkordb: Any) -> None:
    server = restartable_falkordb
    store = open_store("falkordb", "fault-a", **server.config)
    store.upsert_nodes([NodeRecord("n", "Entity", {"kind": "tree"})])
    server.restart()
    other = open_store("falkordb", "fault-b", **server.config)  # a new graph, a new epoch
    other.upsert_nodes([NodeRecord("m", "Entity")])
    for operation in (lambda: store.count(), lambda: store.upsert_nodes([NodeRecord("x",
                                                                                    "Goal")])):
        with pytest.raises(MemoryLostError, match=r"epoch marker .* is now"):
            operation()
    other.close()
    store.close()


def test_a_store_expecting_an_epoch_finds_a_flushed_server(restartable_falkordb: Any) -> None:
    server = restartable_falkordb
    first = open_store("falkordb", "fault-a", **server.config)
    assert open_store("falkordb", "fault-b", **server.config).epoch == first.epoch
    server.restart()
    with pytest.raises(MemoryLostError):
        open_store("falkordb", "fault-a", epoch=first.epoch, **server.config)


SCENARIO = {
    "name": "fault", "version": 1, "seeds": [2], "max_steps": 30,
    "env": {"family": "crafting", "width": 32, "height": 32, "zombies": False,
            "skeletons": False},
    "agents": {"count": 2, "policy": "scripted"},
    "run": {"executor": "direct", "checkpoint_every": 10},
}


def test_server_restart_mid_episode_stops_the_run_and_it_resumes_from_the_checkpoint(
        restartable_falkordb: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import memsim.sim.episode as episode

    server = restartable_falkordb
    scenario = validate_scenario({**SCENARIO, "memory": {"backend": "falkordb",
                                                         "config": server.config}})
    path = tmp_path / "fault.toml"
    path.write_text(_toml(scenario.model_dump(mode="json", exclude_defaults=True)))
    out = tmp_path / "out"

    def restart_at_15(runtime: Any, state: Any, record: Any) -> None:
        if state["team_step"] == 15:
            server.restart()

    real = episode.run_episode
    monkeypatch.setattr(episode, "run_episode",
                        lambda *a, **k: real(*a, **{**k, "watch": restart_at_15}))
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 1
    monkeypatch.setattr(episode, "run_episode", real)
    err = "".join(capsys.readouterr().err.split())  # the console wraps long lines anywhere
    assert "faultseed2failed:MemoryLostError:memorylost" in err
    assert f"--resume{out / 'checkpoint-seed2.pkl'}--out{out}" in err
    trace = out / "trace-seed2.jsonl"
    assert [r["step"] for r in read_trace(trace)] == list(range(15))  # on disk to the end
    # Resume from the checkpoint at step 10 on the (now empty) server, into the same --out.
    assert main(["run", str(path), "--seed", "2", "--resume", str(out / "checkpoint-seed2.pkl"),
                 "--out", str(out), "--quiet"]) == 0
    # The same trajectory as an uninterrupted run (networkx: backends give identical runs).
    reference = validate_scenario(SCENARIO)
    run_episode(reference, 2, tmp_path / "ref")
    assert trace.read_bytes() == (tmp_path / "ref" / "trace-seed2.jsonl").read_bytes()


def _toml(data: dict[str, Any]) -> str:
    """A flat-enough TOML writer for the scenario above (tables of scalars)."""
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return f'"{v}"'
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return str(v)

    top = [f"{k} = {value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    tables = [f"[{k}]\n" + "\n".join(f"{key} = {value(x)}" for key, x in v.items())
              for k, v in data.items() if isinstance(v, dict)]
    return "\n".join(top + tables) + "\n"


def test_persisted_memory_notices_a_restart_between_episodes(restartable_falkordb: Any) -> None:
    from memsim.sim.scenario import MemoryConfig
    from memsim.sim.stores import MemoryStores

    server = restartable_falkordb
    stores = MemoryStores(MemoryConfig(backend="falkordb", persist_across_episodes=True,
                                       config=server.config))
    stores.open("fault/agent_0").close()
    stores.open("fault/agent_0").close()  # same server: fine
    server.restart()
    with pytest.raises(MemoryLostError):
        stores.open("fault/agent_0")
