"""mediahub_sync push/pull against moto's server: privacy, skipping, deletes, faults."""

from __future__ import annotations

import io
import json
import os

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mediahub.operations import sync
from mediahub.storage import get_storage

# Replacing or deleting objects ends their signed links (mediahub.links: a database write).
pytestmark = pytest.mark.django_db

#: Above s3transfer's 8 MiB threshold: uploaded in two parts, ETag "md5-2".
BIG = 9 * 1024 * 1024


@pytest.fixture(autouse=True)
def sync_state(settings, tmp_path_factory):
    """Each test keeps its sync state files in a folder of its own (not ~/.cache)."""
    folder = tmp_path_factory.mktemp("sync-state")
    settings.MEDIAHUB = {**getattr(settings, "MEDIAHUB", {}), "SYNC_STATE_DIR": str(folder)}
    return folder


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    """Retries back off with time.sleep (botocore's and mediahub's): make them instant."""
    slept = []
    monkeypatch.setattr("time.sleep", slept.append)
    return slept


def make_tree(root, files: dict[str, bytes]) -> None:
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)


def tree(root) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)).replace(os.sep, "/"): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("mediahub_sync", *args, "--noinput", stdout=out, stderr=io.StringIO())
    return out.getvalue()


SMALL = {
    "a.txt": b"alpha",
    "docs/b.pdf": b"%PDF-1.4 bravo",
    "docs/deep/c.bin": bytes(range(256)) * 4,
}
FILES = {**SMALL, "big.bin": os.urandom(BIG)}


@pytest.mark.s3semantics
def test_push_pull_round_trip_is_identical_and_private_stays_private(s3, tmp_path):
    source, copy = tmp_path / "src", tmp_path / "copy"
    make_tree(source, FILES)
    out = run("push", str(source), "--storage", "private", "--prefix", "backup")
    assert "Push: 4 copied" in out
    assert sorted(s3.keys(s3.private_bucket)) == sorted(f"backup/{n}" for n in FILES)
    for name in FILES:
        # moto (only) serves a completed multipart upload sent without ACL to anyone.
        # (and fails GetObjectAcl on it with a 500).
        if name != "big.bin" or s3.endpoint.is_real:
            assert s3.anonymous_get(s3.private_bucket, f"backup/{name}").status_code == 403
            grants = s3.client().get_object_acl(Bucket=s3.private_bucket, Key=f"backup/{name}")
            assert not [g for g in grants["Grants"] if "URI" in g["Grantee"]]
    etag = s3.client().head_object(Bucket=s3.private_bucket, Key="backup/big.bin")["ETag"]
    assert etag.strip('"').endswith("-2")  # really multipart

    out = run("pull", str(copy), "--storage", "private", "--prefix", "backup")
    assert "Pull: 4 copied" in out
    assert tree(copy) == FILES
    assert not list(copy.rglob("*.mediahub-part"))

    # The multipart ETag is recomputed locally: nothing is copied again either way.
    assert "0 copied" in run("push", str(source), "--storage", "private", "--prefix", "backup")
    assert "0 copied" in run("pull", str(copy), "--storage", "private", "--prefix", "backup")


def test_second_push_uploads_nothing(s3, tmp_path, count_requests):
    make_tree(tmp_path, SMALL)
    run("push", str(tmp_path))
    count_requests.clear()
    out = run("push", str(tmp_path))
    assert "0 copied" in out and "3 unchanged" in out
    assert count_requests == {"ListObjectsV2": 1}


def test_second_pull_downloads_nothing(s3, tmp_path, count_requests):
    make_tree(tmp_path / "src", SMALL)
    run("push", str(tmp_path / "src"))
    run("pull", str(tmp_path / "dst"))
    count_requests.clear()
    out = run("pull", str(tmp_path / "dst"))
    assert "0 copied" in out and "3 unchanged" in out
    assert count_requests == {"ListObjectsV2": 1}


