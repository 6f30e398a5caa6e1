# mintloom — two commands on a fresh machine: `make demo` and `make test`.
# Needs only python3 (3.11+), node and npm; everything else is installed here.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP_PY  := $(VENV)/.installed
STAMP_NPM := node_modules/.installed
FORGE  := node_modules/.bin/forge

export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup demo test test-py test-sol bench bench-scale lint fmt contracts wheel wheel-smoke clean

setup: $(STAMP_PY) $(STAMP_NPM)

$(STAMP_PY): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $@

$(STAMP_NPM): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

contracts: $(STAMP_NPM)
	$(FORGE) build

demo: setup contracts
	$(BIN)/mintloom demo

test: test-sol test-py

test-sol: $(STAMP_NPM)
	$(FORGE) test

test-py: setup contracts
	$(BIN)/pytest -n 2 --dist loadgroup

# the wheel carries the compiled contracts (slim abi + bytecode), the Noto fonts with their OFL and
# the examples as package data (hatch_build.py), so it needs contracts/out and node_modules first
wheel: setup contracts
	rm -f dist/mintloom-*.whl
	$(PY) -m pip wheel --no-deps --quiet -w dist .
	@ls -l dist/mintloom-*.whl

# the wheel installed in a fresh venv outside the repo: doctor, init, keys, run the example, verify
wheel-smoke: wheel
	PYTHON=$(PYTHON) tools/wheel-smoke.sh dist/mintloom-*.whl

bench: setup contracts
	$(BIN)/python -m mintloom.bench
	$(BIN)/python -m mintloom.bench.readme

# one campaign at 1k, 5k and 20k assets, plan → run → anchor → publish → verify (~20 min, 2 cores)
bench-scale: setup contracts
	$(BIN)/python -m mintloom.bench.scale; status=$$?; $(BIN)/python -m mintloom.bench.readme && exit $$status

lint: setup
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy src

fmt: setup
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

clean:
	rm -rf $(VENV) node_modules contracts/out contracts/cache dist
