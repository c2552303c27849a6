# Two commands to remember: `make run` (set up and start the app) and `make test` (set up and run every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export FLASK_APP := wsgi

.PHONY: run serve test test-sqlite test-postgres install install-dev migrate browser-deps java-deps bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.prod: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.prod

install: $(VENV)/.prod
install-dev: $(VENV)/.dev

migrate: install
	$(BIN)/flask db upgrade

## Set everything up and start the app on http://127.0.0.1:5000 (SQLite unless DATABASE_URL says otherwise).
run: migrate
	$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

## The production command: the same server, bound as BIND says (default 0.0.0.0:8000).
serve: migrate
	$(BIN)/gunicorn -c gunicorn.conf.py --bind $${BIND:-0.0.0.0:8000} wsgi:app

## What the browser tests need beyond Python: Debian's Chromium, axe-core and the Nu Html Checker (npm), and Java.
browser-deps: node_modules/.installed java-deps
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

# Exact versions from package-lock.json; --ignore-scripts: vnu-jar's install script would look for a Java to download.
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq --no-install-recommends npm >/dev/null; }
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

## The Nu Html Checker runs on the machine's Java; Debian's headless JRE when there is none.
java-deps:
	@command -v java >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq --no-install-recommends default-jre-headless >/dev/null; }

## Set everything up and run the whole suite: on SQLite, then the database-dependent part on PostgreSQL.
test: install-dev browser-deps
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

test-sqlite:
	$(BIN)/pytest

# Suites marked `once` don't depend on the database dialect and ran already on SQLite.
test-postgres:
	@if $(BIN)/python -c "import psycopg; psycopg.connect('$(subst +psycopg,,$(PG_TEST_URL))').close()" 2>/dev/null; then \
	  TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest -m "not once"; \
	elif [ "$$CI" = "true" ]; then \
	  echo "PostgreSQL is not reachable at $(PG_TEST_URL); CI needs it." >&2; exit 1; \
	else \
	  echo "PostgreSQL is not reachable at $(PG_TEST_URL): skipped the PostgreSQL pass (set PG_TEST_URL)."; \
	fi

## The load benchmark (issue #12) on SQLite and PostgreSQL; prints and writes bench/results/latest.md.
bench: install-dev
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV)
