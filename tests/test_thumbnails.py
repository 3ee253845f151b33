"""Thumbnails against moto's S3 server over HTTP: storages, freshness, safety, request counts."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import pytest
import requests
from django.template import Context, Template
from django.test import override_settings
from easy_thumbnails.models import Source, Thumbnail

from mediahub.thumbnails import SourceRef, delete_thumbnails, thumbnail, thumbnail_url, thumbnails
from tests import thumbnail_images as images

pytestmark = pytest.mark.django_db


def put(s3, bucket: str, key: str, body: bytes, content_type: str = "image/jpeg") -> str:
    answer = s3.client().put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
    return answer["ETag"].strip('"')


def generate(client, url: str):
    """Follow a missing thumbnail's endpoint URL once; return the response."""
    assert url.startswith("/media-links/t/"), url
    return client.get(url)


def thumbs_in(s3, bucket: str) -> list[str]:
    return [key for key in s3.keys(bucket) if key.startswith("thumbnails/")]


def test_public_thumbnail_lands_in_public_bucket_and_is_readable_anonymously(s3, client):
    put(s3, s3.public_bucket, "photos/cat.jpg", images.jpeg(color="red"))

    response = generate(client, thumbnail_url("photos/cat.jpg", size="40x40"))

    assert response.status_code == 302
    keys = thumbs_in(s3, s3.public_bucket)
    assert len(keys) == 1 and keys[0].startswith("thumbnails/photos/cat.jpg.40x40_q85.")
    assert thumbs_in(s3, s3.private_bucket) == []
    anonymous = s3.anonymous_get(s3.public_bucket, keys[0])
    assert anonymous.status_code == 200
    assert anonymous.headers["Content-Type"] == "image/jpeg"
    assert images.color_of(anonymous.content)[0] > 200  # red
    # The redirect and the next render both point at that object, unsigned.
    assert response["Location"] == thumbnail_url("photos/cat.jpg", size="40x40")
    assert "X-Amz-Signature" not in response["Location"]
    assert requests.get(response["Location"], timeout=10).status_code == 200


@pytest.mark.s3semantics
def test_private_thumbnail_stays_in_private_bucket_and_is_served_signed(s3, client):
    put(s3, s3.private_bucket, "scans/id.jpg", images.jpeg(color="blue"))

    response = generate(client, thumbnail_url("scans/id.jpg", storage="private", size="40x40"))

    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    keys = thumbs_in(s3, s3.private_bucket)
    assert len(keys) == 1 and keys[0].startswith("thumbnails/scans/id.jpg.40x40_q85.")
    assert s3.keys(s3.public_bucket) == []  # nothing of it in the public bucket
    assert s3.anonymous_get(s3.private_bucket, keys[0]).status_code == 403
    location = response["Location"]
    assert "X-Amz-Signature=" in location and s3.private_bucket in location
    signed = requests.get(location, timeout=10)
    assert signed.status_code == 200 and images.color_of(signed.content)[2] > 200  # blue
    # Rendering again gives a signed URL of the same object, straight away.
    again = thumbnail_url("scans/id.jpg", storage="private", size="40x40")
    assert urlsplit(again).path == urlsplit(location).path and "X-Amz-Signature=" in again


def test_same_name_in_both_storages_gives_two_thumbnails(s3, client):
    put(s3, s3.public_bucket, "same.jpg", images.jpeg(color="red"))
    put(s3, s3.private_bucket, "same.jpg", images.jpeg(color="blue"))

    public = generate(client, thumbnail_url("same.jpg", size="30x30"))["Location"]
    private = generate(client, thumbnail_url("same.jpg", storage="private", size="30x30"))[
        "Location"
    ]

    assert s3.public_bucket in public and s3.private_bucket in private
    assert images.color_of(requests.get(public, timeout=10).content)[0] > 200
    assert images.color_of(requests.get(private, timeout=10).content)[2] > 200
    assert len({row.storage_hash for row in Source.objects.all()}) == 2
    # Each storage keeps rendering its own thumbnail from the cache.
    assert thumbnail_url("same.jpg", size="30x30") == public
    assert s3.private_bucket in thumbnail_url("same.jpg", storage="private", size="30x30")


