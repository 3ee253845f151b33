"""Shared helpers of the benchmark scripts: an embedded S3 server and request counting."""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

from mediahub.testing.requests import RequestCounter, counting_requests  # noqa: E402, F401


def setup_django() -> None:
    import django

    django.setup()


def fill(client, bucket: str, keys: list[str], jobs: int = 32) -> None:
    """Create ``keys`` (tiny bodies) with many parallel PUTs."""

    def put(key: str) -> None:
        client.put_object(Bucket=bucket, Key=key, Body=b"x")

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(put, keys))


def timed(func, repeat: int = 3) -> float:
    """Best wall time of ``repeat`` runs, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def table(headers: list[str], rows: list[list]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]
    line = "| " + " | ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    return "\n".join([line, sep, *body])
