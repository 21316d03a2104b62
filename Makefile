# Two commands do everything: `make run` and `make test` (see README.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
SIMULATOR_PORT ?= 9000
# honcho's processes run `python`: the venv's, unbuffered so the logs interleave live.
export PATH := $(abspath $(BIN)):$(PATH)
export PYTHONUNBUFFERED := 1

.PHONY: run demo test lint format migrate stop bench drills

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

migrate: $(BIN)/.installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0

## run: ingest the public stream (STREAM_URL) with every process of the project
run: migrate
	$(BIN)/honcho start -f Procfile

## demo: the same processes against the local stream simulator, fully offline
demo: migrate
	SIMULATOR_PORT=$(SIMULATOR_PORT) STREAM_URL=http://127.0.0.1:$(SIMULATOR_PORT)/stream \
		$(BIN)/honcho start -f Procfile.demo

## test: lint, then the whole suite against a real PostgreSQL
test: lint migrate
	$(BIN)/pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## stop: stop the embedded PostgreSQL (started on demand when DATABASE_URL is unset)
stop:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m analyzer_project.embedded_db stop; fi

## bench: ingestion throughput (figures in bench/RESULTS.md)
bench: migrate
	$(BIN)/python bench/ingest.py

## drills: reliability drills against the real processes, one verdict line each (~20 min)
drills: migrate
	$(BIN)/python bench/drills.py
