"""Jobs (mediahub.jobs) on the immediate backend, against moto's server over HTTP.

Logic and failure paths: every kind, bad parameters (nothing recorded or
enqueued), S3 503s/timeouts mid-chunk, listing failures, a worker that died
holding a chunk, two workers claiming at once, cancel, retry of failed items.
"""

from __future__ import annotations

import hashlib
import time

import pytest
from django.core.exceptions import PermissionDenied
from django.test import override_settings

from mediahub import jobs
from mediahub.jobs import runner
from mediahub.jobs.compat import SOURCE
from mediahub.jobs.kinds import END, ChunkResult, get_kind
from mediahub.models import Job
from mediahub.storage import get_storage
from tests.users import make_user

pytestmark = pytest.mark.django_db

DUMMY = {"default": {"BACKEND": f"{SOURCE}.backends.dummy.DummyBackend"}}


@pytest.fixture(autouse=True)
def fast_retries(settings, monkeypatch):
    """Small chunks (several per test) and no sleeping between retries of injected faults."""
    import time as real_time
    from types import SimpleNamespace

    import botocore.endpoint

    settings.MEDIAHUB = {
        "JOB_CHUNK_SIZE": 7,
        "JOB_THREADS": 4,
        "RETRY_ATTEMPTS": 2,
        "RETRY_BACKOFF": 0.001,
    }
    fake = SimpleNamespace(
        **{k: getattr(real_time, k) for k in dir(real_time) if not k.startswith("__")}
    )
    fake.sleep = lambda seconds: None
    monkeypatch.setattr(botocore.endpoint, "time", fake)


def fill(s3, bucket: str, prefix: str, count: int, *, marker: bool = True) -> dict[str, bytes]:
    client = s3.client()
    bodies = {}
    if marker:
        client.put_object(Bucket=bucket, Key=prefix, Body=b"")
    for i in range(count):
        sub = "sub/" if i % 3 == 0 else ""
        key = f"{prefix}{sub}file-{i:04}.txt"
        body = hashlib.sha256(f"{key}{i}".encode()).hexdigest().encode() * (1 + i % 5)
        client.put_object(Bucket=bucket, Key=key, Body=body)
        bodies[key] = body
    return bodies


def bodies_under(s3, bucket: str, prefix: str) -> dict[str, bytes]:
    client = s3.client()
    return {
        key: client.get_object(Bucket=bucket, Key=key)["Body"].read()
        for key in s3.keys(bucket, prefix)
    }


# -- the kinds -----------------------------------------------------------------------------
def test_folder_move_job_moves_every_object_byte_identical_in_chunks(s3):
    bodies = fill(s3, s3.public_bucket, "album/", 30)
    job = jobs.start("move", storage="public", params={"prefix": "album/", "target": "archive/"})
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED, job.errors
    assert job.total_objects == 30 and job.done_objects == 31  # 30 files + the folder marker
    assert job.done_bytes == sum(len(b) for b in bodies.values())
    assert job.cursor == END and job.leases == {} and job.errors == []
    assert s3.keys(s3.public_bucket, "album/") == []
    moved = bodies_under(s3, s3.public_bucket, "archive/")
    assert moved.pop("archive/") == b""  # the folder's marker moved too
    assert moved == {"archive/" + key[len("album/") :]: body for key, body in bodies.items()}
    assert job.started and job.finished and job.finished >= job.started


def test_move_of_selected_files_puts_them_in_the_target_folder_never_overwriting(s3):
    client = s3.client()
    for name in ("a/one.txt", "b/two.txt", "c/three.txt"):
        client.put_object(Bucket=s3.public_bucket, Key=name, Body=name.encode())
    client.put_object(Bucket=s3.public_bucket, Key="dest/two.txt", Body=b"someone else's")
    job = jobs.start(
        "move",
        storage="public",
        params={"names": ["a/one.txt", "b/two.txt", "c/three.txt"], "target": "dest/"},
    )
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert job.total_objects == 3 and job.done_objects == 2 and job.failed_items == ["b/two.txt"]
    assert "dest/two.txt" in job.errors[0]["error"] and job.errors[0]["name"] == "b/two.txt"
    assert bodies_under(s3, s3.public_bucket, "") == {
        "dest/one.txt": b"a/one.txt",
        "dest/three.txt": b"c/three.txt",
        "dest/two.txt": b"someone else's",
        "b/two.txt": b"b/two.txt",
    }


