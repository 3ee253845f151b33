"""Moving bytes between a local file and a storage, in bounded memory.

* :func:`download` streams an object into a temporary file next to the target in
  chunks, checks its length (and MD5 when the ETag is one), then renames it into
  place: a failed download never leaves a partial file under the real name.
* :func:`upload` / :func:`schedule_upload` send a local file with the storage's write
  parameters (a private storage never writes a public ACL; active content is an
  attachment) and the file's mtime as metadata; one PutObject, or from the storage's
  multipart threshold on, parts sent in parallel through a :class:`RequestPool` (a
  failed multipart upload is aborted, so no partial object is ever visible).
* :class:`RequestPool`: ``jobs`` threads, one request per task: ``jobs`` is the number
  of requests in flight, parts included (not files x s3transfer threads).
* :func:`same_content` compares a local file with an object by size and MD5, also for
  multipart ETags (``md5-of-part-md5s-N``).

Every request is retried on transient failures (:mod:`mediahub.retry`).
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.core.files import File
from django.core.files.storage import Storage

from mediahub import retry
from mediahub.operations.objects import client, is_s3, key_of
from mediahub.storage import visibility_of

#: Read and write size of streamed transfers (memory used per transfer).
CHUNK_SIZE = 1024 * 1024
#: Suffix of files being downloaded (never taken for real files by sync).
PART_SUFFIX = ".mediahub-part"
MiB = 1024 * 1024


def file_md5(path: str) -> str:
    """Hex MD5 of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_SIZE), b""):
            digest.update(chunk)
    return digest.hexdigest()


def multipart_etag(path: str, part_size: int) -> str:
    """The ETag S3 gives a multipart upload of ``path`` in parts of ``part_size`` bytes."""
    digests = []
    with open(path, "rb") as handle:
        while True:
            part = hashlib.md5(usedforsecurity=False)
            left = part_size
            while left:
                chunk = handle.read(min(CHUNK_SIZE, left))
                if not chunk:
                    break
                part.update(chunk)
                left -= len(chunk)
            if left == part_size:
                break
            digests.append(part.digest())
            if left:
                break
    combined = hashlib.md5(b"".join(digests), usedforsecurity=False).hexdigest()
    return f"{combined}-{len(digests)}"


def _part_size_candidates(size: int, parts: int, preferred: int | None) -> list[int]:
    """Part sizes an uploader could have used to give ``parts`` parts for ``size`` bytes."""
    guesses = [preferred or 8 * MiB, 8 * MiB, 5 * MiB, 16 * MiB, 15 * MiB, 64 * MiB]
    # Tools that scale the part size pick a whole number of MiB.
    guesses.append(math.ceil(size / parts / MiB) * MiB)
    seen, result = set(), []
    for guess in guesses:
        if guess and guess not in seen and math.ceil(size / guess) == parts:
            seen.add(guess)
            result.append(guess)
    return result


def same_content(path: str, size: int, etag: str | None, *, part_size: int | None = None) -> bool:
    """True when the local file at ``path`` has ``size`` bytes and matches ``etag``.

    A plain ETag is the object's MD5; a multipart one (``...-N``) is recomputed for the
    part sizes that give N parts. An ETag that is neither (SSE-KMS, some providers)
    never matches, so the file is copied again: slower, never wrong.
    """
    try:
        if os.path.getsize(path) != size:
            return False
    except OSError:
        return False
    if not etag:
        return False
    etag = etag.strip('"')
    if "-" not in etag:
        return file_md5(path) == etag
    try:
        parts = int(etag.rsplit("-", 1)[1])
    except ValueError:
        return False
    return any(
        multipart_etag(path, candidate) == etag
        for candidate in _part_size_candidates(size, parts, part_size)
    )


def transfer_part_size(storage: Storage) -> int | None:
    """The multipart part size the storage uploads with (S3 storages only)."""
    config = getattr(storage, "transfer_config", None)
    return getattr(config, "multipart_chunksize", None)


