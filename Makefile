PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
# Parallel test processes (pytest-xdist); 0 runs the suite in one process.
PYTEST_WORKERS ?= 2
# The matrix cells besides the default one (Django 5.2 / Python 3.11 in $(VENV)).
MATRIX_CELLS ?= tests(django6.0-py3.12) tests(django6.1-py3.13)

.PHONY: install test test-rgw matrix docs dist demo serve lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

# The default cell of the version matrix, every tier (what CI and the README call).
test: install
	$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

test-rgw: install
	scripts/s3-rgw run -- $(PY) -m pytest -m s3semantics $(PYTEST_ARGS)

# The other cells (noxfile.py): Django 6.0 on Python 3.12, Django 6.1 on Python 3.13.
matrix: install
	$(VENV)/bin/nox -s $(foreach cell,$(MATRIX_CELLS),"$(cell)")

# The documentation site, warnings as errors, then its internal links.
docs: install
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html
	$(PY) docs/_ext/checklinks.py docs/_build/html

# sdist and wheel, checked by twine.
dist: install
	rm -rf dist
	$(PY) -m build --outdir dist .
	$(PY) -m twine check --strict dist/*

demo: install
	$(PY) scripts/demo.py

# The example project as in production: collectstatic, migrate, gunicorn + job worker.
serve: install
	$(PY) scripts/serve.py

lint: install
	$(VENV)/bin/ruff check mediahub tests example_project bench scripts

# Every bench once (minutes; a quiet machine): each writes bench/results/NAME.md, which the
# README and docs/explanation/performance.md quote verbatim. Commit bench/results/ after.
bench: install
	for script in bench/[!_]*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) var build dist *.egg-info .nox docs/_build
