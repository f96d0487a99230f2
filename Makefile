# Two commands for a fresh machine (see README):
#   make lab   - set up .venv if needed, then JupyterLab with Grace on 127.0.0.1
#   make test  - set up .venv if needed, then the whole suite (lint, types, tests, notebooks)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.grace-installed
PORT   ?= 8888

# JupyterLab refuses to run as root unless told it may (CI and containers run as root).
ROOT_FLAG := $(shell [ "$$(id -u)" = "0" ] && echo --allow-root)

.PHONY: lab test setup lint typecheck pytest bench clean lab-extension

setup: $(STAMP)

# The JupyterLab extension (extensions/grace-lab) is built before Grace is installed: the
# wheel ships its build as shared-data. Building needs node and jlpm, which comes with the
# pinned jupyterlab, so that goes into the venv first.
LAB_EXT   := extensions/grace-lab
LAB_BUILT := $(LAB_EXT)/labextension/package.json
LAB_TOOLS := $(VENV)/.grace-lab-tools
LAB_SRC   := $(wildcard $(LAB_EXT)/src/*.ts $(LAB_EXT)/style/* $(LAB_EXT)/schema/*.json) \
             $(LAB_EXT)/package.json $(LAB_EXT)/yarn.lock $(LAB_EXT)/tsconfig.json
JLAB_PIN  := $(shell grep -o 'jupyterlab==[0-9.]*' pyproject.toml)
JLPM      := PATH="$(CURDIR)/$(BIN):$$PATH" $(CURDIR)/$(BIN)/jlpm

$(LAB_TOOLS): pyproject.toml tools/system-packages.sh
	@bash tools/system-packages.sh
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Grace needs Python >= 3.11; set PYTHON=python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet '$(JLAB_PIN)'
	@touch $@

$(LAB_BUILT): $(LAB_TOOLS) $(LAB_SRC)
	cd $(LAB_EXT) && $(JLPM) install --immutable >/dev/null && $(JLPM) build

lab-extension: $(LAB_BUILT)

$(STAMP): pyproject.toml tools/system-packages.sh $(LAB_BUILT)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

lab: setup
	$(BIN)/grace init
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) \
	    --ServerApp.root_dir="$(CURDIR)" --ServerApp.open_browser=False $(ROOT_FLAG)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	cd $(LAB_EXT) && $(JLPM) run check

typecheck: setup
	$(BIN)/mypy

pytest: setup
	$(BIN)/pytest --nbmake tests notebooks

test: lint typecheck pytest

bench: setup
	$(BIN)/python bench/ledger.py
	$(BIN)/python bench/governance.py
	$(BIN)/python bench/hunter.py
	$(BIN)/python bench/cell_overhead.py
	$(BIN)/python bench/server_overhead.py
	$(BIN)/python bench/sandbox.py
	$(BIN)/python bench/healing.py
	$(BIN)/python bench/knowledge.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
