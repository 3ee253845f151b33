"""First page of a folder: mediahub's paginated listing vs listdir() + size() + mtime.

    .venv/bin/python bench/listing.py [--sizes 100,1000,10000] [--page 100] [--rounds 5]

Against moto's server on 127.0.0.1 over HTTP, both in this process, one thread
each. The alternative is what a file browser built on django-storages does:
``listdir()`` the folder (every page of it), then ``size()`` and
``get_modified_time()`` for each file it shows. Both run interleaved, best and
median of ``--rounds``; S3 requests counted by botocore (exact).
"""

from __future__ import annotations

import argparse

from _common import Side, compare, fill, fmt_requests, fmt_time, setup_django, table, write_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--page", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    setup_django()
    from mediahub import dsn
    from mediahub.storage.s3 import PublicS3Storage
    from mediahub.testing.s3server import MotoServer, create_layout

    rows = []
    with MotoServer() as server:
        layout = create_layout(server.endpoint, "bench-public", "bench-private")
        client = layout.client()
        storage = PublicS3Storage(**dsn.parse(layout.public_dsn)["OPTIONS"])
        for size in sizes:
            folder = f"n{size}/"
            fill(client, layout.public_bucket, [f"{folder}{i:06d}.jpg" for i in range(size)])

            def mediahub_page(folder=folder):
                page = storage.list_folder(folder, page_size=args.page)
                return [(f.name, f.size, f.modified) for f in page.files]

            def listdir_page(folder=folder):
                _dirs, files = storage.listdir(folder)
                shown = sorted(files)[: args.page]
                return [
                    (n, storage.size(folder + n), storage.get_modified_time(folder + n))
                    for n in shown
                ]

            assert mediahub_page() == listdir_page()
            ours, theirs = compare(
                [
                    Side("list_folder()", mediahub_page, parallelism="1 thread"),
                    Side("listdir()+size()+mtime", listdir_page, parallelism="1 thread"),
                ],
                rounds=args.rounds,
            )
            rows.append(
                [
                    f"{size:,}",
                    fmt_requests(ours.requests),
                    fmt_requests(theirs.requests),
                    f"{fmt_time(ours.best)} ({fmt_time(ours.median)})",
                    f"{fmt_time(theirs.best)} ({fmt_time(theirs.median)})",
                    f"{theirs.best / ours.best:.0f}x",
                ]
            )
    text = (
        f"First page ({args.page} entries) of one folder, moto server over HTTP on 127.0.0.1; "
        f"best (median) of {args.rounds} interleaved runs, one thread each\n\n"
        + table(
            [
                "objects in folder",
                "S3 requests (mediahub)",
                "S3 requests (listdir+size+mtime)",
                "time (mediahub)",
                "time (listdir+size+mtime)",
                "speed-up (best / best)",
            ],
            rows,
        )
    )
    write_results("listing", text)


if __name__ == "__main__":
    main()