def test_changed_content_of_same_size_is_copied_again(s3, tmp_path):
    make_tree(tmp_path, {"a.txt": b"alpha"})
    run("push", str(tmp_path))
    (tmp_path / "a.txt").write_bytes(b"ALPHA")
    out = run("push", str(tmp_path))
    assert "1 copied" in out
    assert get_storage("public").open("a.txt").read() == b"ALPHA"


def test_dry_run_changes_nothing(s3, tmp_path):
    make_tree(tmp_path, {"a.txt": b"1", "b.txt": b"2"})
    s3.client().put_object(Bucket=s3.public_bucket, Key="old.txt", Body=b"x")
    out = run("push", str(tmp_path), "--dry-run", "--delete", "-v", "2")
    assert "Would copy a.txt" in out and "Would delete old.txt" in out
    assert "2 would copy" in out
    assert s3.keys(s3.public_bucket) == ["old.txt"]


def test_push_delete_removes_remote_extras_after_copying(s3, tmp_path):
    make_tree(tmp_path, {"keep.txt": b"1"})
    client = s3.client()
    client.put_object(Bucket=s3.public_bucket, Key="gone.txt", Body=b"x")
    client.put_object(Bucket=s3.public_bucket, Key="outside/other.txt", Body=b"x")
    run("push", str(tmp_path), "--delete")
    assert s3.keys(s3.public_bucket) == ["keep.txt"]


def test_push_delete_is_limited_to_the_prefix(s3, tmp_path):
    make_tree(tmp_path, {"keep.txt": b"1"})
    client = s3.client()
    client.put_object(Bucket=s3.public_bucket, Key="site/gone.txt", Body=b"x")
    client.put_object(Bucket=s3.public_bucket, Key="other/stays.txt", Body=b"x")
    out = run("push", str(tmp_path), "--prefix", "site/", "--delete")
    assert "1 deleted" in out
    assert sorted(s3.keys(s3.public_bucket)) == ["other/stays.txt", "site/keep.txt"]


def test_failed_copy_deletes_nothing(s3, tmp_path, fail_s3):
    make_tree(tmp_path, {"new.txt": b"1"})
    s3.client().put_object(Bucket=s3.public_bucket, Key="old.txt", Body=b"x")
    fail_s3("PutObject", status=500)
    with pytest.raises(CommandError) as caught:
        run("push", str(tmp_path), "--delete")
    assert caught.value.returncode == 1
    assert "nothing was deleted" in str(caught.value)
    assert s3.keys(s3.public_bucket) == ["old.txt"]


def test_pull_delete_removes_local_extras(s3, tmp_path):
    s3.client().put_object(Bucket=s3.public_bucket, Key="a.txt", Body=b"1")
    make_tree(tmp_path, {"stale.txt": b"old", "a.txt": b"1"})
    out = run("pull", str(tmp_path), "--delete")
    assert "1 deleted" in out and "1 unchanged" in out
    assert tree(tmp_path) == {"a.txt": b"1"}


def test_pull_refuses_unsafe_keys(s3, tmp_path):
    client = s3.client()
    client.put_object(Bucket=s3.public_bucket, Key="ok.txt", Body=b"1")
    client.put_object(Bucket=s3.public_bucket, Key="a//b.txt", Body=b"x")
    client.put_object(Bucket=s3.public_bucket, Key="../escape.txt", Body=b"x")
    target = tmp_path / "dst"
    out = run("pull", str(target))
    assert "1 copied" in out and "2 unsafe names skipped" in out
    assert tree(tmp_path) == {"dst/ok.txt": b"1"}


def test_throttling_and_resets_are_survived(s3, tmp_path, fail_s3, no_sleep):
    make_tree(tmp_path, {"a.txt": b"1", "b.txt": b"2"})
    # More failures than botocore's own 5 attempts: mediahub's retry layer must act.
    fail_s3("PutObject", status=503, times=6)
    fail_s3("ListObjectsV2", reset=True, times=6)
    out = run("push", str(tmp_path), "--jobs", "1")
    assert "2 copied" in out
    assert sorted(s3.keys(s3.public_bucket)) == ["a.txt", "b.txt"]
    assert no_sleep  # it backed off


