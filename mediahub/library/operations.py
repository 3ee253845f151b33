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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.core.files.storage import Storage
from django.utils.translation import gettext as _

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
    """Every object under ``path``; ``None`` stands for the folder's marker object."""
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


def delete_file(storage: str, name: str, warn: Warn | None = None) -> None:
    """Delete one file and its thumbnails; ``FileNotFoundError`` when it does not exist."""
    validate_name(name)
    target = get_storage(storage)
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
        _delete_keys(target, keys)
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
    except BaseException:
        _remove_quietly(target_storage, target_name)
        raise


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
    source = target.stat(name)
    if _exists(target, new_name):
        raise LibraryError(
            _("%(name)s exists already; choose another name (nothing is overwritten).")
            % {"name": new_name}
        )
    _copy_verified(target, source, target, new_name)
    _delete_original(target, name, target, new_name)
    drop_thumbnails(storage, name, warn)
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
    source = source_storage.stat(name)
    params = None
    if destination == "public" and is_active_content(name, _stored_type(source_storage, name)):
        if app_settings.ACTIVE_CONTENT == "refuse":
            raise LibraryError(
                _("%(name)s is HTML, SVG or XML, which the public storage refuses.")
                % {"name": name}
            )
        params = {"ContentType": guess_type(name), "ContentDisposition": "attachment"}
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
    return destination
