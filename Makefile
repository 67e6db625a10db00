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

.PHONY: all run test quick slow lint typecheck imports pytest bench clean install frontend frontend-check api-types browser e2e

# The dashboard (frontend/, Vue + Vite) is built into the package, which serves it and which a wheel carries.
NODE_MODULES := frontend/node_modules/.package-lock.json
DASHBOARD := src/batchyard/api/dashboard/index.html
FRONTEND_SOURCES := $(shell find frontend/src frontend/public -type f 2>/dev/null) frontend/index.html \
	frontend/vite.config.ts frontend/tsconfig.json
# The browser tests drive Debian's Chromium; Noto CJK so that Chinese renders in screenshots.
BROWSER_PACKAGES := chromium fonts-noto-cjk

all: test

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --quiet
	touch $@

install: $(VENV)/.synced

$(NODE_MODULES): frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(DASHBOARD): $(NODE_MODULES) $(FRONTEND_SOURCES)
	cd frontend && npm run --silent build
	touch $@

frontend: $(DASHBOARD)

# Type check, component tests, API types against the service's document, and the first-load budget.
frontend-check: $(DASHBOARD)
	cd frontend && npx vitest run --reporter=dot
	cd frontend && node scripts/check-api-types.mjs
	cd frontend && node scripts/first-load-size.mjs

# After changing a route or schema: the OpenAPI document the dashboard is typed from, and its types.
api-types: install $(NODE_MODULES)
	$(BIN)/batchyard openapi -o frontend/openapi.json
	cd frontend && npm run --silent api-types

browser:
	@dpkg -s $(BROWSER_PACKAGES) >/dev/null 2>&1 || { \
		if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
			echo "the browser tests need Debian's $(BROWSER_PACKAGES): install them as root (apt-get install $(BROWSER_PACKAGES))"; \
			exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(BROWSER_PACKAGES); }

run: install $(DASHBOARD)
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
# The browser tests run apart (`make e2e`): Playwright keeps an event loop running in its test process, which
# tests that start one of their own cannot share.
pytest: install
	rm -f .coverage .coverage.*
	$(BIN)/coverage run -m pytest -n $(JOBS) --ignore=tests/e2e $(if $(MARKS),-m "$(MARKS)") $(PYTEST_ARGS)
	$(BIN)/coverage combine --quiet
	$(BIN)/coverage report $(if $(PYTEST_ARGS),,--fail-under=90)

# For developers between edits: unit and contract tests without the slow ones, no coverage (~1 minute).
quick: install $(NODE_MODULES)
	$(BIN)/pytest -q -n $(JOBS) -m "not slow" tests/unit tests/contract $(PYTEST_ARGS)
	cd frontend && npx vitest run --reporter=dot

test: lint typecheck imports frontend-check pytest e2e

# The browser tests (a real `batchyard serve --demo` per test process, Debian's Chromium), once with the
# browser in Asia/Shanghai and once in UTC; screenshots in tests/e2e/artifacts/.
e2e: install $(DASHBOARD) browser
	$(BIN)/pytest -q -n $(JOBS) $(if $(MARKS),-m "$(MARKS)") tests/e2e $(PYTEST_ARGS)

# The slow tests alone: kill -9 chaos, database outages, hung items, leases, takeovers, model-based runs (~4 min).
slow: install $(DASHBOARD) browser
	$(BIN)/pytest -q -n $(JOBS) -m slow --ignore=tests/e2e $(PYTEST_ARGS)
	$(BIN)/pytest -q -n $(JOBS) -m slow tests/e2e $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/engine.py --memory

clean:
	rm -rf frontend/node_modules src/batchyard/api/dashboard
	rm -rf $(VENV) $(TOOLS) .coverage .coverage.* .mypy_cache .ruff_cache .pytest_cache .batchyard
