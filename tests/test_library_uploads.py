"""Direct browser-to-S3 multipart uploads (mediahub.library.uploads), over HTTP to moto."""

from __future__ import annotations

import json

import pytest
import requests
from django.urls import reverse

from mediahub.library import uploads
from mediahub.library.errors import LibraryError
from tests.test_library_views import (  # noqa: F401  (no_retry_backoff: autouse fixture)
    ALL_PERMS,
    make_user,
    no_retry_backoff,
    put,
)

pytestmark = pytest.mark.django_db

MiB = 1024**2
CONTENT = bytes(range(256)) * (6 * MiB // 256) + b"tail"  # 6 MiB + 4 bytes: two parts


@pytest.fixture
def editor(client, django_user_model, settings):
    settings.MEDIAHUB = {"MULTIPART_CHUNK_SIZE": 5 * MiB, "DIRECT_UPLOAD_THRESHOLD": 1 * MiB}
    user = make_user(django_user_model, *ALL_PERMS)
    client.force_login(user)
    return user


def call(client, action: str, data: dict, storage: str = "public"):
    return client.post(
        reverse(f"admin:mediahub_upload_{action}", args=[storage]),
        data=json.dumps(data),
        content_type="application/json",
        headers={"Accept": "application/json"},
    )


def browser_upload(client, content: bytes, filename: str, path: str = "", storage: str = "public"):
    """What library.js does: start, sign parts, PUT each part to S3, complete."""
    started = call(
        client, "start", {"path": path, "filename": filename, "size": len(content)}, storage
    )
    assert started.status_code == 200, started.content
    start = started.json()
    numbers = list(range(1, start["parts"] + 1))
    urls = call(client, "parts", {"token": start["token"], "parts": numbers}, storage).json()[
        "urls"
    ]
    parts = []
    for number in numbers:
        chunk = content[(number - 1) * start["part_size"] : number * start["part_size"]]
        answer = requests.put(urls[str(number)], data=chunk, timeout=30)
        assert answer.status_code == 200
        parts.append({"PartNumber": number, "ETag": answer.headers["ETag"]})
    return start, call(client, "complete", {"token": start["token"], "parts": parts}, storage)


def test_direct_upload_goes_from_the_client_to_s3_in_parts(client, editor, s3, count_requests):
    count_requests.clear()
    start, done = browser_upload(client, CONTENT, "movie.mp4", path="videos/")
    assert start["parts"] == 2 and start["part_size"] == 5 * MiB
    assert done.status_code == 200
    assert done.json()["files"] == [{"name": "movie.mp4", "stored_as": "videos/movie.mp4"}]
    body = s3.client().get_object(Bucket=s3.public_bucket, Key="videos/movie.mp4")["Body"].read()
    assert body == CONTENT
    # The app server never sent the bytes: no UploadPart through botocore.
    assert "UploadPart" not in count_requests
    assert count_requests["CreateMultipartUpload"] == 1
    assert count_requests["CompleteMultipartUpload"] == 1


def test_same_name_gets_a_free_name_and_nothing_is_overwritten(client, editor, s3):
    put(s3, s3.public_bucket, "movie.mp4", b"original")
    start, done = browser_upload(client, CONTENT, "movie.mp4")
    final = done.json()["files"][0]["stored_as"]
    assert final != "movie.mp4" and final.startswith("movie_") and final.endswith(".mp4")
    get = s3.client().get_object
    assert get(Bucket=s3.public_bucket, Key="movie.mp4")["Body"].read() == b"original"


@pytest.mark.s3semantics
def test_name_taken_during_the_upload_is_refused_and_aborted(client, editor, s3):
    started = call(client, "start", {"filename": "race.bin", "size": len(CONTENT)}).json()
    put(s3, s3.public_bucket, "race.bin", b"winner")  # someone else, meanwhile
    urls = call(client, "parts", {"token": started["token"], "parts": [1, 2]}).json()["urls"]
    parts = []
    for number in (1, 2):
        chunk = CONTENT[(number - 1) * 5 * MiB : number * 5 * MiB]
        parts.append(
            {
                "PartNumber": number,
                "ETag": requests.put(urls[str(number)], data=chunk, timeout=30).headers["ETag"],
            }
        )
    done = call(client, "complete", {"token": started["token"], "parts": parts})
    assert done.status_code == 400
    assert "meanwhile" in done.json()["error"]
    get = s3.client().get_object
    assert get(Bucket=s3.public_bucket, Key="race.bin")["Body"].read() == b"winner"
    assert s3.client().list_multipart_uploads(Bucket=s3.public_bucket).get("Uploads", []) == []


@pytest.mark.s3semantics
def test_part_urls_are_signed_for_their_size_and_key(client, editor, s3):
    started = call(client, "start", {"filename": "sized.bin", "size": len(CONTENT)}).json()
    urls = call(client, "parts", {"token": started["token"], "parts": [1, 2]}).json()["urls"]
    assert "content-length" in urls["1"].lower()  # X-Amz-SignedHeaders=content-length;host
    # Over-size: part 2 holds 4 bytes; 5 MiB more must not get in.
    oversize = requests.put(urls["2"], data=CONTENT[: 5 * MiB], timeout=30)
    # Another key with the same signature.
    other = requests.put(
        urls["1"].replace("sized.bin", "other.bin"), data=CONTENT[: 5 * MiB], timeout=30
    )
    if s3.endpoint.is_real:
        assert oversize.status_code == 403
        assert other.status_code == 403
    # The right sizes still go through, and the upload completes.
    parts = []
    for number in (1, 2):
        chunk = CONTENT[(number - 1) * 5 * MiB : number * 5 * MiB]
        answer = requests.put(urls[str(number)], data=chunk, timeout=30)
        assert answer.status_code == 200
        parts.append({"PartNumber": number, "ETag": answer.headers["ETag"]})
    done = call(client, "complete", {"token": started["token"], "parts": parts})
    assert done.status_code == 200, done.content
    body = s3.client().get_object(Bucket=s3.public_bucket, Key="sized.bin")["Body"].read()
    assert body == CONTENT
    assert "other.bin" not in s3.keys(s3.public_bucket)


def test_abort_leaves_no_partial_upload(client, editor, s3):
    started = call(client, "start", {"filename": "x.bin", "size": len(CONTENT)}).json()
    url = call(client, "parts", {"token": started["token"], "parts": [1]}).json()["urls"]["1"]
    requests.put(url, data=CONTENT[: 5 * MiB], timeout=30)
    assert call(client, "abort", {"token": started["token"]}).json() == {"aborted": True}
    assert s3.client().list_multipart_uploads(Bucket=s3.public_bucket).get("Uploads", []) == []
    assert s3.keys(s3.public_bucket) == []


def test_missing_parts_abort_the_upload(client, editor, s3):
    started = call(client, "start", {"filename": "x.bin", "size": len(CONTENT)}).json()
    done = call(client, "complete", {"token": started["token"], "parts": []})
    assert done.status_code == 400 and "parts" in done.json()["error"]
    assert s3.client().list_multipart_uploads(Bucket=s3.public_bucket).get("Uploads", []) == []


def test_complete_failure_from_s3_aborts(client, editor, s3, fail_s3):
    started = call(client, "start", {"filename": "x.bin", "size": len(CONTENT)}).json()
    fail_s3("CompleteMultipartUpload", status=500)
    parts = [{"PartNumber": 1, "ETag": '"abc"'}, {"PartNumber": 2, "ETag": '"def"'}]
    done = call(client, "complete", {"token": started["token"], "parts": parts})
    assert done.status_code == 502 and "Try again" in done.json()["error"]
    assert s3.client().list_multipart_uploads(Bucket=s3.public_bucket).get("Uploads", []) == []


def test_size_different_from_the_announced_one_is_removed(client, editor, s3, monkeypatch):
    started = call(client, "start", {"filename": "x.bin", "size": len(CONTENT)}).json()
    token_upload = uploads.load(started["token"], "public", user_id=editor.pk)
    # The browser sends a smaller file than announced (one part only).
    monkeypatch.setattr(
        uploads,
        "load",
        lambda *a, **k: uploads.DirectUpload(**{**token_upload.__dict__, "parts": 1}),
    )
    url = call(client, "parts", {"token": started["token"], "parts": [1]}).json()["urls"]["1"]
    etag = requests.put(url, data=b"short", timeout=30).headers["ETag"]
    done = call(
        client, "complete", {"token": started["token"], "parts": [{"PartNumber": 1, "ETag": etag}]}
    )
    assert done.status_code == 400 and "instead of" in done.json()["error"]
    assert s3.keys(s3.public_bucket) == []


@pytest.mark.parametrize(
    "data",
    [
        {"filename": "../x.bin", "size": 10 * MiB},
        {"filename": "a/b.bin", "size": 10 * MiB},
        {"filename": "x\x00.bin", "size": 10 * MiB},
        {"filename": "x" * 300, "size": 10 * MiB},
        {"filename": "ok.bin", "size": -1},
        {"filename": "ok.bin", "size": "big"},
        {"filename": "ok.bin", "size": 10 * MiB, "path": "../"},
        {"filename": 5, "size": 10 * MiB},
    ],
)
def test_start_refuses_bad_input(client, editor, s3, data, count_requests):
    count_requests.clear()
    response = call(client, "start", data)
    assert response.status_code == 400
    assert "CreateMultipartUpload" not in count_requests


def test_start_enforces_limits(client, editor, s3, settings):
    settings.MEDIAHUB = {"UPLOAD_MAX_SIZE": 100, "UPLOAD_ALLOWED_TYPES": ["image/*"]}
    assert "too large" in call(client, "start", {"filename": "a.png", "size": 101}).json()["error"]
    assert "not allowed" in call(client, "start", {"filename": "a.pdf", "size": 50}).json()["error"]


def test_active_content_direct_upload_is_an_attachment(client, editor, s3):
    svg = b"<svg>" + b" " * (6 * MiB) + b"</svg>"
    start, done = browser_upload(client, svg, "big.svg")
    assert done.status_code == 200
    head = s3.client().head_object(Bucket=s3.public_bucket, Key="big.svg")
    assert head["ContentDisposition"] == "attachment"
    assert head["ContentType"] == "image/svg+xml"


def test_tokens_are_bound_to_storage_and_user(client, editor, s3, django_user_model):
    started = call(client, "start", {"filename": "x.bin", "size": len(CONTENT)}).json()
    token = started["token"]
    assert (
        call(client, "parts", {"token": token, "parts": [1]}, storage="private").status_code == 400
    )
    assert call(client, "parts", {"token": token[:-2] + "xx", "parts": [1]}).status_code == 400
    assert call(client, "parts", {"token": token, "parts": [3]}).status_code == 400
    assert call(client, "parts", {"token": token, "parts": list(range(1, 200))}).status_code == 400
    other = make_user(django_user_model, *ALL_PERMS, username="other")
    client.force_login(other)
    assert call(client, "abort", {"token": token}).status_code == 400
    assert call(client, "parts", {"token": "garbage", "parts": [1]}).status_code == 400
    assert call(client, "parts", {"token": token, "parts": [1]}).status_code == 400


def test_expired_token_is_refused(client, editor, s3, settings, monkeypatch):
    started = call(client, "start", {"filename": "x.bin", "size": len(CONTENT)}).json()
    import time

    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 7 * 3600)
    with pytest.raises(LibraryError, match="expired"):
        uploads.load(started["token"], "public", user_id=editor.pk)


