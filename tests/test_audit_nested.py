"""A public storage at a bucket's root never walks into the private storage nested in it.

Layout: one bucket, the public storage at its root and the private one under
``private/``. Seen from the public storage, ``private/`` is just a folder: the media
library must not list or open it (it would hand out public URLs of private files) and
thumbnail pre-generation must not make public thumbnails of its images.
"""

from __future__ import annotations

import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from PIL import Image

from mediahub.library import browsing
from mediahub.library.errors import LibraryError
from mediahub.storage.nesting import is_nested_private, nested_private_prefixes


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), "red").save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def nested(nested_private):
    storages["default"].save("photos/open.png", ContentFile(png()))
    storages["private"].save("scans/secret.png", ContentFile(png()))
    storages["private"].save("secret.pdf", ContentFile(b"%PDF"))
    return nested_private


def test_the_helper_knows_the_nested_private_prefix(nested):
    public = storages["default"]
    assert nested_private_prefixes(public) == ("private/",)
    assert is_nested_private(public, "private/")
    assert is_nested_private(public, "private")
    assert is_nested_private(public, "private/scans/secret.png")
    assert not is_nested_private(public, "private-notes.txt")
    assert not is_nested_private(public, "photos/open.png")
    assert nested_private_prefixes(storages["private"]) == ()


def test_separate_buckets_nest_nothing(s3):
    assert nested_private_prefixes(storages["default"]) == ()


def test_library_does_not_list_or_enter_the_nested_private_storage(nested):
    listing = browsing.list_page("public", "")
    assert [folder.path for folder in listing.folders] == ["photos/"]
    with pytest.raises(LibraryError, match="private storage"):
        browsing.list_page("public", "private/")
    with pytest.raises(LibraryError):
        browsing.list_page("public", "private/scans/")
    with pytest.raises(FileNotFoundError):
        browsing.details("public", "private/secret.pdf")
    assert browsing.file_url("public", "private/secret.pdf") is None
    # The private storage itself still lists its files.
    own = browsing.list_page("private", "")
    assert [f.entry.path for f in own.files] == ["secret.pdf"]


@pytest.mark.django_db
def test_library_page_over_http_shows_no_private_name(nested, admin_client):
    from django.urls import reverse

    url = reverse("admin:mediahub_browse", kwargs={"storage": "public"})
    body = admin_client.get(url).content.decode()
    assert "photos/" in body
    assert "private/" not in body.replace('medialibrary/private/"', "")
    answer = admin_client.get(url, {"path": "private/scans/"}, follow=True)
    assert "secret.png" not in answer.content.decode()


@pytest.mark.django_db
def test_thumbnail_walk_skips_the_nested_private_storage(nested):
    from mediahub.thumbnails.pregenerate import walk
    from mediahub.thumbnails.storages import resolve_target

    target = resolve_target("public")
    assert [entry.path for entry in walk(target)] == ["photos/open.png"]
    assert list(walk(target, "private/scans/")) == []
    assert list(walk(target, "priv")) == []
