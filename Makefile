# mltrack developer entry points. `make test` works on a fresh Debian machine (as root it installs
# Postgres 15 + pgTAP + plpgsql_check + PgBouncer with apt); elsewhere the tests fall back to other
# servers.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
NODE_DIR := tools/node
SUPABASE := $(NODE_DIR)/node_modules/.bin/supabase
DENO := $(NODE_DIR)/node_modules/.bin/deno
FUNCTION_DIR := supabase/functions/training-api

.PHONY: test demo lint install system-deps node clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Re-install only when the project metadata changes (pip would rebuild the editable wheel each time).
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[local,test,yolo]'
	@touch $@

install: $(VENV)/.installed

system-deps:
	@scripts/install-system-deps.sh

# The Supabase CLI and Deno, pinned in tools/node/package-lock.json (used by
# tests/test_supabase_cli.py, and by `mltrack api` and tests/api).
$(NODE_DIR)/node_modules/.package-lock.json: $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	@if command -v npm >/dev/null; then \
		cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error; \
	else \
		echo "npm not found: the Supabase CLI and REST API tests will be skipped"; \
	fi

# Then the training-api function's npm packages, pinned in its deno.lock, into Deno's cache.
node: $(NODE_DIR)/node_modules/.package-lock.json
	@if [ -x $(DENO) ]; then \
		cd $(FUNCTION_DIR) && $(abspath $(DENO)) install --quiet --frozen --entrypoint index.ts local.ts; \
	fi

# The SDK suite runs twice: directly, and through PgBouncer in transaction mode (as behind
# Supabase's pooler on port 6543), where prepared statements and session state do not carry over.
test: system-deps install node
	$(PY) -m pytest
	@echo "Database suites on the embedded Postgres 18 (what \`mltrack up\` runs):"
	MLTRACK_TEST_SERVER=embedded MLTRACK_TEST_PG_MAJOR=18 $(PY) -m pytest -q \
		tests/sql_api tests/test_migrate.py
	@if [ -x /usr/sbin/pgbouncer ] || command -v pgbouncer >/dev/null; then \
		echo "SDK suite through PgBouncer (transaction mode):"; \
		MLTRACK_TEST_POOLER=pgbouncer $(PY) -m pytest tests/sdk -q; \
	elif [ -n "$$CI" ]; then \
		echo "pgbouncer is not installed: CI must run the SDK suite through it" >&2; exit 1; \
	else \
		echo "pgbouncer is not installed: the SDK suite did not run through a pooler"; \
	fi

# The main path from a fresh clone: the local database, then a real tracked training of
# yolov8n on generated data, watched live in the dashboard, its benchmark and the leaderboard
# (`mltrack demo --help`). The dashboard keeps serving until Ctrl-C.
demo: install
	$(VENV)/bin/mltrack up
	@echo "Stop the local database when you are done with: $(VENV)/bin/mltrack down"
	$(VENV)/bin/mltrack demo

lint: install
	@if [ -x $(VENV)/bin/ruff ]; then $(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .; \
	elif command -v ruff >/dev/null; then ruff check . && ruff format --check .; \
	else echo "ruff is not installed (pip install ruff); skipping lint"; fi

clean:
	rm -rf build dist *.egg-info .pytest_cache $(NODE_DIR)/node_modules
