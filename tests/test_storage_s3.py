"""mediahub's S3 storages against a live S3 endpoint over HTTP."""

from __future__ import annotations

import io
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from botocore.exceptions import ClientError
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.base import ContentFile

from mediahub.storage import get_storage
from mediahub.storage.s3 import MULTIPART_PART_SIZE, PrivateS3Storage, PublicS3Storage


def test_public_object_lands_in_public_bucket_and_is_readable_anonymously(s3):
    name = get_storage("public").save("docs/hello.txt", ContentFile(b"hello"))
    assert name == "docs/hello.txt"
    assert s3.anonymous_get(s3.public_bucket, "docs/hello.txt").content == b"hello"
    url = get_storage("public").url(name)
    assert "X-Amz-Signature" not in url and "Signature=" not in url
    assert requests.get(url, timeout=10).content == b"hello"


@pytest.mark.s3semantics
def test_private_object_is_unreadable_anonymously_and_url_is_sigv4_presigned(s3):
    storage = get_storage("private")
    name = storage.save("secret/report.pdf", ContentFile(b"%PDF-secret"))
    assert s3.anonymous_get(s3.private_bucket, name).status_code == 403
    assert s3.keys(s3.public_bucket) == []
    url = storage.url(name)
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["300"]
    assert "Signature" not in query  # never SigV2
    assert requests.get(url, timeout=10).content == b"%PDF-secret"


def test_saving_an_existing_name_keeps_both_files_without_a_head_request(s3, count_requests):
    storage = get_storage("private")
    first = storage.save("a/same.txt", ContentFile(b"one"))
    count_requests.clear()
    second = storage.save("a/same.txt", ContentFile(b"two"))
    assert first == "a/same.txt" and second != first and second.startswith("a/same_")
    assert "HeadObject" not in count_requests
    assert storage.open(first).read() == b"one"
    assert storage.open(second).read() == b"two"


