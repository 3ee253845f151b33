"""System checks of django-filer's storages, servers and URLs (mediahub.E1xx / W1xx)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import clear_url_caches, path

from mediahub.contrib.filer import checks

CHECKS_PAGE = Path(__file__).resolve().parent.parent / "docs" / "reference" / "checks.md"

#: A URLconf without filer.server.urls (this module, used through ROOT_URLCONF).
urlpatterns = [path("admin/", admin.site.urls)]


@pytest.fixture
def filer_settings():
    from filer import settings as fs

    return fs


def ids(messages) -> list[str]:
    return sorted(message.id for message in messages)


def all_filer_checks() -> list:
    return checks.check_filer_storages() + checks.check_filer_urls()


def test_silent_on_mediahub_configuration():
    assert all_filer_checks() == []


def test_silent_on_s3(s3):
    assert all_filer_checks() == []


def test_manage_py_check_reports_no_filer_issue():
    out = io.StringIO()
    call_command("check", stdout=out)
    assert "mediahub.E1" not in out.getvalue() and "mediahub.W1" not in out.getvalue()


def test_e101_private_storage_on_local_disk(filer_settings, monkeypatch, tmp_path):
    from filer.storage import PrivateFileSystemStorage

    monkeypatch.setattr(
        filer_settings,
        "FILER_PRIVATEMEDIA_STORAGE",
        PrivateFileSystemStorage(location=str(tmp_path), base_url="/smedia/filer_private/"),
    )

    messages = checks.check_filer_storages()

    assert ids(messages) == ["mediahub.E101"]
    assert "['private']['main']" in messages[0].msg
    assert "filer_storages()" in messages[0].hint


def test_e101_private_thumbnails_on_local_disk(filer_settings, monkeypatch, tmp_path):
    from django.core.files.storage import FileSystemStorage

    monkeypatch.setattr(
        filer_settings, "FILER_PRIVATEMEDIA_THUMBNAIL_STORAGE", FileSystemStorage(str(tmp_path))
    )

    assert ids(checks.check_filer_storages()) == ["mediahub.E101"]


def test_w101_public_storage_not_mediahubs(filer_settings, monkeypatch):
    from django.core.files.storage import InMemoryStorage

    monkeypatch.setattr(filer_settings, "FILER_PUBLICMEDIA_STORAGE", InMemoryStorage())

    messages = checks.check_filer_storages()

    assert ids(messages) == ["mediahub.W101"]
    assert "public.main" in messages[0].msg


def test_e103_stock_server_on_mediahub_storage(filer_settings, monkeypatch):
    from filer.server.backends.default import DefaultServer

    monkeypatch.setattr(filer_settings, "FILER_PRIVATEMEDIA_THUMBNAIL_SERVER", DefaultServer())

    messages = checks.check_filer_storages()

    assert ids(messages) == ["mediahub.E103"]
    assert "['thumbnails']" in messages[0].msg
    assert "filer_servers()" in messages[0].hint


def test_w102_filer_server_urls_missing(settings):
    settings.ROOT_URLCONF = __name__
    clear_url_caches()
    try:
        messages = checks.check_filer_urls()
    finally:
        clear_url_caches()

    assert ids(messages) == ["mediahub.W102"]
    assert "filer.server.urls" in messages[0].hint


def test_e102_server_urls_with_storage_that_cannot_sign(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": "plain", "querystring_auth": False},
        },
    }

    messages = checks.check_filer_urls()

    assert ids(messages) == ["mediahub.E102"]
    assert "S3Storage" in messages[0].msg


def test_e102_silent_without_filer_server_urls(settings):
    settings.ROOT_URLCONF = __name__
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {"bucket_name": "b"}},
    }
    clear_url_caches()
    try:
        assert ids(checks.check_filer_urls()) == ["mediahub.W102"]
    finally:
        clear_url_caches()


def test_w103_sub_app_without_filer(monkeypatch):
    real = checks.apps.is_installed
    monkeypatch.setattr(checks.apps, "is_installed", lambda name: name != "filer" and real(name))

    assert ids(checks.check_filer_storages()) == ["mediahub.W103"]
    assert checks.check_filer_urls() == []


def test_ids_are_unique_and_documented():
    constants = {
        name: value for name, value in vars(checks).items() if re.fullmatch(r"[EW]1\d\d", name)
    }
    assert len(set(constants.values())) == len(constants) == 6
    documented = CHECKS_PAGE.read_text()
    for value in constants.values():
        assert f"`{value}`" in documented, f"{value} is not in docs/reference/checks.md"
