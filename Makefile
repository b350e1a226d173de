# onemap: two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test bench soak lint typecheck db serve clean-db

# The virtualenv, (re)installed when pyproject.toml changes.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "[venv] installing onemap and its dependencies into $(VENV)"
	@$(BIN)/pip install -q -e '.[dev,demo]' 2> >(grep -v "^WARNING: Location" >&2)
	@touch $@

## PostGIS: ONEMAP_DATABASE_URL, Docker Compose, or a project-local cluster in .data/
db:
	@scripts/db-up >/dev/null

## Bring up PostGIS, install, migrate, load the Xi'an demo city, serve the map.
demo: $(STAMP) db
	@$(BIN)/onemap demo up
	@echo "[serve] http://$(HOST):$(PORT)/"
	@$(BIN)/onemap serve --host $(HOST) --port $(PORT)

## The whole test suite against a real PostGIS (exit 5, no tests, is a failure).
test: $(STAMP) db
	@$(BIN)/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

## Benchmarks, side by side with their references; prints the README's table.
bench: $(STAMP) db
	@$(BIN)/python -m scripts.bench

lint: $(STAMP)
	@$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

serve: $(STAMP) db
	@$(BIN)/onemap serve --host $(HOST) --port $(PORT)

## Soak: 64 clients on a mixed load + readings at 1,000/s + back-to-back regrades, 10 min
## (SOAK_SECONDS=180 make soak for a shorter run); figures on stdout and in .data/soak.json.
soak: $(STAMP) db
	@$(BIN)/python -m scripts.bench.soak