def test_bad_json_bodies(client, editor, s3):
    url = reverse("admin:mediahub_upload_start", args=["public"])
    assert client.post(url, data="not json", content_type="application/json").status_code == 400
    assert client.post(url, data="[1]", content_type="application/json").status_code == 400


def test_part_size_respects_s3_limits(settings):
    settings.MEDIAHUB = {"MULTIPART_CHUNK_SIZE": 1 * MiB}
    assert uploads.part_size_for(100 * MiB) == 5 * MiB
    settings.MEDIAHUB = {"MULTIPART_CHUNK_SIZE": 8 * MiB}
    size = 5 * 1024**4
    assert size / uploads.part_size_for(size) <= uploads.MAX_PARTS


def test_direct_uploads_need_an_s3_storage(client, django_user_model):
    client.force_login(make_user(django_user_model, *ALL_PERMS))
    response = call(client, "start", {"filename": "x.bin", "size": 20 * MiB})
    assert response.status_code == 400 and "S3" in response.json()["error"]


def test_unconfigured_storage_is_a_json_error_not_a_500(client, editor, settings):
    settings.STORAGES = {k: v for k, v in settings.STORAGES.items() if k != "private"}
    response = call(client, "start", {"filename": "x.bin", "size": 20 * MiB}, storage="private")
    assert response.status_code == 400
    assert "not configured" in response.json()["error"]


def test_tokens_work_for_users_with_uuid_keys(s3):
    """Custom user models often have UUID primary keys (not JSON): the token still binds them."""
    import uuid

    owner, stranger = uuid.uuid4(), uuid.uuid4()
    started = uploads.start("public", "", "x.bin", len(CONTENT), user_id=owner)
    upload = uploads.load(started["token"], "public", user_id=owner)
    assert upload.name == "x.bin"
    with pytest.raises(LibraryError):
        uploads.load(started["token"], "public", user_id=stranger)
    uploads.abort(upload)
