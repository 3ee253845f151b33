PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install test test-rgw demo lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

test-rgw: install
	scripts/s3-rgw run -- $(PY) -m pytest -m s3semantics $(PYTEST_ARGS)

demo: install
	$(PY) scripts/demo.py

lint: install
	$(VENV)/bin/ruff check mediahub tests example_project bench scripts

bench: install
	for script in bench/*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) var build dist *.egg-info
