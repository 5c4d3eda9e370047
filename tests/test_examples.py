"""The examples in `examples/` run (as CI runs them), and plug-ins defined outside the
repository work by import path and by entry point, through the real `memsim` command."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from examples import EXAMPLES, load_example

MEMSIM = str(Path(sys.executable).with_name("memsim"))

# A policy module of a researcher's own, outside the repository.
OUTSIDE_POLICY = '''
from memsim import AgentContext, Decision, RetrievalQuery


class Waiter:
    """Does nothing, and says so."""

    name = "waiter"

    def reset(self, agent_id, seed, action_names):
        self.noop = action_names.index("noop")

    def recall_query(self, context: AgentContext) -> RetrievalQuery | None:
        return None

    def decide(self, context: AgentContext) -> Decision:
        return Decision(self.noop, reason="waiting, as told")
'''


def run_memsim(args: list[str], cwd: Path, pythonpath: list[Path] | None = None
               ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, pythonpath or []))}
    return subprocess.run([MEMSIM, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def reasons(out: Path, seed: int = 0) -> set[str]:
    lines = (out / f"trace-seed{seed}.jsonl").read_text().splitlines()
    return {agent["reason"] for line in lines[1:] if "agents" in json.loads(line)
            for agent in json.loads(line)["agents"].values()}


def test_custom_policy_example_plays_a_shipped_scenario() -> None:
    wood = load_example("custom_policy").main(["--seeds", "0-1", "--max-steps", "120"])
    assert set(wood) == {0, 1} and all(n >= 1 for n in wood.values())


def test_custom_policy_example_keeps_nothing_between_steps() -> None:
    from memsim.testing import check_policy

    check_policy(load_example("custom_policy").Lumberjack, "default", steps=40)


def test_tiny_world_example_passes_the_family_check_and_needs_memory() -> None:
    rates = load_example("tiny_world").main(["--seeds", "0-7"])
    assert rates[True] == 1.0 and rates[False] < rates[True]


def test_custom_store_example_passes_the_conformance_suite_and_runs(tmp_path: Path) -> None:
    assert load_example("custom_store").main(["--dir", str(tmp_path), "--max-steps", "30"]) == 2
    saved = json.loads((tmp_path / "default%2Fseed0%2Fagent_0.json").read_text())
    assert saved["nodes"]


def test_a_policy_outside_the_repo_runs_by_import_path(tmp_path: Path) -> None:
    (tmp_path / "my_policies.py").write_text(OUTSIDE_POLICY)
    # --policy, and a bare scenario name found in the current directory before the shipped
    # ones, naming the policy per agent.
    (tmp_path / "mine.toml").write_text(textwrap.dedent('''
        name = "mine"
        version = 1
        seeds = [0]
        [env]
        family = "crafting"
        width = 32
        height = 32
        [agents]
        count = 2
        policies = { agent_1 = "my_policies:Waiter" }
    '''))
    done = run_memsim(["run", "default", "--policy", "my_policies:Waiter", "--seeds", "0-1",
                       "--max-steps", "15", "--out", "out", "--quiet"], tmp_path)
    assert done.returncode == 0, done.stderr
    with (tmp_path / "out" / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["seed"], r["steps"]) for r in rows] == [("0", "15"), ("1", "15")]
    assert reasons(tmp_path / "out") == {"waiting, as told"}
    done = run_memsim(["run", "mine", "--max-steps", "10", "--out", "mine", "--quiet"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "waiting, as told" in reasons(tmp_path / "mine")
    assert len(reasons(tmp_path / "mine")) > 1  # agent_0 is the scripted planner
    done = run_memsim(["run", "default", "--policy", "my_policies:Sleeper"], tmp_path)
    assert done.returncode == 2
    assert ("'my_policies:Sleeper': module 'my_policies' has no 'Sleeper'"
            in " ".join(done.stderr.split()))


def test_policy_world_and_store_by_entry_point(tmp_path: Path) -> None:
    """A package installed beside memsim declares all three kinds of plug-in."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "my_plugin.py").write_text(OUTSIDE_POLICY + textwrap.dedent('''
        from custom_store import JsonFileStore
        from tiny_world import BEACON
    '''))
    dist = site / "my_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent('''
        [memsim.policies]
        waiter = my_plugin:Waiter
        [memsim.worlds]
        beacon = my_plugin:BEACON
        [memsim.stores]
        jsonfile = my_plugin:JsonFileStore
    '''))
    path = [site, EXAMPLES]
    listed = run_memsim(["list"], tmp_path, path)
    assert listed.returncode == 0, listed.stderr
    for line in ("waiter", "entry point my_plugin:Waiter", "beacon", "jsonfile",
                 "entry point my_plugin:JsonFileStore"):
        assert line in listed.stdout
    (tmp_path / "beacon.toml").write_text(textwrap.dedent(f'''
        name = "beacon"
        version = 1
        seeds = [0, 1]
        max_steps = 40
        [env]
        family = "beacon"
        [agents]
        count = 2
        policies = {{ agent_1 = "waiter" }}
        [memory]
        backend = "jsonfile"
        config = {{ directory = "{tmp_path / 'memory'}" }}
    '''))
    done = run_memsim(["run", "beacon", "--out", "out", "--quiet"], tmp_path, path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "memory").glob("*.json")) == [
        f"beacon%2Fseed{seed}%2Fagent_{agent}.json" for seed in (0, 1) for agent in (0, 1)]
    assert "waiting, as told" in reasons(tmp_path / "out")
    done = run_memsim(["run", "beacon", "--policy", "greedy"], tmp_path, path)
    assert done.returncode == 2
    assert ("'greedy' is not allowed; allowed: llm, random, rl, scripted (built in), "
            "entry points: waiter;") in " ".join(done.stderr.split())
