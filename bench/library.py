"""Admin media library: cost of one folder page on folders of 100 / 10,000 / 100,000 objects.

For each folder size it renders the library's browse page (the real admin view,
through Django's test client, page size 100) for the first page and for a page
in the middle of the folder (reached by its continuation token), and counts the
S3 requests each page makes (botocore hooks). For comparison it builds the same
page the way listdir-based file browsers do: ``storage.listdir(folder)`` (every
key of the folder) and ``size()`` + ``get_modified_time()`` for each file shown.

Goals: exactly 1 ListObjectsV2 and 0 per-file requests per page; page time on
100,000 objects at most 1.5 x the time on 100.

    .venv/bin/python bench/library.py                  # moto's server, in-process
    scripts/s3-rgw run -- .venv/bin/python bench/library.py   # a real S3 (Ceph RGW)

moto's ListObjectsV2 scans and sorts every key of the bucket on each call (real
S3 and RGW read a sorted index), so against moto the table also gives the page
time *without* the time spent waiting for S3 ("app time"), which is what the
library controls. With ``MEDIAHUB_TEST_S3_ENDPOINT`` set (as ``scripts/s3-rgw
run`` does) the objects are created with parallel PUTs on that endpoint instead.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

PAGE_SIZE = 100
PUBLIC_BUCKET = "bench-library-public"
PRIVATE_BUCKET = "bench-library-private"


class S3Meter:
    """Counts botocore operations and the time spent in them."""

    def __init__(self) -> None:
        self.ops: dict[str, int] = {}
        self.seconds = 0.0

    def __enter__(self) -> S3Meter:
        from botocore.client import BaseClient

        self._original = original = BaseClient._make_api_call
        meter = self

        def measured(client, operation, params):
            meter.ops[operation] = meter.ops.get(operation, 0) + 1
            start = time.perf_counter()
            try:
                return original(client, operation, params)
            finally:
                meter.seconds += time.perf_counter() - start

        BaseClient._make_api_call = measured
        return self

    def __exit__(self, *exc_info) -> None:
        from botocore.client import BaseClient

        BaseClient._make_api_call = self._original


def key_of(size: int, index: int) -> str:
    return f"n{size}/photo-{index:06}.jpg"


class Endpoint:
    """moto's server in this process (bulk-created through its backend), or an external S3."""

    def __init__(self) -> None:
        from mediahub.testing.s3server import ACCESS_KEY, REGION, SECRET_KEY, free_port

        self.external = os.environ.get("MEDIAHUB_TEST_S3_ENDPOINT")
        if self.external:
            self.url = self.external
            self.kind = os.environ.get("MEDIAHUB_TEST_S3", "s3")
            self.access_key = os.environ["MEDIAHUB_TEST_S3_ACCESS_KEY"]
            self.secret_key = os.environ["MEDIAHUB_TEST_S3_SECRET_KEY"]
            self.region = os.environ.get("MEDIAHUB_TEST_S3_REGION", REGION)
            self.server = None
            return
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer

        os.environ.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "false")
        port = free_port()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.server.start()
        self.url, self.kind = f"http://127.0.0.1:{port}", "moto"
        self.access_key, self.secret_key, self.region = ACCESS_KEY, SECRET_KEY, REGION

    def fill(self, layout, size: int) -> float:
        """Create ``size`` objects in folder ``n<size>/``; returns the seconds it took."""
        start = time.perf_counter()
        client = layout.client()
        existing = client.list_objects_v2(
            Bucket=PUBLIC_BUCKET, Prefix=key_of(size, size - 1), MaxKeys=1
        ).get("KeyCount", 0)
        if existing:  # an external endpoint kept from an earlier run
            return 0.0
        if self.server is not None:
            from moto.core import DEFAULT_ACCOUNT_ID
            from moto.s3.models import s3_backends

            backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
            for index in range(size):
                backend.put_object(PUBLIC_BUCKET, key_of(size, index), b"x" * (index % 512))
        else:
            import boto3
            from botocore.config import Config

            pooled = boto3.client(
                "s3",
                endpoint_url=self.url,
                aws_access_key_id=self.access_key,
                aws_secret_access_key=self.secret_key,
                region_name=self.region,
                config=Config(
                    max_pool_connections=64,
                    signature_version="s3v4",
                    s3={"addressing_style": "path"},
                ),
            )

            def put(index: int) -> None:
                pooled.put_object(
                    Bucket=PUBLIC_BUCKET, Key=key_of(size, index), Body=b"x" * (index % 512)
                )

            with ThreadPoolExecutor(48) as pool:
                list(pool.map(put, range(size)))
        return time.perf_counter() - start

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def measure_rounds(cases, rounds: int) -> dict[tuple[int, str], tuple[float, float, dict, float]]:
    """Time every case once per round (interleaved, so machine noise hits all alike).

    Returns, per ``(size, label)``, the best wall time, the best time outside S3,
    one run's S3 operations and the median wall time. Best of N, as ``timeit``
    reports: on a shared machine the minimum is the stable figure.
    """
    for _size, _label, fn in cases:
        fn()  # warm-up: connections, templates, caches
    walls: dict = {}
    apps: dict = {}
    ops: dict = {}
    for _round in range(rounds):
        for size, label, fn in cases:
            gc.collect()
            gc.disable()
            try:
                with S3Meter() as meter:
                    start = time.perf_counter()
                    fn()
                    wall = time.perf_counter() - start
            finally:
                gc.enable()
            walls.setdefault((size, label), []).append(wall)
            apps.setdefault((size, label), []).append(wall - meter.seconds)
            ops[size, label] = meter.ops
    result = {}
    for key, values in walls.items():
        print(
            f"# {key[0]:>7} {key[1]:<6} median {statistics.median(values) * 1000:7.1f} ms, "
            f"app {statistics.median(apps[key]) * 1000:7.1f} ms",
            file=sys.stderr,
        )
        result[key] = (min(values), min(apps[key]), ops[key], statistics.median(values))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,10000,100000")
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument(
        "--listdir-max",
        type=int,
        default=10_000,
        help="largest folder for the listdir baseline (its listing takes minutes on moto "
        "beyond that: moto scans the whole bucket for each of its 1,000-key pages)",
    )
    args = parser.parse_args()
    sizes = [int(value) for value in args.sizes.split(",")]

    import logging

    import django

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    django.setup()
    from django.core.management import call_command
    from django.test import Client, override_settings
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    from mediahub import dsn
    from mediahub.storage import get_storage
    from mediahub.testing.s3server import create_layout

    setup_test_environment()
    endpoint = Endpoint()
    try:
        layout = create_layout(
            endpoint.url,
            PUBLIC_BUCKET,
            PRIVATE_BUCKET,
            access_key=endpoint.access_key,
            secret_key=endpoint.secret_key,
            region=endpoint.region,
        )
        for size in sizes:
            took = endpoint.fill(layout, size)
            print(f"# {size:>7} objects in n{size}/ ready ({took:.1f} s)", file=sys.stderr)
        public = dsn.parse(layout.public_dsn)
        storages = {
            "default": public,
            "private": dsn.parse(layout.private_dsn, visibility="private"),
            "easy_thumbnails": public,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
        with override_settings(STORAGES=storages, MEDIAHUB={"PAGE_SIZE": PAGE_SIZE}):
            call_command("migrate", verbosity=0)
            from django.contrib.auth import get_user_model

            user = get_user_model().objects.create_superuser("bench", "b@example.com", "pw")
            client = Client()
            client.force_login(user)
            browse = reverse("admin:mediahub_browse", kwargs={"storage": "public"})
            s3 = layout.client()

            def page(url: str) -> None:
                response = client.get(url)
                assert response.status_code == 200, response.status_code
                assert b'class="mediahub-file-link"' in response.content

            cases = []  # (size, label, function)
            for size in sizes:
                folder = f"n{size}/"
                # The middle of the folder; for the smallest folder, a page that
                # starts after its first entries (its only other full page).
                middle_key = key_of(size, max(0, min(size // 2, size - PAGE_SIZE - 2)))
                token = s3.list_objects_v2(
                    Bucket=PUBLIC_BUCKET,
                    Prefix=folder,
                    Delimiter="/",
                    StartAfter=middle_key,
                    MaxKeys=1,
                )["NextContinuationToken"]
                for label, query in (
                    ("first", {"path": folder}),
                    ("middle", {"path": folder, "cursor": token, "page": 2}),
                ):
                    url = f"{browse}?{urlencode(query)}"
                    cases.append((size, label, lambda url=url: page(url)))
            results = measure_rounds(cases, args.repeat)
            rows = [("library", size, label, *results[size, label]) for size, label, _f in cases]
            storage = get_storage("public")
            for size in sizes:
                if size > args.listdir_max:
                    continue
                folder = f"n{size}/"

                def listdir_page(folder: str = folder) -> None:
                    _dirs, files = storage.listdir(folder)
                    for name in sorted(files)[:PAGE_SIZE]:
                        storage.size(folder + name)
                        storage.get_modified_time(folder + name)

                runs = 3 if size < 10_000 else 1
                wall, app, ops, median = measure_rounds([(size, "first", listdir_page)], runs)[
                    size, "first"
                ]
                rows.append(("listdir", size, "first", wall, app, ops, median))
        report(rows, endpoint.kind, args.repeat)
    finally:
        endpoint.stop()
    return 0


def report(rows, kind: str, repeat: int) -> None:
    from _common import write_results

    base = {
        (method, label): (wall, app)
        for method, size, label, wall, app, _ops, _median in rows
        if size == min(r[1] for r in rows)
    }
    lines = [
        f"Media library page ({PAGE_SIZE} entries), S3 = {kind}, best of {repeat} "
        'interleaved (listdir: best of 3, 1 run from 10,000 objects); "vs 100" columns '
        "are ratios to the 100-object folder, the others absolute times on this machine",
        "",
        "| method | objects in folder | page | S3 requests per page | page time (best) | "
        "median | vs 100 | app time (without S3 wait) | vs 100 |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for method, size, label, wall, app, ops, median in rows:
        requests = ", ".join(f"{count} {op}" for op, count in sorted(ops.items()))
        base_wall, base_app = base.get((method, label), (wall, app))
        lines.append(
            f"| {method} | {size:,} | {label} | {requests} | {wall * 1000:,.1f} ms | "
            f"{median * 1000:,.1f} ms | {wall / base_wall:.2f} | {app * 1000:,.1f} ms | "
            f"{app / base_app:.2f} |"
        )
    write_results(f"library{'' if kind == 'moto' else '_' + kind}", "\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