def test_pull_survives_timeouts_and_leaves_no_partial_file(s3, tmp_path, fail_s3):
    s3.client().put_object(Bucket=s3.public_bucket, Key="a.txt", Body=b"payload")
    fail_s3("GetObject", timeout=True, times=6)
    run("pull", str(tmp_path))
    assert tree(tmp_path) == {"a.txt": b"payload"}


def test_persistent_failure_is_one_line_per_file_and_exit_1(s3, tmp_path, fail_s3):
    make_tree(tmp_path, {"a.txt": b"1"})
    fail_s3("PutObject", status=503)
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 file.s. failed"):
        call_command("mediahub_sync", "push", str(tmp_path), stdout=io.StringIO(), stderr=err)
    assert "Failed a.txt: PutObject failed with SlowDown (HTTP 503)" in err.getvalue()
    assert "fewer --jobs" in err.getvalue()
    assert s3.keys(s3.public_bucket) == []


def test_json_report(s3, tmp_path):
    make_tree(tmp_path, {"a.txt": b"1"})
    data = json.loads(run("push", str(tmp_path), "--json"))
    assert data["copied"] == ["a.txt"] and data["skipped"] == 0 and data["failed"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["push", "/nonexistent/folder"], "is not a folder"),
        (["push", ".", "--prefix", "../up"], "Unsafe object name"),
        (["push", ".", "--storage", "nope"], "No storage named 'nope'"),
        (["push", ".", "--jobs", "0"], "--jobs must be between 1 and 64"),
    ],
)
def test_bad_input_is_a_clear_error(s3, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert s3.keys(s3.public_bucket) == []


def test_delete_asks_for_confirmation(s3, tmp_path, monkeypatch):
    s3.client().put_object(Bucket=s3.public_bucket, Key="old.txt", Body=b"x")
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    with pytest.raises(CommandError, match="cancelled"):
        call_command("mediahub_sync", "push", str(tmp_path), "--delete", stdout=io.StringIO())
    assert s3.keys(s3.public_bucket) == ["old.txt"]


def test_delete_without_a_terminal_to_answer_is_cancelled_cleanly(s3, tmp_path, monkeypatch):
    s3.client().put_object(Bucket=s3.public_bucket, Key="old.txt", Body=b"x")

    def no_answer(prompt):
        raise EOFError

    monkeypatch.setattr("builtins.input", no_answer)
    with pytest.raises(CommandError, match="--noinput"):
        call_command("mediahub_sync", "push", str(tmp_path), "--delete", stdout=io.StringIO())
    assert s3.keys(s3.public_bucket) == ["old.txt"]


def test_progress_goes_to_stderr_with_verbosity_2(s3, tmp_path):
    make_tree(tmp_path, {"a.txt": b"1"})
    out, err = io.StringIO(), io.StringIO()
    from mediahub.operations import progress

    bar = progress.Progress("Push", stream=err, verbosity=2)
    sync.push(get_storage("public"), str(tmp_path), progress=bar)
    assert "Push [" in err.getvalue() and "1/1 100%" in err.getvalue()
    assert out.getvalue() == ""
    quiet = io.StringIO()
    sync.push(
        get_storage("public"), str(tmp_path), progress=progress.Progress("Push", stream=quiet)
    )
    assert quiet.getvalue() == ""  # not a TTY, verbosity 1: silent


def test_local_storage_push_works_too(tmp_path, settings):
    from mediahub import dsn

    root = tmp_path / "media"
    settings.STORAGES = {**settings.STORAGES, "default": dsn.parse(f"file://{root}?url=/m/")}
    make_tree(tmp_path / "src", {"x/y.txt": b"1"})
    report = sync.push(get_storage("public"), str(tmp_path / "src"))
    assert report.copied == ["x/y.txt"] and (root / "x" / "y.txt").read_bytes() == b"1"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_redraws_one_line_on_a_terminal():
    from mediahub.operations.progress import Progress

    stream = _Tty()
    with Progress("Push", total=3, stream=stream) as bar:
        for _ in range(3):
            bar.advance()
    text = stream.getvalue()
    assert text.startswith("\rPush [") and text.endswith("3/3 100%\n")
    assert text.count("\n") == 1


def test_progress_bar_off_a_terminal_prints_each_tenth_once():
    from mediahub.operations.progress import Progress

    stream = io.StringIO()
    with Progress("Pull", total=20, stream=stream, verbosity=2) as bar:
        for _ in range(20):
            bar.advance()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 11 and lines[-1].endswith("20/20 100%")  # first, each tenth


@pytest.mark.s3semantics
def test_public_storage_with_acls_gets_public_read_on_every_object(s3, tmp_path, settings):
    from mediahub import dsn

    settings.STORAGES = {
        **settings.STORAGES,
        "default": dsn.parse(s3.layout.public_dsn + "&acl=public-read"),
    }
    s3.client().delete_bucket_policy(Bucket=s3.public_bucket)  # readable through ACLs only
    s3.client().delete_public_access_block(Bucket=s3.public_bucket)
    make_tree(tmp_path, {"img/a.jpg": b"jpg"})
    run("push", str(tmp_path))
    grants = s3.client().get_object_acl(Bucket=s3.public_bucket, Key="img/a.jpg")["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("AllUsers") for g in grants)
    assert s3.anonymous_get(s3.public_bucket, "img/a.jpg").status_code == 200


def test_push_delete_leaves_a_nested_private_storage_alone(s3, tmp_path, settings):
    from mediahub import dsn

    bucket = s3.private_bucket
    settings.STORAGES = {
        **settings.STORAGES,
        "default": dsn.parse(s3.layout.dsn(bucket)),
        "private": dsn.parse(s3.layout.dsn(bucket, "private"), visibility="private"),
    }
    make_tree(tmp_path / "src", {"keep.txt": b"1"})
    s3.client().put_object(Bucket=bucket, Key="private/secret.pdf", Body=b"secret")
    s3.client().put_object(Bucket=bucket, Key="gone.txt", Body=b"x")
    out = run("push", str(tmp_path / "src"), "--delete")
    assert "1 deleted" in out
    assert sorted(s3.keys(bucket)) == ["keep.txt", "private/secret.pdf"]
    pulled = tmp_path / "pulled"
    run("pull", str(pulled))
    assert tree(pulled) == {"keep.txt": b"1"}  # the private storage's files stay out
    make_tree(pulled, {"private/earlier.pdf": b"kept", "stale.txt": b"x"})
    out = run("pull", str(pulled), "--delete")
    assert "1 deleted" in out
    assert tree(pulled) == {"keep.txt": b"1", "private/earlier.pdf": b"kept"}


def test_push_never_follows_symlinks_and_delete_keeps_their_objects(s3, tmp_path):
    outside = tmp_path / "outside"
    make_tree(outside, {"secret.txt": b"host secret", "dir/x.txt": b"x"})
    source = tmp_path / "src"
    make_tree(source, {"real.txt": b"1"})
    (source / "link.txt").symlink_to(outside / "secret.txt")
    (source / "linked").symlink_to(outside / "dir", target_is_directory=True)
    client = s3.client()
    client.put_object(Bucket=s3.public_bucket, Key="link.txt", Body=b"earlier copy")
    client.put_object(Bucket=s3.public_bucket, Key="linked/x.txt", Body=b"earlier copy")
    client.put_object(Bucket=s3.public_bucket, Key="gone.txt", Body=b"x")
    err = io.StringIO()
    out = io.StringIO()
    call_command(
        "mediahub_sync", "push", str(source), "--delete", "--noinput", stdout=out, stderr=err
    )
    assert "1 deleted" in out.getvalue()
    assert "link.txt" in err.getvalue() and "linked/" in err.getvalue()
    assert sorted(s3.keys(s3.public_bucket)) == ["link.txt", "linked/x.txt", "real.txt"]
    body = client.get_object(Bucket=s3.public_bucket, Key="link.txt")["Body"].read()
    assert body == b"earlier copy"


def test_pull_never_writes_through_a_symlinked_folder(s3, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "dst"
    target.mkdir()
    (target / "sub").symlink_to(outside, target_is_directory=True)
    client = s3.client()
    client.put_object(Bucket=s3.public_bucket, Key="sub/planted.txt", Body=b"x")
    client.put_object(Bucket=s3.public_bucket, Key="ok.txt", Body=b"1")
    out = run("pull", str(target))
    assert "1 copied" in out and "1 unsafe names skipped" in out
    assert list(outside.iterdir()) == []


def test_prefix_inside_a_nested_storage_is_refused(s3, tmp_path, settings):
    from mediahub import dsn

    bucket = s3.private_bucket
    settings.STORAGES = {
        **settings.STORAGES,
        "default": dsn.parse(s3.layout.dsn(bucket) + "&acl=public-read"),
        "private": dsn.parse(s3.layout.dsn(bucket, "private"), visibility="private"),
    }
    make_tree(tmp_path, {"x.txt": b"1"})
    for direction in ("push", "pull"):
        with pytest.raises(CommandError, match="belongs to the storage 'private'"):
            run(direction, str(tmp_path), "--prefix", "private/docs", "--delete")
    assert s3.keys(bucket) == []
    assert tree(tmp_path) == {"x.txt": b"1"}


def test_storage_that_cannot_be_built_is_one_line(tmp_path, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "mediahub.storage.s3.PublicS3Storage", "OPTIONS": {"nope": 1}},
    }
    with pytest.raises(CommandError, match="cannot be built"):
        run("push", str(tmp_path))


def test_pull_of_kms_encrypted_objects_whose_etag_is_no_md5(s3, tmp_path):
    """With SSE-KMS (a common bucket default) the ETag is not the MD5 of the bytes."""
    from mediahub.operations.objects import client

    s3.client().put_object(Bucket=s3.public_bucket, Key="k.txt", Body=b"kms")
    storage = get_storage("public")

    def as_kms(parsed, **kwargs):
        parsed["ServerSideEncryption"] = "aws:kms"
        parsed["ETag"] = '"0123456789abcdef0123456789abcdef"'

    events = client(storage).meta.events
    events.register("after-call.s3.GetObject", as_kms)
    try:
        report = sync.pull(storage, str(tmp_path))
    finally:
        events.unregister("after-call.s3.GetObject", as_kms)
    assert report.failed == [] and tree(tmp_path) == {"k.txt": b"kms"}


def test_json_report_says_why_nothing_was_deleted(s3, tmp_path, fail_s3):
    make_tree(tmp_path, {"new.txt": b"1"})
    s3.client().put_object(Bucket=s3.public_bucket, Key="old.txt", Body=b"x")
    fail_s3("PutObject", status=500)
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command(
            "mediahub_sync", "push", str(tmp_path), "--delete", "--noinput", "--json", stdout=out
        )
    data = json.loads(out.getvalue())
    assert data["deleted"] == [] and "copies failed" in data["delete_skipped"]


def test_fifos_are_refused_not_read(tmp_path):
    make_tree(tmp_path, {"a.txt": b"1"})
    os.mkfifo(tmp_path / "pipe")
    files, refused = sync.local_files(str(tmp_path))
    assert list(files) == ["a.txt"] and refused == ["pipe"]


def test_push_delete_keeps_mediahubs_thumbnails_and_staging_folders(s3, tmp_path):
    make_tree(tmp_path, {"img/a.jpg": b"jpg"})
    client = s3.client()
    for key in ("thumbnails/img/a.jpg.100x100_q85.jpg", ".mediahub-workspace/1/out.mp4", "x.txt"):
        client.put_object(Bucket=s3.public_bucket, Key=key, Body=b"x")
    out = run("push", str(tmp_path), "--delete")
    assert "1 deleted" in out
    assert sorted(s3.keys(s3.public_bucket)) == [
        ".mediahub-workspace/1/out.mp4",
        "img/a.jpg",
        "thumbnails/img/a.jpg.100x100_q85.jpg",
    ]
    # Asked for by name, the thumbnail folder is synced like any other.
    run("push", str(tmp_path / "img"), "--prefix", "thumbnails/img/", "--delete")
    assert "thumbnails/img/a.jpg.100x100_q85.jpg" not in s3.keys(s3.public_bucket)


@pytest.mark.parametrize(
    ("name", "unsafe"),
    [
        ("photos/a.jpg", False),
        ("console/x.txt", False),
        ("C:x/a.txt", True),
        ("a/b.txt:stream", True),
        ("con.txt", True),
        ("docs/LPT1", True),
        ("trailing./x", True),
        ("x/trailing.", True),
        ("what?.txt", True),
    ],
)
def test_names_windows_would_store_elsewhere(name, unsafe):
    assert sync.windows_unsafe(name) is unsafe


# -- no-change detection, --checksum, concurrency, start-up ------------------------------
HOUR_AGO = 3600 * 10**9


def age(root, nanoseconds: int = HOUR_AGO) -> None:
    """Give every file under ``root`` an mtime in the past (out of the racy window)."""
    for path in root.rglob("*"):
        if path.is_file():
            mtime = path.stat().st_mtime_ns - nanoseconds
            os.utime(path, ns=(mtime, mtime))


@pytest.fixture
def reads(monkeypatch):
    """Paths opened through ``open()`` while the test runs."""
    import builtins

    opened: list[str] = []
    original = builtins.open

    def spy(file, *args, **kwargs):
        opened.append(os.fspath(file) if isinstance(file, str | os.PathLike) else repr(file))
        return original(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy)
    return opened


def test_unchanged_files_are_skipped_by_size_and_mtime_without_reading_them(
    s3, tmp_path, count_requests, reads
):
    source = tmp_path / "src"
    make_tree(source, FILES)
    age(source)
    run("push", str(source), "--storage", "private")
    count_requests.clear()
    reads.clear()
    out = run("push", str(source), "--storage", "private")
    assert "0 copied" in out and "4 unchanged" in out
    # One listing: no GET, no PUT, no HEAD, and not one byte of the files read.
    assert count_requests == {"ListObjectsV2": 1}
    assert not [path for path in reads if path.startswith(str(source))]


def test_objects_carry_the_files_mtime_and_the_storages_write_parameters(s3, tmp_path):
    from mediahub.operations.transfer import MTIME_METADATA, PART_SIZE_METADATA
    from mediahub.storage.s3 import VISIBILITY_METADATA

    make_tree(tmp_path, {"a.txt": b"alpha", "big.bin": FILES["big.bin"]})
    run("push", str(tmp_path), "--storage", "private")
    for name in ("a.txt", "big.bin"):
        head = s3.client().head_object(Bucket=s3.private_bucket, Key=name)
        assert head["Metadata"][MTIME_METADATA] == str((tmp_path / name).stat().st_mtime_ns)
        assert head["Metadata"][VISIBILITY_METADATA] == "private"
    assert head["Metadata"][PART_SIZE_METADATA] == str(8 * 1024 * 1024)
    assert head["ETag"].strip('"').endswith("-2")  # parts in parallel, one multipart upload
    assert s3.client().head_object(Bucket=s3.private_bucket, Key="a.txt")["ContentType"] == (
        "text/plain"
    )


def test_active_content_pushed_to_the_public_storage_is_an_attachment(s3, tmp_path):
    make_tree(tmp_path, {"page.html": b"<script>alert(1)</script>"})
    run("push", str(tmp_path))
    head = s3.client().head_object(Bucket=s3.public_bucket, Key="page.html")
    assert head["ContentDisposition"].startswith("attachment")


def test_same_size_edit_with_another_mtime_is_uploaded_again(s3, tmp_path):
    make_tree(tmp_path, {"a.txt": b"alpha", "big.bin": FILES["big.bin"]})
    age(tmp_path)
    run("push", str(tmp_path))
    (tmp_path / "a.txt").write_bytes(b"ALPHA")
    big = bytearray(FILES["big.bin"])
    big[-1] ^= 0xFF
    (tmp_path / "big.bin").write_bytes(bytes(big))
    out = run("push", str(tmp_path), "-v2")
    assert "Copied a.txt" in out and "Copied big.bin" in out
    assert get_storage("public").open("a.txt").read() == b"ALPHA"
    assert get_storage("public").open("big.bin").read() == bytes(big)


def test_checksum_catches_a_same_size_edit_that_kept_its_mtime(s3, tmp_path):
    path = tmp_path / "a.txt"
    make_tree(tmp_path, {"a.txt": b"alpha"})
    age(tmp_path)
    run("push", str(tmp_path))
    before = path.stat().st_mtime_ns
    path.write_bytes(b"ALPHA")
    os.utime(path, ns=(before, before))  # an edit that restored the mtime
    assert "0 copied" in run("push", str(tmp_path))  # size + mtime cannot tell
    assert "1 copied" in run("push", str(tmp_path), "--checksum")
    assert get_storage("public").open("a.txt").read() == b"ALPHA"


def test_without_a_state_file_small_files_are_hashed_and_large_ones_asked_once(
    s3, tmp_path, sync_state, count_requests, reads
):
    import shutil

    source = tmp_path / "src"
    make_tree(source, FILES)
    age(source)
    run("push", str(source))
    shutil.rmtree(sync_state)  # a fresh machine: no record of the last sync
    count_requests.clear()
    reads.clear()
    out = run("push", str(source))
    assert "0 copied" in out and "4 unchanged" in out
    # The large file: one HEAD (its stored mtime), never read; the small ones: hashed.
    assert count_requests == {"ListObjectsV2": 1, "HeadObject": 1}
    assert str(source / "big.bin") not in reads
    assert str(source / "a.txt") in reads


def test_an_object_replaced_by_someone_else_is_uploaded_again(s3, tmp_path):
    make_tree(tmp_path, {"a.txt": b"alpha"})
    age(tmp_path)
    run("push", str(tmp_path))
    s3.client().put_object(Bucket=s3.public_bucket, Key="a.txt", Body=b"other")
    assert "1 copied" in run("push", str(tmp_path))
    assert get_storage("public").open("a.txt").read() == b"alpha"


def test_a_file_changed_just_now_is_checked_by_content_next_time(s3, tmp_path, count_requests):
    # Within the racy window the mtime may not move on an edit (coarse clocks): no record.
    make_tree(tmp_path, {"a.txt": b"alpha"})
    run("push", str(tmp_path))
    path = tmp_path / "a.txt"
    mtime = path.stat().st_mtime_ns
    path.write_bytes(b"ALPHA")
    os.utime(path, ns=(mtime, mtime))
    assert "1 copied" in run("push", str(tmp_path))


def test_jobs_is_the_number_of_requests_in_flight_parts_included(s3, tmp_path, monkeypatch):
    import threading

    from botocore.client import BaseClient

    many = tmp_path / "many"  # more files than jobs: one request per file
    make_tree(many, {f"{n}.txt": b"x" * n for n in range(12)})
    few = tmp_path / "few"  # fewer files than jobs: large ones in parallel parts
    make_tree(few, {"big1.bin": os.urandom(BIG), "big2.bin": os.urandom(BIG)})
    lock = threading.Lock()
    in_flight = [0]
    peak = [0]
    operations = []
    original = BaseClient._make_api_call

    def measured(client, operation, params):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
            operations.append(operation)
        try:
            if operation != "ListObjectsV2":
                threading.Event().wait(0.02)  # let the requests overlap
            return original(client, operation, params)
        finally:
            with lock:
                in_flight[0] -= 1

    monkeypatch.setattr(BaseClient, "_make_api_call", measured)
    for folder, copied in ((many, 12), (few, 2)):
        peak[0] = 0
        out = run("push", str(folder), "--jobs", "3", "--prefix", folder.name)
        assert f"{copied} copied" in out
        assert peak[0] == 3
    assert operations.count("UploadPart") == 4  # 2 files x 2 parts, 3 at a time at most
    threads = [t.name for t in threading.enumerate() if t.name.startswith("mediahub")]
    assert not threads  # the pool is gone when the push returns


def _import_names(stderr: str) -> set[str]:
    return {
        line.split("|")[-1].strip()
        for line in stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def _lean(env: dict[str, str], *args: str, flags: tuple[str, ...] = ()):
    """``python [flags] -m mediahub.operations.sync args`` run from the project's root."""
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return subprocess.run(
        [sys.executable, *flags, "-m", "mediahub.operations.sync", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=120,
    )


def test_lean_entry_imports_no_admin_filer_thumbnails_or_pillow(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "MEDIAHUB_DEMO_VAR": str(tmp_path),
    }
    env.pop("DEFAULT_STORAGE_DSN", None)
    env.pop("PRIVATE_STORAGE_DSN", None)
    done = _lean(env, "--help", flags=("-X", "importtime"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "--checksum" in done.stdout and "--jobs" in done.stdout
    names = _import_names(done.stderr)
    assert "mediahub.operations.transfer" in names
    heavy = {
        name
        for name in names
        if name.split(".")[0] in {"filer", "easy_thumbnails", "PIL", "boto3", "s3transfer"}
        or name.startswith(("django.contrib.admin", "mediahub.library", "mediahub.admin"))
        or name.startswith("django.core.management")  # Django's command machinery
    }
    assert not heavy


def test_lean_entry_pushes_like_the_command(s3, tmp_path):
    from mediahub.storage.s3 import VISIBILITY_METADATA

    source = tmp_path / "src"
    make_tree(source, SMALL)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "MEDIAHUB_DEMO_VAR": str(tmp_path / "var"),
        "DEFAULT_STORAGE_DSN": s3.layout.public_dsn,
        "PRIVATE_STORAGE_DSN": s3.layout.private_dsn,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    done = _lean(env, "push", str(source), "--storage", "private", "--prefix", "p/")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "3 copied" in done.stdout
    head = s3.client().head_object(Bucket=s3.private_bucket, Key="p/docs/b.pdf")
    assert head["Metadata"][VISIBILITY_METADATA] == "private"
    assert head["ContentType"] == "application/pdf"
    failed = _lean(env, "push", str(tmp_path / "missing"))
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines() == [
        f"CommandError: {tmp_path / 'missing'} is not a folder."
    ]


def test_second_pull_reads_no_local_file(s3, tmp_path, count_requests, reads):
    make_tree(tmp_path / "src", SMALL)
    run("push", str(tmp_path / "src"))
    run("pull", str(tmp_path / "dst"))
    age(tmp_path / "dst")  # out of the racy window: recorded by the next pull
    run("pull", str(tmp_path / "dst"))
    count_requests.clear()
    reads.clear()
    out = run("pull", str(tmp_path / "dst"))
    assert "0 copied" in out and "3 unchanged" in out
    assert count_requests == {"ListObjectsV2": 1}
    assert not [path for path in reads if path.startswith(str(tmp_path / "dst"))]
