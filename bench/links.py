"""Signing links: ``links.sign()`` and ``links.sign_many()`` vs ``django.core.signing.dumps``.

    .venv/bin/python bench/links.py [--rounds 7] [--calls 2000]

In one process, SQLite in memory (the test settings), interleaved rounds of
``--calls`` calls per side; best and median per call, and the same-run ratio to
``signing.dumps`` of a payload of the same shape (the floor: a link *is* one
signed payload). ``sign()`` reads the object's link generation (one indexed query),
``sign_many()`` one query for the whole batch; both are measured with and without
a revocation row for the object. Neither makes an S3 request (counted).

The redemption side (moto's server): S3 requests per redemption of a hot object,
through Django's test client. Over real HTTP, see ``bench/redeem.py``.
Writes ``bench/results/links.md``.
"""

from __future__ import annotations

import argparse

from _common import Side, compare, counting_requests, setup_django, table, write_results

BATCH = 100  # names per sign_many() call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=2000, help="calls per side and round")
    args = parser.parse_args()
    calls = args.calls
    setup_django()

    from django.core import signing
    from django.core.files.base import ContentFile
    from django.core.management import call_command
    from django.test import Client, override_settings

    from mediahub import dsn, links
    from mediahub.storage import get_storage
    from mediahub.testing.s3server import MotoServer, create_layout

    call_command("migrate", verbosity=0)
    name = "bench/report.pdf"
    revoked_name = "bench/revoked.pdf"
    links.revoke_all(revoked_name)  # this one has a revocation row
    names = [f"gallery/{i}.jpg" for i in range(BATCH)]
    links.revoke_all(names[0])
    payload = {
        "v": 1,
        "s": "private",
        "n": name,
        "i": 1_800_000_000,
        "e": 1_800_003_600,
        "g": 0,
        "r": "AbCdEfGh",
    }
    batches = max(1, calls // BATCH)

    def dumps_side() -> None:
        for _ in range(calls):
            signing.dumps(payload, salt=links.SALT)

    def sign_side() -> None:
        for _ in range(calls):
            links.sign(name)

    def sign_revoked_side() -> None:
        for _ in range(calls):
            links.sign(revoked_name)

    def sign_many_side() -> None:
        for _ in range(batches):
            links.sign_many(names)

    sides = [
        Side("signing.dumps (floor)", dumps_side, parallelism="1 thread"),
        Side("links.sign()", sign_side, parallelism="1 thread"),
        Side("links.sign(), object with a revocation row", sign_revoked_side),
        Side(f"links.sign_many() of {BATCH}, per name", sign_many_side),
    ]
    timings = compare(sides, rounds=args.rounds)
    per_call = {
        timing.name: (
            timing.best / (batches * BATCH if "sign_many" in timing.name else calls),
            timing.median / (batches * BATCH if "sign_many" in timing.name else calls),
        )
        for timing in timings
    }
    floor = per_call["signing.dumps (floor)"][0]
    goals = {"links.sign()": 40e-6, "links.sign(), object with a revocation row": 40e-6}
    goals[f"links.sign_many() of {BATCH}, per name"] = 15e-6
    rows = []
    for timing in timings:
        best, median = per_call[timing.name]
        goal = goals.get(timing.name)
        rows.append(
            [
                timing.name,
                f"{best * 1e6:.1f} µs",
                f"{median * 1e6:.1f} µs",
                f"{best / floor:.2f}",
                timing.requests.total if timing.requests is not None else "-",
                f"≤ {goal * 1e6:.0f} µs" if goal else "-",
            ]
        )

    # Redemptions of a hot object: S3 requests, in-process.
    with MotoServer() as server:
        layout = create_layout(server.endpoint, "bench-links-public", "bench-links-private")
        storages = {
            "default": dsn.parse(layout.public_dsn),
            "private": dsn.parse(layout.private_dsn, visibility="private"),
            "easy_thumbnails": dsn.parse(layout.public_dsn),
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
        with override_settings(STORAGES=storages):
            stored = get_storage("private").save(name, ContentFile(b"%PDF-1.4 bench"))
            url = links.sign(stored, filename="Report 2024.pdf")
            client = Client()
            with counting_requests() as first:
                assert client.get(url).status_code == 302
            with counting_requests() as hot:
                for _ in range(100):
                    assert client.get(url).status_code == 302

    markdown = (
        "## Signing links\n\n"
        f"{args.rounds} interleaved rounds of {calls:,} calls per side in one process (SQLite "
        "in memory); per call: best and median round; ratio: best per call / "
        "`signing.dumps`' best per call, same run.\n\n"
        + table(
            ["side", "best / call", "median / call", "× signing.dumps", "S3 requests", "goal"],
            rows,
        )
        + "\n\n## Redeeming a hot object\n\n"
        + table(
            ["redemption", "S3 requests"],
            [
                ["first (the object is looked up: HeadObject)", first.total],
                ["next 100 (object cache)", hot.total],
            ],
        )
    )
    write_results("links", markdown)


if __name__ == "__main__":
    main()
