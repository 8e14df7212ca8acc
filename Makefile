# Two entry points a new machine needs: `make render STACK=dev` and `make test`.
# Each creates .venv and installs pinned requirements on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STACK  ?= dev

.PHONY: render test test-fast bench tools config-reference golden lint detection diff schemas bench-middleware clean

$(BIN)/python:
	@echo "==> creating $(VENV) (first run only)"
	$(PYTHON) -m venv $(VENV)

# pip prints each package as it goes: the first install takes a few minutes, later runs none.
$(VENV)/.runtime: requirements.txt | $(BIN)/python
	@echo "==> installing the pinned runtime requirements into $(VENV) (first run: a few minutes)"
	$(BIN)/python -m pip install --progress-bar off -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	@echo "==> installing the pinned test, lint and type-check requirements into $(VENV) (first run: a few minutes)"
	$(BIN)/python -m pip install --progress-bar off -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

## render STACK=<stack>: Pulumi.<stack>.yaml -> rendered/<stack>/ (no CLI, credentials or cluster needed)
render: $(VENV)/.runtime
	$(BIN)/python -m tools.render --stack $(STACK) --out rendered/$(STACK)

## tools: the engines the cluster runs, into .engines/bin (Prometheus 3.5 + promtool, Alertmanager 0.33 + amtool, Helm v4, kubectl)
tools: $(VENV)/.runtime
	$(BIN)/python -m tools.engines install

## lint: ruff and mypy (pydantic plugin), configured in pyproject.toml
lint: $(VENV)/.dev
	@echo "==> ruff and mypy (about a minute)"
	$(BIN)/ruff check .
	$(BIN)/mypy

# checkov pins its own boto3 and packaging, older than the program's: it gets a venv of its own.
CHECKOV_VENV := .venv-checkov
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	@echo "==> installing checkov into $(CHECKOV_VENV) (its own venv; first run: about a minute)"
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --progress-bar off -q -r requirements-checkov.txt
	touch $@

## test: lint, types and the whole suite
# The service package's oldest supported dependencies, on its oldest Python (pyenv's 3.10 when present).
OLDEST_VENV := .venv-oldest
OLDEST_PYTHON ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.10*/bin/python) $(shell command -v python3.10) $(PYTHON))
$(OLDEST_VENV)/.installed: instrumentation/requirements-oldest.txt
	@echo "==> installing the service package's oldest supported dependencies into $(OLDEST_VENV) ($(OLDEST_PYTHON))"
	$(OLDEST_PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install --progress-bar off -q -r instrumentation/requirements-oldest.txt
	touch $@

test: $(VENV)/.dev tools $(CHECKOV_VENV)/.installed $(OLDEST_VENV)/.installed lint
	@echo "==> pytest, the whole suite: 25 to 40 minutes on 2 cores; the slowest tests and the time per tier print at the end"
	$(BIN)/python -m pytest -q --durations=10

## test-fast: the edit loop (about 4 minutes on 2 cores): config, rendering, golden files, promtool checks; no real servers, charts or installs
# Left out, and run by `make test` and CI: the real-engine tier, helm template of the charts, the change
# lab, the SLO alerts' timing on promtool (incidents minute by minute: 5 of the 6 minutes of
# tests/services), the service package's real servers and its install tests on both ends of its ranges.
FAST_SKIP := --ignore=tests/engines --ignore=tests/charts --ignore=tests/changes --ignore=instrumentation/tests \
	--ignore=tests/services/test_slo.py --ignore=tests/services/test_slo_windows.py --ignore=tests/services/test_budgets.py \
	--ignore=tests/test_package_ranges.py --deselect=tests/delivery/test_ci_paths.py::test_make_diff_shows_a_change \
	--deselect=tests/delivery/test_ci_paths.py::test_make_diff_names_the_secrets_a_change_adds_and_a_difference_is_not_an_error
test-fast: $(VENV)/.dev
	$(BIN)/python -m pytest -q -x $(FAST_SKIP) tests

## bench: program under mocks vs. a bare-SDK baseline, 10/100/500 services
bench: $(VENV)/.dev
	$(BIN)/python -m tools.bench

## config-reference: regenerate the README's configuration reference from the models
config-reference: $(VENV)/.runtime
	$(BIN)/python -m tools.config_reference --write

clean:
	rm -rf rendered .pytest_cache

## golden: rewrite tests/golden/ from the renderers after an intended change (review the diff)
golden: $(VENV)/.dev
	UPDATE_GOLDEN=1 $(BIN)/python -m pytest -q tests -k golden

## detection: detection time of each SLO tier for standard incidents, on promtool (the table in docs/alerting.md)
detection: $(VENV)/.dev tools
	$(BIN)/python -m tools.detection

## diff STACK=<stack> [BASE=<git ref>]: render BASE and the working tree, print the difference
BASE ?= origin/main
diff: $(VENV)/.runtime
	$(BIN)/python -m tools.diff --stack $(STACK) --base $(BASE) || [ $$? -eq 1 ]

## schemas: fetch the pinned charts' values and the CRDs the schema tests need into .schemas/ (CI without ../shared)
schemas: $(VENV)/.runtime
	$(BIN)/python -m tools.fetch_schemas --out .schemas

## bench-middleware: what the service-contract middleware adds per request (in process and over HTTP), memory per route
bench-middleware: $(VENV)/.dev
	$(BIN)/python instrumentation/benchmarks/overhead.py
