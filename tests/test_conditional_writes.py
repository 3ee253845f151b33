"""No silent overwrite where the S3 endpoint ignores ``If-None-Match: *``.

moto 5 honours the header on PutObject and CompleteMultipartUpload (not on
CopyObject); a provider that ignores it is simulated by a botocore ``before-sign``
hook that drops the header from the request, so the server really never sees it
(the same on moto and on Ceph RGW).
"""

from __future__ import annotations

import logging
import threading

import pytest
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.base import ContentFile

from mediahub import dsn
from mediahub.storage import conditional, get_storage, multipart
from mediahub.storage.s3 import MULTIPART_PART_SIZE, PrivateS3Storage, PublicS3Storage

CONDITIONAL_OPERATIONS = ("PutObject", "CopyObject", "CompleteMultipartUpload")


class Wire:
    """What the server received: operation names with their If-None-Match header."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str | None]] = []
        self.urls: list[str] = []
        self.lock = threading.Lock()

    def conditional(self, operation: str) -> list[str | None]:
        return [header for op, header in self.sent if op == operation]


@pytest.fixture
def wire(monkeypatch):
    """``wire(ignore=True)``: S3 ignores If-None-Match (the header never reaches it).

    Returns a :class:`Wire` recording every request's If-None-Match as sent.
    """
    from botocore.client import BaseClient

    state = {"ignore": False}
    recorder = Wire()
    original = BaseClient._make_api_call

    def strip(request, **kwargs):
        operation = kwargs.get("event_name", "").rsplit(".", 1)[-1]
        if state["ignore"] and operation in CONDITIONAL_OPERATIONS:
            if "If-None-Match" in request.headers:
                del request.headers["If-None-Match"]

    def record(request, **kwargs):
        operation = kwargs.get("event_name", "").rsplit(".", 1)[-1]
        with recorder.lock:
            header = request.headers.get("If-None-Match")
            if isinstance(header, bytes):
                header = header.decode()
            recorder.sent.append((operation, header))
            recorder.urls.append(request.url)

    def patched(self, operation_name, api_params):
        events = self.meta.events
        if not getattr(events, "_mediahub_wire", False):
            events.register_first("before-sign.s3", strip)
            events.register("before-send.s3", record)
            events._mediahub_wire = True
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", patched)

    def install(*, ignore: bool = False) -> Wire:
        state["ignore"] = ignore
        return recorder

    return install


@pytest.fixture
def fresh_probe():
    """Forget the probe results the ``s3`` fixture seeded: storages probe for real."""
    conditional.forget()
    yield
    conditional.forget()


def with_query(url: str, query: str) -> str:
    return url + ("&" if "?" in url else "?") + query


def storage_with(s3, visibility: str = "public", **query: str):
    layout = s3.layout
    url = layout.public_dsn if visibility == "public" else layout.private_dsn
    if query:
        url += ("&" if "?" in url else "?") + "&".join(f"{k}={v}" for k, v in query.items())
    entry = dsn.parse(url, visibility=visibility)
    cls = PublicS3Storage if visibility == "public" else PrivateS3Storage
    return cls(**entry["OPTIONS"])


def read(storage, name: str) -> bytes:
    with storage.open(name, "rb") as handle:
        return handle.read()


# -- the probe -------------------------------------------------------------------------------
@pytest.mark.s3semantics
def test_probe_finds_conditional_puts_honoured_and_cleans_up(s3, fresh_probe, count_requests):
    storage = get_storage("public")
    support = conditional.probe(storage, refresh=True)
    assert support.put is True
    assert "honoured" in support.detail
    if s3.endpoint.kind == "moto":
        assert support.copy is False  # moto 5 ignores If-None-Match on CopyObject
    assert s3.keys(s3.public_bucket) == []  # the probe objects are gone
    assert count_requests["PutObject"] == 3 and count_requests["CopyObject"] == 1
    assert count_requests["DeleteObjects"] == 1


def test_probe_is_cached_per_endpoint_and_bucket(s3, fresh_probe, count_requests):
    public, private = get_storage("public"), get_storage("private")
    first = conditional.probe(public)
    count_requests.clear()
    assert conditional.probe(public) is first
    assert count_requests.total == 0
    conditional.probe(private)  # another bucket: probed on its own
    assert count_requests["PutObject"] == 3
    count_requests.clear()
    conditional.probe(public, refresh=True)  # what mediahub_doctor does
    assert count_requests["PutObject"] == 3


def test_probe_stays_under_the_storage_location(s3, fresh_probe, wire):
    recorder = wire()
    storage = storage_with(s3)
    storage.location = "site-a"
    conditional.probe(storage, refresh=True)
    puts = [
        url for (op, _h), url in zip(recorder.sent, recorder.urls, strict=True) if op == "PutObject"
    ]
    assert len(puts) == 3
    assert all(f"/{s3.public_bucket}/site-a/.mediahub-probe/" in url for url in puts)
    assert s3.keys(s3.public_bucket) == []


def test_probe_of_a_provider_that_ignores_the_header(s3, fresh_probe, wire):
    wire(ignore=True)
    support = conditional.probe(get_storage("public"), refresh=True)
    assert support == conditional.ConditionalSupport(put=False, copy=False, detail=support.detail)
    assert "ignored" in support.detail


# -- saves -----------------------------------------------------------------------------------
@pytest.mark.s3semantics
def test_ignoring_provider_falls_back_to_check_then_write_with_one_warning(
    s3, fresh_probe, wire, caplog
):
    recorder = wire(ignore=True)
    storage = get_storage("public")
    with caplog.at_level(logging.WARNING, logger="mediahub.storage.conditional"):
        first = storage.save("report.pdf", ContentFile(b"first"))
        second = storage.save("report.pdf", ContentFile(b"second"))
        third = storage.save("report.pdf", ContentFile(b"third"))
    assert first == "report.pdf"
    assert len({first, second, third}) == 3
    assert read(storage, "report.pdf") == b"first"
    assert read(storage, second) == b"second"
    warnings = [r for r in caplog.records if "ignores If-None-Match on PutObject" in r.message]
    assert len(warnings) == 1
    # The fallback looks before writing (HeadObject), and does not rely on the header.
    operations = [op for op, _header in recorder.sent]
    assert operations.count("HeadObject") >= 3


@pytest.mark.s3semantics
def test_ignoring_provider_multipart_save_never_overwrites(s3, fresh_probe, wire):
    wire(ignore=True)
    storage = get_storage("private")
    payload = b"m" * (MULTIPART_PART_SIZE + 10)
    first = storage.save("big/blob.bin", ContentFile(payload))
    second = storage.save("big/blob.bin", ContentFile(payload[::-1]))
    assert first != second
    assert read(storage, first) == payload
    uploads = s3.client().list_multipart_uploads(Bucket=s3.private_bucket).get("Uploads", [])
    assert uploads == []


def test_conditional_writes_on_trusts_the_header_without_probe_or_head(s3, fresh_probe, wire):
    recorder = wire()
    storage = storage_with(s3, conditional_writes="on")
    assert storage.conditional_writes == "on"
    storage.save("a.txt", ContentFile(b"one"))
    second = storage.save("a.txt", ContentFile(b"two"))
    assert second != "a.txt"
    operations = [op for op, _header in recorder.sent]
    assert "HeadObject" not in operations and "CopyObject" not in operations  # no probe
    assert recorder.conditional("PutObject") == ["*", "*", "*"]  # one answered 412


def test_conditional_writes_on_with_an_ignoring_provider_overwrites(s3, fresh_probe, wire):
    """What "on" means: the header is trusted. (This is why "auto" probes.)"""
    wire(ignore=True)
    storage = storage_with(s3, conditional_writes="on")
    assert storage.save("a.txt", ContentFile(b"one")) == "a.txt"
    assert storage.save("a.txt", ContentFile(b"two")) == "a.txt"
    assert read(storage, "a.txt") == b"two"


def test_conditional_writes_off_checks_first_and_never_sends_the_header(s3, fresh_probe, wire):
    recorder = wire()
    storage = storage_with(s3, "private", conditional_writes="off")
    first = storage.save("a.txt", ContentFile(b"one"))
    second = storage.save("a.txt", ContentFile(b"two"))
    assert first == "a.txt" and second != first
    assert recorder.conditional("PutObject") == [None, None]
    assert [op for op, _h in recorder.sent].count("HeadObject") == 3  # a.txt, a.txt, a_xxx.txt
    assert read(storage, first) == b"one"


def test_conditional_writes_option_is_validated(s3):
    with pytest.raises(ImproperlyConfigured, match="conditional_writes"):
        dsn.parse(with_query(s3.layout.public_dsn, "conditional_writes=maybe"))
    with pytest.raises(ImproperlyConfigured, match="parallel_parts"):
        dsn.parse(with_query(s3.layout.public_dsn, "parallel_parts=0"))
    options = dsn.parse(
        with_query(s3.layout.public_dsn, "conditional_writes=off&parallel_parts=3")
    )["OPTIONS"]
    assert options["conditional_writes"] == "off" and options["parallel_parts"] == 3
    base = {"bucket_name": "bkt", "access_key": "k", "secret_key": "s"}
    with pytest.raises(ImproperlyConfigured, match="conditional_writes"):
        PublicS3Storage(**base, conditional_writes="sometimes")
    for bad in (0, 65, "4", True):
        with pytest.raises(ImproperlyConfigured, match="parallel_parts"):
            PublicS3Storage(**base, parallel_parts=bad)


# -- copy_if_absent --------------------------------------------------------------------------
@pytest.mark.s3semantics
@pytest.mark.django_db
def test_copy_if_absent_never_overwrites(s3, fresh_probe):
    storage = get_storage("private")
    storage.save("src.txt", ContentFile(b"source"))
    storage.save("taken.txt", ContentFile(b"theirs"))
    assert storage.copy_if_absent("src.txt", "taken.txt") is False
    assert read(storage, "taken.txt") == b"theirs"
    assert storage.copy_if_absent("src.txt", "new.txt") is True
    assert read(storage, "new.txt") == b"source"
    public = get_storage("public")
    assert public.copy_if_absent("src.txt", "new.txt", source=storage) is True
    assert public.copy_if_absent("src.txt", "new.txt", source=storage) is False


@pytest.mark.django_db
def test_copy_if_absent_uses_a_conditional_copy_where_honoured(s3, fresh_probe, wire):
    recorder = wire()
    storage = storage_with(s3, "private")
    storage.save("src.txt", ContentFile(b"source"))
    conditional.remember(
        storage.endpoint_url, storage.bucket_name, conditional.ConditionalSupport(True, True)
    )
    recorder.sent.clear()
    assert storage.copy_if_absent("src.txt", "dst.txt") is True
    assert recorder.conditional("CopyObject") == ["*"]
    assert "HeadObject" in [op for op, _h in recorder.sent]  # the source's, for its metadata
    conditional.remember(
        storage.endpoint_url, storage.bucket_name, conditional.ConditionalSupport(True, False)
    )
    recorder.sent.clear()
    assert storage.copy_if_absent("src.txt", "dst.txt") is False
    assert recorder.conditional("CopyObject") == []  # found taken by the HEAD: no copy at all


@pytest.mark.django_db
def test_copy_over_five_gib_goes_by_parts_and_stays_conditional(s3, monkeypatch, count_requests):
    monkeypatch.setattr(multipart, "MAX_COPY_SIZE", 1024)
    monkeypatch.setattr(multipart, "COPY_PART_SIZE", multipart.MIN_PART_SIZE)
    storage = get_storage("private")
    payload = bytes(range(256)) * (6 * 1024**2 // 256)
    s3.client().put_object(Bucket=s3.private_bucket, Key="src.bin", Body=payload)
    count_requests.clear()
    assert storage.copy_if_absent("src.bin", "dst.bin") is True
    assert count_requests["UploadPartCopy"] == 2 and count_requests["CopyObject"] == 0
    assert read(storage, "dst.bin") == payload
    assert storage.copy_if_absent("src.bin", "dst.bin") is False
    storage.copy("src.bin", "dst.bin")  # a plain copy overwrites, by parts too
    assert read(storage, "dst.bin") == payload
    assert s3.client().list_multipart_uploads(Bucket=s3.private_bucket).get("Uploads", []) == []


# -- max_length after a renamed save ------------------------------------------------------------
def test_renamed_save_keeps_the_fields_max_length_on_s3(s3):
    storage = get_storage("public")
    name = "docs/" + "r" * 20 + ".pdf"  # 29 characters
    assert storage.save(name, ContentFile(b"1"), max_length=29) == name
    # Taken: _save() finds it by the 412 and picks another name, shortened to fit.
    again = storage.save(name, ContentFile(b"2"), max_length=29)
    assert again != name and len(again) <= 29
    assert again.startswith("docs/r") and again.endswith(".pdf")
    with pytest.raises(SuspiciousFileOperation, match="max_length"):
        storage.save("docs/r.pdf", ContentFile(b"3"), max_length=len("docs/r.pdf"))
        storage.save("docs/r.pdf", ContentFile(b"4"), max_length=len("docs/r.pdf"))


def test_renamed_save_keeps_max_length_on_a_local_folder(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": dsn.parse(f"file://{tmp_path}")}
    storage = get_storage("public")
    name = "docs/" + "r" * 20 + ".pdf"
    storage.save(name, ContentFile(b"1"), max_length=29)
    # FileSystemStorage's own race path (FileExistsError in _save) asks for a name again.
    from django.core.files.storage import FileSystemStorage

    original = FileSystemStorage.get_available_name
    calls = []

    def first_free_then_taken(self, candidate, max_length=None):
        calls.append(max_length)
        if len(calls) == 1:
            return candidate  # as if the name were free: _save() then meets the file
        return original(self, candidate, max_length)

    try:
        FileSystemStorage.get_available_name = first_free_then_taken
        again = storage.save(name, ContentFile(b"2"), max_length=29)
    finally:
        FileSystemStorage.get_available_name = original
    assert calls == [29, 29]
    assert again != name and len(again) <= 29


@pytest.mark.django_db
def test_library_move_never_overwrites_a_name_taken_after_its_check(s3, monkeypatch):
    from mediahub.library import operations
    from mediahub.library.errors import LibraryError

    storage = get_storage("public")
    storage.save("a.txt", ContentFile(b"mine"))
    # Another instance writes b.txt right after this one found it free.
    monkeypatch.setattr(operations, "_exists", lambda st, name: False)
    storage.save("b.txt", ContentFile(b"theirs"))
    with pytest.raises(LibraryError, match="nothing was overwritten"):
        operations.move_file("public", "a.txt", "b.txt")
    assert read(storage, "b.txt") == b"theirs"
    assert read(storage, "a.txt") == b"mine"
    monkeypatch.undo()
    assert operations.move_file("public", "a.txt", "c.txt") == "c.txt"
    assert read(storage, "c.txt") == b"mine" and not storage.exists("a.txt")


def test_a_failed_probe_falls_back_for_that_write_and_probes_again_later(
    s3, fresh_probe, fail_s3, monkeypatch, caplog
):
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    storage = get_storage("public")
    fail_s3("PutObject", status=503, times=5)  # the probe's first PUT, with botocore's retries
    with caplog.at_level(logging.WARNING, logger="mediahub.storage.conditional"):
        assert conditional.conditional_puts(storage) is False
    assert "Could not probe" in caplog.text
    assert conditional.conditional_puts(storage) is True  # probed again, now answered
    assert storage.save("a.txt", ContentFile(b"1")) == "a.txt"
    assert s3.keys(s3.public_bucket) == ["a.txt"]
