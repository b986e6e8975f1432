# fusioncell: `make run` serves the demo, `make test` runs every test. Both set everything up first.
SHELL := /bin/bash
# The first interpreter that runs and is 3.11 or newer (pyenv shims of absent versions fail and are skipped).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
  $$p -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null && { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WEB_STAMP := node_modules/.installed
# The browser tests drive Debian's Chromium; `make test` installs it when it is missing (as root, or with sudo).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

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

# The web pages' front-end packages, exactly as package-lock.json pins them (served from /static/vendor).
$(WEB_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "fusioncell's web pages need Node.js and npm to install htmx: apt-get install nodejs npm"; exit 1; }
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "the browser tests need Chromium at $(CHROMIUM): install your system's chromium package"; exit 1; }
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium

install: $(STAMP) $(WEB_STAMP)

run: $(STAMP) $(WEB_STAMP)
	$(BIN)/fusioncell demo --data var/demo

# One pytest worker per core (pytest-xdist), each module's tests on one worker (their module-wide fixtures built once).
test: $(STAMP) $(WEB_STAMP) $(CHROMIUM)
	$(BIN)/python -m pytest -n auto --dist loadscope

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
	rm -rf $(VENV) node_modules .pytest_cache .hypothesis
