"""First page of a folder: mediahub's paginated listing vs listdir() + size() + mtime.

    .venv/bin/python bench/listing.py [--sizes 100,1000,10000] [--page 100]

Against moto's server on 127.0.0.1 over HTTP. The alternative is what a file
browser built on django-storages does: ``listdir()`` the folder (every page of
it), then ``size()`` and ``get_modified_time()`` for each file it shows.
"""

from __future__ import annotations

import argparse

from _common import counting_requests, fill, setup_django, table, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--page", type=int, default=100)
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
            with counting_requests() as ours:
                mediahub_page()
            with counting_requests() as theirs:
                listdir_page()
            t_ours, t_theirs = timed(mediahub_page), timed(listdir_page, repeat=1)
            rows.append(
                [
                    f"{size:,}",
                    ours.total,
                    theirs.total,
                    f"{t_ours * 1000:.0f} ms",
                    f"{t_theirs * 1000:.0f} ms",
                    f"{t_theirs / t_ours:.0f}x",
                ]
            )
    print(f"First page ({args.page} entries) of one folder, moto server over HTTP on 127.0.0.1\n")
    print(
        table(
            [
                "objects in folder",
                "S3 requests (mediahub)",
                "S3 requests (listdir+size+mtime)",
                "time (mediahub)",
                "time (listdir+size+mtime)",
                "speed-up",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
