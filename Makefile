# onemap: two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
FEED ?= 1

.PHONY: demo test test-fast bench soak lint typecheck db redis tools serve clean-db frontend \
	cluster cluster-down

# The virtualenv, (re)installed when pyproject.toml changes.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "[venv] installing onemap and its dependencies into $(VENV)"
	@$(BIN)/pip install -q -e '.[dev,demo]' 2> >(grep -v "^WARNING: Location" >&2)
	@touch $@

## The front end (frontend/): npm ci from the lock file, then a Vite build into frontend/dist,
## each redone only when its inputs change.
FRONTEND_SRC := $(shell find frontend/src frontend/index.html frontend/vite.config.js \
	frontend/package.json -type f 2>/dev/null)
FRONTEND_DEPS := frontend/node_modules/.package-lock.json
FRONTEND_DIST := frontend/dist/index.html

frontend: $(FRONTEND_DIST)

$(FRONTEND_DEPS): frontend/package-lock.json
	@command -v npm >/dev/null || scripts/ensure-packages nodejs npm
	@echo "[frontend] npm ci"
	@cd frontend && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(FRONTEND_DIST): $(FRONTEND_DEPS) $(FRONTEND_SRC)
	@echo "[frontend] vite build"
	@cd frontend && npx vite build --logLevel warn
	@touch $@

## PostGIS: ONEMAP_DATABASE_URL, Docker Compose, or a project-local cluster in .data/
db:
	@scripts/db-up >/dev/null

## Redis: ONEMAP_REDIS_URL, or a project-local redis-server in .data/redis (ONEMAP_REDIS_PORT)
redis:
	@scripts/redis-up >/dev/null

## System tools the tests and benchmarks call (Debian packages, installed when missing):
## GDAL's ogrinfo, and chromium with a CJK font for the front end's browser test;
## HAProxy and docker-compose (`config` only, no engine) for the cluster tests;
## pango (weasyprint's layout), the CJK font and poppler-utils (pdftotext) for the bulletin.
BULLETIN_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 fonts-wqy-microhei
tools:
	@scripts/ensure-packages gdal-bin chromium fonts-wqy-microhei haproxy docker-compose \
		$(BULLETIN_PACKAGES) poppler-utils

## Bring up PostGIS, install, migrate, load the Xi'an demo city, serve the map.
## A simulated SCADA feed posts live readings alongside (FEED=0: no feed); Ctrl-C stops both.
## Tiles and rate limits are shared through ONEMAP_REDIS_URL, or a project-local Redis.
demo: $(STAMP) db redis frontend
	@scripts/ensure-packages $(BULLETIN_PACKAGES)
	@$(BIN)/onemap demo up --url http://$(HOST):$(PORT)
	@echo "[serve] http://$(HOST):$(PORT)/"
	@export ONEMAP_REDIS_URL=$$(scripts/redis-up); \
	if [ "$(FEED)" = "0" ]; then exec $(BIN)/onemap serve --host $(HOST) --port $(PORT); fi; \
	$(BIN)/onemap demo feed --url http://$(HOST):$(PORT) & feed=$$!; \
	trap 'kill $$feed 2>/dev/null; wait $$feed 2>/dev/null' EXIT; trap 'exit 130' INT TERM; \
	$(BIN)/onemap serve --host $(HOST) --port $(PORT) --no-access-log

## The cluster on one machine: primary + a streaming replica (pg_basebackup), Redis, two app
## nodes reading from the replica, HAProxy on PORT checking /readyz (docs/scaling.md).
cluster: $(STAMP) db redis frontend
	@scripts/ensure-packages haproxy
	@PORT=$(PORT) scripts/cluster-up

cluster-down:
	@scripts/cluster-down

## The whole test suite against a real PostGIS and a real Redis (exit 5, no tests, is a
## failure; so is any skipped test: the count is printed and must be zero).
test: $(STAMP) db redis tools frontend
	@ONEMAP_TEST_REDIS_URL=$$(scripts/redis-up) $(BIN)/python -m pytest --junitxml=.data/pytest.xml; \
	rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; \
	skipped=$$($(BIN)/python -m scripts.skipped .data/pytest.xml) || exit 1; \
	echo "[test] skipped tests: $$skipped"; \
	if [ "$$skipped" != 0 ]; then echo "[test] failing: $$skipped skipped (none allowed)" >&2; exit 1; fi; \
	exit $$rc

## The inner loop: everything but the tests marked slow (faults, browser, Schemathesis,
## lint, the live feed); `make test` still runs them all.
test-fast: $(STAMP) db redis tools
	@ONEMAP_TEST_REDIS_URL=$$(scripts/redis-up) $(BIN)/python -m pytest -m "not slow"

## Benchmarks, side by side with their references; prints the README's table.
bench: $(STAMP) db tools
	@scripts/ensure-packages wrk
	@$(BIN)/python -m scripts.bench

lint: $(STAMP)
	@$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

serve: $(STAMP) db frontend
	@scripts/ensure-packages $(BULLETIN_PACKAGES)
	@$(BIN)/onemap serve --host $(HOST) --port $(PORT)

## Soak: 64 clients on a mixed load + readings at 1,000/s + back-to-back regrades, 10 min
## (SOAK_SECONDS=180 make soak for a shorter run); figures on stdout and in .data/soak.json.
soak: $(STAMP) db
	@$(BIN)/python -m scripts.bench.soak
