"""Multipart uploads and copies with parts in parallel, in bounded memory.

s3transfer (boto3's ``upload_file``) cannot complete an upload with
``If-None-Match: *``, so mediahub's create-if-absent write drives the multipart
upload itself: up to ``concurrency`` threads send parts, and at most ``concurrency``
parts are in flight. A source that is a real file (``fileno()``) is sent as windows
onto the file (:class:`FileWindow`), read by each thread with ``os.pread`` in small
blocks, as s3transfer does; any other source is read one part after the other, so
memory stays below ``(concurrency + 2) * part_size`` whatever the file's size. Every
failure aborts the upload (:func:`abort`), so no invisible, billed parts are left
behind.
"""

from __future__ import annotations

import io
import logging
import math
import os
from collections.abc import Callable, Iterable, Iterator
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
    bodies: Iterable[tuple[int, Any]],
    *,
    concurrency: int,
    checksum_algorithm: str | None = None,
) -> list[dict[str, Any]]:
    """Send ``(part number, body)`` pairs as parts; returns the part list for completion.

    ``bodies``: :func:`chunks` or :func:`file_windows`. With ``checksum_algorithm`` (the
    one the upload was created with), each part's checksum is kept for the completion,
    as s3transfer does. Raises the first failure, after the parts still in flight have
    stopped.
    """
    extra = {"ChecksumAlgorithm": checksum_algorithm} if checksum_algorithm else {}
    member = f"Checksum{checksum_algorithm.upper()}" if checksum_algorithm else ""

    def send(number: int, body: Any) -> dict[str, Any]:
        answer = client.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body, **extra
        )
        part = {"ETag": answer["ETag"], "PartNumber": number}
        if member and member in answer:
            part[member] = answer[member]
        return part

    return _run_parts(send, bodies, concurrency)


def checksum_algorithm(client: Any, params: dict[str, Any]) -> str | None:
    """The checksum algorithm of a multipart upload: the storage's, else CRC32 as s3transfer.

    botocore checksums every part by default (``request_checksum_calculation``
    ``"when_supported"``); an upload created with the same algorithm gets a composite
    checksum from them, where one created without any makes S3-compatible servers
    compute a full-object checksum at completion (moto: seconds per GiB).
    """
    if params.get("ChecksumAlgorithm"):
        return params["ChecksumAlgorithm"]
    config = getattr(client.meta, "config", None)
    if getattr(config, "request_checksum_calculation", None) == "when_supported":
        return "CRC32"
    return None


def chunks(first: bytes, read: Callable[[int], bytes], part_size: int) -> Iterator[tuple]:
    """Parts read one after the other: ``first``, then ``read(part_size)`` until empty."""
    number, chunk = 1, first
    while chunk:
        yield number, chunk
        chunk, number = read(part_size), number + 1


def file_windows(fd: int, size: int, part_size: int) -> Iterator[tuple[int, FileWindow]]:
    """Parts of the ``size`` bytes of file descriptor ``fd``, as windows onto it."""
    for number, start in enumerate(range(0, size, part_size), start=1):
        yield number, FileWindow(fd, start, min(part_size, size - start))


def real_file(content: Any) -> int | None:
    """The descriptor of the binary file behind ``content`` (None: not a real file)."""
    for candidate in (content, getattr(content, "file", None)):
        if candidate is None or "b" not in getattr(candidate, "mode", "b"):
            continue
        try:
            fd = candidate.fileno()
            os.fstat(fd)
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            continue
        return fd if isinstance(fd, int) else None
    return None


class FileWindow(io.RawIOBase):
    """``length`` bytes of a file from ``start``, read with ``os.pread`` (thread-safe).

    Several windows share one descriptor: ``pread`` moves no file position. Seekable
    (botocore rewinds a body to retry a request or after computing its checksum) and
    sized (``len()`` is the Content-Length).
    """

    def __init__(self, fd: int, start: int, length: int) -> None:
        super().__init__()
        self.fd, self.start, self.length, self.position = fd, start, length, 0

    def __len__(self) -> int:
        return self.length

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.length}[whence]
        self.position = max(0, min(self.length, base + offset))
        return self.position

    def read(self, size: int = -1) -> bytes:
        left = self.length - self.position
        if size is None or size < 0 or size > left:
            size = left
        if size <= 0:
            return b""
        data = os.pread(self.fd, size, self.start + self.position)
        self.position += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


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
