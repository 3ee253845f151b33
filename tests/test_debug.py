"""mediahub.debug.SecretsReporterFilter: no storage secret on Django's error pages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from django.test import RequestFactory
from django.views.debug import get_default_exception_reporter_filter, technical_500_response

from mediahub import dsn
from mediahub.debug import SecretsReporterFilter

ROOT = Path(__file__).resolve().parent.parent
#: '/' and '+' make the raw and the percent-encoded forms differ.
PUBLIC_SECRET = "pub/Secret+Key0123456789abcdefXYZ"
PRIVATE_SECRET = "prv/Secret+Key9876543210zyxwvuABC"
DB_PASSWORD = "db-Pass+word/4242"


def _dsn(bucket: str, secret: str) -> str:
    return f"s3://AKIAEXAMPLE:{quote(secret, safe='')}@s3.example.com/{bucket}?region=eu-west-1"


def forms(secret: str) -> list[str]:
    """Every way a secret can be written on a page."""
    return [
        secret,
        quote(secret, safe=""),
        quote(secret, safe="").lower(),
        quote(secret),
        quote_plus(secret),
        secret.replace("/", "&#x2F;"),
        secret.replace("+", "&#x2B;"),
    ]


def assert_no_secret(html: str, *secrets: str) -> None:
    for secret in secrets:
        for form in forms(secret):
            assert form not in html, f"a secret appears on the page as {form!r}"


def render_500(request) -> str:
    get_default_exception_reporter_filter.cache_clear()  # Django caches the filter instance

    def view(public_dsn: str) -> None:
        connection = public_dsn  # a local variable holding the DSN under another name
        raise RuntimeError("storage failed " + str(len(connection)))

    try:
        view(os.environ.get("DEFAULT_STORAGE_DSN", ""))
    except RuntimeError:
        return technical_500_response(request, *sys.exc_info()).content.decode()
    raise AssertionError("unreachable")


@pytest.fixture
def secret_settings(settings, monkeypatch):
    public, private = _dsn("pub", PUBLIC_SECRET), _dsn("prv", PRIVATE_SECRET)
    monkeypatch.setenv("DEFAULT_STORAGE_DSN", public)
    monkeypatch.setenv("PRIVATE_STORAGE_DSN", private)
    monkeypatch.setenv("DATABASE_URL", f"postgres://app:{quote(DB_PASSWORD, safe='')}@db/app")
    settings.DEBUG = True
    settings.DEFAULT_STORAGE_DSN = public
    settings.PRIVATE_STORAGE_DSN = private
    settings.MEDIA_NOTE = f"bucket pub via {PUBLIC_SECRET} (pasted by mistake)"
    settings.STORAGES = {
        **settings.STORAGES,
        "backup": dsn.parse(private, visibility="private"),
        "mirror": {"BACKEND": "x.Y", "OPTIONS": {"credentials": {"pw": PUBLIC_SECRET}}},
    }
    settings.DEFAULT_EXCEPTION_REPORTER_FILTER = "mediahub.debug.SecretsReporterFilter"
    return settings


def meta_like_runserver() -> dict[str, str]:
    """runserver copies the whole environment into request.META."""
    return {key: value for key, value in os.environ.items() if key.isupper()}


def test_django_default_filter_shows_the_dsn_secret(secret_settings):
    """The defect: Django's own filter leaves DSN values (settings and META) on the page."""
    secret_settings.DEFAULT_EXCEPTION_REPORTER_FILTER = (
        "django.views.debug.SafeExceptionReporterFilter"
    )
    html = render_500(RequestFactory().get("/", **meta_like_runserver()))
    assert quote(PUBLIC_SECRET, safe="") in html


def test_technical_500_hides_dsns_storage_keys_and_values_containing_them(secret_settings):
    html = render_500(RequestFactory().get("/boom/", **meta_like_runserver()))
    assert "DEFAULT_STORAGE_DSN" in html  # the names stay, the values go
    assert "storage failed" in html
    assert_no_secret(html, PUBLIC_SECRET, PRIVATE_SECRET, DB_PASSWORD)


