# genesys-presence-manager — every target creates the virtualenv it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint unit contract e2e demo up sim bench clean

$(STAMP): pyproject.toml layers/core/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip==25.3"
	$(BIN)/pip install --quiet -e ".[local,dev]"
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/cfn-lint template.yaml

test: lint
	$(BIN)/pytest -q

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

contract: $(STAMP)
	$(BIN)/pytest -q tests/contract

e2e: $(STAMP)
	$(BIN)/pytest -q tests/e2e

demo: $(STAMP)
	$(BIN)/presence-manager demo

up: $(STAMP)
	$(BIN)/presence-manager up

sim: $(STAMP)
	$(BIN)/presence-manager sim --port 8787

bench: $(STAMP)
	$(BIN)/python -m presence_manager_local.bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .aws-sam
