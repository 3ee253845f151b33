"""Whether an S3 endpoint honours conditional writes, and what a storage does about it.

For the doctor (``mediahub_doctor``): call :func:`probe` with ``refresh=True``::

    from mediahub.storage.conditional import probe
    support = probe(storage, refresh=True)   # ConditionalSupport(put=..., copy=...)
    support.put    # a second PutObject If-None-Match: * on a key was refused (412)
    support.copy   # the same for CopyObject

mediahub creates objects with ``If-None-Match: *`` (S3 answers 412 when the key
exists, and the storage picks another name). Some S3-compatible servers ignore the
header (moto 4, several providers; moto 5 ignores it on CopyObject only): there a
"create" silently overwrites. So, per storage option ``conditional_writes``
(DSN query parameter or ``OPTIONS`` key):

* ``"auto"`` (default): :func:`probe` the endpoint and bucket once per process (a
  few requests on two objects under :data:`PROBE_PREFIX`, deleted afterwards); where
  the header is ignored, fall back to check-then-write (a HEAD, then the write) and
  log a warning once;
* ``"on"``: trust the header (no probe, no HEAD);
* ``"off"``: always check-then-write, and never send the header (for providers that
  reject it).

Check-then-write leaves a window between the HEAD and the write in which a second
writer can still win; it is the best such a provider allows, and what stock
django-storages does with ``file_overwrite=False``.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

logger = logging.getLogger(__name__)

#: ``conditional_writes`` values.
MODES = ("auto", "on", "off")
#: Reserved folder (under the storage's location) of the probe's objects.
PROBE_PREFIX = ".mediahub-probe/"


@dataclass(frozen=True)
class ConditionalSupport:
    """What a probe found for one endpoint and bucket."""

    #: ``PutObject If-None-Match: *`` is refused (412) when the key exists.
    put: bool
    #: ``CopyObject If-None-Match: *`` is refused (412) when the target key exists.
    copy: bool
    #: One line saying what was seen (for the doctor).
    detail: str = ""


_cache: dict[tuple[str, str], ConditionalSupport] = {}
_warned: set[tuple[str, str, str]] = set()
_lock = threading.Lock()


def check_mode(value: Any) -> str:
    """``value`` if it is a valid ``conditional_writes`` mode, else ``ValueError``."""
    if value not in MODES:
        raise ValueError(f"conditional_writes must be one of {', '.join(MODES)}, not {value!r}.")
    return value


def cache_key(storage: Any) -> tuple[str, str]:
    """Probes are cached per endpoint and bucket."""
    return (getattr(storage, "endpoint_url", None) or "aws", storage.bucket_name)


def remember(endpoint_url: str | None, bucket: str, support: ConditionalSupport) -> None:
    """Record what is known of ``bucket`` at ``endpoint_url`` (tests, or a site that knows)."""
    with _lock:
        _cache[(endpoint_url or "aws", bucket)] = support


def forget() -> None:
    """Drop every cached probe result (and the record of warnings given)."""
    with _lock:
        _cache.clear()
        _warned.clear()


def probe(storage: Any, *, refresh: bool = False) -> ConditionalSupport:
    """Whether ``storage``'s endpoint and bucket honour conditional writes (cached per process).

    ``refresh=True`` probes again (what the doctor does). Raises the S3 error when
    the probe objects cannot be written at all (credentials, bucket missing).
    """
    key = cache_key(storage)
    if not refresh:
        with _lock:
            if key in _cache:
                return _cache[key]
    base = storage.location.strip("/")
    support = probe_bucket(
        storage.connection.meta.client,
        storage.bucket_name,
        prefix=f"{base}/{PROBE_PREFIX}" if base else PROBE_PREFIX,
    )
    with _lock:
        _cache[key] = support
    return support


def probe_bucket(client: Any, bucket: str, *, prefix: str = PROBE_PREFIX) -> ConditionalSupport:
    """Probe (uncached): a plain PUT, a conditional PUT and a conditional copy onto it."""
    token = uuid.uuid4().hex
    first, second = f"{prefix}{token}-a", f"{prefix}{token}-b"
    client.put_object(Bucket=bucket, Key=first, Body=b"mediahub conditional-write probe")
    try:
        put, put_seen = _refused(
            lambda: client.put_object(Bucket=bucket, Key=first, Body=b"again", IfNoneMatch="*")
        )
        client.put_object(Bucket=bucket, Key=second, Body=b"target")
        copy, copy_seen = _refused(
            lambda: client.copy_object(
                Bucket=bucket,
                Key=second,
                CopySource={"Bucket": bucket, "Key": first},
                IfNoneMatch="*",
            )
        )
    finally:
        try:
            client.delete_objects(
                Bucket=bucket,
                Delete={"Objects": [{"Key": first}, {"Key": second}], "Quiet": True},
            )
        except (ClientError, BotoCoreError):
            logger.warning("Could not delete the probe objects under %r in %r.", prefix, bucket)
    return ConditionalSupport(
        put=put, copy=copy, detail=f"conditional PutObject: {put_seen}; CopyObject: {copy_seen}"
    )


def _refused(call: Any) -> tuple[bool, str]:
    """(True, ...) when ``call`` (a conditional write onto an existing key) answered 412."""
    from mediahub.storage.s3 import is_precondition_failed

    try:
        call()
    except ClientError as error:
        if is_precondition_failed(error):
            return True, "refused (412), honoured"
        code = error.response.get("Error", {}).get("Code", "?")
        return False, f"answered {code}, not supported"
    return False, "accepted, the header is ignored"


def conditional_puts(storage: Any) -> bool:
    """Whether ``storage`` may rely on ``If-None-Match: *`` for PutObject."""
    return _decide(storage, "put")


def conditional_copies(storage: Any) -> bool:
    """Whether ``storage`` may rely on ``If-None-Match: *`` for CopyObject."""
    return _decide(storage, "copy")


def _decide(storage: Any, operation: str) -> bool:
    mode = check_mode(getattr(storage, "conditional_writes", "auto"))
    if mode != "auto":
        return mode == "on"
    try:
        honoured = getattr(probe(storage), operation)
    except (ClientError, BotoCoreError) as error:
        # Not cached: the next write probes again. Meanwhile, the safe way.
        logger.warning(
            "Could not probe conditional writes on bucket %r (%s); checking names before "
            "writing instead.",
            storage.bucket_name,
            type(error).__name__,
        )
        return False
    if not honoured:
        endpoint, bucket = cache_key(storage)
        with _lock:
            first = (endpoint, bucket, operation) not in _warned
            _warned.add((endpoint, bucket, operation))
        if first:
            logger.warning(
                "The S3 endpoint of bucket %r ignores If-None-Match on %s: mediahub checks "
                "that a name is free before writing it (a small race remains). Set "
                "conditional_writes=on or off in the storage's DSN to skip this probe.",
                bucket,
                "PutObject" if operation == "put" else "CopyObject",
            )
    return honoured
