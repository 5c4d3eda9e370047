"""The core install works without any extra: a run of a shipped scenario, `memsim list`,
the worlds, and clear messages naming the extra for what needs one. The extras' packages
are hidden from a subprocess (as if not installed), so this runs in the full dev install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXTRAS = ("langgraph", "langchain_core", "openai", "neo4j", "falkordb", "redis", "hiredis",
          "torch", "stable_baselines3", "sb3_contrib", "supersuit", "pygame", "imageio",
          "matplotlib", "ray", "crafter")

# None in sys.modules: importing the package fails with ModuleNotFoundError, as when it is
# not installed.
HIDE = f'''
import sys
sys.modules.update(dict.fromkeys({EXTRAS!r}))
'''


def core(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", HIDE + code], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_a_core_install_runs_a_scenario_and_lists(tmp_path: Path) -> None:
    done = core('''
from memsim.cli import main
assert main(["run", "default", "--seeds", "0-1", "--max-steps", "20", "--out", "out",
             "--quiet"]) == 0
assert main(["list"]) == 0
import json, memsim
assert json.load(open("out/scenario.json"))["run"]["executor"] == "direct"
for name in memsim.__all__:
    getattr(memsim, name)
loaded = sorted(m for m, v in sys.modules.items() if m.split(".")[0] in {extras!r} and v)
assert not loaded, loaded
'''.replace("{extras!r}", repr(EXTRAS)), tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "results: out" in done.stdout


@pytest.mark.parametrize(("code", "message"), [
    ('from memsim.cli import main; main(["run", "default", "--executor", "langgraph"])',
     "pip install 'memsim[langgraph]'"),
    ('from memsim.cli import main; main(["graph"])', "pip install 'memsim[langgraph]'"),
    ('from memsim.cli import main; main(["run", "default", "--memory", "falkordb"])',
     "pip install 'memsim[falkordb]'"),
    ('from memsim.cli import main; main(["run", "default", "--viz"])',
     "pip install 'memsim[viz]'"),
    ('from memsim.cli import main; main(["view", "t.jsonl"])', "pip install 'memsim[viz]'"),
    ('from memsim.agents.registry import make_policy; make_policy("rl", None, {})',
     "pip install 'memsim[rl]'"),
    ('from memsim.agents.registry import make_policy; '
     'make_policy("llm", None, {"base_url": "http://127.0.0.1:1/v1", "model": "m"})',
     "pip install 'memsim[llm]'"),
    ('import memsim.envs.crafting as c; c.parallel_env(render_mode="human").reset(seed=0)',
     "pip install 'memsim[viz]'"),
])
def test_what_needs_an_extra_names_it(tmp_path: Path, code: str, message: str) -> None:
    done = core(code, tmp_path)
    assert message in " ".join((done.stdout + done.stderr).split()), done.stderr[-2000:]
