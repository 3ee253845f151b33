"""mediahub_sync push vs ``aws s3 sync`` vs ``rclone copy``: three processes, same parallelism.

    .venv/bin/python bench/sync.py [--small 1000] [--large 20] [--large-mb 20] [--rounds 5]
                                   [--jobs 10] [--audit 10000]

One moto server on 127.0.0.1 over HTTP; every side is a command run as a whole
process and timed from outside (interpreter start-up, imports, listing, transfers),
interleaved A/B/C/D, best and median of ``--rounds`` after one untimed warm-up each.
Request counts are the server's own log (any client counted the same way). All push
the same local folder into the private bucket, each under its own prefix:

* ``mediahub_sync (manage.py)``: ``python manage.py mediahub_sync push`` in the example
  project (``django.setup()``: admin, filer, easy-thumbnails loaded), ``--jobs N``;
* ``mediahub_sync (lean)``: ``python -m mediahub.operations.sync push``, the same
  command without loading the project's apps, ``--jobs N``;
* ``aws s3 sync``: the AWS CLI v1, ``max_concurrent_requests = N`` (its default is 10);
* ``rclone copy`` (Debian's rclone): ``--transfers N --checkers N``; files under its
  200 MiB upload cut-off are one PUT each, so at most N uploads are in flight.

``--jobs N`` of mediahub is the number of requests in flight, multipart parts included.
"First push" empties each side's prefix (untimed) before every run; "no change" runs
again on the same folder. A last mediahub row runs without its state file (a fresh
machine: small files are hashed, large ones asked about with one HEAD each).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import (
    ROOT,
    LoggedMotoServer,
    Side,
    compare,
    counting_requests,
    fill,
    fmt_requests,
    fmt_time,
    setup_django,
    table,
    write_results,
)

AWS_FREE_ENV = ("AWS_CA_BUNDLE", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "DJANGO_SETTINGS_MODULE")


def find_awscli() -> str:
    """The ``aws`` command (PATH first, else installed into this virtualenv)."""
    found = shutil.which("aws")
    if found:
        return found
    aws = Path(sys.executable).with_name("aws")
    if not aws.exists():
        print(f"Installing the AWS CLI into {sys.prefix}...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "awscli"], check=True)
    return str(aws)


def make_files(root: Path, count: int, size: int) -> None:
    root.mkdir(parents=True)
    for index in range(count):
        folder = root / f"d{index % 10}"
        folder.mkdir(exist_ok=True)
        (folder / f"file-{index:05d}.bin").write_bytes(os.urandom(size))


def base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in AWS_FREE_ENV}


def sides_for(args, layout, source: Path, work: Path, aws: str, tag: str, clear) -> list[Side]:
    """The four commands pushing ``source`` (each into its own prefix of the private bucket)."""
    bucket = layout.private_bucket
    jobs = str(args.jobs)
    mediahub_env = dict(
        base_env(),
        DJANGO_SETTINGS_MODULE="example_project.settings",
        DEFAULT_STORAGE_DSN=layout.public_dsn,
        PRIVATE_STORAGE_DSN=layout.private_dsn,
        MEDIAHUB_DEMO_VAR=str(work / "var"),
    )
    aws_config = work / "aws-config"
    aws_config.write_text(f"[default]\ns3 =\n  max_concurrent_requests = {args.jobs}\n")
    aws_env = dict(
        base_env(),
        AWS_ACCESS_KEY_ID=layout.access_key,
        AWS_SECRET_ACCESS_KEY=layout.secret_key,
        AWS_DEFAULT_REGION=layout.region,
        AWS_CONFIG_FILE=str(aws_config),
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    rclone_env = dict(
        base_env(),
        RCLONE_CONFIG=os.devnull,
        RCLONE_CONFIG_MOTO_TYPE="s3",
        RCLONE_CONFIG_MOTO_PROVIDER="Other",
        RCLONE_CONFIG_MOTO_ACCESS_KEY_ID=layout.access_key,
        RCLONE_CONFIG_MOTO_SECRET_ACCESS_KEY=layout.secret_key,
        RCLONE_CONFIG_MOTO_REGION=layout.region,
        RCLONE_CONFIG_MOTO_ENDPOINT=layout.endpoint,
        RCLONE_CONFIG_MOTO_FORCE_PATH_STYLE="true",
    )
    mediahub_args = ["push", str(source), "--storage", "private", "--jobs", jobs, "--noinput"]
    manage = [sys.executable, "manage.py", "mediahub_sync", *mediahub_args]
    lean = [sys.executable, "-m", "mediahub.operations.sync", *mediahub_args]
    parallel = f"{args.jobs} concurrent requests"
    return [
        Side(
            "mediahub_sync (manage.py)",
            [*manage, "--prefix", f"mh-manage-{tag}/"],
            parallelism=f"--jobs {jobs}: {parallel}",
            env=dict(mediahub_env, XDG_CACHE_HOME=str(work / "cache-manage")),
            cwd=str(ROOT),
            before=clear and (lambda: clear(f"mh-manage-{tag}/")),
        ),
        Side(
            "mediahub_sync (lean)",
            [*lean, "--prefix", f"mh-lean-{tag}/"],
            parallelism=f"--jobs {jobs}: {parallel}",
            env=dict(mediahub_env, XDG_CACHE_HOME=str(work / "cache-lean")),
            cwd=str(ROOT),
            before=clear and (lambda: clear(f"mh-lean-{tag}/")),
        ),
        Side(
            "aws s3 sync",
            [aws, "s3", "sync", str(source), f"s3://{bucket}/aws-{tag}/"]
            + ["--endpoint-url", layout.endpoint, "--only-show-errors"],
            parallelism=f"max_concurrent_requests {jobs}: {parallel}",
            env=aws_env,
            before=clear and (lambda: clear(f"aws-{tag}/")),
        ),
        Side(
            "rclone copy",
            ["rclone", "copy", str(source), f"moto:{bucket}/rclone-{tag}/"]
            + ["--transfers", jobs, "--checkers", jobs],
            parallelism=f"--transfers {jobs} --checkers {jobs}",
            env=rclone_env,
            before=clear and (lambda: clear(f"rclone-{tag}/")),
        ),
    ]


def sync_rows(label: str, push: str, timings) -> list[list[str]]:
    others = [t for t in timings if t.name in ("aws s3 sync", "rclone copy")]
    fastest = min(others, key=lambda t: t.best)
    rows = []
    for timing in timings:
        rows.append(
            [
                label,
                push,
                timing.name,
                timing.side.parallelism,
                fmt_time(timing.best),
                fmt_time(timing.median),
                fmt_requests(timing.requests),
                f"{timing.best / fastest.best:.2f} ({fastest.name})",
            ]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000, help="number of small files")
    parser.add_argument("--small-kb", type=int, default=4, help="size of a small file, KiB")
    parser.add_argument("--large", type=int, default=20, help="number of large files")
    parser.add_argument("--large-mb", type=int, default=20, help="size of a large file, MiB")
    parser.add_argument("--rounds", type=int, default=5, help="timed runs of each side")
    parser.add_argument("--jobs", type=int, default=10, help="concurrent requests of each side")
    parser.add_argument("--audit", type=int, default=10000, help="objects to audit (0: skip)")
    args = parser.parse_args()

    setup_django()
    from mediahub.testing.s3server import create_layout

    aws = find_awscli()
    work = Path(tempfile.mkdtemp(prefix="mediahub-bench-"))
    sets = [
        (f"{args.small:,} × {args.small_kb} KiB", "small", args.small, args.small_kb * 1024),
        (f"{args.large} × {args.large_mb} MiB", "large", args.large, args.large_mb * 1024**2),
    ]
    rows: list[list[str]] = []
    audit_rows: list[list[str]] = []
    try:
        for _label, tag, count, size in sets:
            make_files(work / tag, count, size)
        with LoggedMotoServer() as server:
            layout = create_layout(server.endpoint, "bench-public", "bench-private")
            s3 = layout.client()

            def clear(prefix: str) -> None:
                listed = s3.list_objects_v2(Bucket=layout.private_bucket, Prefix=prefix)
                keys = [{"Key": item["Key"]} for item in listed.get("Contents", ())]
                if keys:
                    s3.delete_objects(Bucket=layout.private_bucket, Delete={"Objects": keys})

            for label, tag, _count, _size in sets:
                source = work / tag
                print(f"# {label}: first push", file=sys.stderr, flush=True)
                first = compare(
                    sides_for(args, layout, source, work, aws, tag, clear),
                    rounds=args.rounds,
                    server=server,
                )
                rows += sync_rows(label, "first push", first)
                print(f"# {label}: no change", file=sys.stderr, flush=True)
                again = sides_for(args, layout, source, work, aws, tag, None)
                cold_state = work / "cache-cold"
                cold = Side(
                    "mediahub_sync (lean, no state file)",
                    again[1].run,
                    parallelism=again[1].parallelism,
                    env=dict(again[1].env, XDG_CACHE_HOME=str(cold_state)),
                    cwd=again[1].cwd,
                    before=lambda cold_state=cold_state: shutil.rmtree(
                        cold_state, ignore_errors=True
                    ),
                )
                rows += sync_rows(
                    label,
                    "no change",
                    compare([*again, cold], rounds=args.rounds, server=server),
                )
            if args.audit:
                audit_rows = run_audit(server, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    text = (
        f"Push of a local folder into the private bucket, moto server on 127.0.0.1; each side "
        f"a whole process timed from outside, best and median of {args.rounds} interleaved "
        "runs; S3 requests from the server's log (one run).\n\n"
        + table(
            [
                "files",
                "push",
                "command",
                "parallelism",
                "best",
                "median",
                "S3 requests",
                "time / fastest of aws, rclone",
            ],
            rows,
        )
    )
    if audit_rows:
        text += (
            f"\n\n`mediahub_audit` of the private storage (in-process, --jobs {args.jobs}; "
            "requests from botocore)\n\n"
            + table(["objects", "time", "S3 requests", "rate"], audit_rows)
        )
    write_results("sync", text)


def run_audit(server, args) -> list[list[str]]:
    """mediahub_audit of ``--audit`` private objects, ACLs enabled and disabled."""
    from django.test import override_settings

    from mediahub import dsn
    from mediahub.operations.audit import audit
    from mediahub.operations.objects import iter_objects
    from mediahub.storage import get_storage
    from mediahub.testing.s3server import create_layout

    # Its own clean buckets (moto serves multipart uploads sent without an ACL to
    # anyone, which the audit would rightly report).
    layout = create_layout(server.endpoint, "audit-public", "audit-private")
    storages = {
        "default": dsn.parse(layout.public_dsn),
        "private": dsn.parse(layout.private_dsn, visibility="private"),
        "easy_thumbnails": dsn.parse(layout.public_dsn),
    }
    rows = []
    with override_settings(STORAGES=storages):
        private = get_storage("private")
        client = layout.client()
        fill(client, layout.private_bucket, [f"audit/{i:06d}.pdf" for i in range(args.audit)])
        total = sum(1 for _ in iter_objects(private, "audit/"))
        for mode in ("ACLs enabled", "ACLs disabled (bucket owner enforced)"):
            if mode.startswith("ACLs disabled"):
                client.put_bucket_ownership_controls(
                    Bucket=layout.private_bucket,
                    OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                )
            with counting_requests() as requests:
                start = time.perf_counter()
                report = audit("private", jobs=args.jobs)
                elapsed = time.perf_counter() - start
            assert not report.exposed, report.exposed
            rows.append(
                [
                    f"{total:,} private objects, {mode}",
                    fmt_time(elapsed),
                    fmt_requests(requests),
                    f"{total / elapsed:,.0f} objects/s",
                ]
            )
            print(f"# audit {rows[-1]}", file=sys.stderr, flush=True)
    return rows


if __name__ == "__main__":
    main()
