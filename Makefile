# The two commands of README: `make up` and `make test`. Both are idempotent.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.govcloud-installed
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: up test install system venv axe lint unit integration bench clean down

up: install
	@test -f govcloud.yaml || $(BIN)/govcloud init
	$(BIN)/govcloud up
	$(BIN)/govcloud apply
	$(BIN)/govcloud status

test: install lint
	$(BIN)/pytest -q --durations=15 -n 2

install: system venv axe

# axe-core (the accessibility rules the browser tests run in Chromium) from npm, at a pinned version, into .cache/
# (not committed); tests/integration/_browser.py reads it from there (keep AXE_VERSION the same in both).
AXE_VERSION := 4.14.1
AXE_JS := .cache/axe-core-$(AXE_VERSION)/node_modules/axe-core/axe.min.js
axe: $(AXE_JS)

$(AXE_JS):
	npm install --prefix .cache/axe-core-$(AXE_VERSION) --no-save --no-package-lock --no-audit --no-fund \
		--ignore-scripts --loglevel=error axe-core@$(AXE_VERSION)
	@test -s $@

system:
	@bash scripts/install-system.sh

# Bytecode of our own packages, written explicitly: Python reads .pyc files even where PYTHONDONTWRITEBYTECODE
# keeps it from writing them, and compiling ~70 modules costs every command that runs in its own process ~0.13 s.
venv: $(STAMP)
	@$(BIN)/python -m compileall -q -j 0 platform cli stacks policies >/dev/null

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

lint: venv
	$(BIN)/ruff check platform cli stacks policies tests benchmarks roles
	$(BIN)/mypy platform/govcloud_platform cli/govcloud_cli
	$(BIN)/mypy roles/centre/files/app/centre_core roles/centre/files/app/centre_web

unit: install
	$(BIN)/pytest -q tests/unit

integration: install
	$(BIN)/pytest -q tests/integration tests/infra

bench: install
	cd benchmarks && for b in bench_box bench_agencies bench_spec bench_iaas_plan bench_backups bench_apps; do \
		echo "== $$b"; ../$(BIN)/python $$b.py || exit 1; done

down: venv
	$(BIN)/govcloud down

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
