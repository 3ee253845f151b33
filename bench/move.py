"""Folder move of N objects: a mediahub job on 1 and on 2 ``db_worker`` processes vs
``aws s3 mv --recursive``, on the same moto server.

    .venv/bin/python bench/move.py [--objects 10000] [--rounds 3]

Each side is a whole process timed from outside: for mediahub, a client that calls
``mediahub.jobs.start("move", ...)`` and waits for the job to finish (the workers are
long-lived, as on a site, and started before the timing); for the AWS CLI, ``aws s3 mv
--recursive`` itself. Sides run interleaved, the source folder re-created (untimed)
before every run; best and median of ``--rounds`` runs; S3 requests from the server's
log (the first run of each side). Writes ``bench/results/move.md``.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import (
    ROOT,
    LoggedMotoServer,
    Side,
    compare,
    results_table,
    setup_django,
    write_results,
)
from sync import base_env, find_awscli

#: The client side of a mediahub move: start the job, wait for its end (run by a Side).
CLIENT = """
import sys, time
from mediahub import jobs
from mediahub.models import Job
job = jobs.start("move", storage="public", params={"prefix": sys.argv[1], "target": sys.argv[2]})
while not job.finished_state:
    time.sleep(0.05)
    job.refresh_from_db()
if job.state != "succeeded" or job.done_objects != job.total_objects:
    sys.exit(f"job {job.pk} {job.state}: {job.done_objects}/{job.total_objects} {job.errors[:3]}")
"""


class Workers:
    """Long-lived ``db_worker`` processes, started or stopped outside the timed runs."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env, self.running = env, []

    def exactly(self, count: int) -> None:
        while len(self.running) > count:
            self._stop(self.running.pop())
        while len(self.running) < count:
            self.running.append(
                subprocess.Popen(
                    [sys.executable, "manage.py", "db_worker", "--interval", "0.05"]
                    + ["--no-startup-delay"],
                    env=self.env,
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        time.sleep(2)  # a worker's start-up is not part of a move

    def _stop(self, worker: subprocess.Popen) -> None:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)

    def close(self) -> None:
        self.exactly(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000, help="objects in the folder")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of each side")
    parser.add_argument("--threads", type=int, default=10, help="S3 requests at once per process")
    args = parser.parse_args()

    setup_django()
    from mediahub.testing.s3server import create_layout
    from mediahub.testing.sites import shared_sqlite_settings

    aws = find_awscli()
    work = Path(tempfile.mkdtemp(prefix="mediahub-bench-move-"))
    (work / "benchsite.py").write_text(
        shared_sqlite_settings(
            "example_project.settings",
            str(work / "db.sqlite3"),
            {"JOB_THREADS": args.threads, "JOB_CHUNK_SIZE": 500, "JOB_PARALLEL_TASKS": 2},
        )
    )
    with LoggedMotoServer() as server:
        layout = create_layout(server.endpoint, "bench-public", "bench-private")
        s3 = layout.client()
        bucket = layout.public_bucket
        env = dict(
            base_env(),
            PYTHONPATH=os.pathsep.join([str(work), str(ROOT)]),
            DJANGO_SETTINGS_MODULE="benchsite",
            DEFAULT_STORAGE_DSN=layout.public_dsn,
            PRIVATE_STORAGE_DSN=layout.private_dsn,
            MEDIAHUB_TASKS="database",
            MEDIAHUB_DEMO_VAR=str(work / "var"),
        )
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            env=env,
            cwd=ROOT,
            check=True,
        )
        aws_config = work / "aws-config"
        aws_config.write_text(f"[default]\ns3 =\n  max_concurrent_requests = {args.threads}\n")
        aws_env = dict(
            base_env(),
            AWS_ACCESS_KEY_ID=layout.access_key,
            AWS_SECRET_ACCESS_KEY=layout.secret_key,
            AWS_DEFAULT_REGION=layout.region,
            AWS_CONFIG_FILE=str(aws_config),
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        )
        names = [f"{i % 10:02}/object-{i:06}.bin" for i in range(args.objects)]

        def refill(prefix: str, workers: int | None = None):
            def before() -> None:
                for leftover in (prefix, prefix.replace("src", "dst")):
                    keys = [
                        {"Key": item["Key"]}
                        for page in s3.get_paginator("list_objects_v2").paginate(
                            Bucket=bucket, Prefix=leftover
                        )
                        for item in page.get("Contents", ())
                    ]
                    for start in range(0, len(keys), 1000):
                        s3.delete_objects(
                            Bucket=bucket, Delete={"Objects": keys[start : start + 1000]}
                        )
                with ThreadPoolExecutor(32) as pool:
                    list(
                        pool.map(
                            lambda n: s3.put_object(Bucket=bucket, Key=prefix + n, Body=b"x" * 64),
                            names,
                        )
                    )
                if workers is not None:
                    pool_of_workers.exactly(workers)

            return before

        pool_of_workers = Workers(env)
        client = [sys.executable, "-c", "import django; django.setup()\n" + CLIENT]
        sides = [
            Side(
                "aws s3 mv --recursive",
                [aws, "s3", "mv", f"s3://{bucket}/src-aws/", f"s3://{bucket}/dst-aws/"]
                + ["--recursive", "--endpoint-url", layout.endpoint, "--only-show-errors"],
                parallelism=f"1 process, max_concurrent_requests {args.threads}",
                env=aws_env,
                before=refill("src-aws/"),
            ),
            Side(
                "mediahub job, 1 worker",
                [*client, "src-one/", "dst-one/"],
                parallelism=f"1 db_worker, {args.threads} threads",
                env=env,
                cwd=str(ROOT),
                before=refill("src-one/", 1),
            ),
            Side(
                "mediahub job, 2 workers",
                [*client, "src-two/", "dst-two/"],
                parallelism=f"2 db_workers, {args.threads} threads each",
                env=env,
                cwd=str(ROOT),
                before=refill("src-two/", 2),
            ),
        ]
        try:
            timings = compare(sides, rounds=args.rounds, warmup=0, server=server)
        finally:
            pool_of_workers.close()
    text = (
        f"Move of a folder of {args.objects:,} objects (64 bytes each) to another folder of "
        "the same bucket, moto server on 127.0.0.1; each side a whole process timed from "
        "outside (mediahub: a client that starts the job and waits for it; its workers run "
        f"before and after), source re-created before each run; best and median of "
        f"{args.rounds} interleaved runs; S3 requests from the server's log (first run; "
        f"they include the {args.objects:,} PUTs re-creating the source before it).\n\n"
        + results_table(timings)
    )
    write_results("move", text)


if __name__ == "__main__":
    main()
