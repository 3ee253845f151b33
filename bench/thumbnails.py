"""Thumbnails: generation per core against today's code, scaling with worker processes, peak
RSS, and a cached page of 100 images.

    .venv/bin/python bench/thumbnails.py [--images 200] [--rounds 5] [--page 100]

Against moto's server on 127.0.0.1 over HTTP; every generation run is a **process of its
own** (a fresh interpreter with Django set up, a fresh copy of a migrated SQLite file and
fresh buckets holding the bench's 1024x768 JPEGs), timed from inside once it is ready
(start-up excluded on both sides), making the ``admin`` alias (80x80, smart crop):

* **today's code**: ``mediahub/thumbnails/`` as of commit ``BASELINE`` (``git show`` into a
  temporary package), ``pregenerate(..., jobs=1)`` in one process, what its
  ``mediahub_thumbnails --jobs 1`` ran (one render thread beside the recording one);
* **mediahub now**: what ``mediahub_thumbnails --jobs 1`` runs now, in one process (two
  threads: one source's S3 requests overlap another's decode, decodes capped at one);
* **2 processes**: the current code in two worker processes started together (a
  barrier), each making half of the thumbnails, as two job workers would.

Runs are interleaved (today, now, 2 processes, today, ...); best and median are printed.
"Per core" is thumbnails per CPU-second of the generating process(es) (user + system,
the S3 server's own CPU not included); the scaling is wall-clock throughput.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, fmt_time, setup_django, table, write_results

#: The commit whose thumbnail code is "today's" (before the speed and memory work).
BASELINE = "f2ea720"
BASELINE_PACKAGE = "mediahub_thumbnails_baseline"
ALIAS = "admin"
MIB = 1024 * 1024


def jpeg(width: int, height: int, seed: int) -> bytes:
    from PIL import Image

    image = Image.new("RGB", (width, height), (seed * 37 % 256, seed * 91 % 256, 120))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


# -- the worker: one generation run in a process of its own ------------------------------------
def worker(args: argparse.Namespace) -> None:
    """Set up, wait at the barrier, make the thumbnails of one share, print what it took."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["DATABASE_URL"] = f"sqlite://{args.db}"
    if args.impl == "baseline":
        sys.path.insert(0, args.baseline_dir)
    setup_django()
    from django.conf import settings
    from django.core.files.storage import storages

    from mediahub import dsn

    public = dsn.parse(os.environ["BENCH_PUBLIC_DSN"])
    settings.STORAGES = {
        **settings.STORAGES,
        "default": public,
        "easy_thumbnails": public,
        "private": dsn.parse(os.environ["BENCH_PRIVATE_DSN"], visibility="private"),
    }
    storages._storages = {}
    storages._backends = None
    storages.__dict__.pop("backends", None)
    package = BASELINE_PACKAGE if args.impl == "baseline" else "mediahub.thumbnails"
    pregenerate_module = __import__(f"{package}.pregenerate", fromlist=["pregenerate"])
    storages_module = __import__(f"{package}.storages", fromlist=["resolve_target"])
    target = storages_module.resolve_target("public")
    entries = list(pregenerate_module.walk(target, "gen/"))
    index, parts = (int(value) for value in args.part.split("/"))
    entries = entries[index::parts]
    # Warm: imports and the S3 connection of both sides are made before the clock starts.
    target.source_storage.exists("gen/none")
    if args.go:
        while not os.path.exists(args.go):
            time.sleep(0.005)
    cpu, start = time.process_time(), time.time()
    # What `mediahub_thumbnails --jobs 1` runs in each version.
    if args.impl == "baseline":
        report = pregenerate_module.pregenerate(target, entries, [ALIAS], jobs=1)
    else:
        from mediahub.management.commands.mediahub_thumbnails import IO_THREADS

        report = pregenerate_module.pregenerate(target, entries, [ALIAS], jobs=IO_THREADS)
    end, cpu = time.time(), time.process_time() - cpu
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM"))
    print(
        json.dumps(
            {
                "start": start,
                "end": end,
                "cpu": cpu,
                "count": len(entries),
                "generated": report.generated,
                "failed": report.failed,
                "peak": peak,
            }
        )
    )