def test_source_replaced_outside_django_refreshes_thumbnail(s3, client):
    first = put(s3, s3.public_bucket, "p/photo.jpg", images.jpeg(color="red"))
    old = generate(client, thumbnail_url("p/photo.jpg", size="30x30", source_etag=first))
    old_key = thumbs_in(s3, s3.public_bucket)[0]
    assert thumbnail_url("p/photo.jpg", size="30x30", source_etag=first) == old["Location"]

    # A restore or a push replaces the bytes with boto3 directly.
    second = put(s3, s3.public_bucket, "p/photo.jpg", images.jpeg(color="blue"))
    entry = s3_storage_entry("p/photo.jpg")
    assert entry.etag == second != first

    stale = thumbnail_url("p/photo.jpg", size="30x30", source_etag=entry.etag)
    assert stale.startswith("/media-links/t/")  # not the old thumbnail
    fresh = generate(client, stale)

    assert fresh.status_code == 302 and fresh["Location"] != old["Location"]
    assert images.color_of(requests.get(fresh["Location"], timeout=10).content)[2] > 200
    assert old_key not in s3.keys(s3.public_bucket)  # the stale object is gone
    assert thumbnail_url("p/photo.jpg", size="30x30", source_etag=second) == fresh["Location"]
    # A page that knows no version shows the newest thumbnail.
    assert thumbnail_url("p/photo.jpg", size="30x30") == fresh["Location"]


def s3_storage_entry(name: str):
    from mediahub.storage import get_storage

    page = get_storage("public").list_folder(name.rsplit("/", 1)[0] + "/")
    return next(entry for entry in page.files if entry.path == name)


def test_cached_page_costs_no_storage_request_and_one_query(
    s3, client, count_requests, django_assert_num_queries
):
    names = [f"gallery/{index}.jpg" for index in range(5)]
    for name in names:
        put(s3, s3.public_bucket, name, images.jpeg())
        generate(client, thumbnail_url(name, alias="admin"))
    entries = get_entries("gallery/")
    count_requests.clear()

    with django_assert_num_queries(1):
        page = thumbnails(entries, alias="admin")
    template = Template(
        "{% load mediahub %}{% for e in entries %}"
        '{% media_thumbnail e alias="admin" as t %}<img src="{{ t }}" width="{{ t.width }}">'
        "{% endfor %}"
    )
    with django_assert_num_queries(len(names)):
        html = template.render(Context({"entries": entries}))

    assert count_requests.total == 0
    assert all(thumb.ready and thumb.width == 80 and thumb.height == 80 for thumb in page)
    assert html.count('width="80"') == len(names) and "/media-links/t/" not in html


def get_entries(folder: str):
    from mediahub.storage import get_storage

    return get_storage("public").list_folder(folder).files


def test_missing_thumbnails_render_at_once_without_storage_requests(s3, count_requests):
    refs = [SourceRef(f"new/{index}.jpg", etag=f"{index:032x}") for index in range(20)]

    page = thumbnails(refs, storage="private", size="64x64")

    assert count_requests.total == 0
    assert all(not thumb.ready and thumb.url.startswith("/media-links/t/") for thumb in page)
    assert len({thumb.url for thumb in page}) == 20


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(images.png_bomb(), id="bomb-over-pillow-limit"),
        pytest.param(images.png_bomb(7000, 7000), id="bomb-under-pillow-limit"),
        pytest.param(images.CORRUPT, id="corrupt"),
        pytest.param(images.truncated_jpeg(), id="truncated"),
        pytest.param(images.NOT_AN_IMAGE, id="not-an-image"),
        pytest.param(images.SVG, id="svg"),
        pytest.param(images.ppm(), id="format-not-allowed"),
    ],
)
def test_unusable_source_gives_placeholder_and_warning_never_500(s3, client, caplog, body):
    put(s3, s3.private_bucket, "bad/file.jpg", body)
    url = thumbnail_url("bad/file.jpg", storage="private", size="64x64")

    with caplog.at_level(logging.WARNING, logger="mediahub.thumbnails"):
        response = generate(client, url)

    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert b"<svg" in response.content
    assert any("bad/file.jpg" in record.getMessage() for record in caplog.records)
    assert thumbs_in(s3, s3.private_bucket) == [] and s3.keys(s3.public_bucket) == []
    # Remembered: the next render shows the placeholder without the endpoint.
    assert thumbnail_url("bad/file.jpg", storage="private", size="64x64").endswith(
        "thumbnail-placeholder.svg"
    )


