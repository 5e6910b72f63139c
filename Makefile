# The two commands that matter: `make book` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PROFILE ?= full
# Published builds are strict (-W -n --keep-going); `make book BOOK_FLAGS=` relaxes it.
BOOK_FLAGS ?= --strict
CHROMIUM := /usr/bin/chromium

.PHONY: venv book book-smoke confirm test test-fast refresh-reference browser clean

venv: $(STAMP)

# Re-install only when the dependency declarations change.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

book: venv
	$(PY) tools/build_book.py --profile $(PROFILE) $(BOOK_FLAGS)

book-smoke: venv
	$(PY) tools/build_book.py --profile smoke

# Rerun every chapter that has a confirm profile on fresh seeds; writes data/confirm_record.json.
confirm: venv
	$(PY) tools/confirm.py

# The browser tests need headless Chromium and its driver from the system packages.
browser:
	@if [ ! -x $(CHROMIUM) ] || [ ! -x /usr/bin/chromedriver ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && apt-get install -y -qq chromium chromium-driver; \
	  else \
	    echo "Install headless Chromium first: sudo apt-get install -y chromium chromium-driver"; exit 1; \
	  fi; \
	fi

test: venv browser
	$(PY) -m pytest

test-fast: venv
	$(PY) -m pytest -m "not book"

# Rebuild the published profile on purpose and make its record the new reference.
refresh-reference: venv
	$(PY) tools/build_book.py --profile full $(BOOK_FLAGS)
	cp _build/record.json data/reference_record.json
	@echo "data/reference_record.json refreshed: review and commit it."

clean:
	rm -rf _build
