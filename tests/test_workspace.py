"""mediahub.workspace: fetch in chunks, work locally, upload then publish, clean up."""

from __future__ import annotations

import os
import tracemalloc

import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile

from mediahub.storage import get_storage
from mediahub.workspace import workspace

# Deleting staged objects ends their signed links: a database write (mediahub.links).
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda seconds: None)


def test_inputs_fetched_outputs_published_and_directory_removed(s3):
    public = get_storage("public")
    public.save("raw/a.txt", ContentFile(b"alpha"))
    with workspace(["raw/a.txt"], storage="public") as ws:
        directory = ws.directory
        with open(ws.path("raw/a.txt"), "rb") as handle:
            data = handle.read()
        with open(ws.output("out/A.txt"), "wb") as handle:
            handle.write(data.upper())
        assert not public.exists("out/A.txt")  # nothing visible before the end
    assert not os.path.exists(directory)
    assert public.open("out/A.txt").read() == b"ALPHA"
    assert ws.published == ["out/A.txt"]
    assert sorted(s3.keys(s3.public_bucket)) == ["out/A.txt", "raw/a.txt"]  # no staging left


@pytest.mark.s3semantics
def test_outputs_to_the_private_storage_stay_private(s3):
    with workspace(storage="public", output_storage="private", outputs=["r/report.pdf"]) as ws:
        with open(ws.path("r/report.pdf"), "wb") as handle:
            handle.write(b"%PDF secret")
    assert get_storage("private").open("r/report.pdf").read() == b"%PDF secret"
    assert s3.anonymous_get(s3.private_bucket, "r/report.pdf").status_code == 403
    assert s3.keys(s3.private_bucket) == ["r/report.pdf"]


def test_error_in_the_block_publishes_nothing_and_cleans_up(s3):
    with pytest.raises(RuntimeError, match="boom"):
        with workspace(storage="public") as ws:
            directory = ws.directory
            with open(ws.output("out/x.txt"), "wb") as handle:
                handle.write(b"half done")
            raise RuntimeError("boom")
    assert not os.path.exists(directory)
    assert s3.keys(s3.public_bucket) == []


def test_failed_upload_publishes_nothing_and_leaves_no_staged_object(s3, fail_s3):
    get_storage("public").save("out/a.txt", ContentFile(b"old a"))
    fail_s3("PutObject", status=500)
    with pytest.raises(Exception, match="InternalError"):
        with workspace(storage="public") as ws:
            directory = ws.directory
            for name in ("out/a.txt", "out/b.txt"):
                with open(ws.output(name), "wb") as handle:
                    handle.write(b"new")
    assert not os.path.exists(directory)
    assert s3.keys(s3.public_bucket) == ["out/a.txt"]
    assert get_storage("public").open("out/a.txt").read() == b"old a"


def test_second_upload_failing_publishes_nothing(s3, count_requests, monkeypatch):
    calls = {"n": 0}
    from mediahub.operations import transfer

    original = transfer.upload

    def flaky(storage, source, name, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk read error")
        return original(storage, source, name, **kwargs)

    monkeypatch.setattr(transfer, "upload", flaky)
    with pytest.raises(OSError):
        with workspace(storage="public", outputs=["a.txt", "b.txt"]) as ws:
            for name in ("a.txt", "b.txt"):
                with open(ws.path(name), "wb") as handle:
                    handle.write(b"x")
    assert s3.keys(s3.public_bucket) == []  # a.txt was staged, then removed, never published
    assert count_requests["CopyObject"] == 0


def test_missing_declared_output_is_an_error(s3):
    with pytest.raises(FileNotFoundError, match="not written: out/never.txt"):
        with workspace(storage="public", outputs=["out/never.txt"]):
            pass
    assert s3.keys(s3.public_bucket) == []


def test_fetch_survives_throttling(s3, fail_s3):
    get_storage("public").save("a.txt", ContentFile(b"payload"))
    fail_s3("GetObject", status=503, times=5)
    with workspace(["a.txt"], storage="public") as ws:
        with open(ws.path("a.txt"), "rb") as handle:
            assert handle.read() == b"payload"


def test_missing_input_fails_and_cleans_up(s3, tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with pytest.raises(Exception, match="NoSuchKey"):
        with workspace(["nope.txt"], storage="public"):
            pass
    assert list(tmp_path.iterdir()) == []


def test_large_input_is_fetched_in_bounded_memory(s3):
    size = 6 * 1024 * 1024
    s3.client().put_object(Bucket=s3.public_bucket, Key="big.bin", Body=os.urandom(size))
    from mediahub.operations.objects import client

    client(get_storage("public"))  # build the client (and load botocore's models) first
    tracemalloc.start()
    try:
        with workspace(["big.bin"], storage="public") as ws:
            assert os.path.getsize(ws.path("big.bin")) == size
            _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < size / 2, f"peak {peak} bytes for a {size}-byte object"


@pytest.mark.parametrize("name", ["../etc/passwd", "/abs.txt", "a//b.txt"])
def test_unsafe_names_are_refused_before_any_request(name, count_requests):
    with pytest.raises(SuspiciousFileOperation):
        workspace([name])
    with pytest.raises(SuspiciousFileOperation):
        workspace(outputs=[name])
    assert count_requests.total == 0


def test_works_with_in_memory_storages():
    public = get_storage("public")
    public.save("in.txt", ContentFile(b"memory"))
    with workspace(["in.txt"], outputs=["out.txt"]) as ws:
        with open(ws.path("in.txt"), "rb") as src, open(ws.path("out.txt"), "wb") as dst:
            dst.write(src.read()[::-1])
    assert public.open("out.txt").read() == b"yromem"
    from mediahub.operations.objects import iter_objects

    assert [o.name for o in iter_objects(public)] == ["in.txt", "out.txt"]  # nothing staged


def test_path_outside_the_block_is_an_error():
    ws = workspace()
    with pytest.raises(RuntimeError, match="with-block"):
        ws.path("a.txt")
