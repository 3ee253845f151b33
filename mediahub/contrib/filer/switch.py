"""Public ↔ private switch of filer files by server-side copy, thumbnails included.

filer switches a file (``file.is_public = ...; file.save()``) in
``File._move_file``: it reads the whole object into memory, uploads it again and
deletes the thumbnails. On mediahub's storages, :func:`install` (called by the
app's ``ready()``) replaces that with:

1. pick a free name in the other storage (filer's ``UPLOAD_TO`` for the new
   visibility) and copy the object there **server-side** (``storage.copy``);
2. **verify** the copy (size, and ETag when both are plain MD5 ETags);
3. copy every existing thumbnail server-side next to it in the other thumbnail
   storage, with easy-thumbnails' cache rows (a thumbnail that cannot be copied
   is simply rebuilt on demand);
4. once the row pointing at the copy is **committed** (``transaction.on_commit``),
   **delete** the old object, then the old thumbnails.

The save runs in a transaction. If a step before the commit fails (or an outer
transaction, such as the admin's, rolls back later), the row keeps pointing at
the untouched original (copies made before a failure are removed; after a later
rollback they are left, unreferenced, under a random name). If the delete after
the commit fails, the row is pointed back at the original, the copies are
removed and :class:`SwitchError` is raised. Once the original is gone, the
switch has happened: a leftover old thumbnail is logged (``mediahub_audit`` finds
public leftovers), never raised. Nothing is lost at any point.

Files whose storages are not mediahub's keep filer's own behaviour.
"""

from __future__ import annotations

import logging
import os
import posixpath
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.db import router, transaction
from django.db.models.signals import post_save

from mediahub.contrib.filer.storage import MediahubFilerStorage, resolve

logger = logging.getLogger("mediahub.contrib.filer")

#: Attempts at finding a free name in the target storage.
MAX_NAME_ATTEMPTS = 10
#: Errors of a storage call (S3, network, local disk).
STORAGE_ERRORS = (ClientError, BotoCoreError, OSError)
_PENDING = "_mediahub_switch"


class SwitchError(Exception):
    """A switch that did not happen; the file is where it was."""


@dataclass
class _Thumb:
    storage: Any  # the real storage
    key: str
    row: Any = None  # easy_thumbnails Thumbnail of the old copy


@dataclass
class Switch:
    """One switch in progress: what was copied, and what to delete once saved."""

    source: Any
    source_key: str
    target: Any
    target_key: str
    old_thumbnails: list[_Thumb] = field(default_factory=list)
    new_thumbnails: list[_Thumb] = field(default_factory=list)
    old_source_row: Any = None
    new_source_row: Any = None
    #: The file's row before the switch: ``(model, pk, name, is_public, database)``.
    row: tuple[Any, Any, str, bool, str | None] | None = None

    def undo(self) -> None:
        """Remove the copies (best effort): the original stays the only one."""
        for thumb in self.new_thumbnails:
            _delete_quietly(thumb.storage, thumb.key)
        _delete_quietly(self.target, self.target_key)

    def restore_row(self) -> None:
        """Point the committed row back at the original (the delete failed)."""
        if self.row is None:  # pragma: no cover - set by move_file
            return
        model, pk, name, is_public, using = self.row
        model._base_manager.using(using).filter(pk=pk).update(file=name, is_public=is_public)
        if self.new_source_row is not None:
            self.new_source_row.delete()  # its thumbnails rows too (cascade)

    def finish(self) -> None:
        """Delete the original, then its thumbnails (the committed row points at the copy)."""
        try:
            self.source.delete(self.source_key)
        except STORAGE_ERRORS as error:
            if _still_exists(self.source, self.source_key):
                self.restore_row()
                self.undo()
                raise SwitchError(
                    f"Could not delete {self.source_key!r} after copying it "
                    f"({type(error).__name__}); the switch was undone, try again."
                ) from error
        for thumb in self.old_thumbnails:
            try:
                thumb.storage.delete(thumb.key)
            except STORAGE_ERRORS as error:
                logger.error(
                    "filer switch: old thumbnail %r could not be deleted (%s); delete it "
                    "by hand (mediahub_audit lists exposed public objects).",
                    thumb.key,
                    type(error).__name__,
                )
            if thumb.row is not None:
                thumb.row.delete()
        if self.old_source_row is not None and not self.old_source_row.thumbnails.exists():
            self.old_source_row.delete()


