# The two commands a newcomer needs: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi

.PHONY: install run test test-postgres db-upgrade seed clean load

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

install: $(VENV)/.installed

db-upgrade: install
	$(FLASK) db upgrade

seed: db-upgrade
	$(FLASK) catalogue seed

# Serves on http://127.0.0.1:5000; with no STRIPE_SECRET_KEY, beside a local Stripe sandbox.
run: seed
	VENV=$(VENV) bash scripts/run.sh

# SQLite by default; set DATABASE_URL to run the same suite on PostgreSQL. Two workers per core
# (pytest-xdist; many tests wait on HTTP, subprocesses or timeouts, so two per core finish ~12%
# sooner than one), a test file's tests on one worker; TEST_WORKERS=0 runs them in this process.
TEST_WORKERS ?= $(shell echo $$((2 * $$(nproc))))
XDIST = -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder
# Compiled modules, and pytest's rewritten test modules, are kept between runs (in __pycache__,
# which git ignores) even where the environment sets PYTHONDONTWRITEBYTECODE: with it, each
# worker compiled every module afresh on every run (docs/performance.md, "The test suite").
PYTEST = PYTHONDONTWRITEBYTECODE= $(PY) -m pytest
test: install
	$(PYTEST) -q $(XDIST) $(PYTEST_ARGS)

# Lint and types: ruff (rules in pyproject.toml) and mypy on the shop package.
.PHONY: lint
lint: install
	$(PY) -m ruff check .
	$(PY) -m mypy

test-postgres: install
	DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test $(PYTEST) -q $(XDIST) $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache

# 100 customers for 60 s on PostgreSQL and the local Stripe sandbox, then a check of the books.
load: install
	$(PY) -m pip install --quiet --disable-pip-version-check -r loadtest/requirements.txt
	$(PY) -m loadtest.run

# Benchmarks: prints a table and writes BENCHMARKS.md (about 25 min with PostgreSQL; BENCH_QUICK=1 for a smoke run).
# PostgreSQL too when DATABASE_URL names a database called *bench* (its schema is dropped and refilled).
.PHONY: bench
bench: install
	@command -v wrk >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 \
	  || (apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1) \
	  || echo "wrk could not be installed: using the bounded Python load generator"
	$(PY) -m bench

# Real-browser tests (tests/browser): Playwright drives Debian's chromium (apt-get install
# chromium; never `playwright install`) and axe-core; screenshots in artifacts/screenshots/.
.PHONY: test-browser
test-browser: install
	$(PY) -m pip install --quiet --disable-pip-version-check -r tests/browser/requirements.txt
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error
	BROWSER_TESTS=1 $(PYTEST) -q tests/browser $(PYTEST_ARGS)

# Known-vulnerability check of the pinned requirements (needs the vulnerability service that
# pip-audit queries; this project's CI machines cannot reach it, so CI does not run it).
.PHONY: audit
audit: install
	$(PY) -m pip install --quiet --disable-pip-version-check pip-audit
	$(PY) -m pip_audit --strict -r requirements.txt