def test_delete_job_of_a_folder_and_of_names(s3):
    fill(s3, s3.public_bucket, "old/", 20)
    fill(s3, s3.public_bucket, "keep/", 3)
    job = jobs.start("delete", storage="public", params={"prefix": "old/"})
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED and job.done_objects == 21
    assert s3.keys(s3.public_bucket, "old/") == []
    job = jobs.start(
        "delete", storage="public", params={"names": ["keep/file-0001.txt", "keep/missing.txt"]}
    )
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED and job.done_objects == 2  # gone is deleted
    assert sorted(s3.keys(s3.public_bucket)) == [
        "keep/",
        "keep/file-0002.txt",
        "keep/sub/file-0000.txt",
    ]


def test_publish_job_moves_a_folder_to_the_other_storage(s3, settings):
    # Storage methods record link changes in the database: one thread with the
    # tests' in-memory SQLite (threads write to it in production databases).
    settings.MEDIAHUB = {**settings.MEDIAHUB, "JOB_THREADS": 1}
    bodies = fill(s3, s3.private_bucket, "reports/", 12, marker=False)
    job = jobs.start("publish", storage="private", params={"prefix": "reports/"})
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED and job.done_objects == 12, job.errors
    assert s3.keys(s3.private_bucket, "reports/") == []
    public = get_storage("public")
    for key, body in bodies.items():
        with public.open(key) as handle:
            assert handle.read() == body


def test_publish_revokes_the_links_of_private_objects(s3, settings):
    settings.MEDIAHUB = {**settings.MEDIAHUB, "JOB_THREADS": 1}
    from mediahub import links

    s3.client().put_object(Bucket=s3.private_bucket, Key="doc.pdf", Body=b"%PDF")
    before = links.current_generation("doc.pdf", storage="private")
    job = jobs.start("publish", storage="private", params={"names": ["doc.pdf"]})
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED
    assert links.current_generation("doc.pdf", storage="private") > before


def test_a_private_move_ends_the_links_of_both_names_a_public_one_records_nothing(s3):
    from mediahub import links
    from mediahub.models import LinkState

    s3.client().put_object(Bucket=s3.private_bucket, Key="a/doc.pdf", Body=b"%PDF")
    s3.client().put_object(Bucket=s3.public_bucket, Key="a/pic.txt", Body=b"x")
    job = jobs.start("move", storage="private", params={"prefix": "a/", "target": "b/"})
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED
    assert links.current_generation("a/doc.pdf", storage="private") > 0
    assert links.current_generation("b/doc.pdf", storage="private") > 0
    rows = LinkState.objects.count()
    job = jobs.start("move", storage="public", params={"prefix": "a/", "target": "b/"})
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED and LinkState.objects.count() == rows


def test_audit_job_records_the_report(s3):
    job = jobs.start("audit", storage="private", params={"fix": False})
    job.refresh_from_db()
    assert job.state in (Job.State.SUCCEEDED, Job.State.FAILED)
    assert job.result["alias"] == "private" and job.done_objects + job.error_count == 1


def test_thumbnails_job_makes_the_thumbnails_of_a_folder(s3):
    from io import BytesIO

    from PIL import Image

    client = s3.client()
    for i in range(3):
        buffer = BytesIO()
        Image.new("RGB", (120, 90), (i * 60, 10, 10)).save(buffer, "PNG")
        client.put_object(Bucket=s3.public_bucket, Key=f"pics/p{i}.png", Body=buffer.getvalue())
    client.put_object(Bucket=s3.public_bucket, Key="pics/readme.txt", Body=b"not an image")
    job = jobs.start("thumbnails", storage="public", params={"prefix": "pics/"})
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED, job.errors
    assert job.done_objects == 3  # the text file is not a source
    thumbnails = [k for k in s3.keys(s3.public_bucket) if k.startswith("thumbnails/")]
    assert len(thumbnails) == 3


