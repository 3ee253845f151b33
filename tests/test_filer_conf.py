"""``filer_storages()`` / ``filer_servers()`` and the forwarding filer storages."""

from __future__ import annotations

import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import storages

from mediahub import dsn
from mediahub.contrib.filer import filer_servers, filer_storages
from mediahub.contrib.filer.storage import (
    FilerPrivateStorage,
    FilerPrivateThumbnailStorage,
    FilerPublicStorage,
    FilerPublicThumbnailStorage,
    resolve,
)


def test_filer_storages_is_complete_and_holds_only_names():
    config = filer_storages()

    for visibility in ("public", "private"):
        assert set(config[visibility]) == {"main", "thumbnails"}
        main, thumbs = config[visibility]["main"], config[visibility]["thumbnails"]
        assert {"ENGINE", "OPTIONS", "UPLOAD_TO", "UPLOAD_TO_PREFIX"} <= set(main)
        assert {"ENGINE", "OPTIONS", "THUMBNAIL_OPTIONS"} <= set(thumbs)
        for entry in (main, thumbs):
            assert entry["ENGINE"].startswith("mediahub.contrib.filer.storage.")
            assert all(isinstance(v, str) for v in entry["OPTIONS"].values())
    assert config["private"]["thumbnails"]["OPTIONS"]["storage"] == "private"
    assert config["public"]["main"]["UPLOAD_TO_PREFIX"] == "filer_public"
    assert config["private"]["main"]["UPLOAD_TO_PREFIX"] == "filer_private"


def test_filer_storages_calls_nothing_at_settings_time(monkeypatch):
    """It may run before STORAGES exists: no storage is built, no setting read."""
    monkeypatch.setattr(type(storages), "__getitem__", lambda *a: pytest.fail("storage built"))
    monkeypatch.delattr("django.conf.settings.STORAGES")

    assert filer_storages(public="media", private="secret")["public"]["main"]["OPTIONS"] == {
        "storage": "media"
    }


def test_filer_storages_aliases_and_base_urls():
    config = filer_storages(
        public="media", private="secret", private_base_url="/p/", private_thumbnails_base_url="/t/"
    )

    assert config["public"]["thumbnails"]["OPTIONS"] == {"storage": "media"}
    assert config["private"]["main"]["OPTIONS"] == {"storage": "secret", "base_url": "/p/"}
    assert config["private"]["thumbnails"]["OPTIONS"]["base_url"] == "/t/"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"private_base_url": "smedia/"},
        {"private_base_url": "/smedia"},
        {"private_base_url": "https://cdn.example.com/x/"},
        {"private_base_url": "/same/", "private_thumbnails_base_url": "/same/"},
    ],
)
def test_filer_storages_refuses_bad_base_urls(kwargs):
    with pytest.raises(ValueError, match="base URL"):
        filer_storages(**kwargs)


def test_filer_servers():
    config = filer_servers(inline=True, expires_in=120)

    main, thumbs = config["private"]["main"], config["private"]["thumbnails"]
    assert (
        main["ENGINE"] == thumbs["ENGINE"] == "mediahub.contrib.filer.server.SignedRedirectServer"
    )
    assert main["OPTIONS"] == {"inline": True, "expires_in": 120}
    assert thumbs["OPTIONS"] == {"inline": True, "expires_in": 120, "thumbnails": True}


def test_filer_uses_the_forwarders_in_the_example_project():
    from filer import settings as fs

    assert isinstance(fs.FILER_PUBLICMEDIA_STORAGE, FilerPublicStorage)
    assert isinstance(fs.FILER_PUBLICMEDIA_THUMBNAIL_STORAGE, FilerPublicThumbnailStorage)
    assert isinstance(fs.FILER_PRIVATEMEDIA_STORAGE, FilerPrivateStorage)
    assert isinstance(fs.FILER_PRIVATEMEDIA_THUMBNAIL_STORAGE, FilerPrivateThumbnailStorage)


# -- forwarding storages ----------------------------------------------------------------
def test_forwarder_follows_storages_changes(settings):
    """filer built it at import; it still reaches the storage configured now."""
    from filer import settings as fs

    proxy = fs.FILER_PRIVATEMEDIA_STORAGE
    first = proxy.target
    settings.STORAGES = {
        **settings.STORAGES,
        "private": dsn.parse("memory://", visibility="private"),
    }
    storages._storages = {}

    assert proxy.target is storages["private"]
    assert proxy.target is not first


@pytest.mark.django_db  # a delete ends the object's signed links (a database write)
def test_forwarder_prefixes_names_both_ways():
    proxy = FilerPrivateThumbnailStorage(storage="private", prefix="thumbs/")

    saved = proxy.save("a/b.jpg", ContentFile(b"x"))

    assert saved == "a/b.jpg"
    assert storages["private"].exists("thumbs/a/b.jpg")
    assert proxy.exists("a/b.jpg") and proxy.size("a/b.jpg") == 1
    assert proxy.open("a/b.jpg").read() == b"x"
    assert proxy.listdir("a/") == ([], ["b.jpg"])
    assert proxy.get_modified_time("a/b.jpg") is not None
    assert resolve(proxy, "a/b.jpg") == (storages["private"], "thumbs/a/b.jpg")
    again = proxy.save("a/b.jpg", ContentFile(b"y"))
    assert again != "a/b.jpg" and again.startswith("a/b")  # never overwrites
    proxy.delete("a/b.jpg")
    assert not storages["private"].exists("thumbs/a/b.jpg")


def test_private_forwarder_url_is_a_site_path_not_a_storage_url():
    proxy = FilerPrivateStorage(storage="private", base_url="/secret/")

    assert proxy.url("filer_private/x y/été.pdf") == (
        "/secret/filer_private/x%20y/%C3%A9t%C3%A9.pdf"
    )


def test_public_forwarder_url_is_the_public_storage_url():
    proxy = FilerPublicStorage(storage="public")

    assert proxy.url("filer_public/a.png") == storages["default"].url("filer_public/a.png")


def test_forwarder_has_no_local_path():
    with pytest.raises(NotImplementedError, match="no local path"):
        FilerPublicStorage().path("a.txt")


@pytest.mark.parametrize("name", ["../etc/passwd", "/abs.txt", "a//b.txt", "a/\x00.txt"])
def test_forwarder_refuses_unsafe_names(name):
    proxy = FilerPrivateStorage()
    with pytest.raises(SuspiciousFileOperation):
        proxy.url(name)
    with pytest.raises(SuspiciousFileOperation):
        proxy.exists(name)


def test_forwarder_refuses_bad_prefix_and_base_url():
    with pytest.raises(SuspiciousFileOperation):
        FilerPrivateThumbnailStorage(prefix="../x/")
    with pytest.raises(ValueError, match="end with"):
        FilerPrivateStorage(base_url="/smedia")
