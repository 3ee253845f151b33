"""Small storage defects: absolute names of the local storage, backslashes in memory."""

from __future__ import annotations

import io
import os

import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import call_command
from PIL import Image

from mediahub import dsn
from mediahub.storage.memory import PrivateMemoryStorage, PublicMemoryStorage

pytestmark = pytest.mark.django_db


@pytest.fixture
def local(settings, tmp_path):
    public = dsn.parse(f"file://{tmp_path}/media?url=/media/")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": public,
        "easy_thumbnails": public,
        "private": dsn.parse(f"file://{tmp_path}/private", visibility="private"),
    }
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return storages["default"]


def test_path_accepts_the_absolute_name_open_returns(local):
    name = local.save("photos/a.txt", ContentFile(b"x"))
    with local.open(name) as handle:
        absolute = handle.name
    assert os.path.isabs(absolute)
    assert local.path(absolute) == local.path(name)
    assert local.exists(absolute) and local.size(absolute) == 1
    local.delete(absolute)
    assert not local.exists(name)


def test_absolute_names_outside_the_folder_are_refused(local, tmp_path):
    (tmp_path / "secret.txt").write_text("s")
    for name in (str(tmp_path / "secret.txt"), "/etc/passwd", str(tmp_path / "media2/x")):
        with pytest.raises(SuspiciousFileOperation):
            local.path(name)
        with pytest.raises(SuspiciousFileOperation):
            local.delete(name)
    assert (tmp_path / "secret.txt").exists()


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "blue").save(buffer, "PNG")
    return buffer.getvalue()


def test_easy_thumbnails_cleanup_runs_on_the_local_storage(local):
    from easy_thumbnails.files import Thumbnailer

    name = local.save("photos/gone.png", ContentFile(png()))
    thumbnailer = Thumbnailer(
        name=name, source_storage=local, thumbnail_storage=storages["easy_thumbnails"]
    )
    thumbnail = thumbnailer.get_thumbnail({"size": (10, 10)})
    assert local.exists(thumbnail.name)
    os.remove(local.path(name))  # the source is gone: its thumbnail must be cleaned up

    out, err = io.StringIO(), io.StringIO()
    call_command("thumbnail_cleanup", stdout=out, stderr=err)
    assert "Something went wrong" not in out.getvalue() + err.getvalue()
    assert not local.exists(thumbnail.name)
    from easy_thumbnails.models import Source

    assert not Source.objects.filter(name=name).exists()


@pytest.mark.parametrize("storage_class", [PublicMemoryStorage, PrivateMemoryStorage])
@pytest.mark.parametrize("name", ["a\\b.txt", "..\\secret.txt", "folder\\"])
def test_memory_storage_refuses_backslashes(storage_class, name):
    storage = storage_class()
    with pytest.raises(SuspiciousFileOperation, match="backslash|traversal"):
        storage.save(name, ContentFile(b"x"))
    assert storage.listdir("")[1] == [] and storage.listdir("")[0] == []