# -- bad input: a clear error, nothing recorded, nothing enqueued ---------------------------
@pytest.mark.parametrize(
    ("kind", "storage", "params", "message"),
    [
        ("copy", "public", {}, "Unknown kind"),
        ("move", "public", {"prefix": "a/"}, "'target'"),
        ("move", "public", {"prefix": "a/", "target": "a/b/"}, "into itself"),
        ("move", "public", {"prefix": "a/", "target": "a/"}, "different"),
        ("move", "public", {"names": ["../etc/passwd"], "target": "b/"}, "unsafe"),
        ("move", "public", {"names": "a.txt", "target": "b/"}, "list"),
        ("delete", "public", {"prefix": ""}, "root"),
        ("delete", "public", {"prefix": "no-slash"}, "ending with '/'"),
        ("delete", "public", {}, "Give 'names'"),
        ("delete", "public", {"prefix": "a/", "extra": 1}, "Unknown parameters"),
        ("delete", "elsewhere", {"prefix": "a/"}, "storage"),
        ("audit", "private", {"fix": "yes"}, "true or false"),
        ("thumbnails", "public", {"aliases": ["nope"]}, "alias"),
    ],
)
def test_bad_parameters_are_refused_and_nothing_is_enqueued(
    s3, settings, kind, storage, params, message
):
    settings.TASKS = DUMMY
    with pytest.raises(jobs.JobError, match=message):
        jobs.start(kind, storage=storage, params=params)
    assert Job.objects.count() == 0


def test_a_folder_move_onto_an_existing_folder_is_refused(s3):
    fill(s3, s3.public_bucket, "a/", 2)
    fill(s3, s3.public_bucket, "b/", 1)
    with pytest.raises(jobs.JobError, match="exists already"):
        jobs.start("move", storage="public", params={"prefix": "a/", "target": "b/"})
    assert Job.objects.count() == 0


def test_start_checks_the_users_permissions(s3, django_user_model, settings):
    settings.TASKS = DUMMY
    viewer = make_user(django_user_model, "view_public", username="viewer")
    with pytest.raises(PermissionDenied):
        jobs.start("delete", storage="public", params={"prefix": "a/"}, user=viewer)
    with pytest.raises(PermissionDenied):
        jobs.start("audit", storage="public", params={}, user=viewer)
    editor = make_user(django_user_model, "view_public", "delete")
    job = jobs.start("delete", storage="public", params={"prefix": "a/"}, user=editor)
    assert job.requested_by == editor and job.state == Job.State.QUEUED
    assert Job.objects.count() == 1


def test_start_enqueues_on_the_configured_backend(s3, settings):
    settings.TASKS = {**DUMMY, "jobs": DUMMY["default"]}
    settings.MEDIAHUB = {"TASK_BACKEND": "jobs", "JOB_PARALLEL_TASKS": 3}
    from mediahub.jobs.compat import task_backends

    job = jobs.start("delete", storage="public", params={"prefix": "a/"})
    backend = task_backends["jobs"]
    assert [r.args for r in backend.results] == [[job.pk]] * 3 or [
        list(r.args) for r in backend.results
    ] == [[job.pk]] * 3
    assert task_backends["default"].results == []


def test_a_job_of_one_chunk_enqueues_one_task(s3, settings):
    settings.TASKS = DUMMY
    settings.MEDIAHUB = {"JOB_PARALLEL_TASKS": 4, "JOB_CHUNK_SIZE": 2}
    from mediahub.jobs.compat import task_backends

    jobs.start("delete", storage="public", params={"names": ["a.txt", "b.txt"]})
    assert len(task_backends["default"].results) == 1
    jobs.start("delete", storage="public", params={"names": ["a.txt", "b.txt", "c.txt"]})
    assert len(task_backends["default"].results) == 3  # two chunks: two tasks
    jobs.start("audit", storage="public", params={})
    assert len(task_backends["default"].results) == 4


# -- failures mid-chunk ------------------------------------------------------------------
def test_copy_503s_fail_those_items_keep_the_originals_and_retry_finishes(s3, fail_s3):
    bodies = fill(s3, s3.public_bucket, "src/", 10, marker=False)
    fail_s3("CopyObject", status=503)
    job = jobs.start("move", storage="public", params={"prefix": "src/", "target": "dst/"})
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert sorted(job.failed_items) == sorted(bodies) and job.done_objects == 0
    assert "SlowDown" in job.errors[0]["error"] or "503" in job.errors[0]["error"]
    assert bodies_under(s3, s3.public_bucket, "") == bodies  # nothing lost, no stray copy


