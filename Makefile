# taskapi — `make help` lists the targets. Every target sets up what it needs (.venv from requirements-dev.lock).
.DEFAULT_GOAL := help
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# make install-prod: the runtime dependencies only (requirements.lock) and taskapi's wheel, no dev tools.
PROD_VENV ?= .venv-prod
# The npm tools (package.json, pinned in package-lock.json): spec lint, TypeScript types.
NPM_STAMP := node_modules/.installed-stamp
NODE_BIN := node_modules/.bin
HOST ?= 127.0.0.1
PORT ?= 8000
BASE_URL ?=
SEED ?= 20261126
MAX_EXAMPLES ?= 50
# make contract against a deployment with TASKAPI_REQUIRE_IF_MATCH=true: REQUIRE_IF_MATCH=true (428 is then valid)
REQUIRE_IF_MATCH ?= false
# More arguments of `python -m taskapi.testing.contract` for make contract (e.g. --operation-id getTask).
CONTRACT_ARGS ?=
REPORT_DIR ?= build/contract
PYTEST := $(PY) -m pytest
JUNIT := build/junit
# The docs pages' browser test drives Debian's chromium: installed here when missing, as root or with
# password-less sudo; otherwise make stops and says what to install.
CHROMIUM_INSTALL := apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
ENSURE_CHROMIUM = @test -x /usr/bin/chromium || { echo "installing chromium (Debian package)"; \
	if [ "$$(id -u)" = 0 ]; then ($(CHROMIUM_INSTALL)) >/dev/null; \
	elif sudo -n true 2>/dev/null; then sudo -n sh -c '$(CHROMIUM_INSTALL)' >/dev/null; \
	else echo "the browser test needs /usr/bin/chromium: run  sudo apt-get install chromium" >&2; exit 1; fi; }
# make test measures branch coverage of src/ and codegen/ over both legs; the floor (pyproject.toml) is
# checked when both ran.
COVERAGE_ARGS := --cov --cov-report= --cov-fail-under=0
# make test runs the tests that may share the machine this many at a time (pytest-xdist).
XDIST_WORKERS ?= 2
# Python's bytecode caches, and pytest's of its rewritten test modules, are written: a shell that sets
# PYTHONDONTWRITEBYTECODE would have every test process and live server compile them again.
unexport PYTHONDONTWRITEBYTECODE
# The directories that hold tests marked postgresql: the PostgreSQL leg collects these only
# (tests/unit/test_markers.py fails when a marked test lives elsewhere).
POSTGRES_DIRS := tests/api tests/contract tests/integration
# Where the servers of make test record what they answer, for the contract coverage report.
RECORDINGS := build/contract-coverage/recordings

.PHONY: help install browser install-prod lock generate check breaking lint lint-spec typecheck bench bench-against soak test test-leg test-postgres test-outage test-quick test-unit test-integration test-api test-contract test-hostile test-toolchain test-clients contract sdk run migrate clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-17s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# The interpreter's own pip and setuptools are old: the locked ones replace them first, then install the rest.
$(STAMP): requirements-pip.lock requirements-dev.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-pip.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NPM_STAMP)

install: $(STAMP) ## create .venv with the locked development dependencies and taskapi (editable)

browser: ## install Debian's chromium for the docs pages' browser test, when missing (root or sudo -n)
	$(ENSURE_CHROMIUM)