def uses_mediahub(file_obj: Any) -> bool:
    """True when both of the file's storages are mediahub's (the switch applies)."""
    storages = getattr(file_obj.file, "storages", None) or {}
    return all(isinstance(storages.get(v), MediahubFilerStorage) for v in ("public", "private"))


def set_public(file_obj: Any, is_public: bool) -> None:
    """Make a filer file public or private (same as setting ``is_public`` and saving)."""
    if file_obj.is_public == is_public:
        return
    file_obj.is_public = is_public
    file_obj.save()


def move_file(file_obj: Any) -> Switch:
    """Copy ``file_obj``'s object and thumbnails to its new visibility; point it there.

    ``file_obj.is_public`` already holds the new visibility. Nothing is deleted
    here (see :meth:`Switch.finish`); on any failure the copies are removed and
    :class:`SwitchError` (or the storage error) propagates.
    """
    old, new = ("private", "public") if file_obj.is_public else ("public", "private")
    field_file = file_obj.file
    source_name = field_file.name
    source, source_key = resolve(field_file.storages[old], source_name)
    try:
        before = _stat(source, source_key)
    except FileNotFoundError:
        raise SwitchError(
            f"{source_name!r} is missing from its storage: nothing to move."
        ) from None
    target_name, target, target_key = _free_name(file_obj, field_file.storages[new])
    switch = Switch(source, source_key, target, target_key)
    switch.row = (
        file_obj._meta.concrete_model._meta.get_field("file").model,
        file_obj.pk,
        source_name,
        not file_obj.is_public,
        file_obj._state.db,
    )
    try:
        _copy(source, source_key, target, target_key)
        after = _stat(target, target_key)
        if not _same(before, after):
            raise SwitchError(
                f"The copy of {source_name!r} does not match the original "
                f"({before.size} vs {after.size} bytes); nothing was changed."
            )
        _move_thumbnails(file_obj, field_file, old, new, source_name, target_name, switch)
    except BaseException:
        switch.undo()
        raise
    # Tell filer the data did not change (it would otherwise re-read it for a sha1).
    file_obj._file_data_changed_hint = False
    file_obj.file = target_name
    return switch


# -- filer integration ----------------------------------------------------------------
def install() -> None:
    """Route filer's switch through :func:`move_file` for files on mediahub's storages."""
    from filer.models import File

    if getattr(File, "_mediahub_switch_installed", False):
        return
    original_move, original_save = File._move_file, File.save

    def _move_file(self) -> None:
        if not uses_mediahub(self):
            return original_move(self)
        setattr(self, _PENDING, move_file(self))

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk and self._old_is_public != self.is_public and uses_mediahub(self):
            with transaction.atomic(using=router.db_for_write(type(self), instance=self)):
                try:
                    return original_save(self, *args, **kwargs)
                except BaseException:
                    pending = self.__dict__.pop(_PENDING, None)
                    if pending is not None:  # copied, but the row was not saved
                        pending.undo()
                    raise
        return original_save(self, *args, **kwargs)

    save.alters_data = True
    File._move_file, File.save = _move_file, save
    File._mediahub_switch_installed = True
    post_save.connect(_finish_switch, dispatch_uid="mediahub.contrib.filer.switch")


def _finish_switch(sender: Any, instance: Any, using: str | None = None, **kwargs: Any) -> None:
    """Delete the original once the row pointing at the copy is committed.

    Deleting earlier would lose the file if the transaction (the admin wraps
    its save in one) rolled back after this save: the row would point at it again.
    """
    switch = instance.__dict__.pop(_PENDING, None)
    if switch is not None:
        transaction.on_commit(switch.finish, using=using)


# -- steps ------------------------------------------------------------------------------
def _free_name(file_obj: Any, proxy: Any) -> tuple[str, Any, str]:
    model_field = file_obj._meta.get_field("file")
    original = file_obj.original_filename or posixpath.basename(file_obj.file.name)
    name = model_field.generate_filename(file_obj, original)
    root, ext = os.path.splitext(name)
    for _attempt in range(MAX_NAME_ATTEMPTS):
        storage, key = resolve(proxy, name)
        if not storage.exists(key):
            return name, storage, key
        name = proxy.get_alternative_name(root, ext)
    raise SwitchError(f"No free name found for {original!r} in the other storage.")


