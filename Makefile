# Firewatch: `make run` starts the embedded stack, `make test` runs the whole suite,
# `make check` runs ruff and mypy --strict. Each creates .venv and installs what it needs.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= firewatch.example.yaml

.PHONY: run test test-fast check format install install-dev test-servers clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Re-install only when pyproject.toml changes, so re-running is fast.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,mlflow]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/firewatch demo up --config $(CONFIG)

check: install-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

format: install-dev
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

# Servers the integration tests use (PostgreSQL), installed with apt when root and missing.
test-servers:
	bash scripts/test-servers.sh

test: install-dev test-servers
	$(BIN)/pytest

# Everything except the slow end-to-end tests that start real processes.
test-fast: install-dev
	$(BIN)/pytest -m "not slow"

clean:
	rm -rf $(VENV) .firewatch .mypy_cache .ruff_cache .pytest_cache
