"""Multipart uploads and copies with parts in parallel, in bounded memory.

s3transfer (boto3's ``upload_file``) cannot complete an upload with
``If-None-Match: *``, so mediahub's create-if-absent write drives the multipart
upload itself: parts are read one after the other from the source and sent by up
to ``concurrency`` threads; at most ``concurrency`` parts are in flight (plus the
one being read), so memory stays below ``(concurrency + 1) * part_size`` whatever
the file's size. Every failure aborts the upload (:func:`abort`), so no invisible,
billed parts are left behind.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

logger = logging.getLogger(__name__)

MiB = 1024**2
#: S3's limits: smallest part (all but the last), most parts, largest single copy.
MIN_PART_SIZE = 5 * MiB
MAX_PARTS = 10_000
MAX_COPY_SIZE = 5 * 1024**3
#: Part size of multipart copies (objects over :data:`MAX_COPY_SIZE`).
COPY_PART_SIZE = 512 * MiB


def part_size_for(size: int | None, preferred: int) -> int:
    """``preferred`` (at least 5 MiB), grown to whole MiB when ``size`` needs > 10,000 parts."""
    chunk = max(int(preferred), MIN_PART_SIZE)
    if size and math.ceil(size / chunk) > MAX_PARTS:
        chunk = math.ceil(size / MAX_PARTS / MiB) * MiB
    return chunk


def upload_parts(
    client: Any,
    bucket: str,
    key: str,
    upload_id: str,
    first: bytes,
    read: Callable[[int], bytes],
    *,
    part_size: int,
    concurrency: int,
) -> list[dict[str, Any]]:
    """Send ``first`` then every ``read(part_size)`` chunk as parts; returns the part list.

    Raises the first failure, after the parts still in flight have stopped.
    """

    def send(number: int, body: bytes) -> dict[str, Any]:
        answer = client.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
        )
        return {"ETag": answer["ETag"], "PartNumber": number}

    return _run_parts(send, _chunks(first, read, part_size), concurrency)


def copy_parts(
    client: Any,
    bucket: str,
    key: str,
    upload_id: str,
    source: dict[str, str],
    size: int,
    *,
    part_size: int = COPY_PART_SIZE,
    concurrency: int = 4,
) -> list[dict[str, Any]]:
    """Copy ``source`` (``size`` bytes) into the upload with ``UploadPartCopy`` ranges."""
    part_size = part_size_for(size, part_size)

    def send(number: int, span: tuple[int, int]) -> dict[str, Any]:
        answer = client.upload_part_copy(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            CopySource=source,
            CopySourceRange=f"bytes={span[0]}-{span[1]}",
        )
        return {"ETag": answer["CopyPartResult"]["ETag"], "PartNumber": number}

    spans = (
        (number, (start, min(start + part_size, size) - 1))
        for number, start in enumerate(range(0, size, part_size), start=1)
    )
    return _run_parts(send, spans, concurrency)


def _chunks(first: bytes, read: Callable[[int], bytes], part_size: int):
    number, chunk = 1, first
    while chunk:
        yield number, chunk
        chunk, number = read(part_size), number + 1


def _run_parts(send: Callable[[int, Any], dict], items, concurrency: int) -> list[dict[str, Any]]:
    """Run ``send(number, item)`` for each item with at most ``concurrency`` in flight."""
    concurrency = max(1, int(concurrency))
    if concurrency == 1:
        return [send(number, item) for number, item in items]
    parts: list[dict[str, Any]] = []
    pending: set[Future] = set()
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="mediahub-part")
    try:
        for number, item in items:
            if len(pending) >= concurrency:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                parts.extend(future.result() for future in done)
            pending.add(pool.submit(send, number, item))
            del item  # the pool holds the only reference: memory is freed as parts finish
        done, pending = wait(pending)
        parts.extend(future.result() for future in done)
    finally:
        # On a failure, parts not started are dropped; those in flight finish first (a
        # part sent after the abort would re-create billed storage on some servers).
        pool.shutdown(wait=True, cancel_futures=True)
    parts.sort(key=lambda part: part["PartNumber"])
    return parts


def abort(client: Any, bucket: str, key: str, upload_id: str) -> None:
    """Abort a multipart upload; never leave a partial upload behind (billed, invisible).

    A failed abort must not replace the error that made it necessary (botocore has
    already retried it; a bucket lifecycle rule for incomplete uploads is the backstop).
    """
    try:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except Exception:
        logger.warning("Could not abort the multipart upload of %r; lifecycle rules will.", key)
