"""The version matrix: one nox session per tested cell (virtualenvs under ``.nox/``).

    .venv/bin/nox -l                       # list the cells
    .venv/bin/nox -s "tests(django='6.0')" # one cell
    .venv/bin/nox -s docs packaging        # the docs build and the wheel check

| Django  | Python | django-storages | easy-thumbnails | django-filer |
|---------|--------|-----------------|-----------------|--------------|
| 5.2 LTS | 3.11   | 1.14.6          | 2.10.1          | 3.6          |
| 6.0     | 3.12   | 1.14.6          | 2.10.1          | 3.6          |
| 6.1     | 3.13   | 1.14.6          | 2.10.1          | 3.6          |

Each cell installs the newest releases pyproject.toml's pins allow.
The 5.2/3.11 cell is the default one: ``make test`` runs it in ``.venv`` with every tier
(browser, PostgreSQL, Ceph RGW). The other cells run the suite without the browser
and RGW tiers (``-m "not browser and not s3semantics"``); they find the interpreters
pyenv installed (``~/.pyenv/versions/3.1x.y``) when they are not on ``PATH``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests"]

#: (Django series, Python) pairs that are tested. pyproject.toml says the same.
CELLS = [("5.2", "3.11"), ("6.0", "3.12"), ("6.1", "3.13")]

#: Tiers that stay on the default cell (``make test``): the real browser and Ceph RGW.
OTHER_CELLS_MARKERS = "not browser and not s3semantics"


def _add_pyenv_interpreters_to_path() -> None:
    versions = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if not versions.is_dir():
        return
    wanted = {python for _, python in CELLS}
    bins = [
        str(path / "bin")
        for path in sorted(versions.iterdir(), reverse=True)
        if ".".join(path.name.split(".")[:2]) in wanted and (path / "bin").is_dir()
    ]
    os.environ["PATH"] = os.pathsep.join([*bins, os.environ.get("PATH", "")])


_add_pyenv_interpreters_to_path()


@nox.session
@nox.parametrize(
    "python,django",
    [(python, django) for django, python in CELLS],
    ids=[f"django{django}-py{python}" for django, python in CELLS],
)
def tests(session: nox.Session, django: str) -> None:
    """The test suite on one (Django, Python) cell; extra arguments go to pytest."""
    major, minor = django.split(".")
    session.install("-e", ".[dev]", f"Django>={django},<{major}.{int(minor) + 1}")
    session.run("python", "-m", "django", "--version")
    args = session.posargs or ["-n", "2", "-p", "no:cacheprovider"]
    if django != CELLS[0][0]:
        args = ["-m", OTHER_CELLS_MARKERS, *args]
    session.run("python", "-m", "pytest", *args)


@nox.session(python=CELLS[0][1])
def docs(session: nox.Session) -> None:
    """The documentation site, warnings as errors (what ``make docs`` runs)."""
    session.install("-e", ".[docs]")
    session.run("sphinx-build", "-W", "--keep-going", "-q", "-b", "html", "docs", "docs/_build/html")


@nox.session(python=CELLS[0][1])
def packaging(session: nox.Session) -> None:
    """sdist and wheel with ``python -m build``, checked by ``twine check``."""
    session.install("build", "twine")
    shutil.rmtree("dist", ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", "dist", ".")
    session.run("python", "-m", "twine", "check", "--strict", *map(str, Path("dist").glob("*")))
