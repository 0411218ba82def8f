# genesys-presence-manager — every target creates the virtualenv it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint unit contract e2e fault-matrix demo up sim bench clean

$(STAMP): pyproject.toml layers/core/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip==25.3"
	$(BIN)/pip install --quiet -e ".[local,dev]"
	touch $(STAMP)

install: $(STAMP)

# checkov pins boto3 to another version than ours, so it gets a virtualenv of its own (inside .venv, so that
# `make clean` removes it). Every finding it reports is either fixed or skipped in template.yaml with the reason.
CHECKOV_VERSION := 3.3.30
CHECKOV := $(VENV)/checkov/bin/checkov

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/cfn-lint template.yaml
	@test -x $(CHECKOV) && $(CHECKOV) --version | grep -qx "$(CHECKOV_VERSION)" || { \
		$(PYTHON) -m venv $(VENV)/checkov && \
		$(VENV)/checkov/bin/pip install --quiet "checkov==$(CHECKOV_VERSION)"; }
	$(CHECKOV) --file template.yaml --framework cloudformation --compact --quiet --skip-download

# Unit and contract tests first (they mock AWS in-process), then the e2e files on three workers, one file each at a
# time: every worker runs its own local stack on free ports, so the files that mostly wait (a revert schedule's
# minute, a break's planned instant) overlap.
test: lint
	$(BIN)/pytest -q -n 3 tests/unit tests/contract
	$(BIN)/pytest -q -n 3 --dist loadfile tests/e2e

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

contract: $(STAMP)
	$(BIN)/pytest -q tests/contract

e2e: $(STAMP)
	$(BIN)/pytest -q -n 3 --dist loadfile tests/e2e

fault-matrix: $(STAMP)
	$(BIN)/python -m presence_manager_local.fault_matrix

demo: $(STAMP)
	$(BIN)/presence-manager demo

up: $(STAMP)
	$(BIN)/presence-manager up

sim: $(STAMP)
	$(BIN)/presence-manager sim --port 8787

# make bench BENCH_ARGS=--quick: bulks of 200 and 1,000 agents (the full run's 10,000-agent bulk takes ~25 min)
bench: $(STAMP)
	$(BIN)/python -m presence_manager_local.bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .aws-sam