def test_bomb_limit_is_configurable(s3, client):
    put(s3, s3.public_bucket, "big.jpg", images.jpeg(120, 80))
    with override_settings(MEDIAHUB={"THUMBNAIL_MAX_PIXELS": 100 * 80}):
        assert generate(client, thumbnail_url("big.jpg", size="20x20")).status_code == 200
    put(s3, s3.public_bucket, "ok.jpg", images.jpeg(120, 80))
    with override_settings(MEDIAHUB={"THUMBNAIL_MAX_PIXELS": 120 * 80}):
        assert generate(client, thumbnail_url("ok.jpg", size="20x20")).status_code == 302


@pytest.mark.parametrize("options", [{"crop": True}, {}], ids=["crop", "one-side"])
def test_upscaling_a_sliver_is_refused_like_a_bomb(s3, client, options):
    # A 1x2000 image is small, but upscale=True scales it by 50 to cover 50x50 (or 50
    # wide): 50x100000 pixels before cropping, a memory bomb made of a valid image.
    put(s3, s3.public_bucket, "sliver.png", images.png(1, 2000), "image/png")
    size = "50x50" if options else "50x0"
    with override_settings(MEDIAHUB={"THUMBNAIL_MAX_PIXELS": 1_000_000}):
        url = thumbnail_url("sliver.png", size=size, upscale=True, **options)
        response = generate(client, url)
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert thumbs_in(s3, s3.public_bucket) == []
    # Upscaling within the limit still works.
    put(s3, s3.public_bucket, "small.png", images.png(10, 10), "image/png")
    with override_settings(MEDIAHUB={"THUMBNAIL_MAX_PIXELS": 1_000_000}):
        url = thumbnail_url("small.png", size="40x40", upscale=True, crop=True)
        assert generate(client, url).status_code == 302


def animated_gif(width: int, height: int, frames: int) -> bytes:
    import io

    from PIL import Image

    colours = [(i * 7 % 256, i * 13 % 256, i * 29 % 256) for i in range(frames)]
    images_ = [Image.new("RGB", (width, height), colour) for colour in colours]
    buffer = io.BytesIO()
    images_[0].save(buffer, "GIF", save_all=True, append_images=images_[1:], duration=40)
    return buffer.getvalue()


def test_animated_images_are_thumbnailed_from_their_first_frame_only(s3, client):
    # easy-thumbnails 2.10 converts every frame at full size (30 frames of 200x200 are
    # 1.2 million pixels in memory, past the per-frame check) and then fails to write
    # the palette result as JPEG: animated GIFs got no thumbnail at all.
    put(s3, s3.public_bucket, "anim.gif", animated_gif(200, 200, 30), "image/gif")
    with override_settings(MEDIAHUB={"THUMBNAIL_MAX_PIXELS": 1_000_000}):
        response = generate(client, thumbnail_url("anim.gif", size="20x20"))
    assert response.status_code == 302
    data = requests.get(response["Location"], timeout=10).content
    assert images.color_of(data)[:3] == pytest.approx((0, 0, 0), abs=8)  # frame 0 is black


def test_s3_503_during_generation_gives_clean_503_and_nothing_recorded(s3, client, fail_s3):
    put(s3, s3.public_bucket, "slow.jpg", images.jpeg())
    url = thumbnail_url("slow.jpg", size="20x20")
    fail_s3("GetObject", status=503)

    response = client.get(url)

    assert response.status_code == 503
    assert response["Retry-After"] and response["Cache-Control"] == "no-store"
    assert response["Content-Type"] == "image/svg+xml"
    assert not Thumbnail.objects.exists()
    assert thumbnail_url("slow.jpg", size="20x20") == url  # still to be made, same URL


def test_busy_database_during_generation_gives_503_not_500(s3, client, monkeypatch):
    from django.db import OperationalError

    from mediahub.thumbnails import generate as generation

    put(s3, s3.public_bucket, "busy.jpg", images.jpeg())
    url = thumbnail_url("busy.jpg", size="20x20")

    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(generation, "ensure", locked)
    response = client.get(url)

    assert response.status_code == 503
    assert response["Retry-After"] and response["Cache-Control"] == "no-store"


def test_s3_failure_writing_thumbnail_gives_503(s3, client, fail_s3):
    put(s3, s3.public_bucket, "w.jpg", images.jpeg())
    url = thumbnail_url("w.jpg", size="20x20")
    fail_s3("PutObject", status=500)

    assert client.get(url).status_code == 503
    assert not Thumbnail.objects.exists()


