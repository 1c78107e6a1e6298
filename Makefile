# The two commands: `make run` (whole stack) and `make test` (whole suite). Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench bench-tools fuzz browser clean

$(STAMP): requirements.txt requirements-test.txt setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt -r requirements-test.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/journal run

# Headless Chromium for the page tests comes from Debian's packages (no browser download).
browser:
	@command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium)

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/bandit -q -r journal -ll
	$(BIN)/pytest $(PYTEST_ARGS)

# bandit: security lint of the application code; no medium or high finding passes.
lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/bandit -q -r journal -ll

# The API fuzz (tests/test_api_fuzz.py) with ten times the cases `make test` runs (30 per operation,
# role and mode): FUZZ_EXAMPLES=300 by default (about 8 minutes here); set it higher for longer runs.
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-300} $(BIN)/pytest -q -s --timeout 0 tests/test_api_fuzz.py

format: $(STAMP)
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

# The benchmark's Node packages (bench/peer: the reference server; bench/client: the client harness and
# feeder), installed from their lockfiles before anything is measured. `make bench BENCH_ARGS=--quick`.
NODE_BENCH := bench/peer/node_modules/.package-lock.json bench/client/node_modules/.package-lock.json

bench/%/node_modules/.package-lock.json: bench/%/package.json bench/%/package-lock.json
	cd bench/$* && npm ci --no-audit --no-fund

# wrk (the intake load) and psql (the raw COPY reference) come from Debian's packages.
bench-tools:
	@command -v wrk >/dev/null && command -v psql >/dev/null || \
		(apt-get update -q && apt-get install -y -q wrk postgresql-client)

bench: $(STAMP) $(NODE_BENCH) bench-tools
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance celerybeat-schedule* tests/artifacts bench/peer/node_modules bench/client/node_modules