def test_a_secret_in_a_request_header_or_query_is_hidden(secret_settings):
    request = RequestFactory().get(
        "/", {"dsn": _dsn("pub", PUBLIC_SECRET)}, HTTP_X_NOTE=f"key={PRIVATE_SECRET}"
    )
    html = render_500(request)
    assert_no_secret(html, PRIVATE_SECRET)
    assert "HTTP_X_NOTE" in html


def test_a_posted_secret_is_hidden(secret_settings):
    request = RequestFactory().post(
        "/", {"dsn": _dsn("prv", PRIVATE_SECRET), "title": "kept", "other": ["a", "b"]}
    )
    html = render_500(request)
    assert_no_secret(html, PRIVATE_SECRET)
    assert "kept" in html
    parameters = SecretsReporterFilter().get_post_parameters(request)
    assert parameters.getlist("other") == ["a", "b"]


def test_filter_keeps_innocent_values(secret_settings):
    reporter = SecretsReporterFilter()
    assert reporter.cleanse_setting("TIME_ZONE", "UTC") == "UTC"
    assert reporter.cleanse_setting("MEDIA_URL", "https://cdn.example.com/") == (
        "https://cdn.example.com/"
    )
    assert reporter.cleanse_setting("SENTRY_DSN", "https://k@o.ingest/1") == (
        reporter.cleansed_substitute
    )
    hidden = reporter.cleanse_setting("NOTE", "prefix " + quote_plus(PRIVATE_SECRET))
    assert hidden == reporter.cleansed_substitute
    options = reporter.cleanse_setting("STORAGES", secret_settings.STORAGES)
    assert options["backup"]["OPTIONS"]["bucket_name"] == "prv"
    assert options["backup"]["OPTIONS"]["secret_key"] == reporter.cleansed_substitute


_EXAMPLE_SCRIPT = r"""
import json, os, sys
import django
django.setup()
from django.conf import settings
from django.test import RequestFactory
from django.test.utils import override_settings
from django.views.debug import get_default_exception_reporter_filter, technical_500_response

def page():
    get_default_exception_reporter_filter.cache_clear()
    request = RequestFactory().get("/admin/", **{k: v for k, v in os.environ.items()})
    try:
        dsn = settings.PRIVATE_STORAGE_DSN
        raise ValueError("failed")
    except ValueError:
        return technical_500_response(request, *sys.exc_info()).content.decode()

filtered = page()
with override_settings(
    DEFAULT_EXCEPTION_REPORTER_FILTER="django.views.debug.SafeExceptionReporterFilter"
):
    unfiltered = page()
print(json.dumps({
    "debug": settings.DEBUG,
    "filter": settings.DEFAULT_EXCEPTION_REPORTER_FILTER,
    "filtered": filtered,
    "unfiltered": unfiltered,
}))
"""


def run_example_settings(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MEDIAHUB_"))}
    clean.update(DJANGO_SETTINGS_MODULE="example_project.settings", **env)
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", _EXAMPLE_SCRIPT],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.slow
def test_example_project_error_page_shows_no_secret(tmp_path):
    result = run_example_settings(
        DJANGO_DEBUG="1",
        MEDIAHUB_DEMO_VAR=str(tmp_path),
        DEFAULT_STORAGE_DSN=_dsn("pub", PUBLIC_SECRET),
        PRIVATE_STORAGE_DSN=_dsn("prv", PRIVATE_SECRET),
    )
    assert result["debug"] is True
    assert result["filter"] == "mediahub.debug.SecretsReporterFilter"
    # Without mediahub's filter, the page shows both (the defect this guards).
    assert quote(PUBLIC_SECRET, safe="") in result["unfiltered"]
    assert quote(PRIVATE_SECRET, safe="") in result["unfiltered"]
    assert "PRIVATE_STORAGE_DSN" in result["filtered"]
    assert_no_secret(result["filtered"], PUBLIC_SECRET, PRIVATE_SECRET)


@pytest.mark.slow
def test_example_project_runs_with_debug_off_unless_asked(tmp_path):
    result = run_example_settings(MEDIAHUB_DEMO_VAR=str(tmp_path))
    assert result["debug"] is False
    assert run_example_settings(MEDIAHUB_DEMO_VAR=str(tmp_path), DJANGO_DEBUG="0")["debug"] is False
