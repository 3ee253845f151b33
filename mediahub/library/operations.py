"""Organising the library: folders, move/rename, delete, make public/private.

Plain functions on storages (no HTTP here). Every name goes through
:mod:`mediahub.names` before it reaches a storage. Moves and visibility changes
copy first, verify the copy (size, and ETag where S3 keeps it), and delete the
original only after the copy is verified. Expected refusals (a name that
exists, a folder too big...) raise :class:`LibraryError` with a message for the
user; storage failures propagate as botocore errors and become messages in the
views.
"""

from __future__ import annotations

import logging
import posixpath
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.core.files.storage import Storage
from django.db import connections
from django.utils.translation import gettext as _

from mediahub import retry
from mediahub.conf import app_settings
from mediahub.library.browsing import optional_module
from mediahub.library.errors import LibraryError
from mediahub.library.permissions import other_storage
from mediahub.library.policy import (
    MAX_SEGMENT_CHARS,
    guess_type,
    is_active_content,
    is_image_type,
)
from mediahub.names import join, validate_folder, validate_name
from mediahub.storage import get_storage
from mediahub.storage.listing import FileEntry
from mediahub.storage.nesting import check_not_nested_private, without_nested_private
from mediahub.storage.s3 import MediaS3Storage, _is_precondition_failed

logger = logging.getLogger(__name__)


# -- folders -------------------------------------------------------------------------
def _client(storage: MediaS3Storage):
    return storage.connection.meta.client


def folder_exists(storage: Storage, path: str) -> bool:
    """True when anything (an object or the folder marker) has the prefix ``path``."""
    validate_folder(path)
    if isinstance(storage, MediaS3Storage):
        answer = _client(storage).list_objects_v2(
            Bucket=storage.bucket_name, Prefix=storage._folder_key(path), MaxKeys=1
        )
        return answer.get("KeyCount", 0) > 0
    try:
        folders, files = storage.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    parent = posixpath.dirname(path.rstrip("/"))
    name = posixpath.basename(path.rstrip("/"))
    if not folders and not files:
        # An empty directory exists when its parent lists it.
        try:
            return name in storage.listdir(parent)[0]
        except FileNotFoundError:
            return False
    return True


def create_folder(storage: str, path: str, name: str) -> str:
    """Create the folder ``path + name + "/"``; refuses a name that exists."""
    if not isinstance(name, str) or not name or len(name) > MAX_SEGMENT_CHARS:
        raise LibraryError(_("Folder names must be 1 to 255 characters long."))
    folder = join(path, name) + "/"
    validate_folder(folder)
    target = get_storage(storage)
    check_not_nested_private(target, folder)
    if isinstance(target, MediaS3Storage):
        if folder_exists(target, folder):
            raise LibraryError(_("A folder named %(name)s exists already.") % {"name": name})
        try:
            _client(target).put_object(
                Bucket=target.bucket_name,
                Key=target._folder_key(folder),
                Body=b"",
                IfNoneMatch="*",
            )
        except ClientError as error:
            if _is_precondition_failed(error):
                raise LibraryError(
                    _("A folder named %(name)s exists already.") % {"name": name}
                ) from None
            raise
        return folder
    if folder_exists(target, folder):
        raise LibraryError(_("A folder named %(name)s exists already.") % {"name": name})
    if hasattr(target, "_resolve"):  # Django's InMemoryStorage
        from django.core.files.storage.memory import InMemoryDirNode

        target._resolve(folder.rstrip("/"), create_if_missing=True, leaf_cls=InMemoryDirNode)
    else:
        import os

        os.makedirs(target.path(folder.rstrip("/")), exist_ok=True)
    return folder


@dataclass
class FolderContents:
    """Every object under a folder (up to the operation limit)."""

    path: str
    files: list[FileEntry] = field(default_factory=list)
    #: Raw keys under the folder that mediahub refuses to address by name.
    invalid: list[str] = field(default_factory=list)
    #: The folder's own marker object exists (S3).
    marker: bool = False
    truncated: bool = False

    @property
    def count(self) -> int:
        return len(self.files) + len(self.invalid)


def folder_contents(storage: str, path: str, *, limit: int | None = None) -> FolderContents:
    """All objects under ``path`` (recursively), stopping after ``limit`` + 1."""
    validate_folder(path)
    if not path:
        raise LibraryError(_("The root folder cannot be moved or deleted."))
    limit = app_settings.FOLDER_OPERATION_LIMIT if limit is None else limit
    target = get_storage(storage)
    check_not_nested_private(target, path)
    contents = FolderContents(path=path)
    for entry in _walk(target, path):
        if entry is None:
            contents.marker = True
            continue
        if contents.count >= limit:
            contents.truncated = True
            break
        if entry.valid:
            contents.files.append(entry)
        else:
            contents.invalid.append(entry.path)
    return contents


def _walk(storage: Storage, path: str) -> Iterator[FileEntry | None]:
    """Every object under ``path``; ``None`` stands for the folder's marker object.

    Objects of a private storage nested in ``storage`` are left out."""
    yield from without_nested_private(storage, _walk_all(storage, path))