# -- download -------------------------------------------------------------------------------
def download(
    storage: Storage,
    name: str,
    target: str,
    *,
    key: str | None = None,
    policy: retry.RetryPolicy | None = None,
    s3: Any = None,
) -> int:
    """Copy object ``name`` to the local file ``target`` (replaced atomically); bytes copied.

    ``s3``: the client to use (default: the storage's; :func:`pool_client` for many threads).
    """
    directory = os.path.dirname(target) or "."
    os.makedirs(directory, exist_ok=True)

    def attempt() -> int:
        handle = tempfile.NamedTemporaryFile(
            dir=directory, prefix=".", suffix=PART_SUFFIX, delete=False
        )
        try:
            with handle:
                written = _fetch(storage, name, key, handle, s3)
            os.replace(handle.name, target)
            return written
        except BaseException:
            _remove(handle.name)
            raise

    return retry.call(attempt, policy=policy)


def _fetch(storage: Storage, name: str, key: str | None, handle: Any, s3: Any = None) -> int:
    if not is_s3(storage):
        with storage.open(name, "rb") as source:
            shutil.copyfileobj(source, handle, CHUNK_SIZE)
            return handle.tell()
    answer = (s3 or client(storage)).get_object(
        Bucket=storage.bucket_name, Key=key or key_of(storage, name)
    )
    expected = answer.get("ContentLength")
    etag = (answer.get("ETag") or "").strip('"')
    digest = hashlib.md5(usedforsecurity=False)
    written = 0
    body = answer["Body"]
    try:
        for chunk in body.iter_chunks(CHUNK_SIZE):
            handle.write(chunk)
            digest.update(chunk)
            written += len(chunk)
    finally:
        body.close()
    if expected is not None and written != expected:
        raise retry.OperationError(
            f"download of {name!r} stopped at {written} of {expected} bytes", retryable=True
        )
    encoded = answer.get("ContentEncoding")
    # With SSE-KMS or SSE-C the ETag is not the MD5 of the bytes: nothing to compare.
    md5_etag = answer.get("ServerSideEncryption", "AES256") == "AES256" and not answer.get(
        "SSECustomerAlgorithm"
    )
    if etag and "-" not in etag and md5_etag and not encoded and digest.hexdigest() != etag:
        raise retry.OperationError(
            f"download of {name!r} does not match its ETag (corrupted in transit)", retryable=True
        )
    return written


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


# -- upload ---------------------------------------------------------------------------------
def write_parameters(storage: Storage, name: str) -> dict[str, Any]:
    """The storage's write parameters for ``name``; never a public ACL on a private storage."""
    key = key_of(storage, name)
    params = dict(storage._get_write_parameters(key))
    # mimetypes maps "x.tar.gz" to ContentEncoding gzip: wrong for a file stored as is.
    if "ContentEncoding" not in storage.get_object_parameters(key):
        params.pop("ContentEncoding", None)
    if visibility_of(storage) == "private" and str(params.get("ACL", "")).startswith("public"):
        raise retry.OperationError(
            f"refusing to write {name!r} with ACL {params['ACL']!r} to a private storage"
        )
    return params


#: Largest file a sync sends in one PutObject when other files keep the requests busy.
SINGLE_PUT_LIMIT = 64 * MiB
#: Object metadata written by mediahub on upload: the local file's mtime (nanoseconds).
#: With the size, it tells an unchanged file without reading it (``mediahub_sync``).
MTIME_METADATA = "mediahub-mtime"
#: The part size of a multipart upload, so that its ETag can be recomputed exactly.
PART_SIZE_METADATA = "mediahub-part-size"


