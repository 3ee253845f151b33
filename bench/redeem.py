"""Redeeming a signed link over real HTTP vs a bare presign + 302 view, on gunicorn.

    .venv/bin/python bench/redeem.py [--rounds 5] [--requests 2000] [--concurrency 8]

What runs: moto's S3 server (a process), gunicorn (``--workers 8``, sync workers: 8
requests at once) serving the test settings with a SQLite database file and
Django's default (per-process) cache, and a load generator in a **separate process**
(asyncio, ``--concurrency`` connections, one request per connection as gunicorn's
sync workers close them). The sides hit the same server, interleaved, each round
``--requests`` requests; best and median of the rounds are printed.

* **bare presign + 302**: a view that presigns the object (mediahub's presigner,
  the same as the redemption's) and answers 302: the floor of any redirecting view.
* **bare, botocore presign**: the same view with botocore's ``generate_presigned_url``.
* **redeem** (``mediahub:download``): token check, revocation row (one query),
  object cache (no S3 request for a hot object), bound-user check, presign, 302;
  with the download log on (one INSERT per redemption, the default) and off.

Writes ``bench/results/redeem.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from _common import ROOT, machine, table, write_results  # noqa: F401

SETTINGS = """
import os
from tests.settings import *  # noqa: F403
from mediahub import dsn

DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "bench_redeem_urls"
from example_project.database import database_from_url