def _walk_all(storage: Storage, path: str) -> Iterator[FileEntry | None]:
    if isinstance(storage, MediaS3Storage):
        folder_key = storage._folder_key(path)
        paginator = _client(storage).get_paginator("list_objects_v2")
        for answer in paginator.paginate(Bucket=storage.bucket_name, Prefix=folder_key):
            for item in answer.get("Contents", ()):
                if item["Key"] == folder_key:
                    yield None
                    continue
                yield FileEntry(
                    path=storage._relative(item["Key"]),
                    size=item["Size"],
                    modified=item.get("LastModified"),
                    etag=item.get("ETag", "").strip('"') or None,
                )
        return
    stack = [path]
    while stack:
        folder = stack.pop()
        cursor = None
        while True:
            page = storage.list_folder(folder, cursor=cursor, page_size=1000)
            yield from page.files
            stack.extend(sub.path for sub in page.folders)
            if not page.has_next:
                break
            cursor = page.next_cursor


#: ``warn(message)``: how an operation reports a problem that did not stop it.
Warn = Callable[[str], None]


def drop_thumbnails(storage: str, name: str, warn: Warn | None = None) -> None:
    """Delete the thumbnails of ``name`` (it was deleted, moved or changed visibility).

    A failure does not undo the operation; it is logged and passed to ``warn``
    (public thumbnails of a file that is gone or private stay readable until
    deleted: ``mediahub_thumbnails`` or a retry removes them).
    """
    thumbnails = optional_module("mediahub.thumbnails")
    if thumbnails is None or not hasattr(thumbnails, "delete_thumbnails"):
        return
    try:
        thumbnails.delete_thumbnails(name, storage=storage)
    except Exception:
        logger.warning("Could not delete the thumbnails of %r.", name, exc_info=True)
        if warn is not None:
            if storage == "public":
                message = _(
                    "The old thumbnails of %(name)s could not be deleted and are still public; "
                    "run mediahub.thumbnails.delete_thumbnails(%(name)r, storage=%(storage)r) "
                    "from a shell to remove them."
                )
            else:
                message = _(
                    "The old thumbnails of %(name)s could not be deleted; run "
                    "mediahub.thumbnails.delete_thumbnails(%(name)r, storage=%(storage)r) "
                    "from a shell to remove them."
                )
            warn(message % {"name": name, "storage": storage})


def schedule_thumbnails(storage: str, names: list[str]) -> None:
    """Have workers make the thumbnails of the images that just arrived at ``names``.

    Enqueued once the transaction commits; never fails the operation (see
    :func:`mediahub.thumbnails.schedule_on_commit`).
    """
    thumbnails = optional_module("mediahub.thumbnails")
    if thumbnails is None or not hasattr(thumbnails, "schedule_on_commit"):
        return
    images = [name for name in names if is_image_type(guess_type(name))]
    if images:
        thumbnails.schedule_on_commit(storage, images)


def delete_file(storage: str, name: str, warn: Warn | None = None) -> None:
    """Delete one file and its thumbnails; ``FileNotFoundError`` when it does not exist."""
    validate_name(name)
    target = get_storage(storage)
    check_not_nested_private(target, name)
    target.stat(name)  # a clear "missing" message rather than a silent no-op
    target.delete(name)
    drop_thumbnails(storage, name, warn)


def delete_folder(storage: str, path: str, warn: Warn | None = None) -> int:
    """Delete everything under ``path`` (up to the operation limit); returns the count.

    The thumbnails of the images deleted go too.
    """
    contents = folder_contents(storage, path)
    if contents.truncated:
        raise LibraryError(
            _(
                "%(path)s holds more than %(limit)s objects, more than the library deletes "
                "at once; delete its sub-folders first, or use mediahub_sync."
            )
            % {"path": path, "limit": app_settings.FOLDER_OPERATION_LIMIT}
        )
    _delete_contents(storage, path, contents, warn)
    return contents.count


def _delete_contents(storage: str, path: str, contents: FolderContents, warn: Warn | None) -> None:
    """Delete every object of ``contents`` (raw keys and the folder marker included),
    then the thumbnails of its images."""
    target = get_storage(storage)
    if isinstance(target, MediaS3Storage):
        keys = [target._folder_key(path) + _rest(path, e.path) for e in contents.files]
        keys += [target._folder_key(path) + _rest(path, raw) for raw in contents.invalid]
        if contents.marker:
            keys.append(target._folder_key(path))
        names = [entry.path for entry in contents.files]
        links_changed(storage, names)  # bulk deletes bypass delete(): end links here
        _delete_keys(target, keys)
        links_changed(storage, names)
    else:
        for entry in contents.files:
            target.delete(entry.path)
        _remove_directories(target, path)
    _drop_image_thumbnails(storage, contents.files, warn)