class RequestPool:
    """At most ``jobs`` S3 requests in flight, multipart parts included.

    ``jobs`` threads run the submitted tasks, and every task makes at most one request
    at a time and never waits for another task (a multipart upload is a chain: its
    parts are tasks of their own, and the part that finishes last completes it), so
    ``jobs`` is the number of concurrent requests, not files × parts.
    """

    def __init__(self, jobs: int) -> None:
        self.jobs = max(1, int(jobs))
        self._executor = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="mediahub")
        self._pending = 0
        self._idle = threading.Condition()

    def submit(self, task: Callable[[], Any]) -> None:
        with self._idle:
            self._pending += 1
        self._executor.submit(self._run, task)

    def _run(self, task: Callable[[], Any]) -> None:
        try:
            task()
        finally:
            with self._idle:
                self._pending -= 1
                if not self._pending:
                    self._idle.notify_all()

    def join(self) -> None:
        """Wait until every task (and every task they submitted) has run."""
        with self._idle:
            while self._pending:
                self._idle.wait()

    def close(self) -> None:
        self.join()
        self._executor.shutdown(wait=True)

    def __enter__(self) -> RequestPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def pool_client(storage: Storage, jobs: int) -> Any:
    """The storage's client, or a twin of it with ``jobs`` pooled connections.

    botocore keeps 10 connections per client by default: more threads than that would
    open and drop a connection per request.
    """
    shared = client(storage)
    if jobs <= shared.meta.config.max_pool_connections:
        return shared
    from botocore.config import Config

    return storage._create_session().client(
        "s3",
        region_name=storage.region_name,
        use_ssl=storage.use_ssl,
        endpoint_url=storage.endpoint_url,
        config=storage.client_config.merge(Config(max_pool_connections=jobs)),
        verify=storage.verify,
    )


def schedule_upload(
    pool: RequestPool,
    s3: Any,
    storage: Storage,
    source: str,
    name: str,
    *,
    done: Callable[[str | None, BaseException | None], None],
    size: int | None = None,
    mtime_ns: int | None = None,
    policy: retry.RetryPolicy | None = None,
    single_put_below: int = 0,
) -> None:
    """Upload ``source`` as object ``name`` through ``pool``; ``done(etag, error)`` at the end.

    Call it from a task of ``pool`` (it makes the first request itself). Small files are
    one PutObject; from the storage's multipart threshold on (or ``single_put_below``, when
    higher: many files in flight keep the requests busy without parts), the parts are
    tasks of the pool (parallel, one part in memory per task) and a failed upload is
    aborted, so no partial object is ever visible. The storage's write parameters are used (type,
    disposition of active content, the private mark; never a public ACL on a private
    storage), plus the file's mtime (:data:`MTIME_METADATA`).
    """
    try:
        stat = os.stat(source)
        size = stat.st_size if size is None else size
        mtime_ns = stat.st_mtime_ns if mtime_ns is None else mtime_ns
        params = write_parameters(storage, name)
        metadata = dict(params.get("Metadata") or {})
        metadata[MTIME_METADATA] = str(mtime_ns)
        key = key_of(storage, name)
        config = storage.transfer_config
        part_size = max(int(config.multipart_chunksize or 8 * MiB), 5 * MiB)
        threshold = max(int(config.multipart_threshold or 8 * MiB), 5 * MiB, single_put_below)
        if size < threshold:

            def put() -> str:
                # Reopened on every attempt, so a retry sends the whole body again.
                with open(source, "rb") as body:
                    answer = s3.put_object(
                        Bucket=storage.bucket_name,
                        Key=key,
                        Body=body,
                        **{**params, "Metadata": metadata},
                    )
                return (answer.get("ETag") or "").strip('"')

            etag = retry.call(put, policy=policy)
        else:
            metadata[PART_SIZE_METADATA] = str(part_size)
            upload_id = retry.call(
                s3.create_multipart_upload,
                Bucket=storage.bucket_name,
                Key=key,
                policy=policy,
                **{**params, "Metadata": metadata},
            )["UploadId"]
            _MultipartUpload(
                pool, s3, storage.bucket_name, key, source, size, part_size, upload_id, done, policy
            ).start()
            return
    except BaseException as error:
        done(None, error)
        return
    done(etag, None)


