"""The installable package: wheel contents and the example project's configuration."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """``python -m build``: the sdist, and the wheel built from it (as pip does)."""
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def on_disk(folder: str) -> set[str]:
    return {
        str(p.relative_to(ROOT))
        for p in (ROOT / folder).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.mark.slow
def test_sdist_and_wheel_pass_twine_check(dist):
    files = sorted(map(str, dist.iterdir()))
    assert sorted(Path(f).suffix for f in files) == [".gz", ".whl"]
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *files],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_wheel_holds_templates_static_migrations_and_locale_and_nothing_else(dist):
    wheel = next(dist.glob("mediahub-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "mediahub/migrations/0001_initial.py" in names
    for folder in ("mediahub/templates/", "mediahub/static/", "mediahub/migrations/"):
        missing = {n for n in on_disk(folder) if n.endswith((".py", ".html", ".js", ".css", ".png", ".svg", ".txt"))} - names
        assert not missing, f"not in the wheel: {sorted(missing)[:5]}"
    assert {n for n in on_disk("mediahub/templates/")} <= names
    assert {n for n in on_disk("mediahub/static/")} <= names
    if (ROOT / "mediahub" / "locale").is_dir():
        assert {n for n in on_disk("mediahub/locale/") if n.endswith((".po", ".mo"))} <= names
    outside = {n.split("/")[0] for n in names} - {"mediahub", f"{wheel.name.rsplit('-', 3)[0]}.dist-info"}
    assert not outside, f"the wheel holds more than the package: {sorted(outside)}"
    for unwanted in ("tests/", "example_project/", "bench/", "docs/", "scripts/"):
        assert not any(n.startswith(unwanted) or f"/{unwanted}" in n for n in names), unwanted
    metadata = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith(".dist-info/METADATA"))
    ).decode()
    assert f"Version: {__import__('mediahub').__version__}" in metadata
    assert "Requires-Dist: Django<6.2,>=5.2" in metadata
    for classifier in ("Framework :: Django :: 5.2", "Framework :: Django :: 6.1",
                       "Programming Language :: Python :: 3.13"):
        assert f"Classifier: {classifier}" in metadata
    assert "License-Expression: BSD-3-Clause" in metadata


@pytest.mark.slow
def test_sdist_holds_the_license_readme_and_package(dist):
    import tarfile

    sdist = next(dist.glob("mediahub-*.tar.gz"))
    names = {n.split("/", 1)[1] for n in tarfile.open(sdist).getnames() if "/" in n}
    assert {"LICENSE", "README.md", "pyproject.toml", "mediahub/__init__.py"} <= names
    assert not any(n.startswith((".venv/", ".nox/", "var/", "docs/_build/")) for n in names)


def test_version_is_pep440_and_single_sourced():
    from packaging.version import Version

    import mediahub

    assert str(Version(mediahub.__version__)) == mediahub.__version__
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject
    assert 'version = { attr = "mediahub.__version__" }' in pyproject
    assert "\nversion =" not in pyproject.split("[tool.setuptools.dynamic]")[0]


def test_changelog_has_an_unreleased_section():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert changelog.startswith("# Changelog")
    assert "\n## Unreleased\n" in changelog


def test_example_project_check_is_clean_with_local_folders(tmp_path):
    env = {"DJANGO_SETTINGS_MODULE": "example_project.settings", "MEDIAHUB_DEMO_VAR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check", "--fail-level", "WARNING"],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, **env},
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_example_project_check_is_clean_on_s3(s3, settings):
    call_command("check", fail_level="WARNING")


@pytest.mark.django_db
def test_no_missing_migrations():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
