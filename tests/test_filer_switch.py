"""Public ↔ private switch of filer files: server-side copy, thumbnails, no loss on failure."""

from __future__ import annotations

import io

import pytest
from django.core.files.base import ContentFile
from django.db import transaction
from PIL import Image as PILImage

from mediahub.contrib.filer import switch

pytestmark = pytest.mark.django_db

DATA = b"switch me " * 500
THUMB = {"size": (40, 40), "crop": True}


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (64, 48), "blue").save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run the on-commit callbacks (the switch deletes the original only after commit)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def folder(db):
    from filer.models import Folder

    return Folder.objects.create(name="Switch")


def make_file(folder, *, is_public: bool):
    from filer.models import File

    return File.objects.create(
        file=ContentFile(DATA, name="minutes.txt"),
        original_filename="minutes.txt",
        is_public=is_public,
        folder=folder,
    )


def make_image(folder, *, is_public: bool):
    from filer.models import Image

    image = Image.objects.create(
        file=ContentFile(png_bytes(), name="pic.png"),
        original_filename="pic.png",
        is_public=is_public,
        folder=folder,
    )
    image.file.get_thumbnail(THUMB)
    image.file.get_thumbnail({"size": (80, 80), "crop": True})
    return image


def body(s3, bucket: str, key: str) -> bytes:
    return s3.client().get_object(Bucket=bucket, Key=key)["Body"].read()


def reload(filer_file):
    return type(filer_file).objects.get(pk=filer_file.pk)


def test_public_to_private_moves_object_server_side_and_keeps_bytes(
    s3, folder, count_requests, committed
):
    filer_file = make_file(folder, is_public=True)
    old_key = filer_file.file.name
    sha1 = filer_file.sha1
    count_requests.clear()

    with committed():
        switch.set_public(filer_file, False)
    made = dict(count_requests)

    filer_file = reload(filer_file)
    new_key = "filer_private/" + filer_file.file.name.split("filer_private/", 1)[-1]
    assert filer_file.is_public is False
    assert filer_file.file.name.startswith("filer_private/")
    assert s3.keys(s3.public_bucket) == []
    assert s3.keys(s3.private_bucket) == [new_key]
    assert body(s3, s3.private_bucket, new_key) == DATA
    assert s3.anonymous_get(s3.private_bucket, new_key).status_code == 403
    assert filer_file.sha1 == sha1
    assert old_key not in s3.keys(s3.public_bucket)
    # Server-side: a copy, never a download and re-upload of the bytes.
    assert made["CopyObject"] == 1
    assert "GetObject" not in made and "PutObject" not in made


def test_private_to_public_with_plain_save(s3, folder, committed):
    filer_file = make_file(folder, is_public=False)

    with committed():
        filer_file.is_public = True
        filer_file.save()

    filer_file = reload(filer_file)
    assert filer_file.file.name.startswith("filer_public/")
    assert s3.keys(s3.private_bucket) == []
    assert s3.keys(s3.public_bucket) == [filer_file.file.name]
    assert s3.anonymous_get(s3.public_bucket, filer_file.file.name).content == DATA


@pytest.mark.parametrize("to_public", [False, True], ids=["to-private", "to-public"])
def test_thumbnails_move_with_the_image(s3, folder, to_public, committed):
    from easy_thumbnails.models import Source, Thumbnail

    image = make_image(folder, is_public=not to_public)
    old_bucket, new_bucket = (
        (s3.private_bucket, s3.public_bucket)
        if to_public
        else (s3.public_bucket, s3.private_bucket)
    )
    old_thumbs = sorted(k for k in s3.keys(old_bucket) if "__" in k)
    assert len(old_thumbs) == 2
    old_bytes = [body(s3, old_bucket, k) for k in old_thumbs]

    with committed():
        switch.set_public(image, to_public)

    image = reload(image)
    assert s3.keys(old_bucket) == []
    new_thumbs = sorted(k for k in s3.keys(new_bucket) if "__" in k)
    assert len(new_thumbs) == 2
    assert [body(s3, new_bucket, k) for k in new_thumbs] == old_bytes
    # The cache knows them: asking again generates nothing and finds the moved file.
    assert Source.objects.count() == 1
    assert Thumbnail.objects.count() == 2
    existing = image.file.get_existing_thumbnail(THUMB)
    assert existing is not None
    assert existing.storage.key(existing.name) in new_thumbs
    if to_public:
        assert s3.anonymous_get(new_bucket, existing.name).status_code == 200
    else:
        assert existing.url.startswith("/smedia/filer_private_thumbnails/filer_private/")


def test_copy_failure_changes_nothing(s3, folder, fail_s3):
    image = make_image(folder, is_public=True)
    before = sorted(s3.keys(s3.public_bucket))
    name = image.file.name
    fail_s3("CopyObject", status=500)

    with pytest.raises(Exception, match="InternalError|500"):
        switch.set_public(image, False)

    image = reload(image)
    assert image.is_public is True and image.file.name == name
    assert sorted(s3.keys(s3.public_bucket)) == before
    assert s3.keys(s3.private_bucket) == []
    assert body(s3, s3.public_bucket, name) == png_bytes()


