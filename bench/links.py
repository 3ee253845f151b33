"""Signed links: signing rate, redeem latency vs a bare presigned URL, presigning rate.

    .venv/bin/python bench/links.py [--n 2000]

Against moto's server on 127.0.0.1 over HTTP, SQLite in memory. "redeem" is the
whole view through Django's test client: token check, revocation lookup (one
query), one HeadObject (the object must exist), audit row, presigned 302.
"""

from __future__ import annotations

import argparse
import statistics
import time

from _common import counting_requests, setup_django, table


def rate(func, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        func()
    return n / (time.perf_counter() - start)


def latency_ms(func, n: int) -> float:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="iterations of the fast loops")
    args = parser.parse_args()
    setup_django()

    from django.core.files.base import ContentFile
    from django.core.management import call_command
    from django.test import Client, override_settings

    from mediahub import dsn, links
    from mediahub.storage import get_storage
    from mediahub.testing.s3server import MotoServer, create_layout

    call_command("migrate", verbosity=0)
    with MotoServer() as server:
        layout = create_layout(server.endpoint, "bench-links-public", "bench-links-private")
        storages = {
            "default": dsn.parse(layout.public_dsn),
            "private": dsn.parse(layout.private_dsn, visibility="private"),
            "easy_thumbnails": dsn.parse(layout.public_dsn),
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
        with override_settings(STORAGES=storages):
            storage = get_storage("private")
            name = storage.save("bench/report.pdf", ContentFile(b"%PDF-1.4 bench"))
            client = Client()
            slow_n = max(50, args.n // 10)

            url = links.sign(name, filename="Report 2024.pdf")

            def redeem():
                response = client.get(url)
                assert response.status_code == 302

            def presign():
                links.presigned_download_url(storage, name, filename="Report 2024.pdf")

            redeem()
            with counting_requests() as per_redeem:
                redeem()
            with counting_requests() as per_presign:
                presign()

            sign_rate = rate(lambda: links.sign(name), args.n)
            presign_rate = rate(lambda: storage.presigned_url(name), args.n)
            redeem_ms = latency_ms(redeem, slow_n)
            with override_settings(MEDIAHUB={"AUDIT_LOG": False}):
                redeem_noaudit_ms = latency_ms(redeem, slow_n)
            links.revoke_all(name)  # with a LinkState row: the realistic case
            sign_rate_revoked = rate(lambda: links.sign(name), args.n)
            presign_ms = latency_ms(presign, args.n)

    print("Signed links, moto server over HTTP on 127.0.0.1, SQLite in memory\n")
    print(
        table(
            ["measure", "result", "S3 requests"],
            [
                ["links.sign() (no revocation row)", f"{sign_rate:,.0f} /s", 0],
                ["links.sign() (object has a revocation row)", f"{sign_rate_revoked:,.0f} /s", 0],
                ["storage.presigned_url()", f"{presign_rate:,.0f} /s", 0],
                ["presigned_download_url() latency", f"{presign_ms:.2f} ms", per_presign.total],
                [
                    "redeem view (test client, audit on)",
                    f"{redeem_ms:.2f} ms",
                    per_redeem.total,
                ],
                ["redeem view (audit off)", f"{redeem_noaudit_ms:.2f} ms", per_redeem.total],
                ["redeem / bare presign", f"{redeem_ms / presign_ms:.0f}x", ""],
            ],
        )
    )
    print(f"\nS3 requests per redeem: {dict(per_redeem)} (the existence check)")


if __name__ == "__main__":
    main()
