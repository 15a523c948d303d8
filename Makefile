# The README's two commands: `make demo` and `make test`. Both work on a fresh clone.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
# The suite runs on the real thing: PostgreSQL and Redis on localhost.
TEST_DATABASE_URL ?= postgres://localhost/console
TEST_BROKER_URL   ?= redis://127.0.0.1:6379/8
# Test processes (pytest-xdist), browser journeys and worker tests included: each has a
# database of its own and a Redis database of its own (tests/settings.py counts up from
# TEST_BROKER_URL's).
TEST_WORKERS ?= 2
DEMO_DIR ?= var/demo
DEMO_SCALE ?= 0.3

# Every dependency (the app's and the dev group's), pinned with hashes: `make install` installs
# exactly these; `make lock` re-resolves after a change to pyproject.toml, keeping the pins
# it can; `make lock-upgrade` moves every pin to the newest release pyproject.toml allows.
LOCK := requirements.lock
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --group dev --universal --python-version 3.11 \
	--generate-hashes --quiet -o $(LOCK)

.PHONY: install demo test test-requirements test-chromium lint services worker beat serve e2e bench clean lock lock-upgrade

install: $(VENV)/.installed .env

$(VENV)/.installed: pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=25.1"
	$(BIN)/python -m pip install -q --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install -q --no-deps -e .
	@# A dependency added to pyproject.toml without `make lock` stops here, not at import.
	$(BIN)/python -m pip check
	touch $@

$(BIN)/uv:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "uv>=0.9,<1"

lock: $(BIN)/uv
	$(UV_COMPILE)

lock-upgrade: $(BIN)/uv
	$(UV_COMPILE) --upgrade

# A development .env: DEBUG on and a random secret key. Production sets real variables.
.env:
	@echo "DEBUG=true" > $@
	@echo "SECRET_KEY=$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" >> $@
	@echo "wrote .env (DEBUG=true, random SECRET_KEY) for local development"

# The demo runs as a user would run the console: DEBUG off (the console's own 404 and 500
# pages, never Django's debug pages), static files collected and served by WhiteNoise, under
# gunicorn. One process with threads: with no CACHE_URL each process has a cache of its own.
# Cookies are not marked Secure, since the demo is plain http on localhost.
demo: install
	$(BIN)/python manage.py migrate --noinput
	test -f $(DEMO_DIR)/exchanges.jsonl.gz || $(BIN)/python manage.py generate_traffic $(DEMO_DIR) --seed 7 --scale $(DEMO_SCALE)
	$(BIN)/python manage.py ingest $(DEMO_DIR)
	$(BIN)/python manage.py detect
	$(BIN)/python manage.py demo_users
	DEBUG=false $(BIN)/python manage.py collectstatic --noinput -v 0
	@echo "serving on http://localhost:$(PORT)/ with DEBUG off (gunicorn, static files by WhiteNoise)"
	DEBUG=false SECURE_COOKIES=false $(BIN)/gunicorn dashboard.wsgi --bind 0.0.0.0:$(PORT) --workers 1 --threads 8 --access-logfile -

serve: install
	$(BIN)/python manage.py runserver 0.0.0.0:$(PORT)

# What the suite needs beyond Python, checked before anything runs: Chromium for the browser
# journeys (installed through apt-get first when running as root where there is apt-get) and
# PostgreSQL and Redis (started by `services`). Anything still missing stops the run with one
# line saying what to install (make's $(error), expanded after test-chromium has run).
test-requirements: test-chromium
	$(if $(shell command -v chromium),,$(error make test needs Chromium for the browser journeys: install it (Debian: apt-get install chromium), then run make test again))
	$(if $(shell command -v pg_isready >/dev/null && command -v redis-cli >/dev/null && command -v redis-server),,$(error make test needs PostgreSQL and Redis on localhost: install them (Debian: apt-get install postgresql redis-server), then run make test again))

test-chromium:
	@command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1 || { \
	  echo "installing chromium for the browser journeys (apt-get)"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || true; }

# Start local PostgreSQL and Redis if they are installed but down.
services:
	@pg_isready -q -h localhost || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
	@for i in $$(seq 1 30); do pg_isready -q -h localhost && redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 1; done
	@pg_isready -q -h localhost || { echo "PostgreSQL did not come up" >&2; exit 1; }
	@psql "$(TEST_DATABASE_URL)" -c "select 1" >/dev/null 2>&1 || createdb -h localhost "$$(basename $(TEST_DATABASE_URL))"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: test-requirements install services
	$(BIN)/ruff check .
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(BIN)/python manage.py makemigrations --check --dry-run
ifeq ($(strip $(PYTEST_ARGS)),)
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(BIN)/pytest -n $(TEST_WORKERS)
else
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(BIN)/pytest $(PYTEST_ARGS)
endif

worker: install
	$(BIN)/celery -A dashboard worker --loglevel=INFO

beat: install
	$(BIN)/celery -A dashboard beat --loglevel=INFO --schedule var/celerybeat-schedule

clean:
	rm -rf $(VENV) .pytest_cache staticfiles var db.sqlite3*
