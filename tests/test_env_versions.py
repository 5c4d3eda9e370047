"""`benchmarks/env_versions.py` measures git revisions against each other in one run: it
checks a revision out into a worktree, imports the world from there, and cleans up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_env_versions_compares_a_revision_with_the_working_tree() -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: benchmarks/env_versions.py needs the history")
    worktrees_before = subprocess.run(["git", "-C", str(ROOT), "worktree", "list"],
                                      capture_output=True, text=True, check=True).stdout
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "env_versions.py"), "--rev", "HEAD",
         "--rev", ".", "--reps", "1", "--seconds", "0.3"],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:3]}
    assert set(rows) == {"HEAD", "."}
    for values in rows.values():  # steps/s, then the ratio to crafter (or "-"), agent-steps/s
        assert float(values[0]) > 0 and float(values[-1]) > 0
    assert lines[3].startswith("crafter:")
    worktrees_after = subprocess.run(["git", "-C", str(ROOT), "worktree", "list"],
                                     capture_output=True, text=True, check=True).stdout
    assert worktrees_after == worktrees_before  # its checkout is gone again
