"""Listing a whole storage and reaching S3 through the storage's own client.

Every S3 request goes through django-storages' ``connection.meta.client`` (signed)
or ``unsigned_connection.meta.client`` (anonymous probes) of the storage concerned:
no second hand-made client. Raw keys are kept as listed: a key mediahub would refuse
as a name (``a//b``) is still reported (an exposed ``a//b`` is still exposed) but
never handed to a Storage method.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.files.storage import Storage

from mediahub import retry
from mediahub.names import is_valid_name, validate_folder


@dataclass(frozen=True)
class StoredObject:
    """One object of a storage: ``name`` relative to the storage, ``key`` in the bucket."""

    name: str
    key: str
    size: int
    etag: str | None = None
    modified: datetime | None = None

    @property
    def valid(self) -> bool:
        """False for raw keys mediahub refuses to use as names (``a//b``, ``../x``)."""
        return is_valid_name(self.name)


def is_s3(storage: Storage) -> bool:
    """True for django-storages S3 storages (the ones with a bucket and a client)."""
    # On the class: the instance's ``connection`` property would build a client per thread.
    return hasattr(storage, "bucket_name") and hasattr(type(storage), "connection")


def client(storage: Storage) -> Any:
    """The storage's signed boto3 client, shared by all threads.

    django-storages keeps one connection per thread; a worker pool would build a new
    boto3 session and client in every thread (about 0.1 s each). boto3 clients are
    thread-safe, so the first one is kept on the storage and reused.
    """
    return _shared(storage, "signed", lambda: storage.connection.meta.client)


def anonymous_client(storage: Storage) -> Any:
    """The storage's unsigned boto3 client: requests as a stranger would send them."""
    return _shared(storage, "anonymous", lambda: storage.unsigned_connection.meta.client)


_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_clients_lock = threading.Lock()


def _shared(storage: Storage, kind: str, build: Any) -> Any:
    # Kept beside the storage (not on it: storages must stay picklable).
    with _clients_lock:
        per_storage = _clients.setdefault(storage, {})
        if kind not in per_storage:
            per_storage[kind] = build()
        return per_storage[kind]


def base_prefix(storage: Storage) -> str:
    """The key prefix of the storage's names (its ``location``), ``""`` or ending in ``/``."""
    location = (getattr(storage, "location", "") or "").strip("/")
    return f"{location}/" if location else ""


def key_of(storage: Storage, name: str) -> str:
    """The bucket key of a (validated) object name."""
    return base_prefix(storage) + name


def describe_storage(storage: Storage) -> str:
    """``s3://bucket/prefix`` (no credentials, no endpoint secrets) or the class name."""
    if is_s3(storage):
        return f"s3://{storage.bucket_name}/{base_prefix(storage)}"
    return type(storage).__name__


def same_bucket(first: Storage, second: Storage) -> bool:
    """True when two S3 storages use the same bucket on the same endpoint."""
    return (
        is_s3(first)
        and is_s3(second)
        and first.bucket_name == second.bucket_name
        and first.endpoint_url == second.endpoint_url
    )


def shares_bucket_with_counterpart(storage: Storage, visibility: str) -> bool:
    """True when the storage of the other visibility is a prefix of the same bucket."""
    from mediahub.storage import UnknownStorage, get_storage

    try:
        other = get_storage("public" if visibility == "private" else "private")
    except UnknownStorage:
        return False
    except Exception:  # a storage that cannot be built (E009) shares nothing
        return False
    return other is not storage and same_bucket(storage, other)


def nested_prefixes(storage: Storage) -> list[str]:
    """Name prefixes (relative to ``storage``) that belong to other configured storages.

    Two storages may share a bucket with one's prefix inside the other's (the public
    storage at the bucket's root, the private one under ``private/``). A bulk operation
    on the outer storage must leave the inner one alone: a ``sync push --delete`` would
    delete its objects, an audit ``--fix`` would give private objects public ACLs.
    """
    return sorted(nested_storages(storage))


def nested_storages(storage: Storage) -> dict[str, str]:
    """``{name prefix: STORAGES alias}`` of the storages nested inside ``storage``."""
    from django.conf import settings
    from django.core.files.storage import storages

    own = _location_of(storage)
    if own is None:
        return {}
    found: dict[str, str] = {}
    for alias in settings.STORAGES:
        try:
            other = storages[alias]
        except Exception:  # noqa: S112 - a storage that cannot be built holds nothing here
            continue
        if other is storage or is_s3(other) != is_s3(storage):
            continue
        if is_s3(storage) and not same_bucket(storage, other):
            continue
        location = _location_of(other)
        if location is not None and location != own and location.startswith(own):
            found.setdefault(location[len(own) :], alias)
    return found


def _location_of(storage: Storage) -> str | None:
    """The storage's key prefix (S3) or real folder (local) ending in ``/``; None if unknown."""
    if is_s3(storage):
        return base_prefix(storage)
    from django.core.files.storage import FileSystemStorage

    if not isinstance(storage, FileSystemStorage):
        return None
    return os.path.realpath(storage.location).rstrip("/") + "/"


def check_prefix(prefix: str) -> str:
    """Normalise a ``--prefix`` to a folder (``""`` or ``a/b/``) and validate it."""
    prefix = (prefix or "").strip()
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    validate_folder(prefix)
    return prefix


def iter_objects(
    storage: Storage,
    prefix: str = "",
    *,
    page_size: int = 1000,
    policy: retry.RetryPolicy | None = None,
) -> Iterator[StoredObject]:
    """Every object under ``prefix`` (a folder), in key order, one listing request per page.

    Objects of other configured storages nested inside this one (:func:`nested_prefixes`)
    are left out.
    """
    prefix = check_prefix(prefix)
    foreign = tuple(nested_prefixes(storage))
    if is_s3(storage):
        objects = _iter_s3(storage, prefix, page_size, policy)
    else:
        objects = _iter_generic(storage, prefix)
    for item in objects:
        if not (foreign and item.name.startswith(foreign)):
            yield item


def _iter_s3(storage, prefix, page_size, policy) -> Iterator[StoredObject]:
    base = base_prefix(storage)
    kwargs: dict[str, Any] = {
        "Bucket": storage.bucket_name,
        "Prefix": base + prefix,
        "MaxKeys": page_size,
    }
    s3 = client(storage)
    while True:
        answer = retry.call(s3.list_objects_v2, policy=policy, **kwargs)
        for item in answer.get("Contents", ()):
            key = item["Key"]
            if key.endswith("/") and item.get("Size", 0) == 0:
                continue  # a folder marker, not a file
            yield StoredObject(
                name=key[len(base) :],
                key=key,
                size=item["Size"],
                etag=(item.get("ETag") or "").strip('"') or None,
                modified=item.get("LastModified"),
            )
        token = answer.get("NextContinuationToken")
        if not answer.get("IsTruncated") or not token:
            return
        kwargs["ContinuationToken"] = token


def _iter_generic(storage, prefix) -> Iterator[StoredObject]:
    """Walk a local or in-memory storage folder by folder with its ``list_folder``."""
    folders = [prefix]
    while folders:
        folder = folders.pop(0)
        cursor = None
        while True:
            page = storage.list_folder(folder, cursor=cursor, page_size=1000)
            folders.extend(entry.path for entry in page.folders if entry.valid)
            for entry in page.files:
                yield StoredObject(
                    name=entry.path,
                    key=entry.path,
                    size=entry.size,
                    etag=entry.etag,
                    modified=entry.modified,
                )
            if not page.has_next:
                break
            cursor = page.next_cursor
