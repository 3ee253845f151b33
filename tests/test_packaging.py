"""The installable package: wheel contents and the example project's configuration."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_contains_templates_static_and_migrations(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("mediahub-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "mediahub/migrations/0001_initial.py" in names
    for folder in ("mediahub/templates/", "mediahub/static/"):
        packaged = {n for n in names if n.startswith(folder)}
        on_disk = {str(p.relative_to(ROOT)) for p in (ROOT / folder).rglob("*") if p.is_file()}
        assert on_disk <= packaged
    assert not any(n.startswith(("tests/", "example_project/")) for n in names)


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