# The wheel is built by .venv's hatchling (hashed in requirements-dev.lock), so the production venv needs no
# build backend and nothing that is not locked; the same wheel goes into an image (README, Production). It is
# built into DIST, which holds no other taskapi wheel afterwards (the tests pass a directory of their own).
DIST ?= build/dist
install-prod: $(STAMP) ## create PROD_VENV (.venv-prod) with the runtime dependencies only and taskapi's wheel (in DIST)
	rm -f $(DIST)/taskapi-*.whl
	$(PY) -m pip wheel --quiet --disable-pip-version-check --no-deps --no-build-isolation --wheel-dir $(DIST) .
	$(PYTHON) -m venv --clear $(PROD_VENV)
	$(PROD_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-pip.lock
	$(PROD_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(PROD_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps $(DIST)/taskapi-*.whl

# Each lock keeps the pins of its current version where the inputs allow (uv reads the output file first).
# requirements.lock is constrained by requirements-dev.lock, so a package in both has one version and hashes.
lock: COMPILE = $(PY) -m uv pip compile --python-version 3.11 --generate-hashes --custom-compile-command "make lock" --quiet
lock: $(STAMP) ## re-resolve requirements-pip.lock, requirements-dev.lock and requirements.lock (needs the package index)
	printf 'pip\nsetuptools\n' | $(COMPILE) - -o requirements-pip.lock
	$(COMPILE) pyproject.toml --extra dev -c requirements-pip.lock -o requirements-dev.lock
	$(COMPILE) pyproject.toml -c requirements-dev.lock -o requirements.lock

generate: $(STAMP) ## regenerate src/taskapi/generated/ from openapi.yaml
	$(PY) -m codegen

sdk: $(STAMP) $(NPM_STAMP) ## client SDKs from openapi.yaml into build/sdk/: Python package, TypeScript types
	$(PY) -m codegen.sdk

check: $(STAMP) $(NPM_STAMP) ## validate and lint the spec, detect stale generated code and undeclared routes, ruff, mypy
	$(PY) -m openapi_spec_validator openapi.yaml
	$(PY) -m codegen.lint
	$(PY) -m codegen --check
	$(PY) -m taskapi.cli check-routes
	$(MAKE) --no-print-directory lint typecheck

breaking: $(STAMP) ## fail on breaking changes to openapi.yaml since BASE (a git ref; default: merge base with main)
	$(PY) -m codegen.breaking --base "$(BASE)"

lint-spec: $(STAMP) $(NPM_STAMP) ## lint openapi.yaml (Redocly, codegen/redocly.yaml): 0 errors, 0 warnings
	$(PY) -m codegen.lint

lint: $(STAMP) ## ruff (lint + format check)
	$(VENV)/bin/ruff check src codegen tests bench
	$(VENV)/bin/ruff format --check src codegen tests bench

typecheck: $(STAMP) ## mypy --strict on src/, codegen/, tests/ and bench/
	$(VENV)/bin/mypy

# Every server of the run (in-process apps, live servers, their workers) records what it answers there.
test: export TASKAPI_TEST_CONTRACT_RECORD_DIR := $(CURDIR)/$(RECORDINGS)
test: $(STAMP) $(NPM_STAMP) ## every suite on SQLite, the backend's on PostgreSQL; two at a time, serial ones alone; coverage
	$(ENSURE_CHROMIUM)
	rm -rf $(JUNIT) $(RECORDINGS)
	@$(MAKE) --no-print-directory test-leg LEG=sqlite MARKERS= PYTEST_ARGS="$(COVERAGE_ARGS)"
	@if why=$$($(PY) -m taskapi.testing.databases); then \
		$(MAKE) --no-print-directory test-postgres PYTEST_ARGS="$(COVERAGE_ARGS) --cov-append"; \
		if [ "$$(id -u)" = 0 ] && command -v pg_ctlcluster >/dev/null; then \
			$(MAKE) --no-print-directory test-outage PYTEST_ARGS="$(COVERAGE_ARGS) --cov-append"; \
		elif [ -n "$${TASKAPI_REQUIRE_POSTGRES:-}" ]; then \
			echo "TASKAPI_REQUIRE_POSTGRES is set but the outage test cannot stop PostgreSQL (root, pg_ctlcluster)" >&2; exit 1; \
		else \
			echo "*** The PostgreSQL outage test was NOT run: it stops and starts the local cluster, as root"; \
			echo "*** (pg_ctlcluster). Run it alone where that is fine: make test-outage"; \
		fi; \
		$(PY) -m coverage report; \
	elif [ -n "$${TASKAPI_REQUIRE_POSTGRES:-}" ]; then \
		echo "TASKAPI_REQUIRE_POSTGRES is set but the PostgreSQL leg cannot run: $$why" >&2; exit 1; \
	else \
		$(PY) -m coverage report --fail-under=0; \
		echo; echo "*** The PostgreSQL leg was NOT run: $$why"; \
		echo "*** Start PostgreSQL (or set TASKAPI_TEST_POSTGRES_URL) and run: make test-postgres"; \
		echo "*** The coverage floor (pyproject.toml) counts both backends and was not checked"; \
	fi
	$(PY) -m coverage xml -q -o build/coverage.xml
	$(PY) -m taskapi.testing.contract_coverage --recordings $(RECORDINGS) --waivers tests/contract_coverage_waivers.yaml \
		--out build/contract-coverage --fail-on-missing --fail-on-undeclared

# One leg of make test on one backend: its tests XDIST_WORKERS at a time, those marked `serial` alone
# (tests/alone.py: while one runs, the other worker waits), the long ones (`slow`) handed out first and the
# serial ones last. MARKERS narrows the leg (the PostgreSQL leg: `postgresql`).
test-leg: $(STAMP) $(NPM_STAMP)
	$(LEG_ENV) $(PYTEST) $(or $(LEG_DIRS),tests --ignore=tests/outage) $(if $(MARKERS),-m "$(MARKERS)") \
		-n $(XDIST_WORKERS) --dist loadgroup --no-loadscope-reorder $(PYTEST_ARGS) --junitxml=$(JUNIT)/$(LEG).xml

test-postgres: $(STAMP) $(NPM_STAMP) ## the tests whose backend matters (marked postgresql) on PostgreSQL (TASKAPI_TEST_POSTGRES_URL)
	@$(MAKE) --no-print-directory test-leg LEG=postgresql MARKERS=postgresql LEG_ENV="TASKAPI_TEST_BACKEND=postgresql" \
		LEG_DIRS="$(POSTGRES_DIRS)" PYTEST_ARGS="$(PYTEST_ARGS)"

test-outage: $(STAMP) ## PostgreSQL stopped and started under a live server (root: pg_ctlcluster); alone
	TASKAPI_TEST_BACKEND=postgresql $(PYTEST) tests/outage $(PYTEST_ARGS) --junitxml=$(JUNIT)/outage.xml

test-quick: $(STAMP) ## the designer's inner loop (< 60 s): unit, API (in-process) and codegen tests on SQLite
	$(PYTEST) tests/unit tests/api tests/integration/test_codegen.py -q -n $(XDIST_WORKERS) --dist loadgroup \
		--junitxml=$(JUNIT)/quick.xml

test-unit: $(STAMP) ## unit tests (no I/O)
	$(PYTEST) tests/unit --junitxml=$(JUNIT)/unit.xml

test-integration: $(STAMP) $(NPM_STAMP) ## storage, migrations and codegen against real databases and files
	$(PYTEST) tests/integration --junitxml=$(JUNIT)/integration.xml

test-api: $(STAMP) ## the app in-process over a real database
	$(PYTEST) tests/api --junitxml=$(JUNIT)/api.xml

test-toolchain: $(STAMP) $(NPM_STAMP) ## the spec lint, the breaking-change gate and the designer's guide
	$(PYTEST) tests/toolchain --junitxml=$(JUNIT)/toolchain.xml

test-contract: $(STAMP) ## live uvicorn: Schemathesis, ownership, concurrency
	$(PYTEST) tests/contract --junitxml=$(JUNIT)/contract.xml

test-hostile: $(STAMP) ## the hostile-input suite against the live server
	$(PYTEST) tests/hostile --junitxml=$(JUNIT)/hostile.xml

test-clients: $(STAMP) $(NPM_STAMP) ## SDKs and docs in a browser against the live server
	$(ENSURE_CHROMIUM)
	$(PYTEST) tests/clients --junitxml=$(JUNIT)/clients.xml

contract: $(STAMP) ## Schemathesis against BASE_URL (default: a fresh local server); SEED, MAX_EXAMPLES, REPORT_DIR, REQUIRE_IF_MATCH
	$(PY) -m taskapi.testing.contract --base-url "$(BASE_URL)" --seed $(SEED) --max-examples $(MAX_EXAMPLES) \
		--report-dir "$(REPORT_DIR)" $(if $(filter true,$(REQUIRE_IF_MATCH)),--require-if-match) $(CONTRACT_ARGS)

bench: $(STAMP) ## benchmark vs the tutorial peer and the raw-ASGI limit (installs wrk); build/bench/
	@command -v wrk >/dev/null || { echo "installing wrk (Debian package)"; \
		(apt-get update -qq && apt-get install -y -qq wrk) >/dev/null || sudo apt-get install -y -qq wrk; }
	$(PY) -m bench.run $(BENCH_ARGS)

bench-against: $(STAMP) ## this build against REF (a commit), both served in the same minutes; REF=main
	@command -v wrk >/dev/null || { echo "installing wrk (Debian package)"; \
		(apt-get update -qq && apt-get install -y -qq wrk) >/dev/null || sudo apt-get install -y -qq wrk; }
	$(PY) -m bench.compare $(or $(REF),main) $(BENCH_ARGS)

soak: $(STAMP) ## one worker, 10 minutes at a steady 300 req/s: its RSS every 10 s and the growth; build/bench/
	$(PY) -m bench.soak $(SOAK_ARGS)

migrate: $(STAMP) ## apply the database migrations (TASKAPI_DATABASE_URL, default ./var/taskapi.db)
	$(VENV)/bin/taskapi migrate

run: migrate ## migrate, then serve on http://$(HOST):$(PORT) (SQLite under ./var/)
	TASKAPI_ENV=$${TASKAPI_ENV:-development} $(VENV)/bin/taskapi serve --host $(HOST) --port $(PORT)

clean: ## remove .venv, build/ and caches (keeps ./var/, your data)
	rm -rf $(VENV) $(PROD_VENV) node_modules build .mypy_cache .ruff_cache .pytest_cache .hypothesis .coverage .coverage.* htmlcov