def _copy(source: Any, source_key: str, target: Any, target_key: str) -> None:
    if callable(getattr(target, "copy", None)):
        target.copy(source_key, target_key, source=source)
        return
    with source.open(source_key, "rb") as handle:  # pragma: no cover - mediahub storages copy
        saved = target.save(target_key, handle)
    if saved != target_key:  # pragma: no cover
        target.delete(saved)
        raise SwitchError(f"{target_key!r} was taken while copying; nothing was changed.")


@dataclass(frozen=True)
class _Stat:
    size: int
    etag: str | None


def _stat(storage: Any, key: str) -> _Stat:
    if callable(getattr(storage, "stat", None)):
        entry = storage.stat(key)
        return _Stat(entry.size, entry.etag)
    if not storage.exists(key):  # pragma: no cover - mediahub storages stat
        raise FileNotFoundError(key)
    return _Stat(storage.size(key), None)  # pragma: no cover


def _same(before: _Stat, after: _Stat) -> bool:
    if before.size != after.size:
        return False
    plain = before.etag and after.etag and "-" not in before.etag + after.etag
    return not plain or before.etag == after.etag


def _move_thumbnails(file_obj, field_file, old, new, source_name, target_name, switch) -> None:
    """Copy the existing thumbnails (and their cache rows) to the new visibility."""
    from easy_thumbnails.models import Source, Thumbnail, ThumbnailDimensions
    from easy_thumbnails.utils import get_storage_hash

    source_row = Source.objects.filter(
        storage_hash=get_storage_hash(field_file.storages[old]), name=source_name
    ).first()
    if source_row is None:
        return
    switch.old_source_row = source_row
    old_proxy, new_proxy = field_file.thumbnail_storages[old], field_file.thumbnail_storages[new]
    old_start = posixpath.join(field_file.thumbnail_options[old].get("base_dir", ""), source_name)
    new_start = posixpath.join(field_file.thumbnail_options[new].get("base_dir", ""), target_name)
    new_source_row = None
    rows = source_row.thumbnails.filter(storage_hash=get_storage_hash(old_proxy))
    for row in rows.select_related("dimensions"):
        old_storage, old_key = resolve(old_proxy, row.name)
        switch.old_thumbnails.append(_Thumb(old_storage, old_key, row))
        if not row.name.startswith(old_start + "__"):
            continue  # not named by filer: rebuilt on demand
        new_name = new_start + row.name[len(old_start) :]
        new_storage, new_key = resolve(new_proxy, new_name)
        try:
            _copy(old_storage, old_key, new_storage, new_key)
        except STORAGE_ERRORS as error:
            logger.warning(
                "filer switch: thumbnail %r not copied (%s); it will be rebuilt.",
                row.name,
                type(error).__name__,
            )
            continue
        switch.new_thumbnails.append(_Thumb(new_storage, new_key))
        if new_source_row is None:
            new_source_row, _created = Source.objects.get_or_create(
                storage_hash=get_storage_hash(field_file.storages[new]),
                name=target_name,
                defaults={"modified": source_row.modified},
            )
            switch.new_source_row = new_source_row
        copy, _created = Thumbnail.objects.update_or_create(
            storage_hash=get_storage_hash(new_proxy),
            name=new_name,
            source=new_source_row,
            defaults={"modified": row.modified},
        )
        dimensions = getattr(row, "dimensions", None)
        if dimensions is not None:
            ThumbnailDimensions.objects.update_or_create(
                thumbnail=copy, defaults={"width": dimensions.width, "height": dimensions.height}
            )


def _delete_quietly(storage: Any, key: str) -> None:
    try:
        storage.delete(key)
    except STORAGE_ERRORS as error:
        logger.warning("filer switch: could not remove copy %r (%s)", key, type(error).__name__)


def _still_exists(storage: Any, key: str) -> bool:
    try:
        return storage.exists(key)
    except STORAGE_ERRORS:
        return True  # unknown: assume the original is still there, keep it referenced