class _MultipartUpload:
    """The parts of one multipart upload as pool tasks; the last one completes (or aborts)."""

    def __init__(self, pool, s3, bucket, key, source, size, part_size, upload_id, done, policy):
        self.pool, self.s3, self.bucket, self.key = pool, s3, bucket, key
        self.source, self.size, self.part_size = source, size, part_size
        self.upload_id, self.done, self.policy = upload_id, done, policy
        self.count = max(1, math.ceil(size / part_size))
        self.etags: dict[int, str] = {}
        self.error: BaseException | None = None
        self.left = self.count
        self.lock = threading.Lock()

    def start(self) -> None:
        for number in range(1, self.count + 1):
            self.pool.submit(lambda number=number: self.part(number))

    def part(self, number: int) -> None:
        try:
            if self.error is None:
                offset = (number - 1) * self.part_size
                with open(self.source, "rb") as handle:
                    handle.seek(offset)
                    body = handle.read(min(self.part_size, self.size - offset))
                answer = retry.call(
                    self.s3.upload_part,
                    Bucket=self.bucket,
                    Key=self.key,
                    UploadId=self.upload_id,
                    PartNumber=number,
                    Body=body,
                    policy=self.policy,
                )
                with self.lock:
                    self.etags[number] = answer["ETag"]
        except BaseException as error:
            with self.lock:
                self.error = self.error or error
        with self.lock:
            self.left -= 1
            last = not self.left
        if last:
            self.finish()

    def finish(self) -> None:
        if self.error is None:
            try:
                answer = retry.call(
                    self.s3.complete_multipart_upload,
                    Bucket=self.bucket,
                    Key=self.key,
                    UploadId=self.upload_id,
                    MultipartUpload={
                        "Parts": [
                            {"ETag": self.etags[n], "PartNumber": n}
                            for n in range(1, self.count + 1)
                        ]
                    },
                    policy=self.policy,
                )
            except BaseException as error:
                self.error = error
            else:
                self.done((answer.get("ETag") or "").strip('"'), None)
                return
        try:
            self.s3.abort_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self.upload_id
            )
        except Exception:  # noqa: S110 - the upload's own error is the one to report
            pass
        self.done(None, self.error)


def upload(
    storage: Storage,
    source: str,
    name: str,
    *,
    policy: retry.RetryPolicy | None = None,
    jobs: int | None = None,
) -> int:
    """Write the local file ``source`` as object ``name`` (replacing it); bytes sent.

    On S3 a large file goes up in parts, ``jobs`` requests at a time (default: the
    storage's ``part_concurrency``).
    """
    size = os.path.getsize(source)
    if not is_s3(storage):

        def generic() -> int:
            if storage.exists(name):
                storage.delete(name)
            with open(source, "rb") as handle:
                saved = storage.save(name, File(handle, name=os.path.basename(name)))
            if saved != name:
                raise retry.OperationError(f"{type(storage).__name__} saved {name!r} as {saved!r}")
            return size

        return retry.call(generic, policy=policy)
    jobs = jobs or getattr(storage, "part_concurrency", None) or 4
    outcome: list[BaseException | None] = []
    with RequestPool(jobs) as pool:
        pool.submit(
            lambda: schedule_upload(
                pool,
                pool_client(storage, jobs),
                storage,
                source,
                name,
                size=size,
                done=lambda _etag, error: outcome.append(error),
                policy=policy,
            )
        )
    if outcome and outcome[0] is not None:
        raise outcome[0]
    return size


def delete_objects(storage: Storage, names: list[str], *, policy=None) -> list[str]:
    """Delete ``names`` (1,000 per request on S3); returns the names that failed."""
    failed: list[str] = []
    if not is_s3(storage):
        for name in names:
            try:
                retry.call(storage.delete, name, policy=policy)
            except Exception:
                failed.append(name)
        return failed
    from mediahub.links import changing

    s3 = client(storage)
    for start in range(0, len(names), 1000):
        batch = names[start : start + 1000]
        with changing(storage, *batch):  # ends the objects' signed links (as delete() does)
            answer = retry.call(
                s3.delete_objects,
                Bucket=storage.bucket_name,
                Delete={"Objects": [{"Key": key_of(storage, n)} for n in batch], "Quiet": True},
                policy=policy,
            )
        prefix_length = len(key_of(storage, ""))
        failed.extend(error["Key"][prefix_length:] for error in answer.get("Errors", ()))
    return failed