@pytest.mark.s3semantics
def test_concurrent_same_name_saves_never_lose_a_file(s3):
    storage = get_storage("public")
    for trial in range(5):
        names: list[str] = []
        barrier = threading.Barrier(2)

        def save(payload: bytes, trial=trial, barrier=barrier, names=names):
            barrier.wait()
            names.append(storage.save(f"race/{trial}.txt", ContentFile(payload)))

        threads = [threading.Thread(target=save, args=(p,)) for p in (b"left", b"right")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(set(names)) == 2
        assert sorted(storage.open(n).read() for n in names) == [b"left", b"right"]


@pytest.mark.s3semantics
def test_large_file_is_created_by_conditional_multipart_upload(s3, count_requests):
    storage = get_storage("private")
    payload = b"x" * (MULTIPART_PART_SIZE + 1234)
    name = storage.save("big/blob.bin", ContentFile(payload))
    assert count_requests["CompleteMultipartUpload"] == 1
    assert storage.size(name) == len(payload)
    again = storage.save("big/blob.bin", ContentFile(payload))
    assert again != name
    assert s3.client().list_multipart_uploads(Bucket=s3.private_bucket).get("Uploads", []) == []


def test_failed_multipart_upload_is_aborted_and_leaves_nothing(s3, fail_s3, count_requests):
    storage = get_storage("private")
    fail_s3("UploadPart", status=500)
    with pytest.raises(ClientError):
        storage.save("big/broken.bin", ContentFile(b"y" * (MULTIPART_PART_SIZE + 1)))
    assert count_requests["AbortMultipartUpload"] == 1
    assert s3.keys(s3.private_bucket) == []
    assert s3.client().list_multipart_uploads(Bucket=s3.private_bucket).get("Uploads", []) == []


@pytest.mark.parametrize("name", ["a//b.txt", "x/../secret.txt", "/abs.txt", "ctl\x01.txt"])
def test_unsafe_names_are_refused_before_any_request(s3, count_requests, name):
    storage = get_storage("public")
    storage.save("secret.txt", ContentFile(b"keep me"))
    storage.save("a/b.txt", ContentFile(b"keep me too"))
    count_requests.clear()
    for call in (storage.open, storage.delete, storage.exists, storage.size, storage.url):
        with pytest.raises(SuspiciousFileOperation):
            call(name)
    with pytest.raises(SuspiciousFileOperation):
        storage.save(name, ContentFile(b"x"))
    assert count_requests.total == 0
    assert sorted(s3.keys(s3.public_bucket)) == ["a/b.txt", "secret.txt"]


def test_list_folder_returns_folders_and_files_with_metadata_in_one_request(s3, count_requests):
    storage = get_storage("public")
    for name in ("f/one.txt", "f/two.txt", "f/sub/deep.txt", "f/other/x.txt", "g.txt"):
        storage.save(name, ContentFile(name.encode()))
    count_requests.clear()
    page = storage.list_folder("f/")
    assert count_requests == {"ListObjectsV2": 1}
    assert [d.path for d in page.folders] == ["f/other/", "f/sub/"]
    assert [(f.path, f.size) for f in page.files] == [("f/one.txt", 9), ("f/two.txt", 9)]
    assert all(f.etag and len(f.etag) == 32 and f.modified is not None for f in page.files)
    assert page.next_cursor is None


def test_list_folder_paginates_by_cursor_without_gaps_or_duplicates(s3, count_requests):
    client = s3.client()
    for i in range(25):
        client.put_object(Bucket=s3.public_bucket, Key=f"many/{i:03d}.txt", Body=b"x")
    storage = get_storage("public")
    count_requests.clear()
    seen, cursor, pages = [], None, 0
    while True:
        page = storage.list_folder("many/", cursor=cursor, page_size=10)
        pages += 1
        seen += [f.path for f in page.files]
        if not page.has_next:
            break
        cursor = page.next_cursor
    assert pages == 3 and count_requests["ListObjectsV2"] == 3
    assert seen == [f"many/{i:03d}.txt" for i in range(25)]


def test_list_folder_filters_by_name_prefix_and_marks_raw_keys(s3):
    client = s3.client()
    for key in ("p/apple.txt", "p/apricot.txt", "p/banana.txt", "p//double.txt"):
        client.put_object(Bucket=s3.public_bucket, Key=key, Body=b"x")
    storage = get_storage("public")
    assert [f.name for f in storage.list_folder("p/", prefix="ap").files] == [
        "apple.txt",
        "apricot.txt",
    ]
    page = storage.list_folder("p/")
    assert [(d.path, d.valid) for d in page.folders] == [("p//", False)]
    with pytest.raises(SuspiciousFileOperation):
        storage.list_folder("p/", prefix="../")


@pytest.mark.django_db  # a copy onto a name ends its signed links (database)
def test_server_side_copy_between_storages_keeps_bytes_and_privacy(s3, count_requests):
    public, private = get_storage("public"), get_storage("private")
    public.save("img/a.jpg", ContentFile(b"\xff\xd8jpeg"))
    count_requests.clear()
    private.copy("img/a.jpg", "img/a.jpg", source=public)
    assert "GetObject" not in count_requests and "PutObject" not in count_requests
    assert count_requests["CopyObject"] == 1
    assert private.open("img/a.jpg").read() == b"\xff\xd8jpeg"
    assert s3.anonymous_get(s3.private_bucket, "img/a.jpg").status_code == 403
    assert private.stat("img/a.jpg").etag == public.stat("img/a.jpg").etag


def test_listing_failure_surfaces_as_client_error_after_retries(s3, fail_s3, count_requests):
    fail_s3("ListObjectsV2", status=503)
    with pytest.raises(ClientError):
        get_storage("public").list_folder("")


def test_private_storage_refuses_unsafe_options():
    base = {"bucket_name": "bkt", "access_key": "k", "secret_key": "s"}
    for extra in (
        {"querystring_auth": False},
        {"default_acl": "public-read"},
        {"file_overwrite": True},
        {"custom_domain": "cdn.example.com"},
        {"signature_version": "s3"},
        {"querystring_expire": 8 * 24 * 3600},
        {"object_parameters": {"ACL": "public-read"}},
        {"default_acl": "authenticated-read"},
        {"object_parameters": {"ACL": "authenticated-read"}},
        {"object_parameters": {"ACL": "public-read-write"}},
    ):
        with pytest.raises(ImproperlyConfigured):
            PrivateS3Storage(**base, **extra)


def test_presign_lifetime_over_seven_days_is_an_error_not_a_shorter_url():
    storage = PrivateS3Storage(bucket_name="bkt", access_key="k", secret_key="s")
    with pytest.raises(ValueError, match="7 days"):
        storage.url("a.txt", expire=7 * 24 * 3600 + 1)
    url = storage.url("a.txt", expire=7 * 24 * 3600)
    assert "X-Amz-Expires=604800" in url


def test_us_east_1_and_custom_endpoints_still_sign_sigv4():
    for options in ({}, {"endpoint_url": "http://127.0.0.1:1"}):
        storage = PrivateS3Storage(
            bucket_name="bkt", access_key="k", secret_key="s", region_name="us-east-1", **options
        )
        assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in storage.url("a.txt")


def test_public_storage_urls_are_unsigned_and_honour_custom_domain():
    storage = PublicS3Storage(
        bucket_name="bkt", access_key="k", secret_key="s", custom_domain="cdn.example.com"
    )
    assert storage.url("a b.txt") == "https://cdn.example.com/a%20b.txt"


def test_non_seekable_content_is_saved(s3):
    class Stream(io.RawIOBase):
        def __init__(self):
            self.data = io.BytesIO(b"streamed")

        def readinto(self, buffer):
            return self.data.readinto(buffer)

        def readable(self):
            return True

    from django.core.files import File

    name = get_storage("private").save("s.txt", File(Stream(), name="s.txt"))
    assert get_storage("private").open(name).read() == b"streamed"


@pytest.mark.django_db  # a copy onto a name ends its signed links (database)
def test_server_side_copy_applies_the_target_storages_acl_and_encryption(s3, settings):
    from mediahub import dsn

    options = dsn.parse(s3.layout.dsn(s3.private_bucket, "pub"))["OPTIONS"]
    target = PublicS3Storage(**options, object_parameters={"ACL": "public-read"})
    secure = PrivateS3Storage(
        **dsn.parse(s3.layout.private_dsn, visibility="private")["OPTIONS"],
        object_parameters={"ServerSideEncryption": "AES256"},
    )
    public = get_storage("public")
    public.save("img/a.jpg", ContentFile(b"jpeg"))
    assert target.can_copy_from(public) and secure.can_copy_from(public)
    target.copy("img/a.jpg", "img/a.jpg", source=public)
    assert s3.anonymous_get(s3.private_bucket, "pub/img/a.jpg").status_code == 200
    secure.copy("img/a.jpg", "img/b.jpg", source=public)
    head = s3.client().head_object(Bucket=s3.private_bucket, Key="img/b.jpg")
    assert head.get("ServerSideEncryption") == "AES256"


def test_failed_abort_does_not_hide_the_upload_error(s3, fail_s3, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    storage = get_storage("private")
    fail_s3("UploadPart", status=500)
    fail_s3("AbortMultipartUpload", reset=True)
    with pytest.raises(ClientError) as caught:
        storage.save("big/broken.bin", ContentFile(b"y" * (MULTIPART_PART_SIZE + 1)))
    assert caught.value.operation_name == "UploadPart"
    assert s3.keys(s3.private_bucket) == []


def test_multipart_create_on_a_taken_name_picks_another_even_if_abort_fails(
    s3, fail_s3, monkeypatch
):
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    storage = get_storage("private")
    payload = b"z" * (MULTIPART_PART_SIZE + 1)
    s3.client().put_object(Bucket=s3.private_bucket, Key="big/taken.bin", Body=b"first")
    # get_available_name() does not look (no HEAD): the name is found taken at completion.
    fail_s3("AbortMultipartUpload", reset=True)
    name = storage._save("big/taken.bin", ContentFile(payload))
    assert name != "big/taken.bin" and storage.size(name) == len(payload)
    assert storage.open("big/taken.bin").read() == b"first"


def test_presigned_url_params_cannot_redirect_the_signature_to_another_key():
    storage = PrivateS3Storage(bucket_name="bkt", access_key="k", secret_key="s")
    for params in ({"Key": "../other.txt"}, {"Bucket": "someone-elses"}):
        with pytest.raises(ValueError, match="Bucket/Key"):
            storage.presigned_url("a.txt", params=params)
    assert urlsplit(storage.presigned_url("a.txt")).path.endswith("/a.txt")


@pytest.mark.django_db  # a copy onto a name ends its signed links (database)
def test_copy_between_storages_with_different_credentials_streams(s3, count_requests):
    from mediahub import dsn

    options = dsn.parse(s3.layout.private_dsn, visibility="private")["OPTIONS"]
    other = PrivateS3Storage(**{**options, "access_key": "another-key"})
    public = get_storage("public")
    public.save("img/a.jpg", ContentFile(b"\xff\xd8jpeg"))
    assert not other.can_copy_from(public)
    count_requests.clear()
    other.copy("img/a.jpg", "copied/a.jpg", source=public)
    assert "CopyObject" not in count_requests and count_requests["GetObject"] >= 1
    assert get_storage("private").open("copied/a.jpg").read() == b"\xff\xd8jpeg"
    assert s3.anonymous_get(s3.private_bucket, "copied/a.jpg").status_code == 403


def test_storages_of_different_aws_profiles_do_not_copy_server_side():
    first = PrivateS3Storage(bucket_name="a-bkt", session_profile="site")
    second = PrivateS3Storage(bucket_name="b-bkt", session_profile="backup")
    assert not first.can_copy_from(second)
    assert first.can_copy_from(PrivateS3Storage(bucket_name="c-bkt", session_profile="site"))
