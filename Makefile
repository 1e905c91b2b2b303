# Fansi: the README's two commands are `make demo` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test install bench lint serve serve-prod messages clean

$(BIN)/python:
	@command -v $(PY) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PY) not found)"; exit 1; }
	$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo --base-url http://$(HOST):$(PORT)
	$(BIN)/python manage.py collectstatic --noinput -v 0
	@echo "Serving http://$(HOST):$(PORT) (HTTP + websockets, timed jobs in-process). Ctrl-C to stop."
	$(BIN)/python manage.py serve_demo --host $(HOST) --port $(PORT)

serve: install
	$(BIN)/daphne -b $(HOST) -p $(PORT) config.asgi:application

# --- deploy (issue 17): the deploy/ layout locally: nginx on https://127.0.0.1:PORT (8443 unless given), two ASGI
# processes, a Celery worker and beat (honcho), config.settings.production; needs DATABASE_URL and REDIS_URL.
serve-prod: install
	$(BIN)/python deploy/serve.py --port $(if $(filter command line environment,$(origin PORT)),$(PORT),8443)

test: install
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q --durations=20 $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

bench: install
	$(BIN)/python bench/chat.py
	$(BIN)/python bench/crm.py
	$(BIN)/python bench/broadcast.py
	$(BIN)/python bench/preorders.py
	$(BIN)/python bench/money.py
	$(BIN)/python bench/ratings.py
	$(BIN)/python bench/forecast.py
	$(BIN)/python bench/reach.py
	$(BIN)/python bench/reach_schedule.py
	# deploy (issue 17): the deploy/ layout under failure, and 10,000 sockets through nginx
	$(BIN)/python bench/deploy.py
	$(BIN)/python bench/sockets.py --skip-setup

messages: install
	$(BIN)/python manage.py makemessages -l zh_Hans -l en --ignore=.venv --ignore=bench --ignore=tests
	$(BIN)/python manage.py makemessages -d djangojs -l zh_Hans -l en --ignore=.venv --ignore=staticfiles
	$(BIN)/python manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) staticfiles
