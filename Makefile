# copier-prefect-starter: `make` (or `make help`) lists the targets.
# Needs only python3 (3.10+), git and make: uv is installed into .venv on first use.

.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
UV := $(VENV)/bin/uv
RUN := $(UV) run --locked
SYNCED := $(VENV)/.synced
# Azurite, the Azure Blob emulator of the storage tests, comes from npm.
AZURITE := .cache/node/node_modules/.bin/azurite-blob

.PHONY: help demo test test-fast lint format bench docs release clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null || \
	  { echo "error: $(PYTHON) must be Python 3.10 or newer (set PYTHON=/path/to/python3)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check "uv>=0.8,<1"

$(SYNCED): $(UV) pyproject.toml uv.lock
	$(UV) sync --locked
	@touch $@

demo: $(SYNCED) ## Render the default project into .demo/, run its pipeline locally, tear down (KEEP=1 keeps it up)
	$(RUN) python scripts/demo.py $(if $(DEMO_DIR),--dest $(DEMO_DIR)) $(if $(DEMO_PORT),--port $(DEMO_PORT)) $(if $(DEPARTMENT),--department $(DEPARTMENT)) $(if $(KEEP),--keep-up)

$(AZURITE):
	@command -v npm >/dev/null || { echo "error: npm is needed to install Azurite for the tests" >&2; exit 1; }
	npm install --prefix .cache/node --no-audit --no-fund --silent azurite@3.35.0

test: $(SYNCED) $(AZURITE) ## Run the whole test suite (what CI runs)
	$(RUN) pytest $(PYTEST_ARGS)

test-fast: $(SYNCED) ## Only the fast checks: questions and the render matrix
	$(RUN) pytest -m "not slow" $(PYTEST_ARGS)

lint: $(SYNCED) ## Check the template's own Python (tests, scripts)
	$(RUN) ruff check .
	$(RUN) ruff format --check .

format: $(SYNCED) ## Format the template's own Python
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

bench: $(SYNCED) $(AZURITE) ## Print the benchmark figures (BENCH_ARGS="--only scale-out" for one section)
	$(RUN) python scripts/bench.py $(BENCH_ARGS)

docs: $(SYNCED) ## Regenerate docs/reference/questions.md from copier.yml, then build the site
	$(RUN) python scripts/questions_reference.py
	$(RUN) mkdocs build --strict --site-dir .cache/site

release: $(SYNCED) ## Tag release VERSION=X.Y.Z once CHANGELOG.md has its entry (refuses otherwise)
	@[ -n "$(VERSION)" ] || { echo "error: say which version: make release VERSION=X.Y.Z" >&2; exit 1; }
	$(RUN) python scripts/release.py $(VERSION)

clean: ## Remove the demo project and caches (not .venv)
	rm -rf .demo .pytest_cache .ruff_cache