# -- the driver --------------------------------------------------------------------------------
def baseline_package(directory: Path) -> Path:
    """Today's ``mediahub/thumbnails/`` as an importable package of its own."""
    package = directory / BASELINE_PACKAGE
    package.mkdir(parents=True)
    listing = subprocess.run(
        ["git", "ls-tree", "--name-only", f"{BASELINE}:mediahub/thumbnails/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in listing:
        if not name.endswith(".py"):
            continue
        text = subprocess.run(
            ["git", "show", f"{BASELINE}:mediahub/thumbnails/{name}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        (package / name).write_text(text.replace("mediahub.thumbnails", BASELINE_PACKAGE))
    return directory


class Runs:
    def __init__(self, server, images: int, workdir: Path, baseline_dir: Path) -> None:
        self.server = server
        self.images = images
        self.workdir = workdir
        self.baseline_dir = baseline_dir
        self.template_db = workdir / "template.sqlite3"
        self.body = jpeg(1024, 768, seed=7)
        self.count = 0
        env = dict(os.environ, DATABASE_URL=f"sqlite://{self.template_db}")
        env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=env,
            check=True,
        )

    def fresh(self):
        """New buckets with the images and a new copy of the database."""
        from concurrent.futures import ThreadPoolExecutor

        from mediahub.testing.s3server import create_layout

        self.count += 1
        layout = create_layout(
            self.server.endpoint, f"bench-thumbs-{self.count}-pub", f"bench-thumbs-{self.count}-prv"
        )
        client = layout.client()
        names = [f"gen/{index:04d}.jpg" for index in range(self.images)]
        with ThreadPoolExecutor(16) as pool:
            list(
                pool.map(
                    lambda name: client.put_object(
                        Bucket=layout.public_bucket, Key=name, Body=self.body
                    ),
                    names,
                )
            )
        db = self.workdir / f"run-{self.count}.sqlite3"
        shutil.copy(self.template_db, db)
        return layout, db

    def run(self, impl: str, processes: int) -> dict:
        layout, db = self.fresh()
        env = dict(
            os.environ,
            BENCH_PUBLIC_DSN=layout.public_dsn,
            BENCH_PRIVATE_DSN=layout.private_dsn,
        )
        go = self.workdir / f"go-{self.count}"
        children = [
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--worker",
                    impl,
                    "--db",
                    str(db),
                    "--part",
                    f"{index}/{processes}",
                    "--go",
                    str(go),
                    "--baseline-dir",
                    str(self.baseline_dir),
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for index in range(processes)
        ]
        time.sleep(0.5)
        # Start together once every worker is set up (they poll for the file).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(self._ready(child) for child in children):
            time.sleep(0.2)
        go.touch()
        answers = []
        for child in children:
            out, err = child.communicate(timeout=600)
            if child.returncode:
                raise RuntimeError(f"{impl} worker failed:\n{err[-3000:]}")
            answers.append(json.loads(out.strip().splitlines()[-1]))
        generated = sum(answer["generated"] for answer in answers)
        if generated != self.images:
            raise RuntimeError(f"{impl}: {generated} of {self.images} generated: {answers}")
        wall = max(a["end"] for a in answers) - min(a["start"] for a in answers)
        cpu = sum(answer["cpu"] for answer in answers)
        return {
            "wall": wall,
            "cpu": cpu,
            "peak": max(answer["peak"] for answer in answers),
            "per_second": self.images / wall,
            "per_cpu_second": self.images / cpu,
        }

    @staticmethod
    def _ready(child: subprocess.Popen) -> bool:
        # A worker is ready when it sleeps on the barrier: its CPU time stops growing.
        try:
            with open(f"/proc/{child.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            ticks = int(fields[11]) + int(fields[12])
        except OSError:
            return True
        last = getattr(child, "_ticks", None)
        child._ticks = ticks  # type: ignore[attr-defined]
        return last is not None and ticks == last


def generation(server, images: int, rounds: int) -> str:
    workdir = Path(tempfile.mkdtemp(prefix="bench-thumbs-"))
    try:
        runs = Runs(server, images, workdir, baseline_package(workdir / "baseline"))
        sides = [
            ("today's code, 1 process", "baseline", 1),
            ("mediahub now, 1 process", "new", 1),
            ("mediahub now, 2 processes", "new", 2),
        ]
        results: dict[str, list[dict]] = {label: [] for label, _impl, _n in sides}
        runs.run("new", 1)  # warm-up (the OS page cache, moto's first buckets)
        for _round in range(rounds):
            for label, impl, processes in sides:
                results[label].append(runs.run(impl, processes))
                print(f"# {label}: {results[label][-1]}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    def best(label: str, key: str) -> float:
        return max(run[key] for run in results[label])

    def median(label: str, key: str) -> float:
        return statistics.median(run[key] for run in results[label])

    rows = []
    for label, _impl, processes in sides:
        rows.append(
            [
                label,
                processes,
                f"{best(label, 'per_cpu_second'):.0f} / {median(label, 'per_cpu_second'):.0f}",
                f"{best(label, 'per_second'):.0f} / {median(label, 'per_second'):.0f}",
                fmt_time(min(run["wall"] for run in results[label])),
                f"{max(run['peak'] for run in results[label]) / MIB:.0f} MiB",
            ]
        )
    today, now, two = (label for label, _impl, _n in sides)
    per_core = best(now, "per_cpu_second") / best(today, "per_cpu_second")
    per_core_median = median(now, "per_cpu_second") / median(today, "per_cpu_second")
    scaling = best(two, "per_second") / best(now, "per_second")
    scaling_median = median(two, "per_second") / median(now, "per_second")
    wall_ratio = best(now, "per_second") / best(today, "per_second")
    return (
        f"## Generating {images} thumbnails (alias `{ALIAS}`, 80x80 smart crop, "
        "1024x768 JPEG sources)\n\n"
        "Each run a process of its own (fresh buckets, fresh SQLite copy), timed from inside "
        f"once set up; interleaved, {rounds} rounds; cells are best / median.\n\n"
        + table(
            [
                "side",
                "processes",
                "thumbnails per CPU-second",
                "thumbnails per second",
                "best wall",
                "peak RSS (per process)",
            ],
            rows,
        )
        + "\n\n"
        f"- generation per core, now vs today: **{per_core:.2f}x** (median {per_core_median:.2f}x; "
        "goal 3x)\n"
        f"- one process, wall-clock, now vs today: {wall_ratio:.2f}x\n"
        f"- 2 processes vs 1 (2 cores, the moto server on the same 2 cores): **{scaling:.2f}x** "
        f"(median {scaling_median:.2f}x; goal 1.7x)\n"
    )


# -- the cached page (in this process: both sides render the same way) -----------------------
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


def page_benchmark(server, count: int, rounds: int) -> str:
    from concurrent.futures import ThreadPoolExecutor

    from django.core.files.storage import storages
    from django.core.management import call_command
    from django.db import connection
    from django.template import Context, Template
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext
    from easy_thumbnails import storage as easy_storage

    from mediahub import dsn
    from mediahub.storage import get_storage
    from mediahub.testing.requests import counting_requests
    from mediahub.testing.s3server import create_layout
    from mediahub.thumbnails import thumbnails

    layout = create_layout(server.endpoint, "bench-thumbs-page-pub", "bench-thumbs-page-prv")
    public = dsn.parse(layout.public_dsn)
    stores = {
        "default": public,
        "private": dsn.parse(layout.private_dsn, visibility="private"),
        "easy_thumbnails": public,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=stores, THUMBNAIL_CACHE_DIMENSIONS=False):
        storages._storages = {}
        easy_storage.thumbnail_default_storage = storages["easy_thumbnails"]
        client = layout.client()
        names = [f"page/{index:04d}.jpg" for index in range(count)]
        body = jpeg(640, 480, seed=3)
        with ThreadPoolExecutor(16) as pool:
            list(
                pool.map(
                    lambda n: client.put_object(Bucket=layout.public_bucket, Key=n, Body=body),
                    names,
                )
            )
        entries = get_storage("public").list_folder("page/", page_size=1000).files
        web = Client()
        for thumb in thumbnails(entries, size="64x64", budget=len(entries)):
            assert web.get(thumb.url).status_code == 302
        tag, batch, easy = (
            Template(MEDIAHUB_TEMPLATE),
            Template(BATCH_TEMPLATE),
            Template(EASY_TEMPLATE),
        )
        easy.render(Context({"names": names}))  # easy-thumbnails makes its own

        sides = [
            ("mediahub `{% media_thumbnail %}`", lambda: tag.render(Context({"entries": entries}))),
            (
                "mediahub `thumbnails()` (one call per page)",
                lambda: batch.render(Context({"thumbs": thumbnails(entries, size="64x64")})),
            ),
            (
                "easy-thumbnails `{% thumbnail %}`, default settings",
                lambda: easy.render(Context({"names": names})),
            ),
        ]
        counts, times = {}, {label: [] for label, _ in sides}
        for label, render in sides:
            html = render()
            assert "/media-links/t/" not in html and html.count("<img") == count
            with counting_requests() as requests, CaptureQueriesContext(connection) as queries:
                render()
            counts[label] = (requests.total, len(queries))
        for _round in range(rounds):
            for label, render in sides:
                start = time.perf_counter()
                render()
                times[label].append(time.perf_counter() - start)
        call_command("flush", verbosity=0, interactive=False)
    rows = [
        [
            label,
            counts[label][0],
            counts[label][1],
            fmt_time(min(times[label])),
            fmt_time(statistics.median(times[label])),
        ]
        for label, _ in sides
    ]
    return (
        f"## A page of {count} images whose 64x64 thumbnails exist\n\n"
        f"All in this process, interleaved, {rounds} renders each after a warm-up.\n\n"
        + table(["renderer", "S3 requests", "DB queries", "best", "median"], rows)
        + "\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200, help="thumbnails per generation run")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--page", type=int, default=100, help="images on the cached page")
    parser.add_argument("--worker", choices=["baseline", "new"], help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--part", default="0/1", help=argparse.SUPPRESS)
    parser.add_argument("--go", help=argparse.SUPPRESS)
    parser.add_argument("--baseline-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.impl = args.worker
        worker(args)
        return
    setup_django()
    from django.core.management import call_command

    from mediahub.testing.s3server import MotoServer

    call_command("migrate", verbosity=0)
    with MotoServer() as server:
        generated = generation(server, args.images, args.rounds)
        page = page_benchmark(server, args.page, max(args.rounds, 7))
    write_results(
        "thumbnails",
        "moto server over HTTP on 127.0.0.1 (a process of its own, sharing the 2 cores).\n\n"
        + generated
        + "\n"
        + page,
    )


if __name__ == "__main__":
    main()