def test_stale_endpoint_url_does_not_download_the_source_again(s3, client, monkeypatch):
    # An endpoint URL of an older source version (a cached page, a crawler) redirects to
    # the current thumbnail; learning the current version must not cost a full GET of
    # a large source on every request.
    from botocore.response import StreamingBody

    first = put(s3, s3.public_bucket, "big.jpg", images.jpeg(color="red"))
    stale = thumbnail_url("big.jpg", size="20x20", source_etag=first)
    padding = b"\0" * (2 * 1024 * 1024)  # trailing bytes: still a valid JPEG
    second = put(s3, s3.public_bucket, "big.jpg", images.jpeg(color="blue") + padding)
    fresh = generate(client, thumbnail_url("big.jpg", size="20x20", source_etag=second))
    assert fresh.status_code == 302

    read = []
    original = StreamingBody.iter_chunks

    def counting(self, chunk_size=1024):
        for chunk in original(self, chunk_size):
            read.append(len(chunk))
            yield chunk

    monkeypatch.setattr(StreamingBody, "iter_chunks", counting)
    for _ in range(3):
        again = generate(client, stale)
        assert again.status_code == 302 and again["Location"] == fresh["Location"]
    assert sum(read) == 0


def test_missing_source_is_404(s3, client):
    response = client.get(thumbnail_url("nowhere.jpg", size="20x20"))
    assert response.status_code == 404


def test_tampered_token_is_404_and_generates_nothing(s3, client, count_requests):
    put(s3, s3.private_bucket, "secret.jpg", images.jpeg())
    url = thumbnail_url("secret.jpg", storage="private", size="20x20")
    tampered = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    count_requests.clear()

    assert client.get(tampered).status_code == 404
    assert client.get("/media-links/t/not-a-token").status_code == 404
    assert count_requests.total == 0
    assert thumbs_in(s3, s3.private_bucket) == []


def test_private_endpoint_url_expires(s3, client, monkeypatch):
    import time

    put(s3, s3.private_bucket, "old.jpg", images.jpeg())
    url = thumbnail_url("old.jpg", storage="private", size="20x20")
    later = time.time() + 3601
    monkeypatch.setattr("mediahub.thumbnails.tokens.time.time", lambda: later)

    assert client.get(url).status_code == 410


def test_transparent_png_keeps_transparency_extension(s3, client):
    put(s3, s3.public_bucket, "logo.png", images.png(), "image/png")
    response = generate(client, thumbnail_url("logo.png", size="20x20"))
    assert response["Location"].endswith(".png")


def test_delete_thumbnails_removes_objects_and_rows(s3, client):
    put(s3, s3.private_bucket, "gone.jpg", images.jpeg())
    generate(client, thumbnail_url("gone.jpg", storage="private", size="20x20"))
    generate(client, thumbnail_url("gone.jpg", storage="private", size="30x30"))
    assert len(thumbs_in(s3, s3.private_bucket)) == 2

    assert delete_thumbnails("gone.jpg", storage="private") == 2

    assert thumbs_in(s3, s3.private_bucket) == []
    assert not Thumbnail.objects.exists() and not Source.objects.exists()
    assert delete_thumbnails("gone.jpg", storage="private") == 0


def test_thumbnail_of_a_thumbnail_is_itself(s3, client):
    put(s3, s3.private_bucket, "x.jpg", images.jpeg())
    generate(client, thumbnail_url("x.jpg", storage="private", size="20x20"))
    key = thumbs_in(s3, s3.private_bucket)[0]

    thumb = thumbnail(key, storage="private", size="20x20")

    assert thumb.ready and key in thumb.url and "X-Amz-Signature=" in thumb.url


def test_endpoint_only_answers_safe_methods(s3, client):
    put(s3, s3.public_bucket, "m.jpg", images.jpeg())
    url = thumbnail_url("m.jpg", size="20x20")

    assert client.post(url).status_code == 405
    assert not Thumbnail.objects.exists()
    assert client.head(url).status_code == 302


def test_private_source_needs_an_expiring_token(s3, client):
    # A token signed while an alias was public carries no expiry; once the alias is
    # private (a DSN moved to the private bucket) it must not serve that storage forever.
    from mediahub.thumbnails import naming, tokens

    put(s3, s3.private_bucket, "moved.jpg", images.jpeg())
    payload = naming.options_payload(naming.build_options(size="20x20"))
    eternal = tokens.make_url("private", "moved.jpg", payload, None, private=False)
    assert client.get(eternal).status_code == 404
    assert thumbs_in(s3, s3.private_bucket) == []
