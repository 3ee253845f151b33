"""Presigning: mediahub's SigV4 presigner vs botocore's ``generate_presigned_url``.

    .venv/bin/python bench/presign.py [--rounds 7] [--calls 2000]

Both sides presign the same GetObject (a key with a space and a non-ASCII letter,
a ``response-content-disposition``) for the same bucket through the same botocore
client, in this process, interleaved rounds of ``--calls`` calls each; best and
median of the rounds. Presigning makes no request (counted: 0). The URLs are
byte-identical (checked here on the first call, and on 10,000 random requests by
``tests/test_presign.py``). Writes ``bench/results/presign.md``.
"""

from __future__ import annotations

import argparse

import boto3
from _common import Side, compare, table, write_results
from botocore.config import Config

from mediahub.storage import presign
from mediahub.storage.presign import Presigner

KEY = "reports/2024/Quarterly report é.pdf"
PARAMS = {"ResponseContentDisposition": 'attachment; filename="Quarterly report.pdf"'}


def make_client(endpoint: str | None, addressing: str | None, token: str | None):
    session = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        aws_session_token=token,
    )
    s3 = {"addressing_style": addressing} if addressing else None
    return session.client(
        "s3",
        region_name="eu-west-1",
        endpoint_url=endpoint,
        config=Config(signature_version="s3v4", s3=s3),
    )


CASES = {
    "AWS, virtual-hosted": (None, None, None),
    "custom endpoint, path-style, session token": ("http://127.0.0.1:9000", "path", "tok"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=2000, help="presigns per side and round")
    args = parser.parse_args()
    calls = args.calls

    rows = []
    for case, (endpoint, addressing, token) in CASES.items():
        client = make_client(endpoint, addressing, token)
        presigner = Presigner("media-private")
        params = {**PARAMS, "Bucket": "media-private", "Key": KEY}
        presign.clock = lambda: 1_800_000_000.0  # the same second on both sides
        try:
            import datetime as dt
            from unittest import mock

            frozen = dt.datetime.fromtimestamp(1_800_000_000, dt.UTC).replace(tzinfo=None)
            with mock.patch("botocore.auth.get_current_datetime", return_value=frozen):
                ours = presigner.url(client, KEY, params=PARAMS, expires_in=300)
                theirs = client.generate_presigned_url("get_object", Params=params, ExpiresIn=300)
            assert ours == theirs, (ours, theirs)
        finally:
            presign.clock = None

        def botocore_side(client=client, params=params) -> None:
            for _ in range(calls):
                client.generate_presigned_url("get_object", Params=params, ExpiresIn=300)

        def mediahub_side(client=client, presigner=presigner) -> None:
            for _ in range(calls):
                presigner.url(client, KEY, params=PARAMS, expires_in=300)

        timings = compare(
            [
                Side("botocore generate_presigned_url", botocore_side, parallelism="1 thread"),
                Side("mediahub Presigner", mediahub_side, parallelism="1 thread"),
            ],
            rounds=args.rounds,
        )
        botocore_t, mediahub_t = timings
        for timing in timings:
            rows.append(
                [
                    case,
                    timing.name,
                    f"{timing.best / calls * 1e6:.1f} µs",
                    f"{timing.median / calls * 1e6:.1f} µs",
                    f"{calls / timing.best:,.0f}",
                    timing.requests.total if timing.requests is not None else "-",
                    f"{botocore_t.best / timing.best:.1f}×",
                ]
            )
    markdown = (
        "## Presigning a GetObject URL\n\n"
        f"{args.rounds} interleaved rounds of {calls:,} calls per side, in one process, one "
        "thread; per call: best and median round. Both sides give the same URL, byte for "
        "byte. Goal: ≥ 10× botocore's calls per second.\n\n"
        + table(
            [
                "case",
                "side",
                "best / call",
                "median / call",
                "calls/s (best)",
                "S3 requests",
                "speed vs botocore",
            ],
            rows,
        )
    )
    write_results("presign", markdown)


if __name__ == "__main__":
    main()
