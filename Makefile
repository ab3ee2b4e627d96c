# `make demo`: create the environment and run the end-to-end demo.
# `make test`: create the environment and run the whole test suite (what CI runs).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.climb-installed

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# the pinned torch first, so the CPU build is used and no CUDA wheels are pulled
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(VENV)/bin/climb demo

test: setup
	$(VENV)/bin/ruff check src tests benches
	$(PY) -m pytest -q -p no:cacheprovider

lint: setup
	$(VENV)/bin/ruff check src tests benches
	$(VENV)/bin/ruff format --check src tests benches

bench: setup
	$(PY) benches/loader.py
	$(PY) benches/train_step.py

clean:
	rm -rf $(VENV) build dist *.egg-info
