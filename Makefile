# The two commands of the README: `make demo` and `make test`.
# Every target installs what it is missing and nothing more, so running one
# again changes nothing.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
MO := locale/zh_Hans/LC_MESSAGES/django.mo
PO := locale/zh_Hans/LC_MESSAGES/django.po
DEMO_PORT ?= 8000

# Debian packages: WeasyPrint's libraries, CJK fonts, gettext for the
# translations; the tests add Chromium for the browser and poppler for
# reading PDFs back.
SYSTEM_PACKAGES := python3-venv gettext libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk
TEST_SYSTEM_PACKAGES := $(SYSTEM_PACKAGES) chromium poppler-utils

.PHONY: demo test var lint format bench messages system-packages test-system-packages clean

# git ignores var/ (the SQLite database, stored reports, collected static
# files), so a fresh clone has none: make it first.
demo: system-packages $(VENV)/.runtime-installed $(MO) var
	$(PY) manage.py migrate --noinput --verbosity 0
	$(PY) manage.py seed_demo
	@echo
	@echo "Zhenxingdai demo: http://127.0.0.1:$(DEMO_PORT)/  (Ctrl-C stops it)"
	$(PY) manage.py runserver 127.0.0.1:$(DEMO_PORT)

# Two processes, one per core. Tests are handed out one by one in collection
# order, in which pytest-django puts the transactional ones (whose end
# flushes every table) after the others; grouping by file would break that
# order. Only the demo's loan book is one unit (tests/conftest.py), handed
# out first, so that it is seeded once. The 25 slowest tests are listed at
# the end, to keep CI in its budget.
test: test-system-packages $(VENV)/.dev-installed $(MO) var lint
	$(VENV)/bin/pytest -n 2 --dist loadgroup --durations=25

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(VENV)/.dev-installed $(MO)
	$(PY) -m bench

# Re-extract translatable strings after changing templates or code; then
# translate the new entries in $(PO).
messages: $(VENV)/.dev-installed
	$(PY) manage.py makemessages -l zh_Hans --no-obsolete \
		--ignore=.venv --ignore=var --ignore=tests --ignore=bench

system-packages:
	@bash scripts/system-packages.sh $(SYSTEM_PACKAGES)

test-system-packages:
	@bash scripts/system-packages.sh $(TEST_SYSTEM_PACKAGES)

var:
	@mkdir -p var/media var/staticfiles var/screenshots

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is needed") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime-installed: requirements.txt | $(VENV)/bin/python
	$(PIP) -r requirements.txt
	@touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PIP) -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime-installed

$(MO): $(PO)
	msgfmt --check -o $@ $<

clean:
	rm -rf $(VENV) var $(MO)