def test_thumbnail_copy_failure_still_switches_and_rebuilds(s3, folder, monkeypatch, committed):
    """The file's copy works, the thumbnails' copies fail: they are rebuilt on demand."""
    from botocore.client import BaseClient
    from botocore.exceptions import ClientError
    from easy_thumbnails.models import Thumbnail

    image = make_image(folder, is_public=False)
    real = BaseClient._make_api_call
    copies = []

    def copy_once(self, operation, params):
        if operation == "CopyObject":
            copies.append(params["Key"])
            if len(copies) > 1:
                error = {"Error": {"Code": "InternalError", "Message": "injected"}}
                raise ClientError(error, operation)
        return real(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", copy_once)
    with committed():
        switch.set_public(image, True)
    monkeypatch.setattr(BaseClient, "_make_api_call", real)

    image = reload(image)
    assert len(copies) == 3  # the file, then two thumbnails
    assert image.is_public
    assert s3.keys(s3.private_bucket) == []
    assert s3.keys(s3.public_bucket) == [image.file.name]
    assert Thumbnail.objects.count() == 0
    rebuilt = image.file.get_thumbnail(THUMB)
    assert rebuilt.name in s3.keys(s3.public_bucket)


def test_delete_failure_rolls_back_and_loses_nothing(s3, folder, fail_s3, committed):
    filer_file = make_file(folder, is_public=True)
    name = filer_file.file.name
    fail_s3("DeleteObject", status=500, times=5)  # every attempt of the first delete

    with pytest.raises(switch.SwitchError, match="Could not delete"), committed():
        switch.set_public(filer_file, False)

    filer_file = reload(filer_file)
    assert filer_file.is_public is True and filer_file.file.name == name
    assert s3.keys(s3.public_bucket) == [name]
    assert s3.keys(s3.private_bucket) == []  # the copy was removed again
    assert body(s3, s3.public_bucket, name) == DATA


def test_delete_failure_inside_outer_transaction_rolls_back(s3, folder, fail_s3, committed):
    filer_file = make_file(folder, is_public=False)
    key = filer_file.file.storage.key(filer_file.file.name)
    fail_s3("DeleteObject", status=500)

    with pytest.raises(switch.SwitchError), committed(), transaction.atomic():
        filer_file.is_public = True
        filer_file.save()

    filer_file = reload(filer_file)
    assert filer_file.is_public is False
    assert s3.keys(s3.private_bucket) == [key]
    assert body(s3, s3.private_bucket, key) == DATA


def test_verify_mismatch_removes_copy(s3, folder, monkeypatch):
    filer_file = make_file(folder, is_public=True)
    name = filer_file.file.name
    real_stat = switch._stat
    calls = []

    def lying_stat(storage, key):
        calls.append(key)
        found = real_stat(storage, key)
        return found if len(calls) == 1 else switch._Stat(found.size - 1, None)

    monkeypatch.setattr(switch, "_stat", lying_stat)

    with pytest.raises(switch.SwitchError, match="does not match"):
        switch.set_public(filer_file, False)

    assert s3.keys(s3.private_bucket) == []
    assert s3.keys(s3.public_bucket) == [name]
    assert reload(filer_file).is_public is True


def test_missing_original_refuses_switch(s3, folder):
    filer_file = make_file(folder, is_public=True)
    s3.client().delete_object(Bucket=s3.public_bucket, Key=filer_file.file.name)

    with pytest.raises(switch.SwitchError, match="missing"):
        switch.set_public(filer_file, False)

    assert reload(filer_file).is_public is True
    assert s3.keys(s3.private_bucket) == []


def test_same_visibility_is_a_no_op(s3, folder, count_requests):
    filer_file = make_file(folder, is_public=True)
    count_requests.clear()

    switch.set_public(filer_file, True)

    assert count_requests.total == 0


def test_files_on_other_storages_keep_filers_behaviour(folder, monkeypatch):
    """uses_mediahub() is False for foreign storages: filer's own _move_file runs."""
    from django.core.files.storage import InMemoryStorage

    filer_file = make_file(folder, is_public=True)
    assert switch.uses_mediahub(filer_file)
    monkeypatch.setitem(filer_file.file.storages, "public", InMemoryStorage())
    assert not switch.uses_mediahub(filer_file)


def test_outer_transaction_rolled_back_after_the_switch_loses_nothing(s3, folder, committed):
    """The admin saves inside a transaction: a later failure there must not lose the file."""
    filer_file = make_file(folder, is_public=False)
    name = filer_file.file.name

    with pytest.raises(RuntimeError), committed(), transaction.atomic():
        switch.set_public(filer_file, True)
        raise RuntimeError("a later step of the same request failed")

    filer_file = reload(filer_file)
    assert filer_file.is_public is False and filer_file.file.name == name
    assert body(s3, s3.private_bucket, filer_file.file.storage.key(name)) == DATA


def test_save_failing_after_the_copy_removes_the_copy(s3, folder, committed):
    """The row cannot be saved: no copy stays behind (a public copy of a private file)."""
    from django.db.models.signals import pre_save

    filer_file = make_file(folder, is_public=False)
    name = filer_file.file.name
    key = filer_file.file.storage.key(name)

    def refuse(sender, **kwargs):
        raise RuntimeError("the database refused the row")

    pre_save.connect(refuse, dispatch_uid="test-refuse")
    try:
        with pytest.raises(RuntimeError), committed():
            switch.set_public(filer_file, True)
    finally:
        pre_save.disconnect(dispatch_uid="test-refuse")

    assert reload(filer_file).file.name == name
    assert s3.keys(s3.public_bucket) == []
    assert body(s3, s3.private_bucket, key) == DATA
