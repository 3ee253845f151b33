"""django-filer admin folder listing of 1,000 files: mediahub's configuration vs filer's defaults.

    .venv/bin/python bench/filer_listing.py [--files 1000] [--images 100]

One moto server on 127.0.0.1 (over HTTP), two bucket pairs on it. filer reads its
storages once, at import, so each configuration runs in its own process:

* ``mediahub``: ``FILER_STORAGES = filer_storages()``, ``FILER_SERVERS = filer_servers()``;
* ``filer defaults on S3``: filer's documented set-up with django-storages'
  ``S3Storage`` for all four storages (public bucket, private bucket; private
  thumbnails under ``filer_private_thumbnails/``), everything else at its default.

Each loads the same folder (half public, half private; ``--images`` of the files
are PNGs with their two admin thumbnails generated), then fetches the folder's
admin listing (first page, filer's table view) as a superuser, counting S3
requests (botocore hooks) and DB queries, and timing it (best of 3).
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

from _common import counting_requests, table, timed

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
    seconds = timed(listing)
    return {
        "s3": requests_made.total,
        "s3_ops": dict(requests_made),
        "queries": len(queries),
        "ms": seconds * 1000,
        "presigned": len(re.findall(r"[?&](?:amp;)?(?:X-Amz-)?Signature=", body)),
        "sigv2": body.count("AWSAccessKeyId="),
        "checked": body.count("/smedia/filer_private"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        config, endpoint, public, private = args.child.split(",")
        result = run_one(config, endpoint, public, private, args.files, args.images)
        print("RESULT " + json.dumps(result))
        return

    sys.path.insert(0, str(Path(BENCH).parent))
    from mediahub.testing.s3server import MotoServer, create_layout

    results = {}
    with MotoServer() as server:
        for config in CONFIGS:
            layout = create_layout(server.endpoint, f"bench-{config}-pub", f"bench-{config}-prv")
            child = ",".join([config, server.endpoint, layout.public_bucket, layout.private_bucket])
            out = subprocess.run(
                [sys.executable, __file__, "--child", child, "--files", str(args.files)]
                + ["--images", str(args.images)],
                capture_output=True,
                text=True,
                cwd=str(Path(BENCH).parent),
            )
            if out.returncode:
                sys.exit(f"{config} run failed:\n{out.stderr[-3000:]}")
            out = out.stdout
            results[config] = json.loads(out.rsplit("RESULT ", 1)[1])
    ours, theirs = results["mediahub"], results["filer"]
    print(
        f"filer admin listing of one folder of {args.files:,} files ({args.images} images with "
        "thumbnails, half private), first page; moto server over HTTP on 127.0.0.1\n"
    )
    rows = [
        [
            CONFIGS[config],
            r["s3"],
            r["queries"],
            f"{r['ms']:.0f} ms",
            f"{r['presigned']} ({r['sigv2']} SigV2)",
            r["checked"],
        ]
        for config, r in results.items()
    ]
    headers = ["configuration", "S3 requests", "DB queries", "time (best of 3)"]
    headers += ["presigned URLs in page", "private links via permission check"]
    print(table(headers, rows))
    print(f"\ntime ratio (filer defaults / mediahub): {theirs['ms'] / ours['ms']:.2f}")


if __name__ == "__main__":
    main()
