# The one task runner. `make help` lists the targets; CI runs `make test` (.ci/run).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install system-deps jars up down run status clean test test-unit test-integration lint bench bench-scale verify bank-pull audit-verify catch-up rebuild

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

system-deps: ## install missing Debian packages (Java, Maven, PostgreSQL 15, Redis, RabbitMQ)
	@bash infra/install-system.sh

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: system-deps $(STAMP) jars ## everything the stack and the tests need (idempotent)

jars: $(STAMP) ## Kafka, Kafka Connect and Debezium jars from Maven Central (cached in ~/.m2)
	@$(PY) -c "from infra.settings import get_settings; from infra.kafka.jars import ensure_jars; ensure_jars(get_settings())"

up: install ## start the stack in the background (PostgreSQL+history, ClickHouse, Kafka, Connect); returns when healthy
	@$(PY) -m infra.stack up

run: install ## the whole system in the foreground with the live simulator; Ctrl-C stops it all
	@$(PY) -m infra.stack run

down: ## stop the background stack
	@test -x $(PY) && $(PY) -m infra.stack down || true

status: ## health of every part, and where it listens
	@$(PY) -m infra.stack status

catch-up: $(STAMP) ## a progress bar (backlog, rate, ETA) until the streaming worker has caught up
	@$(PY) -m infra.catchup follow

rebuild: $(STAMP) ## drop the worker's ClickHouse tables and recompute them from the topics, with a progress bar
	@$(PY) -m infra.catchup rebuild

audit-verify: $(STAMP) ## verify the audit trail's hash chain; names the first broken record (exit 1)
	@$(PY) -m api.access.audit_verify

bank-pull: ## ask the running bank import to pull the SFTP inbox now (it pulls by itself daily at 06:00 Asia/Taipei)
	@$(PY) -m infra.stack bank-pull

verify: $(STAMP) ## recompute every aggregate from PostgreSQL and compare with ClickHouse; non-zero exit on any difference
	@$(PY) -m infra.verify

clean: ## stop everything and remove all local state (.state/)
	@test -x $(PY) && $(PY) -m infra.stack clean || rm -rf .state

lint: $(STAMP) ## ruff and mypy --strict
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/mypy

test-unit: $(STAMP) ## fast tests, no network
	@$(VENV)/bin/pytest -q tests/unit

test-integration: install ## tests against real services the fixtures start (their own ports and state)
	@$(VENV)/bin/pytest -q -m integration tests/integration

test: install lint ## install everything, lint, run all tests (unit + integration)
	@$(VENV)/bin/pytest tests/unit tests/integration

bench: install ## benchmarks against the real stack (change capture, streaming core); writes .state/bench/*.json and the README tables
	@$(PY) -m infra.bench

bench-scale: install ## the engine's memory, restart and a late change at 1, 3 and 7 years of history (hours: ~2.5k changes/s)
	@$(PY) -m infra.bench.state --years 1 3 7
