"""Thumbnails: a cached page of 100 images, and pre-generating 200 with --jobs 1 vs 2.

    .venv/bin/python bench/thumbnails.py [--page 100] [--generate 200]

Against moto's server on 127.0.0.1 over HTTP, SQLite in memory. The page renders
``<img src width height>`` for each image whose thumbnail already exists:

* mediahub, ``{% media_thumbnail entry size="64x64" as t %}`` per image, and
  ``thumbnails(entries, size="64x64")`` once for the page (the admin library's way);
* easy-thumbnails' plain ``{% thumbnail name 64x64 as t %}`` with its default
  settings (``THUMBNAIL_CACHE_DIMENSIONS = False``), and with dimensions cached.

Generation runs ``manage.py mediahub_thumbnails --alias admin`` on fresh buckets
holding 1024x768 JPEGs.
"""

from __future__ import annotations

import argparse
import io
import time

from _common import counting_requests, setup_django, table

MEDIAHUB_TEMPLATE = (
    "{% load mediahub %}{% for e in entries %}"
    '{% media_thumbnail e size="64x64" as t %}'
    '<img src="{{ t }}" width="{{ t.width }}" height="{{ t.height }}">{% endfor %}'
)
BATCH_TEMPLATE = (
    '{% for t in thumbs %}<img src="{{ t }}" width="{{ t.width }}" height="{{ t.height }}">'
    "{% endfor %}"
)
EASY_TEMPLATE = (
    "{% load thumbnail %}{% for n in names %}{% thumbnail n 64x64 as t %}"
    '<img src="{{ t.url }}" width="{{ t.width }}" height="{{ t.height }}">{% endfor %}'
)


def jpeg(width: int, height: int, seed: int) -> bytes:
    from PIL import Image

    image = Image.new("RGB", (width, height), (seed * 37 % 256, seed * 91 % 256, 120))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def storages_for(layout) -> dict:
    from mediahub import dsn

    return {
        "default": dsn.parse(layout.public_dsn),
        "private": dsn.parse(layout.private_dsn, visibility="private"),
        "easy_thumbnails": dsn.parse(layout.public_dsn),
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def fill(layout, count: int, size: tuple[int, int], prefix: str) -> list[str]:
    from concurrent.futures import ThreadPoolExecutor

    client = layout.client()
    names = [f"{prefix}{index:04d}.jpg" for index in range(count)]
    body = jpeg(*size, seed=7)

    def put(name):
        client.put_object(Bucket=layout.public_bucket, Key=name, Body=body)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, names))
    return names


def measure(render) -> tuple[int, int, float]:
    """S3 requests, database queries and milliseconds of one ``render()``."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with counting_requests() as requests, CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        html = render()
        elapsed = (time.perf_counter() - start) * 1000
    assert html.count("<img") > 0
    return requests.total, len(queries), elapsed


def page_benchmark(server, count: int) -> list[list]:
    from django.core.files.storage import storages
    from django.core.management import call_command
    from django.template import Context, Template
    from django.test import Client, override_settings
    from easy_thumbnails import storage as easy_storage

    from mediahub.storage import get_storage
    from mediahub.testing.s3server import create_layout
    from mediahub.thumbnails import thumbnails

    layout = create_layout(server.endpoint, "bench-thumbs-page-pub", "bench-thumbs-page-prv")
    rows = []
    with override_settings(STORAGES=storages_for(layout), THUMBNAIL_CACHE_DIMENSIONS=False):
        storages._storages = {}
        # easy-thumbnails computes its storage at import; a process started with these
        # settings would have this one.
        easy_storage.thumbnail_default_storage = storages["easy_thumbnails"]
        names = fill(layout, count, (640, 480), "page/")
        entries = get_storage("public").list_folder("page/", page_size=1000).files
        assert len(entries) == count

        # Generate mediahub's thumbnails through the endpoint, as browsers would.
        client = Client()
        for thumb in thumbnails(entries, size="64x64"):
            assert client.get(thumb.url).status_code == 302
        tag = Template(MEDIAHUB_TEMPLATE)
        batch = Template(BATCH_TEMPLATE)
        easy = Template(EASY_TEMPLATE)
        easy.render(Context({"names": names}))  # generates easy-thumbnails' own

        def mediahub_tag():
            html = tag.render(Context({"entries": entries}))
            assert "/media-links/t/" not in html and 'width="64"' in html
            return html

        def mediahub_batch():
            thumbs = thumbnails(entries, size="64x64")
            return batch.render(Context({"thumbs": thumbs}))

        def easy_default():
            return easy.render(Context({"names": names}))

        for label, render in (
            ("mediahub `{% media_thumbnail %}`", mediahub_tag),
            ("mediahub `thumbnails()` (one call per page)", mediahub_batch),
            ("easy-thumbnails `{% thumbnail %}`, default settings", easy_default),
        ):
            render()
            requests, queries, elapsed = measure(render)
            rows.append([label, requests, queries, f"{elapsed:.0f}"])
        with override_settings(THUMBNAIL_CACHE_DIMENSIONS=True):
            easy_default()  # fills the dimensions cache
            requests, queries, elapsed = measure(easy_default)
            rows.append(
                [
                    "easy-thumbnails `{% thumbnail %}`, THUMBNAIL_CACHE_DIMENSIONS",
                    requests,
                    queries,
                    f"{elapsed:.0f}",
                ]
            )
        call_command("flush", verbosity=0, interactive=False)
    return rows


def generation_benchmark(server, count: int) -> list[list]:
    from io import StringIO

    from django.core.files.storage import storages
    from django.core.management import call_command
    from django.test import override_settings

    from mediahub.testing.s3server import create_layout

    rows = []
    base = None
    for jobs in (1, 2):
        layout = create_layout(
            server.endpoint, f"bench-thumbs-gen{jobs}-pub", f"bench-thumbs-gen{jobs}-prv"
        )
        with override_settings(STORAGES=storages_for(layout)):
            storages._storages = {}
            fill(layout, count, (1024, 768), "gen/")
            out = StringIO()
            with counting_requests() as requests:
                start = time.perf_counter()
                call_command(
                    "mediahub_thumbnails", "--alias", "admin", "--jobs", str(jobs), stdout=out
                )
                elapsed = time.perf_counter() - start
            assert f"{count} thumbnails generated" in out.getvalue(), out.getvalue()
            base = base or elapsed
            rows.append(
                [
                    f"--jobs {jobs}",
                    count,
                    f"{elapsed:.2f}",
                    f"{count / elapsed:.0f}",
                    f"{base / elapsed:.2f}x",
                    requests.total,
                ]
            )
            call_command("flush", verbosity=0, interactive=False)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page", type=int, default=100, help="images on the cached page")
    parser.add_argument("--generate", type=int, default=200, help="thumbnails to generate")
    args = parser.parse_args()
    setup_django()

    from django.core.management import call_command

    from mediahub.testing.s3server import MotoServer

    call_command("migrate", verbosity=0)
    with MotoServer() as server:
        page = page_benchmark(server, args.page)
        generation = generation_benchmark(server, args.generate)
    print(
        f"A page of {args.page} images whose 64x64 thumbnails exist (one render after a warm-up):\n"
    )
    print(table(["renderer", "S3 requests", "DB queries", "ms"], page))
    print(f"\nGenerating {args.generate} thumbnails (alias 'admin', 1024x768 JPEG sources):\n")
    print(
        table(
            [
                "mediahub_thumbnails",
                "thumbnails",
                "seconds",
                "per second",
                "speed-up",
                "S3 requests",
            ],
            generation,
        )
    )


if __name__ == "__main__":
    main()
