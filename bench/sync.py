"""mediahub_sync push vs ``aws s3 sync``, and mediahub_audit over many objects.

    .venv/bin/python bench/sync.py [--small 1000] [--large 20] [--large-mb 20] [--audit 10000]

Against one moto server on 127.0.0.1 over HTTP, same files, same concurrency (10
parallel requests, the AWS CLI's default). The AWS CLI (v1, from PyPI) is installed
into this virtualenv on first run if missing, pinned to the botocore already there.
Each tool pushes into its own prefix; the second push of each has nothing to do
(mediahub compares size + MD5 with the ETag; the CLI compares size + mtime).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

from _common import counting_requests, fill, setup_django, table

JOBS = 10


def ensure_awscli() -> str:
    """Path of the ``aws`` command in this virtualenv, installing awscli if missing."""
    aws = Path(sys.executable).with_name("aws")
    if not aws.exists():
        pins = [f"{name}=={metadata.version(name)}" for name in ("botocore", "s3transfer")]
        print(f"Installing the AWS CLI into {sys.prefix} (pinned: {', '.join(pins)})...")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "awscli", *pins], check=True
        )
    return str(aws)


def make_files(root: Path, count: int, size: int) -> None:
    root.mkdir(parents=True)
    for index in range(count):
        folder = root / f"d{index % 10}"
        folder.mkdir(exist_ok=True)
        (folder / f"file-{index:05d}.bin").write_bytes(os.urandom(size))


def aws_sync(aws: str, layout, source: Path, bucket: str, prefix: str) -> float:
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID=layout.access_key,
        AWS_SECRET_ACCESS_KEY=layout.secret_key,
        AWS_DEFAULT_REGION=layout.region,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    start = time.perf_counter()
    subprocess.run(
        [
            aws,
            "s3",
            "sync",
            str(source),
            f"s3://{bucket}/{prefix}",
            "--endpoint-url",
            layout.endpoint,
            "--only-show-errors",
        ],
        check=True,
        env=env,
    )
    return time.perf_counter() - start


def mediahub_push(storage, source: Path, prefix: str):
    from mediahub.operations import sync

    with counting_requests() as requests:
        start = time.perf_counter()
        report = sync.push(storage, str(source), prefix=prefix, jobs=JOBS)
        elapsed = time.perf_counter() - start
    assert report.ok, report.failed
    return elapsed, requests.total, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000, help="number of small files")
    parser.add_argument("--small-kb", type=int, default=4, help="size of a small file, KiB")
    parser.add_argument("--large", type=int, default=20, help="number of large files")
    parser.add_argument("--large-mb", type=int, default=20, help="size of a large file, MiB")
    parser.add_argument("--audit", type=int, default=10000, help="objects to audit")
    args = parser.parse_args()

    setup_django()
    from django.test import override_settings

    from mediahub import dsn
    from mediahub.operations.audit import audit
    from mediahub.operations.objects import iter_objects
    from mediahub.storage import get_storage
    from mediahub.testing.s3server import MotoServer, create_layout

    aws = ensure_awscli()
    work = Path(tempfile.mkdtemp(prefix="mediahub-bench-"))
    sync_rows, audit_rows = [], []
    try:
        sets = [
            (
                f"{args.small:,} files of {args.small_kb} KiB",
                "small",
                args.small,
                args.small_kb * 1024,
            ),
            (
                f"{args.large} files of {args.large_mb} MiB",
                "large",
                args.large,
                args.large_mb * 1024**2,
            ),
        ]
        for _label, name, count, size in sets:
            make_files(work / name, count, size)
        with MotoServer() as server:
            layout = create_layout(server.endpoint, "bench-public", "bench-private")
            storages = {
                "default": dsn.parse(layout.public_dsn),
                "private": dsn.parse(layout.private_dsn, visibility="private"),
                "easy_thumbnails": dsn.parse(layout.public_dsn),
            }
            with override_settings(STORAGES=storages):
                private = get_storage("private")
                for label, name, _count, _size in sets:
                    source = work / name
                    first, first_requests, report = mediahub_push(private, source, f"mh-{name}/")
                    copied = len(report.copied)
                    second, second_requests, again = mediahub_push(private, source, f"mh-{name}/")
                    assert not again.copied
                    aws_first = aws_sync(aws, layout, source, layout.private_bucket, f"cli-{name}/")
                    aws_second = aws_sync(
                        aws, layout, source, layout.private_bucket, f"cli-{name}/"
                    )
                    sync_rows.append(
                        [
                            label,
                            f"{first:.1f} s ({first_requests:,} req, {copied:,} copied)",
                            f"{aws_first:.1f} s",
                            f"{aws_first / first:.2f}x",
                            f"{second:.2f} s ({second_requests} req)",
                            f"{aws_second:.2f} s",
                        ]
                    )
                    print(sync_rows[-1], flush=True)

            # The audit gets its own clean buckets (moto serves multipart uploads sent
            # without an ACL to anyone, which the audit would rightly report).
            layout = create_layout(server.endpoint, "audit-public", "audit-private")
            storages = {
                "default": dsn.parse(layout.public_dsn),
                "private": dsn.parse(layout.private_dsn, visibility="private"),
                "easy_thumbnails": dsn.parse(layout.public_dsn),
            }
            with override_settings(STORAGES=storages):
                private = get_storage("private")
                client = layout.client()
                keys = [f"audit/{i:06d}.pdf" for i in range(args.audit)]
                fill(client, layout.private_bucket, keys)
                total = sum(1 for _ in iter_objects(private, "audit/"))
                for mode in ("ACLs enabled", "ACLs disabled (bucket owner enforced)"):
                    if mode.startswith("ACLs disabled"):
                        client.put_bucket_ownership_controls(
                            Bucket=layout.private_bucket,
                            OwnershipControls={
                                "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]
                            },
                        )
                    with counting_requests() as requests:
                        start = time.perf_counter()
                        report = audit("private", jobs=JOBS)
                        elapsed = time.perf_counter() - start
                    assert not report.exposed, report.exposed
                    audit_rows.append(
                        [
                            f"{total:,} private objects, {mode}",
                            f"{elapsed:.1f} s",
                            f"{requests.total:,}",
                            ", ".join(f"{op} {n:,}" for op, n in requests.most_common(3)),
                            f"{total / elapsed:,.0f} objects/s",
                        ]
                    )
                    print(audit_rows[-1], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\nPush into the private bucket, {JOBS} parallel requests, moto server on 127.0.0.1\n")
    print(
        table(
            [
                "files",
                "mediahub_sync push",
                "aws s3 sync",
                "CLI time / mediahub time",
                "2nd push, nothing changed (mediahub)",
                "2nd push (aws s3 sync)",
            ],
            sync_rows,
        )
    )
    print("\nmediahub_audit of the private storage\n")
    print(table(["objects", "time", "S3 requests", "top requests", "rate"], audit_rows))


if __name__ == "__main__":
    main()
