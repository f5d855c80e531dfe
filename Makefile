# The two commands of the README: `make run` (the whole app) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# The embedded state (SQLite database, broker, logs); two checkouts never share it.
export CATDOG_VAR_DIR ?= $(CURDIR)/var
SUPERVISOR := CATDOG_HOST=$(HOST) CATDOG_PORT=$(PORT) CATDOG_USER=$$(id -un)

.PHONY: run status ctl logs test setup-web setup-predict setup-worker setup-dev lint bench clean

# One stamp per requirements file: a web host installs web.txt only; workers add TensorFlow.
$(VENV)/.installed-%: requirements/%.txt requirements/web.txt requirements/predict.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r $<
	touch $@

setup-web: $(VENV)/.installed-web
setup-predict: $(VENV)/.installed-predict
setup-worker: $(VENV)/.installed-worker
setup-dev: $(VENV)/.installed-dev
$(VENV)/.installed-dev: requirements/worker.txt

# supervisord in the foreground (supervisord.conf): the broker, web, five workers and beat; Ctrl-C stops them.
# `exec` leaves supervisord alone in the foreground, so that Ctrl-C ends it quietly, make included.
run: setup-dev
	@$(PY) -m catdog_site.localbroker --check
	@if $(SUPERVISOR) $(VENV)/bin/supervisorctl -c supervisord.conf pid >/dev/null 2>&1; then \
	  echo "catdog already runs from $(CATDOG_VAR_DIR) (make status); Ctrl-C in its terminal stops it." >&2; exit 1; fi
	@mkdir -p $(CATDOG_VAR_DIR)/log
	$(PY) manage.py migrate --noinput
	$(PY) manage.py ensure_shipped_model
	@echo "catdog: starting on http://$(HOST):$(PORT)/ ; the admin login follows once everything answers."
	@$(SUPERVISOR) exec $(VENV)/bin/supervisord -c supervisord.conf

# While `make run` runs, from another terminal: `make status`, or `make ctl CMD="restart web"`.
CMD ?= status
status ctl:
	@$(SUPERVISOR) $(VENV)/bin/supervisorctl -c supervisord.conf $(CMD)

logs:
	tail -F $(CATDOG_VAR_DIR)/log/*.log

test: setup-dev
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) var staticfiles
