"""``manage.py mediahub_thumbnails`` against moto's S3 server over HTTP."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from easy_thumbnails.models import Thumbnail

from mediahub.thumbnails import thumbnail
from tests import thumbnail_images as images

pytestmark = pytest.mark.django_db

ALIASES = {"small": {"size": (20, 20)}, "wide": {"size": (40, 10), "crop": True}}


@pytest.fixture
def aliases(s3):
    # override_settings, not pytest-django's ``settings``: that one restores a snapshot
    # taken inside the ``s3`` fixture's STORAGES override, leaking it to later tests.
    with override_settings(MEDIAHUB={"THUMBNAIL_ALIASES": ALIASES}):
        yield


def put(s3, bucket, key, body=None):
    s3.client().put_object(Bucket=bucket, Key=key, Body=body or images.jpeg())


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("mediahub_thumbnails", *args, stdout=out, stderr=err, verbosity=2)
    return out.getvalue(), err.getvalue()


def test_generates_all_aliases_with_jobs_then_skips_fresh(s3, aliases, count_requests):
    names = ["a.jpg", "album/b.jpg", "album/deep/c.jpg", "album/d.png"]
    for name in names:
        put(s3, s3.private_bucket, name)
    put(s3, s3.private_bucket, "album/notes.txt", b"not an image")

    out, err = run("--storage", "private", "--jobs", "2")

    assert "4 images: 8 thumbnails generated, 0 fresh, 0 failed." in out
    assert "[##############################] 4/4 100%" in err  # the progress bar
    keys = [key for key in s3.keys(s3.private_bucket) if key.startswith("thumbnails/")]
    assert len(keys) == 8 and s3.keys(s3.public_bucket) == []
    for name in names:
        assert thumbnail(name, storage="private", alias="small").ready
        assert thumbnail(name, storage="private", alias="wide").width == 40

    count_requests.clear()
    out, _ = run("--storage", "private", "--jobs", "2")
    assert "4 images: 0 thumbnails generated, 8 fresh, 0 failed." in out
    # Listing only: no GET, no PUT, and the thumbnail folder is not walked.
    assert set(count_requests) == {"ListObjectsV2"}
    assert count_requests["ListObjectsV2"] == 3  # root, album/, album/deep/: not thumbnails/


def test_replaced_source_is_regenerated(s3, aliases):
    put(s3, s3.public_bucket, "p.jpg", images.jpeg(color="red"))
    run("--alias", "small")
    put(s3, s3.public_bucket, "p.jpg", images.jpeg(color="blue"))

    out, _ = run("--alias", "small")

    assert "1 thumbnails generated" in out
    thumbs = [key for key in s3.keys(s3.public_bucket) if key.startswith("thumbnails/")]
    assert len(thumbs) == 1  # the stale one was deleted
    body = s3.client().get_object(Bucket=s3.public_bucket, Key=thumbs[0])["Body"].read()
    assert images.color_of(body)[2] > 200


def test_prefix_and_alias_limit_the_work(s3, aliases):
    for name in ("photos/2024-a.jpg", "photos/2023-b.jpg", "other/c.jpg"):
        put(s3, s3.public_bucket, name)

    out, _ = run("--prefix", "photos/2024", "--alias", "small")

    assert "1 images: 1 thumbnails generated" in out
    assert Thumbnail.objects.count() == 1


def test_failures_are_reported_and_exit_1(s3, aliases):
    put(s3, s3.public_bucket, "good.jpg")
    put(s3, s3.public_bucket, "broken.jpg", images.CORRUPT)
    err = StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("mediahub_thumbnails", "--alias", "small", stdout=StringIO(), stderr=err)

    assert raised.value.returncode == 1
    assert "FAILED broken.jpg [small]: not a usable image" in err.getvalue()
    assert thumbnail("good.jpg", alias="small").ready
    # Still broken on the next run: still a failure, and not downloaded again.
    with pytest.raises(CommandError):
        call_command("mediahub_thumbnails", "--alias", "small", stdout=StringIO(), stderr=err)


def test_s3_failure_during_generation_is_a_reported_failure(s3, aliases, fail_s3):
    put(s3, s3.public_bucket, "x.jpg")
    fail_s3("GetObject", status=500)
    err = StringIO()

    with pytest.raises(CommandError):
        call_command("mediahub_thumbnails", "--alias", "small", stdout=StringIO(), stderr=err)

    assert "FAILED x.jpg [small]: reading 'x.jpg' failed: GetObject failed" in err.getvalue()
    assert not Thumbnail.objects.exists()


def test_dry_run_writes_nothing(s3, aliases):
    put(s3, s3.public_bucket, "x.jpg")
    out, _ = run("--dry-run")
    assert "1 images: 2 thumbnails would be generated" in out
    assert not Thumbnail.objects.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--storage", "nope"], "No storage named 'nope'"),
        (["--alias", "nope"], "Unknown thumbnail alias 'nope'"),
        (["--jobs", "0"], "--jobs must be between 1 and 64"),
        (["--prefix", "../x"], "--prefix"),
    ],
)
def test_bad_arguments_are_clear_errors(s3, aliases, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("mediahub_thumbnails", *args, stdout=StringIO(), stderr=StringIO())
    assert not Thumbnail.objects.exists()


def test_listing_failure_is_one_clear_line(s3, aliases, fail_s3):
    put(s3, s3.public_bucket, "x.jpg")
    fail_s3("ListObjectsV2", status=503)

    with pytest.raises(CommandError, match=r"^Listing: ListObjectsV2 failed with SlowDown"):
        call_command("mediahub_thumbnails", stdout=StringIO(), stderr=StringIO())
    assert not Thumbnail.objects.exists()
