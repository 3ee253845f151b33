"""The example project's production shape: settings from the environment, DEBUG off by
default, WhiteNoise's compressed and hashed static files (or the public bucket)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PRINT_SETTINGS = """
import json
import django
django.setup()
from django.conf import settings
print(json.dumps({
    "DEBUG": settings.DEBUG,
    "MIDDLEWARE": settings.MIDDLEWARE,
    "STATICFILES": settings.STORAGES["staticfiles"],
    "USE_FINDERS": settings.WHITENOISE_USE_FINDERS,
    "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
    "FILTER": settings.DEFAULT_EXCEPTION_REPORTER_FILTER,
}))
"""

ENVIRONMENT_KEYS = {
    "DJANGO_DEBUG",
    "DJANGO_ALLOWED_HOSTS",
    "STATIC_STORAGE_DSN",
    "DEFAULT_STORAGE_DSN",
    "PRIVATE_STORAGE_DSN",
    "DATABASE_URL",
}


def example_env(tmp_path: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ENVIRONMENT_KEYS}
    env.update(
        DJANGO_SETTINGS_MODULE="example_project.settings",
        MEDIAHUB_DEMO_VAR=str(tmp_path),
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


def example_settings(tmp_path: Path, **extra: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        env=example_env(tmp_path, **extra),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_debug_is_off_unless_asked_and_error_pages_hide_secrets(tmp_path):
    assert example_settings(tmp_path)["DEBUG"] is False
    assert example_settings(tmp_path, DJANGO_DEBUG="0")["DEBUG"] is False
    assert example_settings(tmp_path, DJANGO_DEBUG="true")["DEBUG"] is False
    on = example_settings(tmp_path, DJANGO_DEBUG="1")
    assert on["DEBUG"] is True
    assert on["FILTER"] == "mediahub.debug.SecretsReporterFilter"


def test_whitenoise_serves_compressed_hashed_static_files_by_default(tmp_path):
    values = example_settings(tmp_path)
    assert values["STATICFILES"] == {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
    }
    middleware = values["MIDDLEWARE"]
    # Right after SecurityMiddleware, before everything else (WhiteNoise's documented place).
    assert middleware[:2] == [
        "django.middleware.security.SecurityMiddleware",
        "whitenoise.middleware.WhiteNoiseMiddleware",
    ]
    assert values["USE_FINDERS"] is False
    assert example_settings(tmp_path, DJANGO_DEBUG="1")["USE_FINDERS"] is True


def test_static_files_can_go_to_the_public_bucket_instead(tmp_path):
    values = example_settings(
        tmp_path, STATIC_STORAGE_DSN="s3://acme-public.s3.eu-west-1.amazonaws.com/static"
    )
    assert values["STATICFILES"]["BACKEND"] == "mediahub.storage.s3.PublicS3Storage"
    assert values["STATICFILES"]["OPTIONS"]["location"] == "static"
    assert values["STATICFILES"]["OPTIONS"]["bucket_name"] == "acme-public"


def test_hosts_come_from_the_environment(tmp_path):
    values = example_settings(tmp_path, DJANGO_ALLOWED_HOSTS="www.example.com,example.com")
    assert values["ALLOWED_HOSTS"] == ["www.example.com", "example.com"]


@pytest.mark.slow
def test_collectstatic_writes_hashed_and_compressed_files(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "collectstatic", "--noinput", "-v", "0"],
        env=example_env(tmp_path),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    static = tmp_path / "static"
    manifest = json.loads((static / "staticfiles.json").read_text())["paths"]
    hashed = manifest["mediahub/library.js"]
    assert hashed != "mediahub/library.js" and hashed.startswith("mediahub/library.")
    assert (static / hashed).is_file()
    assert (static / f"{hashed}.gz").is_file()
    assert "admin/css/base.css" in manifest
