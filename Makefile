# fusioncell: `make run` serves the demo, `make test` runs every test. Both set everything up first.
SHELL := /bin/bash
# The first interpreter that runs and is 3.11 or newer (pyenv shims of absent versions fail and are skipped).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
  $$p -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null && { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install bench lint lock clean help

help:
	@echo "make run   - set up and serve the demo at http://127.0.0.1:8000 (SQLite under ./var/demo)"
	@echo "make test  - set up and run the whole test suite (SQLite and PostgreSQL)"
	@echo "make bench - run the benchmarks (traffic: fusioncell vs Matrix Synapse) and print their table"
	@echo "make lint  - ruff"
	@echo "make lock  - refresh constraints.txt from a fresh resolution"

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "fusioncell needs Python 3.11 or newer on PATH (or PYTHON=/path/to/python3.11)"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "fusioncell needs Python 3.11 or newer: set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)

# Installs exactly the tested versions (constraints.txt) of everything, test tools included.
$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade 'pip>=24'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	@touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/fusioncell demo --data var/demo

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	( echo "# Tested versions: make install uses these as constraints. Refresh with make lock."; \
	  .venv-lock/bin/python -m pip freeze --exclude-editable --exclude fusioncell | sort -f ) > constraints.txt
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
