# The two README commands: `make run` (the portal with the sandbox and demo data)
# and `make test` (lint, migrations check, the whole suite on PostgreSQL + Redis).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint audit install clean

$(STAMP): pyproject.toml requirements/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# SQLite, the embedded (filesystem) Celery broker, a real worker, the sandbox over HTTPS.
run: $(STAMP)
	DEBUG=true SANDBOX_ENABLED=true $(BIN)/python manage.py demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python requirements/audit.py
	$(BIN)/python manage.py makemigrations --check --dry-run --settings=portal.settings_test
	$(BIN)/mypy
	$(BIN)/lint-imports
	SANDBOX_SCALE_TEST=1 $(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Pinned versions against known vulnerabilities (PyPI's advisory data). Says loudly when the
# source cannot be reached; DEPENDENCY_AUDIT_REQUIRED=1 makes that an error.
audit: $(STAMP)
	$(BIN)/python requirements/audit.py

clean:
	rm -rf $(VENV) var