def _drop_image_thumbnails(storage: str, files: list[FileEntry], warn: Warn | None) -> None:
    """:func:`drop_thumbnails` for the images among ``files`` (only images have any)."""
    for entry in files:
        if is_image_type(guess_type(entry.path)):
            drop_thumbnails(storage, entry.path, warn)


def _remove_directories(storage: Storage, path: str) -> None:
    """Remove the (now empty) directories of a local or in-memory folder, deepest first."""
    folders, stack = [path], [path]
    while stack:
        page = storage.list_folder(stack.pop(), page_size=1000)
        stack.extend(sub.path for sub in page.folders)
        folders.extend(sub.path for sub in page.folders)
    for folder in sorted(folders, key=len, reverse=True):
        try:
            storage.delete(folder.rstrip("/"))
        except OSError:  # not empty (a name mediahub refuses is still in it)
            logger.warning("Left the folder %r in place: it is not empty.", folder)


def _rest(path: str, name: str) -> str:
    return name[len(path) :]


def _delete_keys(storage: MediaS3Storage, keys: list[str]) -> None:
    """Delete exact bucket keys, 1000 per request; raise if any could not be deleted."""
    client = _client(storage)
    for start in range(0, len(keys), 1000):
        batch = keys[start : start + 1000]
        answer = client.delete_objects(
            Bucket=storage.bucket_name,
            Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
        )
        if answer.get("Errors"):
            raise LibraryError(
                _("%(count)s objects could not be deleted; try again.")
                % {"count": len(answer["Errors"])}
            )


# -- copy, verify, delete -----------------------------------------------------------
def _exists(storage: Storage, name: str) -> bool:
    try:
        storage.stat(name)
    except FileNotFoundError:
        return False
    return True


def _verify(source: FileEntry, copied: FileEntry, storages: tuple[Storage, Storage]) -> bool:
    """A copy is good when sizes match and, where S3 keeps it, the ETag too."""
    if source.size != copied.size:
        return False
    both_s3 = all(isinstance(s, MediaS3Storage) for s in storages)
    simple = source.etag and copied.etag and "-" not in source.etag and "-" not in copied.etag
    if both_s3 and simple:
        return source.etag == copied.etag
    return True


def _copy_verified(
    source_storage: Storage,
    source: FileEntry,
    target_storage: Storage,
    target_name: str,
    *,
    params: dict[str, str] | None = None,
) -> None:
    """Copy ``source`` to ``target_name`` and verify it; remove a bad copy and raise.

    ``target_name`` was checked to be free, so whatever is there after a failure
    (a copy that did not verify, or one S3 made although the call or the check
    failed) is removed, best effort: a stray copy would block the retry.
    """
    try:
        if params and isinstance(target_storage, MediaS3Storage):
            _copy_replacing_metadata(
                source_storage, source.path, target_storage, target_name, params
            )
        elif callable(getattr(target_storage, "copy_if_absent", None)):
            # A conditional copy: a name taken since the caller's check is never
            # overwritten (nor removed below: it is someone else's object).
            if not target_storage.copy_if_absent(source.path, target_name, source=source_storage):
                raise _TakenMeanwhile
        else:
            target_storage.copy(source.path, target_name, source=source_storage)
        try:
            copied = target_storage.stat(target_name)
        except FileNotFoundError:
            copied = None
        if copied is None or not _verify(source, copied, (source_storage, target_storage)):
            raise LibraryError(
                _("The copy of %(name)s did not match the original; nothing was changed.")
                % {"name": source.path}
            )
    except _TakenMeanwhile:
        raise LibraryError(
            _("%(name)s exists already; nothing was overwritten.") % {"name": target_name}
        ) from None
    except BaseException:
        _remove_quietly(target_storage, target_name)
        raise


class _TakenMeanwhile(Exception):
    """The target name of a copy was taken between the check and the (conditional) copy."""


def _remove_quietly(storage: Storage, name: str) -> None:
    try:
        storage.delete(name)
    except (ClientError, BotoCoreError, OSError):
        logger.warning("Could not remove the unverified copy %r; delete it by hand.", name)


def _delete_original(
    source_storage: Storage, name: str, target_storage: Storage, target_name: str
) -> None:
    """Delete ``name`` after its copy ``target_name`` was verified.

    If the delete fails and the original is still there, the copy is removed
    (one copy, the original: a retry works) and the error propagates. If S3 did
    delete it and only the answer was lost, the move stands. If that cannot be
    told (S3 still failing), both stay: nothing is ever lost.
    """
    try:
        source_storage.delete(name)
    except (ClientError, BotoCoreError, OSError):
        try:
            still_there = _exists(source_storage, name)
        except (ClientError, BotoCoreError, OSError):
            raise LibraryError(
                _(
                    "%(name)s was copied to %(new)s but could not be deleted; both exist "
                    "now. Delete one of them by hand."
                )
                % {"name": name, "new": target_name}
            ) from None
        if not still_there:
            return
        _remove_quietly(target_storage, target_name)
        raise


