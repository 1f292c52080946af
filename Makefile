# The two commands of the README: `make run` (install the app, start it) and
# `make test` (install what the tests need, run them all).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
AXE := tests/axe/node_modules/axe-core/axe.min.js
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: run test lint browser screenshots test-tf215 bench train evaluate

run: $(VENV)/.app-installed
	$(BIN)/python app.py

test: $(VENV)/.test-installed browser $(AXE)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .

# The package itself too, editable (its dependencies are the requirements' own): the README's
# `airken` command is then $(BIN)/airken, running this checkout's code.
INSTALL_PACKAGE := $(BIN)/pip install -q --no-deps -e .

$(VENV)/.app-installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt
	$(INSTALL_PACKAGE)
	touch $@

$(VENV)/.test-installed: requirements.txt requirements-test.txt train/requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements-test.txt
	$(INSTALL_PACKAGE)
	touch $@ $(VENV)/.app-installed

# The browser test drives Debian's Chromium (Playwright cannot download its own here).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

# axe-core (npm, pinned in tests/axe/package-lock.json) for the browser test's accessibility check.
$(AXE): tests/axe/package.json tests/axe/package-lock.json
	@command -v npm >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq npm >/dev/null; }
	npm ci --prefix tests/axe --no-audit --no-fund --silent
	touch $@

# The README's screenshots, taken by the browser test (re-run after shipping a new model).
screenshots: $(VENV)/.test-installed browser $(AXE)
	AIRKEN_SCREENSHOTS=docs/screenshots HF_HUB_OFFLINE=1 $(BIN)/python -m pytest tests/test_browser.py tests/test_air_browser.py -q

# The training tests again under TensorFlow 2.15 / Keras 2 (the Gaudi stack's version).
TF215 := .venv-tf215
test-tf215: $(TF215)/.installed
	HF_HUB_OFFLINE=1 $(TF215)/bin/python -m pytest tests/train

$(TF215)/.installed: train/requirements-tf215.txt
	test -x $(TF215)/bin/python || $(PYTHON) -m venv $(TF215)
	$(TF215)/bin/pip install -q -r train/requirements-tf215.txt
	touch $@

bench: $(VENV)/.test-installed
	$(BIN)/python -m bench.run_all

DATA ?= ../shared/data/milan ../shared/data/india-nepal
train: $(VENV)/.test-installed
	$(BIN)/python -m train.train --data $(DATA) --out runs/latest

# The place-aware evaluation: frozen-feature study (~20 min), then the network on every
# leave-one-place-out fold (~24 min on 2 cores); results in runs/places and runs/lopo.
evaluate: $(VENV)/.test-installed
	$(BIN)/python -m train.places --data $(DATA) --out runs/places
	$(BIN)/python -m train.lopo --data $(DATA) --out runs/lopo --features runs/places/features
