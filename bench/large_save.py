"""``storage.save()`` of a large file vs boto3's ``upload_file``: two processes, same parts.

    .venv/bin/python bench/large_save.py [--size-mib 1024] [--rounds 3] [--part-mib 8]
                                         [--concurrency 10]

One moto server on 127.0.0.1 over HTTP. Each side is a small script run as a whole
process and timed from outside (interpreter start-up and imports included), interleaved,
best and median of ``--rounds`` after one untimed warm-up each:

* ``mediahub storage.save()``: a ``PrivateS3Storage`` built from a DSN as a site would
  (``parallel_parts=N``, conditional writes probed: ``auto``), saving the file as a
  Django ``File``: the create-if-absent multipart upload (``If-None-Match: *`` on the
  completion and the HEAD before it), parts read one after another and sent by N threads;
* ``boto3 upload_file``: s3transfer with ``TransferConfig(multipart_chunksize=P,
  max_concurrency=N)``: the same part size and the same N requests in flight, no
  conditional write (it cannot send one).

Each run writes a new key; the bucket is emptied (untimed) before every run so the
server holds one copy at a time. The table also gives each side's peak RSS (the largest
``ru_maxrss`` of its runs): mediahub holds at most N + 2 parts in memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import uuid
from pathlib import Path

MiB = 1024**2
HERE = Path(__file__).resolve()


# -- the two child processes ---------------------------------------------------------------
def child(args: argparse.Namespace) -> None:
    key = f"{args.side}/{uuid.uuid4().hex}.bin"
    if args.side == "mediahub":
        sys.path.insert(0, str(HERE.parent.parent))
        from django.conf import settings

        settings.configure(MEDIAHUB={}, USE_TZ=True)
        from django.core.files import File

        from mediahub import dsn
        from mediahub.storage.s3 import PrivateS3Storage

        options = dsn.parse(args.dsn, visibility="private")["OPTIONS"]
        storage = PrivateS3Storage(**options, parallel_parts=args.concurrency)
        storage.transfer_config.multipart_chunksize = args.part_mib * MiB
        with open(args.file, "rb") as handle:
            saved = storage.save(key, File(handle, name=os.path.basename(args.file)))
        assert saved == key, saved
    else:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=args.endpoint,
            aws_access_key_id=args.access_key,
            aws_secret_access_key=args.secret_key,
            region_name="us-east-1",
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )
        config = TransferConfig(
            multipart_threshold=args.part_mib * MiB,
            multipart_chunksize=args.part_mib * MiB,
            max_concurrency=args.concurrency,
        )
        client.upload_file(args.file, args.bucket, key, Config=config)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    if args.rss_out:
        with open(args.rss_out, "a", encoding="utf-8") as out:
            out.write(json.dumps({"side": args.side, "rss": peak}) + "\n")


# -- the comparison ------------------------------------------------------------------------
def main(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(HERE.parent))
    from _common import LoggedMotoServer, Side, compare, fmt_time, results_table, write_results

    from mediahub.testing.s3server import ACCESS_KEY, SECRET_KEY, create_layout

    workdir = Path(tempfile.mkdtemp(prefix="mediahub-bench-"))
    source = workdir / "large.bin"
    with open(source, "wb") as handle:
        block = os.urandom(MiB)
        for index in range(args.size_mib):
            handle.write(block[index % 256 :] + block[: index % 256])
    rss_file = workdir / "rss.jsonl"
    server = LoggedMotoServer().start()
    try:
        layout = create_layout(server.endpoint, "bench-public", "bench-private")
        client = layout.client()

        def empty() -> None:
            paginator = client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=layout.private_bucket):
                keys = [{"Key": item["Key"]} for item in page.get("Contents", ())]
                if keys:
                    client.delete_objects(Bucket=layout.private_bucket, Delete={"Objects": keys})

        common = [
            sys.executable,
            str(HERE),
            "--file",
            str(source),
            "--part-mib",
            str(args.part_mib),
            "--concurrency",
            str(args.concurrency),
            "--rss-out",
            str(rss_file),
        ]
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        parallel = f"{args.concurrency} parts in flight, {args.part_mib} MiB parts"
        sides = [
            Side(
                "mediahub storage.save()",
                [*common, "--child", "mediahub", "--dsn", layout.private_dsn],
                parallelism=parallel,
                env=env,
                before=empty,
            ),
            Side(
                "boto3 upload_file",
                [
                    *common,
                    "--child",
                    "boto3",
                    "--endpoint",
                    server.endpoint,
                    "--bucket",
                    layout.private_bucket,
                    "--access-key",
                    ACCESS_KEY,
                    "--secret-key",
                    SECRET_KEY,
                ],
                parallelism=parallel,
                env=env,
                before=empty,
            ),
        ]
        timings = compare(sides, rounds=args.rounds, warmup=1, server=server)
        empty()
    finally:
        server.stop()
    peaks: dict[str, int] = {}
    for line in rss_file.read_text().splitlines():
        record = json.loads(line)
        peaks[record["side"]] = max(peaks.get(record["side"], 0), record["rss"])
    for path in workdir.iterdir():
        path.unlink()
    workdir.rmdir()
    ratio = timings[1].best / timings[0].best
    markdown = (
        f"## Large save: {args.size_mib:,} MiB, process vs process\n\n"
        f"moto server over HTTP on 127.0.0.1; each side a whole process timed from outside, "
        f"interleaved, best and median of {args.rounds} after one warm-up; "
        "requests from the server's log (HTTP methods).\n\n"
        + results_table(timings)
        + "\n\n"
        + "| side | peak RSS |\n|------|----------|\n"
        + f"| mediahub storage.save() | {peaks.get('mediahub', 0) / MiB:.0f} MiB |\n"
        + f"| boto3 upload_file | {peaks.get('boto3', 0) / MiB:.0f} MiB |\n\n"
        + f"mediahub's speed relative to boto3 (boto3's best / mediahub's best): "
        f"**{ratio:.2f}x** (goal: at least 1.0x). mediahub's save is create-if-absent "
        "(412 when the name exists) and boto3's is not.\n"
    )
    print(f"# ratio {ratio:.2f} ({fmt_time(timings[0].best)} vs {fmt_time(timings[1].best)})")
    write_results("large_save", markdown)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--part-mib", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--child", choices=["mediahub", "boto3"], help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--bucket", help=argparse.SUPPRESS)
    parser.add_argument("--access-key", help=argparse.SUPPRESS)
    parser.add_argument("--secret-key", help=argparse.SUPPRESS)
    parser.add_argument("--rss-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.side = args.child
    return args


if __name__ == "__main__":
    arguments = parse(sys.argv[1:])
    if arguments.child:
        child(arguments)
    else:
        main(arguments)