def _copy_replacing_metadata(
    source: Storage, source_name: str, target: MediaS3Storage, target_name: str, params
) -> None:
    """Server-side copy that sets new headers (e.g. ``ContentDisposition: attachment``)."""
    if not target.can_copy_from(source):
        key = target._key(target_name)
        with source.open(source_name, "rb") as handle:
            _client(target).upload_fileobj(
                handle,
                target.bucket_name,
                key,
                ExtraArgs={**target._get_write_parameters(key, handle), **params},
                Config=target.transfer_config,
            )
        return
    extra: dict[str, Any] = {"MetadataDirective": "REPLACE", **params}
    if target.default_acl:
        extra["ACL"] = target.default_acl
    _client(target).copy(
        {"Bucket": source.bucket_name, "Key": source._key(source_name)},
        target.bucket_name,
        target._key(target_name),
        ExtraArgs=extra,
        Config=target.transfer_config,
    )


def move_file(storage: str, name: str, new_name: str, warn: Warn | None = None) -> str:
    """Rename/move a file inside its storage: copy, verify, then delete the original.

    Refuses when ``new_name`` exists (never overwrites). The old name's
    thumbnails are dropped. Returns ``new_name``.
    """
    validate_name(name)
    validate_name(new_name)
    if name == new_name:
        raise LibraryError(_("The new name is the same as the old one."))
    target = get_storage(storage)
    check_not_nested_private(target, name, new_name)
    source = target.stat(name)
    if _exists(target, new_name):
        raise LibraryError(
            _("%(name)s exists already; choose another name (nothing is overwritten).")
            % {"name": new_name}
        )
    _copy_verified(target, source, target, new_name)
    _delete_original(target, name, target, new_name)
    drop_thumbnails(storage, name, warn)
    schedule_thumbnails(storage, [new_name])
    return new_name


def move_folder(storage: str, path: str, new_path: str, warn: Warn | None = None) -> int:
    """Move every object of folder ``path`` to ``new_path``; returns the count.

    All copies are made and verified before any original is deleted; a failure
    removes the copies made so far and leaves the originals untouched.
    """
    validate_folder(path)
    validate_folder(new_path)
    if not new_path or new_path == path:
        raise LibraryError(_("Choose a different folder name."))
    if new_path.startswith(path):
        raise LibraryError(_("A folder cannot be moved into itself."))
    check_not_nested_private(storage, new_path)
    contents = folder_contents(storage, path)
    if contents.truncated:
        raise LibraryError(
            _("%(path)s holds more than %(limit)s objects, more than the library moves at once.")
            % {"path": path, "limit": app_settings.FOLDER_OPERATION_LIMIT}
        )
    if contents.invalid:
        raise LibraryError(
            _("%(count)s objects in %(path)s have names mediahub refuses; rename them first.")
            % {"count": len(contents.invalid), "path": path}
        )
    target = get_storage(storage)
    if folder_exists(target, new_path):
        raise LibraryError(
            _("%(path)s exists already; choose another name (nothing is merged or overwritten).")
            % {"path": new_path}
        )
    done: list[str] = []
    try:
        for entry in contents.files:
            new_name = new_path + _rest(path, entry.path)
            _copy_verified(target, entry, target, new_name)
            done.append(new_name)
        if contents.marker and isinstance(target, MediaS3Storage):
            _client(target).put_object(
                Bucket=target.bucket_name, Key=target._folder_key(new_path), Body=b""
            )
    except BaseException:
        for new_name in done:
            try:
                target.delete(new_name)
            except (ClientError, BotoCoreError):
                logger.warning("Could not remove the partial copy %r.", new_name)
        raise
    # Every copy is verified: now the originals (contents.invalid is empty, see above).
    _delete_contents(storage, path, contents, warn)
    schedule_thumbnails(storage, done)
    return len(contents.files)


def _stored_type(storage: Storage, name: str) -> str | None:
    """The Content-Type S3 serves ``name`` with (a rename keeps it: ``x.html`` -> ``x.txt``)."""
    if not isinstance(storage, MediaS3Storage):
        return None
    head = _client(storage).head_object(Bucket=storage.bucket_name, Key=storage._key(name))
    return head.get("ContentType")


def change_visibility(storage: str, name: str, warn: Warn | None = None) -> str:
    """Make a file public (from private) or private (from public); returns the new storage.

    Server-side copy to the other storage, verify, delete the original, then
    drop the original's thumbnails (they are made again in the new storage).
    HTML/SVG/XML made public (by name or by stored type) follow ``ACTIVE_CONTENT``
    (attachment with the type guessed from the name, or refused).
    """
    validate_name(name)
    destination = other_storage(storage)
    source_storage = get_storage(storage)
    target_storage = get_storage(destination)
    check_not_nested_private(source_storage, name)
    source = source_storage.stat(name)
    params = _publish_params(source_storage, name, destination)
    if _exists(target_storage, name):
        raise LibraryError(
            _(
                "A file named %(name)s exists already in the %(storage)s storage; "
                "rename one of them first (nothing is overwritten)."
            )
            % {"name": name, "storage": destination}
        )
    _copy_verified(source_storage, source, target_storage, name, params=params)
    _delete_original(source_storage, name, target_storage, name)
    drop_thumbnails(storage, name, warn)
    schedule_thumbnails(destination, [name])
    return destination


