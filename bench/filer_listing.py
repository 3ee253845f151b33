"""django-filer admin folder listing of 1,000 files: mediahub's configuration vs filer's defaults.

    .venv/bin/python bench/filer_listing.py [--files 1000] [--images 100]

One moto server on 127.0.0.1 (over HTTP), two bucket pairs on it. filer reads its
storages once, at import, so each configuration runs in its own process:

* ``mediahub``: ``FILER_STORAGES = filer_storages()``, ``FILER_SERVERS = filer_servers()``;
* ``filer defaults on S3``: filer's documented set-up with django-storages'
  ``S3Storage`` for all four storages (public bucket, private bucket; private
  thumbnails under ``filer_private_thumbnails/``), everything else at its default.

Each loads the same folder (half public, half private; ``--images`` of the files
are PNGs with their two admin thumbnails generated), then serves the folder's
admin listing (first page, filer's table view) as a superuser, through Django's
test client, counting S3 requests (botocore hooks) and DB queries once. Both
processes stay up and the page is fetched in each alternately (A, B, A, B, ...),
``--rounds`` times after one warm-up: the time is the page as the parent waits for
it (one line over a pipe per page, ~0.1 ms), best and median.

What it shows: mediahub's configuration presigns private files' URLs itself and
serves private thumbnails through permission-checked links, without an S3 request;
filer's defaults on S3 make no request either, so the difference is CPU per page
(URL signing, template work), a ratio close to 1, not a multiple.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from _common import Side, compare, counting_requests, fmt_time, table, write_results

# Run as a script, this file would shadow django-filer's ``filer`` package.
BENCH = str(Path(__file__).resolve().parent)
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != BENCH]

CONFIGS = {"mediahub": "mediahub", "filer": "filer defaults on S3"}
CONTRIB = "mediahub.contrib.filer"


def filer_default_storages(endpoint: str, public: str, private: str) -> dict:
    from mediahub.testing.s3server import ACCESS_KEY, REGION, SECRET_KEY

    def s3(bucket: str, **extra) -> dict:
        options = {
            "bucket_name": bucket,
            "endpoint_url": endpoint,
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
            "region_name": REGION,
            "addressing_style": "path",
            **extra,
        }
        return {"ENGINE": "storages.backends.s3.S3Storage", "OPTIONS": options}

    return {
        "public": {
            "main": s3(public, querystring_auth=False),
            "thumbnails": {
                **s3(public, querystring_auth=False),
                "THUMBNAIL_OPTIONS": {"base_dir": "filer_public_thumbnails"},
            },
        },
        "private": {
            "main": s3(private),
            "thumbnails": {**s3(private, location="filer_private_thumbnails")},
        },
    }


def configure(config: str, endpoint: str, public: str, private: str) -> None:
    """Django settings for one configuration (before filer.settings is imported)."""
    import django
    from django.conf import settings

    import tests.settings as base
    from mediahub import dsn
    from mediahub.testing.s3server import Layout

    layout = Layout(endpoint, public, private)
    overrides = {
        "STORAGES": {
            **base.STORAGES,
            "default": dsn.parse(layout.public_dsn),
            "private": dsn.parse(layout.private_dsn, visibility="private"),
            "easy_thumbnails": dsn.parse(layout.public_dsn),
        },
        "ROOT_URLCONF": __name__,
        "DEBUG": False,
    }
    values = {k: getattr(base, k) for k in dir(base) if k.isupper()}
    values.update(overrides)
    if config == "filer":
        values["FILER_STORAGES"] = filer_default_storages(endpoint, public, private)
        del values["FILER_SERVERS"]
        values["INSTALLED_APPS"] = [a for a in values["INSTALLED_APPS"] if a != CONTRIB]
    settings.configure(**values)
    django.setup()


def png(colour: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (colour % 256, 90, 160)).save(buffer, "PNG")
    return buffer.getvalue()


def run_one(config: str, endpoint: str, public: str, private: str, files: int, images: int):
    configure(config, endpoint, public, private)
    from django.contrib import admin
    from django.contrib.auth.models import User
    from django.core.files.base import ContentFile
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.urls import path
    from filer.models import File, Folder, Image

    sys.modules[__name__].urlpatterns = [path("admin/", admin.site.urls)]
    call_command("migrate", verbosity=0)
    user = User.objects.create_superuser("bench", "bench@example.com", "pw")
    folder = Folder.objects.create(name="Big folder", owner=user)
    for number in range(files):
        is_image = number < images
        name = f"{'photo' if is_image else 'doc'}-{number:04d}.{'png' if is_image else 'pdf'}"
        model = Image if is_image else File
        data = png(number) if is_image else b"%%PDF-1.4 %d\n" % number
        item = model.objects.create(
            file=ContentFile(data, name=name),
            original_filename=name,
            is_public=number % 2 == 0,
            folder=folder,
            owner=user,
        )
        if is_image:
            for size in (40, 80):
                item.file.get_thumbnail({"size": (size, size), "crop": True})

    client = Client()
    client.force_login(user)
    url = f"/admin/filer/folder/{folder.pk}/list/"
    assert client.get(url).status_code == 200  # warm templates and caches

    def listing():
        answer = client.get(url)
        assert answer.status_code == 200
        return answer

    queries = []

    def count_query(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    # (CaptureQueriesContext would miss them: each request resets the query log.)
    with counting_requests() as requests_made, connection.execute_wrapper(count_query):
        body = listing().content.decode()
    return listing, {
        "s3": requests_made.total,
        "s3_ops": dict(requests_made),
        "queries": len(queries),
        "presigned": len(re.findall(r"[?&](?:amp;)?(?:X-Amz-)?Signature=", body)),
        "sigv2": body.count("AWSAccessKeyId="),
        "checked": body.count("/smedia/filer_private"),
    }


def serve(listing, counts: dict) -> None:
    """Child loop: one page per ``run`` line on stdin, ``ok`` back; ``quit`` ends."""
    print("READY " + json.dumps(counts), flush=True)
    for line in sys.stdin:
        if line.strip() == "quit":
            return
        listing()
        print("ok", flush=True)


class Child:
    """One configuration, set up in its own process, serving pages on request."""

    def __init__(self, config: str, endpoint: str, public: str, private: str, args) -> None:
        spec = ",".join([config, endpoint, public, private])
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--child", spec, "--files", str(args.files)]
            + ["--images", str(args.images)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=str(Path(BENCH).parent),
        )
        for line in self.process.stdout:
            if line.startswith("READY "):
                self.counts = json.loads(line[6:])
                break
        else:
            sys.exit(f"{config} set-up failed (exit {self.process.wait()})")

    def page(self) -> None:
        self.process.stdin.write("run\n")
        self.process.stdin.flush()
        if self.process.stdout.readline().strip() != "ok":
            raise RuntimeError("child failed")

    def close(self) -> None:
        self.process.stdin.write("quit\n")
        self.process.stdin.close()
        self.process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        config, endpoint, public, private = args.child.split(",")
        serve(*run_one(config, endpoint, public, private, args.files, args.images))
        return

    sys.path.insert(0, str(Path(BENCH).parent))
    from mediahub.testing.s3server import MotoServer, create_layout

    children: dict[str, Child] = {}
    with MotoServer() as server:
        try:
            for config in CONFIGS:
                layout = create_layout(
                    server.endpoint, f"bench-{config}-pub", f"bench-{config}-prv"
                )
                children[config] = Child(
                    config, server.endpoint, layout.public_bucket, layout.private_bucket, args
                )
            timings = compare(
                [
                    Side(CONFIGS[config], child.page, parallelism="1 process, 1 thread")
                    for config, child in children.items()
                ],
                rounds=args.rounds,
                count=False,
            )
        finally:
            for child in children.values():
                child.close()
    ours, theirs = timings
    rows = []
    for config, timing in zip(CONFIGS, timings, strict=True):
        r = children[config].counts
        rows.append(
            [
                CONFIGS[config],
                r["s3"],
                r["queries"],
                fmt_time(timing.best),
                fmt_time(timing.median),
                f"{r['presigned']} ({r['sigv2']} SigV2)",
                r["checked"],
            ]
        )
    headers = ["configuration", "S3 requests", "DB queries", "best", "median"]
    headers += ["presigned URLs in page", "private links via permission check"]
    text = (
        f"filer admin listing of one folder of {args.files:,} files ({args.images} images "
        "with thumbnails, half private), first page, each configuration in its own process, "
        f"best and median of {args.rounds} interleaved pages; moto server on 127.0.0.1\n\n"
        + table(headers, rows)
        + f"\n\nTime ratio (filer defaults / mediahub, best of {args.rounds}): "
        f"**{theirs.best / ours.best:.2f}** (medians: {theirs.median / ours.median:.2f})."
    )
    write_results("filer_listing", text)


if __name__ == "__main__":
    main()