# The example project's SQLite (WAL) or --database-url, with persistent connections
# as a site would run.
DATABASES = {"default": database_from_url(os.environ["BENCH_DB"], "")}
DATABASES["default"]["CONN_MAX_AGE"] = 60
STORAGES = {
    "default": dsn.parse(os.environ["BENCH_PUBLIC_DSN"]),
    "private": dsn.parse(os.environ["BENCH_PRIVATE_DSN"], visibility="private"),
    "easy_thumbnails": dsn.parse(os.environ["BENCH_PUBLIC_DSN"]),
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIAHUB = {"AUDIT_LOG": os.environ.get("BENCH_AUDIT", "1") == "1"}
LOGGING = {"version": 1, "disable_existing_loggers": True}
"""

URLS = """
from django.http import HttpResponseRedirect
from django.urls import include, path

from mediahub import links
from mediahub.storage import get_storage


def bare(request, name):
    storage = get_storage("private")
    return HttpResponseRedirect(
        links.presigned_download_url(storage, name, filename="Report 2024.pdf")
    )


def bare_botocore(request, name):
    storage = get_storage("private")
    url = storage.connection.meta.client.generate_presigned_url(
        "get_object",
        Params={
            "Bucket": storage.bucket_name,
            "Key": storage._key(name),
            "ResponseContentDisposition": 'attachment; filename="Report 2024.pdf"',
        },
        ExpiresIn=300,
    )
    return HttpResponseRedirect(url)


urlpatterns = [
    path("bare/<path:name>", bare),
    path("bare-botocore/<path:name>", bare_botocore),
    path("media-links/", include("mediahub.urls")),
]
"""

WSGI = """
from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
"""


# -- the load generator (run as its own process) -----------------------------------------------
async def _one(host: str, port: int, path: str) -> tuple[int, float]:
    start = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
    data = await reader.read()
    writer.close()
    return int(data[9:12]), time.perf_counter() - start


async def _load(host: str, port: int, path: str, total: int, concurrency: int) -> dict:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            status, seconds = await _one(host, port, path)
            statuses[status] = statuses.get(status, 0) + 1
            latencies.append(seconds)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies),
        "p90": latencies[int(len(latencies) * 0.9)],
        "statuses": statuses,
    }


def load_main(argv: list[str]) -> None:
    host, port, path, total, concurrency = argv
    result = asyncio.run(_load(host, int(port), path, int(total), int(concurrency)))
    print(json.dumps(result))


def run_load(port: int, path: str, total: int, concurrency: int) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--load", "127.0.0.1", str(port), path, str(total),
         str(concurrency)],
        capture_output=True,
        check=True,
        text=True,
    )
    return json.loads(done.stdout)


# -- the server -----------------------------------------------------------------------------------
def wait_for(port: int, timeout: float = 60) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def measure(args, env: dict, port: int, sides: dict[str, str]) -> dict[str, list[dict]]:
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "--workers", str(args.concurrency),
            "--worker-class", "sync",
            "--bind", f"127.0.0.1:{port}",
            "--log-level", "warning",
            "bench_redeem_wsgi:application",
        ],
        env=env,
        cwd=str(ROOT),
    )
    try:
        wait_for(port)
        for path in sides.values():  # warm every worker (imports, cache, connections)
            run_load(port, path, args.concurrency * 20, args.concurrency)
        results: dict[str, list[dict]] = {name: [] for name in sides}
        for _round in range(args.rounds):
            for name, path in sides.items():
                result = run_load(port, path, args.requests, args.concurrency)
                bad = {s: n for s, n in result["statuses"].items() if s != "302"}
                if bad:
                    raise RuntimeError(f"{name}: unexpected statuses {bad}")
                results[name].append(result)
                print(f"# {name}: {result['rps']:,.0f} req/s, p50 {result['p50'] * 1e3:.2f} ms",
                      file=sys.stderr, flush=True)
        return results
    finally:
        server.terminate()
        server.wait(timeout=30)


def summarize(results: dict[str, list[dict]], baseline: str) -> tuple[list[list], dict]:
    best = {name: max(r["rps"] for r in runs) for name, runs in results.items()}
    p50 = {name: min(r["p50"] for r in runs) for name, runs in results.items()}
    rows = []
    base = results[baseline]
    for name, runs in results.items():
        # Paired per round (the sides of a round ran back to back): robust to drift
        # in the machine's load, which best-of alone is not on a shared machine.
        rps_ratio = statistics.median(r["rps"] / b["rps"] for r, b in zip(runs, base, strict=True))
        p50_ratio = statistics.median(r["p50"] / b["p50"] for r, b in zip(runs, base, strict=True))
        rows.append([
            name,
            f"{best[name]:,.0f}",
            f"{statistics.median(r['rps'] for r in runs):,.0f}",
            f"{p50[name] * 1e3:.2f} ms",
            f"{statistics.median(r['p50'] for r in runs) * 1e3:.2f} ms",
            f"{best[name] / best[baseline]:.2f}",
            f"{rps_ratio:.2f}",
            f"{p50[name] / p50[baseline]:.2f}",
            f"{p50_ratio:.2f}",
        ])
    return rows, {"best": best, "p50": p50}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000, help="requests per side and round")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--database-url",
        help="postgres://... instead of the example project's SQLite file (its tables are "
        "created there)",
    )
    args = parser.parse_args()

    from mediahub.testing.s3server import MotoServer, create_layout, free_port

    workdir = Path(tempfile.mkdtemp(prefix="mediahub-bench-redeem-"))
    (workdir / "bench_redeem_settings.py").write_text(textwrap.dedent(SETTINGS))
    (workdir / "bench_redeem_urls.py").write_text(textwrap.dedent(URLS))
    (workdir / "bench_redeem_wsgi.py").write_text(textwrap.dedent(WSGI))
    sys.path.insert(0, str(workdir))

    with MotoServer() as s3:
        layout = create_layout(s3.endpoint, "bench-redeem-public", "bench-redeem-private")
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(workdir), str(ROOT)]),
            "DJANGO_SETTINGS_MODULE": "bench_redeem_settings",
            "BENCH_DB": args.database_url or f"sqlite://{workdir / 'db.sqlite3'}",
            "BENCH_PUBLIC_DSN": layout.public_dsn,
            "BENCH_PRIVATE_DSN": layout.private_dsn,
        }
        os.environ.update({k: v for k, v in env.items() if k.startswith(("BENCH_", "DJANGO_"))})
        import django

        django.setup()
        from django.core.files.base import ContentFile
        from django.core.management import call_command

        from mediahub import links
        from mediahub.storage import get_storage

        call_command("migrate", verbosity=0)
        name = get_storage("private").save("bench/report.pdf", ContentFile(b"%PDF-1.4 bench"))
        link = links.sign(name, filename="Report 2024.pdf", expires_in=24 * 3600)
        sides = {
            "bare presign + 302": f"/bare/{name}",
            "bare, botocore presign": f"/bare-botocore/{name}",
            "redeem (mediahub:download)": link,
        }
        tables = []
        summaries = {}
        for audit in ("1", "0"):
            env["BENCH_AUDIT"] = audit
            results = measure(args, env, free_port(), sides)
            rows, summary = summarize(results, "bare presign + 302")
            summaries[audit] = summary
            tables.append(
                ("Download log on (the default): one INSERT per redemption"
                 if audit == "1" else "Download log off (MEDIAHUB['AUDIT_LOG'] = False)",
                 rows)
            )

    database = (
        "PostgreSQL" if args.database_url else "the example project's SQLite file (WAL)"
    )
    headers = ["side", "best req/s", "median req/s", "best p50", "median p50",
               "req/s / bare (best)", "req/s / bare (median of rounds)",
               "p50 / bare (best)", "p50 / bare (median of rounds)"]
    parts = [
        "## Redeeming a signed link (gunicorn, real HTTP)\n",
        f"gunicorn `--workers {args.concurrency}` (sync), load from a separate process with "
        f"{args.concurrency} concurrent connections, {args.requests:,} requests per side and "
        f"round, {args.rounds} interleaved rounds; database: {database}, "
        "`CONN_MAX_AGE = 60`; per-process `LocMemCache`; moto's S3 server on 127.0.0.1. A hot object: after the first "
        "redemption in each worker, a redemption makes **no S3 request** "
        "(`OBJECT_CACHE_TIMEOUT`). Goal: redeem ≥ 0.6× the bare view's req/s, p50 ≤ 2×.\n",
    ]
    for title, rows in tables:
        parts.append(f"### {title}\n\n" + table(headers, rows) + "\n")
    name = "redeem-postgresql" if args.database_url else "redeem"
    argv = [".venv/bin/python", "bench/redeem.py", *sys.argv[1:]]
    if args.database_url:  # never write a password into the results
        argv = [a.replace(args.database_url, "postgres://...") for a in argv]
    write_results(name, "\n".join(parts), command=" ".join(argv))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--load":
        load_main(sys.argv[2:])
    else:
        main()
