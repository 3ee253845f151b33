"""Jobs on real worker processes: two ``db_worker`` (django-tasks-db) or two ``rqworker``
(django-tasks-rq on the Redis at 127.0.0.1:6379), one of them SIGKILLed mid-job.

A 10,000-object folder is moved on moto's server; afterwards the bucket holds
exactly the moved objects, byte-identical (ETags are the MD5 of each body), none
at the old place, and the job succeeded with matching counts. The site is the
example project with a file SQLite database, configured by environment (as a
deployment would), in a process tree of its own.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mediahub.testing.sites import shared_sqlite_settings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
#: 10,000 (the issue's figure): the move took 54 s (database) and 84 s (RQ) on the shared
#: 2-core machine at load average 12-15, plus ~35 s each to fill the bucket, and did not
#: finish within 240 s at load 25-30. 2,000 by default; set the variable for the full size.
OBJECTS = int(os.environ.get("MEDIAHUB_TEST_JOB_OBJECTS", "2000"))
LEASE = 4  # seconds: how long a SIGKILLed worker's chunk waits for another worker


class Site:
    """The example project, configured by environment, run as separate processes."""

    def __init__(self, tmp_path: Path, s3, engine: str, redis_url: str | None = None) -> None:
        self.db = tmp_path / "jobs.sqlite3"
        (tmp_path / "jobsite_settings.py").write_text(
            shared_sqlite_settings(
                "example_project.settings",
                str(self.db),
                {
                    "JOB_LEASE_TIMEOUT": LEASE,
                    "JOB_CHUNK_SIZE": 500,
                    "JOB_TASK_TIME": 15,
                    "JOB_PARALLEL_TASKS": 2,
                },
            )
        )
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
            "DJANGO_SETTINGS_MODULE": "jobsite_settings",
            "DEFAULT_STORAGE_DSN": s3.layout.public_dsn,
            "PRIVATE_STORAGE_DSN": s3.layout.private_dsn,
            "MEDIAHUB_TASKS": engine,
            "MEDIAHUB_DEMO_VAR": str(tmp_path / "var"),
        }
        self.env.pop("DATABASE_URL", None)
        if redis_url:
            self.env["REDIS_URL"] = redis_url
        self.workers: list[subprocess.Popen] = []
        self.logs = tmp_path

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "django", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def start_worker(self, *args: str) -> subprocess.Popen:
        log = open(self.logs / f"worker-{len(self.workers)}.log", "w")  # noqa: SIM115
        worker = subprocess.Popen(
            [sys.executable, "-m", "django", *args],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: SIGKILL takes RQ's work horse too
        )
        self.workers.append(worker)
        return worker

    def kill(self, worker: subprocess.Popen) -> None:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)

    def stop(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
        for worker in self.workers:
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)

    def job(self, job_id: int) -> dict:
        with sqlite3.connect(self.db, timeout=30) as db:
            db.row_factory = sqlite3.Row
            row = db.execute("select * from mediahub_job where id = ?", (job_id,)).fetchone()
            return dict(row)

    def worker_logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text()[-2000:]}"
            for path in sorted(self.logs.glob("worker-*.log"))
        )


def fill(s3, prefix: str, count: int) -> dict[str, str]:
    """``count`` small distinct objects under ``prefix``; returns {key: MD5}."""
    client = s3.client()

    def put(i: int) -> tuple[str, str]:
        key = f"{prefix}{i % 10:02}/object-{i:06}.bin"
        body = f"{key} {uuid.uuid4()}".encode() * (1 + i % 7)
        client.put_object(Bucket=s3.public_bucket, Key=key, Body=body)
        return key, hashlib.md5(body).hexdigest()  # noqa: S324 - S3's ETag

    with ThreadPoolExecutor(10) as pool:
        return dict(pool.map(put, range(count)))


def listing(s3, prefix: str) -> dict[str, str]:
    paginator = s3.client().get_paginator("list_objects_v2")
    return {
        item["Key"]: item["ETag"].strip('"')
        for page in paginator.paginate(Bucket=s3.public_bucket, Prefix=prefix)
        for item in page.get("Contents", ())
    }


def move_with_a_killed_worker(tmp_path, s3, engine: str, worker_args: list[str], redis_url=None):
    site = Site(tmp_path, s3, engine, redis_url)
    site.manage("migrate", "--noinput", "-v", "0")
    sums = fill(s3, "incoming/", OBJECTS)
    first, _second = (site.start_worker(*worker_args) for _ in range(2))
    try:
        started = time.monotonic()
        job_id = int(
            site.manage(
                "shell",
                "-c",
                "from mediahub import jobs; print(jobs.start('move', storage='public', "
                "params={'prefix': 'incoming/', 'target': 'archive/2026/'}).pk)",
            ).splitlines()[-1]
        )
        killed_at = None
        while True:
            job = site.job(job_id)
            if killed_at is None and job["done_objects"] >= OBJECTS // 4:
                site.kill(first)  # mid-job, most likely mid-chunk
                killed_at = job["done_objects"]
            if job["state"] in ("succeeded", "failed", "cancelled"):
                break
            assert time.monotonic() - started < 240, (
                f"{job['state']}: {job['done_objects']}/{job['total_objects']} done, "
                f"cursor {job['cursor']}, {job['leases'].count('expires')} leases\n"
                + site.worker_logs()
            )
            time.sleep(0.2)
        elapsed = time.monotonic() - started
    finally:
        site.stop()
    print(f"{engine}: moved {OBJECTS} objects in {elapsed:.1f} s (worker killed at {killed_at})")
    assert killed_at is not None and killed_at < OBJECTS, "the job ended before the kill"
    assert job["state"] == "succeeded", (job["errors"], site.worker_logs())
    assert job["done_objects"] == job["total_objects"] == OBJECTS
    assert job["error_count"] == 0 and job["failed_items"] == "[]"
    assert listing(s3, "incoming/") == {}
    moved = listing(s3, "archive/2026/")
    assert moved == {"archive/2026/" + key[len("incoming/") :]: md5 for key, md5 in sums.items()}
    assert job["done_bytes"] == job["total_bytes"]


def test_database_backend_two_db_workers_one_killed(tmp_path, s3):
    move_with_a_killed_worker(
        tmp_path, s3, "database", ["db_worker", "--interval", "0.2", "--no-startup-delay"]
    )


def redis_url() -> str | None:
    """A Redis database of its own on 127.0.0.1:6379, emptied; None if no server answers."""
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            pass
    except OSError:
        return None
    import redis

    url = "redis://127.0.0.1:6379/13"
    redis.Redis.from_url(url).flushdb()
    return url


def test_rq_backend_two_rqworkers_one_killed(tmp_path, s3):
    url = redis_url()
    if url is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Redis is not running on 127.0.0.1:6379 (.ci/run starts it).")
        pytest.skip("Redis is not running on 127.0.0.1:6379: start redis-server to run this test.")
    move_with_a_killed_worker(
        tmp_path,
        s3,
        "rq",
        ["rqworker", "default", "--with-scheduler", "--job-class", "django_tasks_rq.Job"],
        redis_url=url,
    )
