# geoplatform: `make demo` serves the platform with sample data, `make test` runs the suite.
# Both set everything up themselves (idempotent; a second run takes seconds).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
GP := $(BIN)/geoplatform
export GEOPLATFORM_PG_PORT ?= 55432
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: help setup system-deps venv vendor db db-start db-stop migrate messages static demo serve test bench clean

help:
	@echo "make demo     set up and serve the platform with sample data at http://$(HOST):$(PORT)/"
	@echo "make test     set up and run the test suite against the local PostGIS"
	@echo "make setup    system packages, .venv, map libraries, local PostGIS, migrations"
	@echo "make db-stop  stop the project-local PostgreSQL cluster"
	@echo "make bench    run the benchmarks in bench/"

setup: system-deps venv vendor db migrate messages static

system-deps:
	@bash scripts/system-deps.sh

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test]'
	@touch $@

vendor: .data/vendor/.installed
.data/vendor/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@rm -rf .data/vendor && mkdir -p .data/vendor/leaflet .data/vendor/ol
	@cp -r node_modules/leaflet/dist/. .data/vendor/leaflet/
	@cp node_modules/ol/dist/ol.js node_modules/ol/ol.css .data/vendor/ol/
	@touch $@

db db-start:
	@bash scripts/db.sh start

db-stop:
	@bash scripts/db.sh stop

migrate: venv
	@$(GP) migrate --noinput -v 0

messages: .data/.messages
.data/.messages: $(wildcard geoplatform/locale/*/LC_MESSAGES/*.po) | venv
	@cd geoplatform && ../$(GP) compilemessages -v 0
	@touch $@

static: .data/.static
.data/.static: .data/vendor/.installed $(shell find geoplatform layers ingest tiles thematic -path '*/static/*' -type f 2>/dev/null) | venv
	@$(GP) collectstatic --noinput -v 0
	@touch $@

demo: setup
	@$(GP) demo-data
	@$(GP) serve --host $(HOST) --port $(PORT)

test: setup
	$(BIN)/pytest

bench: setup
	@bash scripts/system-deps.sh --bench
	@for f in bench/*.py; do [ -e "$$f" ] || continue; echo "== $$f"; $(BIN)/python "$$f" || exit 1; done

clean: db-stop
	rm -rf .data $(VENV) node_modules