def test_retry_of_failed_items_finishes_the_move(s3, monkeypatch):
    from botocore.client import BaseClient
    from botocore.exceptions import ClientError

    bodies = fill(s3, s3.public_bucket, "src/", 10, marker=False)
    broken = {"dst/file-0002.txt", "dst/sub/file-0003.txt"}
    original = BaseClient._make_api_call

    def flaky(self, operation, params):  # S3 answers 503 for two keys, every time
        if operation == "CopyObject" and params["Key"] in broken:
            error = {"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}
            raise ClientError(error, operation)
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", flaky)
    job = jobs.start("move", storage="public", params={"prefix": "src/", "target": "dst/"})
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert sorted(job.failed_items) == ["src/file-0002.txt", "src/sub/file-0003.txt"]
    assert job.done_objects == 8 and job.error_count == 2
    broken.clear()  # S3 is back
    retry = jobs.retry_failed(job)
    retry.refresh_from_db()
    assert retry.retry_of == job and retry.state == Job.State.SUCCEEDED, retry.errors
    assert retry.done_objects == len(job.failed_items)
    assert bodies_under(s3, s3.public_bucket, "") == {
        "dst/" + key[len("src/") :]: body for key, body in bodies.items()
    }
    with pytest.raises(jobs.JobError):
        jobs.retry_failed(retry)  # nothing failed


def test_timeouts_mid_chunk_are_retried_and_the_job_succeeds(s3, fail_s3):
    bodies = fill(s3, s3.public_bucket, "src/", 9, marker=False)
    fail_s3("CopyObject", timeout=True, times=2)
    fail_s3("DeleteObjects", reset=True, times=1)
    job = jobs.start("move", storage="public", params={"prefix": "src/", "target": "dst/"})
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED, job.errors
    assert job.done_objects == 9
    assert set(s3.keys(s3.public_bucket)) == {"dst/" + k[len("src/") :] for k in bodies}


def test_a_delete_refused_after_the_copy_keeps_the_original_and_drops_the_copy(s3, fail_s3):
    bodies = fill(s3, s3.public_bucket, "src/", 4, marker=False)
    fail_s3("DeleteObjects", status=503)
    job = jobs.start("move", storage="public", params={"prefix": "src/", "target": "dst/"})
    job.refresh_from_db()
    assert job.state == Job.State.FAILED and len(job.failed_items) == 4
    assert bodies_under(s3, s3.public_bucket, "") == bodies


def test_a_listing_that_keeps_failing_fails_the_job_with_its_reason(s3, fail_s3):
    fill(s3, s3.public_bucket, "src/", 3, marker=False)
    fail_s3("ListObjectsV2", status=503)
    job = jobs.start("delete", storage="public", params={"prefix": "src/"})
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert job.errors and (
        "503" in job.errors[-1]["error"] or "SlowDown" in job.errors[-1]["error"]
    )


# -- workers: leases, a worker that died, two at once ----------------------------------------
def test_two_workers_claim_disjoint_chunks(s3, settings):
    settings.TASKS = DUMMY
    fill(s3, s3.public_bucket, "src/", 20, marker=False)
    job = jobs.start("move", storage="public", params={"prefix": "src/", "target": "dst/"})
    first, second = runner.claim(job.pk, "worker-a"), runner.claim(job.pk, "worker-b")
    names_a = {item["name"] for item in first.items}
    names_b = {item["name"] for item in second.items}
    assert len(names_a) == len(names_b) == 7 and not names_a & names_b
    job.refresh_from_db()
    assert set(job.leases) == {"worker-a", "worker-b"} and job.state == Job.State.RUNNING


def test_a_chunk_whose_worker_died_half_way_is_resumed_once_its_lease_expires(s3, settings):
    settings.TASKS = DUMMY
    bodies = fill(s3, s3.public_bucket, "src/", 20, marker=False)
    job = jobs.start("move", storage="public", params={"prefix": "src/", "target": "dst/"})
    claimed = runner.claim(job.pk, "dead-worker")
    kind = get_kind("move")
    job.refresh_from_db()
    # The worker moved part of its chunk, then was killed (no record, no heartbeat).
    kind.process(job, claimed.items[:4], 2)
    assert runner.claim(job.pk, "too-early").items != claimed.items  # still leased: next chunk
    Job.objects.filter(pk=job.pk).update(
        leases={
            token: {**lease, "expires": time.time() - 1}
            for token, lease in Job.objects.get(pk=job.pk).leases.items()
        }
    )
    assert runner.work(job.pk) == "done"
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED, job.errors
    assert job.done_objects == job.total_objects == 20 and job.errors == []
    assert bodies_under(s3, s3.public_bucket, "") == {
        "dst/" + key[len("src/") :]: body for key, body in bodies.items()
    }


def test_a_worker_that_lost_its_lease_does_not_count_its_chunk(s3, settings):
    settings.TASKS = DUMMY
    fill(s3, s3.public_bucket, "src/", 5, marker=False)
    job = jobs.start("delete", storage="public", params={"prefix": "src/"})
    claimed = runner.claim(job.pk, "slow")
    Job.objects.filter(pk=job.pk).update(leases={})  # taken over meanwhile
    assert runner.record(job.pk, "slow", ChunkResult([])) is False
    job.refresh_from_db()
    assert job.done_objects == 0 and claimed.items


def test_stalled_jobs_are_found_and_recovered(s3, settings):
    settings.TASKS = DUMMY
    job = jobs.start("delete", storage="public", params={"prefix": "src/"})
    assert runner.stalled() == []
    from datetime import timedelta

    from django.utils import timezone

    Job.objects.filter(pk=job.pk).update(created=timezone.now() - timedelta(hours=1))
    assert runner.stalled() == []  # queued: its task may be waiting behind others
    Job.objects.filter(pk=job.pk).update(
        state=Job.State.RUNNING, heartbeat=timezone.now() - timedelta(hours=1)
    )
    assert runner.stalled() == [job.pk]
    assert jobs.recover() == [job.pk]
    assert runner.stalled() == []  # one recovery, not one per poll


def test_starting_a_job_revives_a_stalled_one(s3, settings):
    settings.TASKS = DUMMY
    from datetime import timedelta

    from django.utils import timezone

    from mediahub.jobs.compat import task_backends

    stalled = jobs.start("delete", storage="public", params={"prefix": "old/"})
    Job.objects.filter(pk=stalled.pk).update(
        state=Job.State.RUNNING, heartbeat=timezone.now() - timedelta(hours=1)
    )
    before = len(task_backends["default"].results)
    jobs.start("delete", storage="public", params={"names": ["x.txt"]})
    enqueued = [list(r.args) for r in task_backends["default"].results[before:]]
    assert [stalled.pk] in enqueued


# -- cancel --------------------------------------------------------------------------------
def test_cancel_of_a_queued_job_ends_it_at_once(s3, settings):
    settings.TASKS = DUMMY
    job = jobs.start("delete", storage="public", params={"prefix": "src/"})
    assert jobs.cancel(job) is True
    assert job.state == Job.State.CANCELLED and job.finished
    assert jobs.cancel(job) is False
    assert runner.work(job.pk) == "done"


def test_cancel_of_a_running_job_stops_after_the_current_chunk(s3, settings):
    settings.TASKS = DUMMY
    fill(s3, s3.public_bucket, "src/", 20, marker=False)
    job = jobs.start("delete", storage="public", params={"prefix": "src/"})
    claimed = runner.claim(job.pk, "w")
    assert jobs.cancel(job) and job.state == Job.State.RUNNING and job.cancel_requested
    job.refresh_from_db()
    result = get_kind("delete").process(job, claimed.items, 2)
    runner.record(job.pk, "w", result)
    job.refresh_from_db()
    assert job.state == Job.State.CANCELLED and job.done_objects == 7
    assert len(s3.keys(s3.public_bucket, "src/")) == 13  # the rest was left alone
    assert runner.claim(job.pk, "w2") is None


@override_settings(MEDIAHUB={"JOB_CHUNK_SIZE": 5, "JOB_TASK_TIME": 0})
def test_a_task_that_used_its_time_hands_over_to_the_next(s3):
    fill(s3, s3.public_bucket, "src/", 12, marker=False)
    job = jobs.start("delete", storage="public", params={"prefix": "src/"})
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED and job.done_objects == 12
