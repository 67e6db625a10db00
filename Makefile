# Two commands for newcomers: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_COMPILE_BYTECODE := 1
export BATCHYARD_TEST_PG ?= postgresql://postgres@127.0.0.1:5432/test
# Test processes run side by side (pytest-xdist); each test has its own SQLite file and PostgreSQL schema.
JOBS ?= 2

# The long chaos and model tests are marked slow: CI runs them after `make test` (`make slow`).
MARKS ?= not slow

.PHONY: all run test quick slow lint typecheck imports pytest bench clean install

all: test

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --quiet
	touch $@

install: $(VENV)/.synced

run: install
	$(BIN)/batchyard db upgrade
	$(BIN)/batchyard serve --demo

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy

imports: install
	$(BIN)/lint-imports

# The coverage floor applies to the full run only: `make pytest PYTEST_ARGS=tests/unit` reports without judging;
# `make pytest MARKS=` runs the slow tests too.
pytest: install
	rm -f .coverage .coverage.*
	$(BIN)/coverage run -m pytest -n $(JOBS) $(if $(MARKS),-m "$(MARKS)") $(PYTEST_ARGS)
	$(BIN)/coverage combine --quiet
	$(BIN)/coverage report $(if $(PYTEST_ARGS),,--fail-under=90)

# For developers between edits: unit and contract tests without the slow ones, no coverage (~1 minute).
quick: install
	$(BIN)/pytest -q -n $(JOBS) -m "not slow" tests/unit tests/contract $(PYTEST_ARGS)

test: lint typecheck imports pytest

# The slow tests alone: kill -9 chaos, database outages, hung items, leases, takeovers, model-based runs (~4 min).
slow: install
	$(BIN)/pytest -q -n $(JOBS) -m slow $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/engine.py --memory

clean:
	rm -rf $(VENV) $(TOOLS) .coverage .coverage.* .mypy_cache .ruff_cache .pytest_cache .batchyard