# -- chunks of a job (mediahub.jobs) ------------------------------------------------
#
# A job works through its objects a chunk at a time: list_chunk() turns a cursor
# into the next chunk's items, *_objects() do one chunk and report per item. Every
# item's operation is idempotent (resumable after a worker died half-way): a move
# whose copy exists already and matches only deletes the original, an object gone
# from the source whose copy is there counts as moved, a delete of nothing is done.

#: Largest object CopyObject copies in one request (bigger: multipart copy).
COPY_OBJECT_MAX = 5 * 1024**3


@dataclass
class Outcome:
    """What happened to one item of a chunk: done (``error`` is None) or failed."""

    name: str
    size: int = 0
    error: str | None = None


def item_of(entry: FileEntry) -> dict[str, Any]:
    """A JSON-able chunk item for a listed object."""
    item: dict[str, Any] = {"name": entry.path, "size": entry.size, "etag": entry.etag}
    if entry.modified is not None:
        item["modified"] = entry.modified.isoformat()
    if not entry.valid:
        item["raw"] = True
    return item


def list_chunk(
    storage: str, prefix: str, after: str | None, size: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Up to ``size`` objects under folder ``prefix`` whose name sorts after ``after``.

    Returns ``(items, next_cursor)``; ``next_cursor`` is None when the listing is
    complete. S3: one ``ListObjectsV2`` call; the folder's marker object is the
    item named ``prefix`` itself. Raw keys mediahub refuses are items with ``raw``.
    """
    validate_folder(prefix)
    target = get_storage(storage)
    if isinstance(target, MediaS3Storage):
        folder_key = target._folder_key(prefix)
        request: dict[str, Any] = {
            "Bucket": target.bucket_name,
            "Prefix": folder_key,
            "MaxKeys": size,
        }
        if after:
            request["StartAfter"] = folder_key + after[len(prefix) :]
        answer = retry.call(_client(target).list_objects_v2, **request)
        items = []
        for entry in answer.get("Contents", ()):
            if entry["Key"] == folder_key:
                items.append({"name": prefix, "size": 0, "etag": None, "marker": True})
                continue
            listed = FileEntry(
                path=target._relative(entry["Key"]),
                size=entry["Size"],
                modified=entry.get("LastModified"),
                etag=entry.get("ETag", "").strip('"') or None,
            )
            items.append(item_of(listed))
        more = answer.get("IsTruncated") and items
        after_items = items[-1]["name"] if more else None
        # A private storage nested in this one is not this job's to touch.
        items = list(without_nested_private(target, items, path=lambda item: item["name"]))
        return items, after_items
    # Local folders (development): walk everything, keep one slice.
    names = sorted(
        (entry for entry in _walk(target, prefix) if entry is not None), key=lambda e: e.path
    )
    rest = [entry for entry in names if after is None or entry.path > after]
    chunk = [item_of(entry) for entry in rest[:size]]
    return chunk, (chunk[-1]["name"] if len(rest) > size else None)


def count_objects(storage: str, prefix: str) -> tuple[int, int]:
    """``(objects, bytes)`` under folder ``prefix`` (markers not counted): listing only."""
    objects = total = 0
    for entry in _walk(get_storage(storage), prefix):
        if entry is not None:
            objects += 1
            total += entry.size or 0
    return objects, total


def moved_name(name: str, *, base: str, target: str) -> str:
    """Where a move puts ``name``: ``target`` + its path below ``base``, else its basename."""
    if base and name.startswith(base):
        return target + name[len(base) :]
    return target + posixpath.basename(name)


def _describe(exc: BaseException) -> str:
    """A short, secret-free message for an item's failure."""
    if isinstance(exc, LibraryError):
        return str(exc)
    if isinstance(exc, FileNotFoundError):
        return _("does not exist")
    if isinstance(exc, ClientError | BotoCoreError):
        return retry.describe(exc)
    return f"{type(exc).__name__}: {exc}"


def _pool_map(function: Callable[[Any], Any], items: list, threads: int) -> list:
    """``function`` over ``items`` on at most ``threads`` threads (S3 requests only)."""
    if threads <= 1 or len(items) <= 1:
        return [function(item) for item in items]

    def run(item: Any) -> Any:
        try:
            return function(item)
        finally:  # storage methods may record link changes: no connection left open
            connections.close_all()

    with ThreadPoolExecutor(max_workers=min(threads, len(items))) as pool:
        return list(pool.map(run, items))


def _head(storage: MediaS3Storage, key: str, client: Any = None) -> dict | None:
    try:
        client = client or _client(storage)
        return retry.call(client.head_object, Bucket=storage.bucket_name, Key=key)
    except ClientError as error:
        if retry.error_status(error) == 404:
            return None
        raise


def _etag(value: str | None) -> str | None:
    return value.strip('"') if value else None


def _same_object(size: int | None, etag: str | None, head: dict) -> bool:
    """A copy matches: same size and, for single-part ETags, the same ETag."""
    if size is not None and head["ContentLength"] != size:
        return False
    other = _etag(head.get("ETag"))
    if etag and other and "-" not in etag and "-" not in other:
        return etag == other
    return True


_JOB_CLIENTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _job_client(storage: MediaS3Storage, threads: int) -> Any:
    """A client shared by a chunk's threads, kept for the storage's lifetime."""
    from mediahub.operations.transfer import pool_client

    cached = _JOB_CLIENTS.get(storage)
    if cached is None or cached[0] < threads:
        cached = (threads, pool_client(storage, threads))
        _JOB_CLIENTS[storage] = cached
    return cached[1]


def _existing_targets(
    storage: MediaS3Storage, keys: list[str], folder_key: str, client: Any
) -> dict:
    """``{key: head-like dict}`` of the ``keys`` (sorted, under ``folder_key``) that exist.

    One listing of the key range instead of a HEAD per key: a folder move maps
    names in order, so a chunk's targets are one contiguous range.
    """
    first, last = keys[0], keys[-1]
    wanted, found = set(keys), {}
    request: dict[str, Any] = {
        "Bucket": storage.bucket_name,
        "Prefix": folder_key,
        "StartAfter": first[:-1],  # just before the first key
        "MaxKeys": 1000,
    }
    while True:
        answer = retry.call(client.list_objects_v2, **request)
        contents = answer.get("Contents", ())
        for entry in contents:
            if entry["Key"] in wanted:
                found[entry["Key"]] = {"ContentLength": entry["Size"], "ETag": entry.get("ETag")}
        if not answer.get("IsTruncated") or not contents or contents[-1]["Key"] >= last:
            return found
        request["StartAfter"] = contents[-1]["Key"]


_UNKNOWN = object()


def _move_one_s3(
    storage: MediaS3Storage, client: Any, item: dict, new_name: str, existing: Any = _UNKNOWN
) -> tuple[Outcome, str | None]:
    """Copy one object to ``new_name`` and verify: ``(outcome, source key to delete)``.

    ``existing`` is what a range listing found at ``new_name`` (``None``: nothing);
    left out, a HEAD request looks.
    """
    name = item["name"]
    try:
        if item.get("raw"):
            raise LibraryError(_("mediahub refuses this name; rename it first."))
        if new_name == name:  # its own "copy" would pass as done and the original be deleted
            raise LibraryError(_("%(name)s is in the target folder already.") % {"name": name})
        if item.get("marker"):
            key = storage._folder_key(new_name)
            retry.call(client.put_object, Bucket=storage.bucket_name, Key=key, Body=b"")
            return Outcome(name), storage._folder_key(name)
        source_key, target_key = storage._key(name), storage._key(new_name)
        size, etag = item.get("size"), item.get("etag")
        if etag is None:  # named, not listed: look it up
            head = _head(storage, source_key, client)
            if head is not None:
                size, etag = head["ContentLength"], _etag(head.get("ETag"))
            else:
                size = None
        if existing is _UNKNOWN:
            existing = _head(storage, target_key, client)
        if existing is not None:
            if size is None:  # gone from the source, there at the target: moved already
                return Outcome(name, existing["ContentLength"]), None
            if _same_object(size, etag, existing):  # copied before a worker died
                return Outcome(name, size), source_key
            raise LibraryError(
                _("%(name)s exists already; nothing was overwritten.") % {"name": new_name}
            )
        if size is None:
            raise FileNotFoundError(name)
        simple = etag and "-" not in etag and size < COPY_OBJECT_MAX
        if not simple:
            _copy_verified(storage, FileEntry(name, size, etag=etag), storage, new_name)
            return Outcome(name, size), source_key
        extra: dict[str, Any] = {"MetadataDirective": "COPY", "CopySourceIfMatch": f'"{etag}"'}
        if storage.default_acl:
            extra["ACL"] = storage.default_acl
        try:
            answer = retry.call(
                client.copy_object,
                Bucket=storage.bucket_name,
                Key=target_key,
                CopySource={"Bucket": storage.bucket_name, "Key": source_key},
                **extra,
            )
        except ClientError as error:
            if retry.error_status(error) in (404, 412):  # moved (or changed) meanwhile
                moved = _head(storage, target_key, client)
                if moved is not None and _head(storage, source_key, client) is None:
                    return Outcome(name, moved["ContentLength"]), None
            raise
        copied = _etag(answer.get("CopyObjectResult", {}).get("ETag"))
        if copied != etag:
            _remove_quietly(storage, new_name)
            raise LibraryError(
                _("The copy of %(name)s did not match the original; nothing was changed.")
                % {"name": name}
            )
        return Outcome(name, size), source_key
    except Exception as exc:  # one item's failure never stops the chunk
        return Outcome(name, item.get("size") or 0, _describe(exc)), None


def _delete_sources(
    storage: MediaS3Storage, pending: dict[str, tuple[Outcome, str]], client: Any
) -> None:
    """Delete the originals of verified copies (``{source key: (outcome, new name)}``).

    A key S3 refuses to delete keeps its original and loses its copy (one of
    them, never both, never none); the outcome becomes a failure.
    """
    keys = list(pending)
    for start in range(0, len(keys), 1000):
        batch = keys[start : start + 1000]
        try:
            answer = retry.call(
                client.delete_objects,
                Bucket=storage.bucket_name,
                Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
            )
            refused = {error["Key"]: error.get("Code", "?") for error in answer.get("Errors", ())}
        except (ClientError, BotoCoreError) as exc:
            refused = {key: retry.describe(exc) for key in batch}
        for key, code in refused.items():
            outcome, new_name = pending[key]
            if not new_name.endswith("/"):
                _remove_quietly(storage, new_name)
            outcome.error = _("the original could not be deleted (%(code)s); nothing moved") % {
                "code": code
            }


def links_changed(storage: str, names: list[str]) -> None:
    """End the signed links of ``names`` (deleted, moved away, or newly written onto),
    in a few queries for a whole chunk (``mediahub.links``' revocation state).

    A job calls it before its S3 requests (a database that cannot record it stops
    the chunk before anything changes) and after them (a link signed meanwhile).
    """
    from mediahub.storage import visibility_of

    links = optional_module("mediahub.links")
    names = [name for name in names if name and not name.endswith("/")]
    if links is None or not names:
        return
    instance = get_storage(storage)
    if visibility_of(instance) != "private":
        # A link to a public object can only ever serve a public object (a name that
        # becomes private lives in the private storage, under another alias): nothing
        # to end, and no row per moved object in the link state table.
        return
    links.objects_changed(instance, names)


def _after_removal(storage: str, outcomes: list[Outcome]) -> None:
    """What every removed original needs: its thumbnails dropped (its links are
    ended by :func:`links_changed`)."""
    for outcome in outcomes:
        if outcome.error or outcome.name.endswith("/"):
            continue
        if is_image_type(guess_type(outcome.name)):
            drop_thumbnails(storage, outcome.name)


def move_objects(
    storage: str, items: list[dict], *, base: str, target: str, threads: int = 8
) -> list[Outcome]:
    """Move one chunk of objects to folder ``target`` (see :func:`moved_name`).

    Copies (server-side, ``threads`` at a time) and verifies each, then deletes
    the originals of the verified copies in one request per 1,000. Never
    overwrites an object that is not a copy of the one moved.
    """
    validate_folder(target)
    st = get_storage(storage)
    if isinstance(st, MediaS3Storage):
        changed = [item["name"] for item in items if not item.get("raw")] + [
            moved_name(item["name"], base=base, target=target) for item in items
        ]
        links_changed(storage, changed)
        # One client for every thread (django-storages' connection is per thread: a new
        # one per thread and chunk), with a connection per thread in its pool.
        client = _job_client(st, threads)

        # Items of a folder move (listed, in order): their targets are one key range.
        ranged = [
            item
            for item in items
            if base
            and item["name"].startswith(base)
            and item.get("etag")
            and not item.get("marker")
            and not item.get("raw")
        ]
        found: dict = {}
        if ranged:
            keys = [st._key(moved_name(item["name"], base=base, target=target)) for item in ranged]
            found = _existing_targets(st, sorted(keys), st._folder_key(target), client)
        in_range = {id(item) for item in ranged}

        def one(item: dict) -> tuple[Outcome, str | None, str]:
            new_name = (
                target if item.get("marker") else moved_name(item["name"], base=base, target=target)
            )
            if id(item) in in_range:
                existing = found.get(st._key(new_name))
                outcome, source_key = _move_one_s3(st, client, item, new_name, existing)
            else:
                outcome, source_key = _move_one_s3(st, client, item, new_name)
            return outcome, source_key, new_name

        results = _pool_map(one, items, threads)
        pending = {key: (outcome, new) for outcome, key, new in results if key}
        _delete_sources(st, pending, client)
        outcomes = [outcome for outcome, _key, _new in results]
        links_changed(storage, changed)
    else:
        outcomes = [_move_one_local(storage, item, base, target) for item in items]
    _after_removal(storage, outcomes)
    schedule_thumbnails(
        storage,
        [
            moved_name(outcome.name, base=base, target=target)
            for outcome in outcomes
            if not outcome.error and not outcome.name.endswith("/")
        ],
    )
    return outcomes


def _move_one_local(storage: str, item: dict, base: str, target: str) -> Outcome:
    name = item["name"]
    try:
        if item.get("raw"):
            raise LibraryError(_("mediahub refuses this name; rename it first."))
        new_name = moved_name(name, base=base, target=target)
        st = get_storage(storage)
        source_there, target_there = _exists(st, name), _exists(st, new_name)
        if not source_there:
            if target_there:
                return Outcome(name, st.size(new_name))
            raise FileNotFoundError(name)
        source = st.stat(name) if hasattr(st, "stat") else FileEntry(name, st.size(name))
        if target_there:
            raise LibraryError(
                _("%(name)s exists already; nothing was overwritten.") % {"name": new_name}
            )
        _copy_verified(st, source, st, new_name)
        _delete_original(st, name, st, new_name)
        return Outcome(name, source.size)
    except Exception as exc:
        return Outcome(name, item.get("size") or 0, _describe(exc))


def delete_objects(storage: str, items: list[dict], *, threads: int = 8) -> list[Outcome]:
    """Delete one chunk of objects (an object already gone counts as deleted)."""
    st = get_storage(storage)
    outcomes = [Outcome(item["name"], item.get("size") or 0) for item in items]
    if isinstance(st, MediaS3Storage):
        changed = [item["name"] for item in items if not item.get("raw")]
        links_changed(storage, changed)
        keys: dict[str, Outcome] = {}
        for item, outcome in zip(items, outcomes, strict=True):
            try:
                if item.get("marker"):
                    keys[st._folder_key(item["name"])] = outcome
                elif item.get("raw"):  # a raw key from the listing: delete it as it is
                    keys[st._folder_key("") + item["name"]] = outcome
                else:
                    keys[st._key(item["name"])] = outcome
            except Exception as exc:
                outcome.error = _describe(exc)
        batch = list(keys)
        for start in range(0, len(batch), 1000):
            part = batch[start : start + 1000]
            try:
                answer = retry.call(
                    _client(st).delete_objects,
                    Bucket=st.bucket_name,
                    Delete={"Objects": [{"Key": key} for key in part], "Quiet": True},
                )
                for error in answer.get("Errors", ()):
                    keys[error["Key"]].error = error.get("Code", "?")
            except (ClientError, BotoCoreError) as exc:
                for key in part:
                    keys[key].error = retry.describe(exc)
        links_changed(storage, changed)
    else:
        for item, outcome in zip(items, outcomes, strict=True):
            try:
                if item.get("raw"):
                    raise LibraryError(_("mediahub refuses this name; rename it first."))
                validate_name(item["name"])
                st.delete(item["name"])
            except Exception as exc:
                outcome.error = _describe(exc)
    _after_removal(storage, outcomes)
    return outcomes


def remove_empty_folders(storage: str, path: str) -> None:
    """After a job emptied folder ``path`` of a local storage: remove its directories."""
    st = get_storage(storage)
    if path and not isinstance(st, MediaS3Storage):
        _remove_directories(st, path)


def publish_objects(storage: str, items: list[dict], *, threads: int = 8) -> list[Outcome]:
    """Move one chunk of objects to the other storage (same names): copy, verify, delete.

    As :func:`change_visibility`, one object at a time on ``threads`` threads;
    an object already in the other storage and matching its original (a worker
    died between copy and delete) only loses its original.
    """
    destination = other_storage(storage)
    source_storage, target_storage = get_storage(storage), get_storage(destination)

    def one(item: dict) -> Outcome:
        name = item["name"]
        try:
            if item.get("marker"):
                return Outcome(name)
            if item.get("raw"):
                raise LibraryError(_("mediahub refuses this name; rename it first."))
            validate_name(name)
            try:
                source = source_storage.stat(name)
            except FileNotFoundError:
                if _exists(target_storage, name):  # published before a worker died
                    return Outcome(name, item.get("size") or 0)
                raise
            if _exists(target_storage, name):
                copied = target_storage.stat(name)
                if not _verify(source, copied, (source_storage, target_storage)):
                    raise LibraryError(
                        _("A file named %(name)s exists already in the %(storage)s storage.")
                        % {"name": name, "storage": destination}
                    )
            else:
                params = _publish_params(source_storage, name, destination)
                _copy_verified(source_storage, source, target_storage, name, params=params)
            _delete_original(source_storage, name, target_storage, name)
            return Outcome(name, source.size)
        except Exception as exc:
            return Outcome(name, item.get("size") or 0, _describe(exc))

    names = [item["name"] for item in items if not item.get("raw") and not item.get("marker")]
    links_changed(storage, names)
    outcomes = _pool_map(one, items, threads)
    links_changed(storage, names)
    _after_removal(storage, outcomes)
    schedule_thumbnails(
        destination,
        [o.name for o in outcomes if not o.error and not o.name.endswith("/")],
    )
    return outcomes


def _publish_params(source_storage: Storage, name: str, destination: str) -> dict | None:
    """Headers a copy to ``destination`` needs (HTML/SVG/XML made public: attachment)."""
    if destination == "public" and is_active_content(name, _stored_type(source_storage, name)):
        if app_settings.ACTIVE_CONTENT == "refuse":
            raise LibraryError(
                _("%(name)s is HTML, SVG or XML, which the public storage refuses.")
                % {"name": name}
            )
        return {"ContentType": guess_type(name), "ContentDisposition": "attachment"}
    return None
