# The project's commands. `make run` and `make test` set everything up first; set-up is incremental.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export PORT

PO_FILES := $(wildcard locale/*/LC_MESSAGES/django.po)
MO_FILES := $(PO_FILES:.po=.mo)

.PHONY: setup run test lint format bench soak migrate seed worker beat messages clean

setup: $(VENV)/.installed static/vendor/versions.json $(MO_FILES)

.system-deps: bin/system-deps
	bin/system-deps
	@touch $@

$(VENV)/.installed: pyproject.toml .system-deps
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

static/vendor/versions.json: node_modules/.package-lock.json bin/vendor-static
	bin/vendor-static

locale/%/LC_MESSAGES/django.mo: locale/%/LC_MESSAGES/django.po .system-deps
	msgfmt --check -o $@ $<

migrate: setup
	$(PY) manage.py migrate --no-input

seed: migrate
	$(PY) manage.py seed_demo

# Serves the demo: the development server, or gunicorn when DJANGO_DEBUG=0.
run: seed
	@if [ "$${DJANGO_DEBUG:-1}" = "0" ]; then \
		$(PY) manage.py collectstatic --no-input -v 0 && \
		exec $(VENV)/bin/gunicorn tracking.wsgi --bind 0.0.0.0:$(PORT) --workers $${WEB_CONCURRENCY:-3} --access-logfile -; \
	else \
		exec $(PY) manage.py runserver 0.0.0.0:$(PORT); \
	fi

worker: setup
	$(VENV)/bin/celery -A tracking worker --loglevel=info

beat: setup
	$(VENV)/bin/celery -A tracking beat --loglevel=info

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: lint
	$(PY) manage.py check --fail-level WARNING
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The benchmarks measure production's parts: PostgreSQL and Redis on loopback (each makes and
# drops its own database, test_ + the URL's name).
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/bench
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/15
bench: setup
	BENCH=1 bin/system-deps
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) $(PY) -m benchmarks $(BENCH_ARGS)

# Load and faults (about 12 minutes) on a PostgreSQL and a Redis of its own, on other ports and in
# a temporary directory, stopped and restarted at will and torn down after (benchmarks/soak/).
soak: setup
	$(PY) -m benchmarks.soak $(SOAK_ARGS)

# Re-extracts the message catalogs after templates or code change.
messages: setup
	$(PY) manage.py makemessages --all --ignore 'node_modules/*' --ignore '.venv/*' --no-obsolete

clean:
	rm -rf $(VENV) node_modules static/vendor staticfiles .system-deps locale/*/LC_MESSAGES/*.mo
