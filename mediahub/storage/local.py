"""Local-folder storages for development, with the same listing and copy as S3.

Never use them in production on ephemeral instances (``mediahub.W004`` under
``check --deploy``). The private one has no public URL: its ``url()`` is a
mediahub signed link that streams the file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import FileSystemStorage, Storage
from django.utils.deconstruct import deconstructible

from mediahub.names import validate_name
from mediahub.storage.content import ActiveContentMixin
from mediahub.storage.listing import (
    FileEntry,
    FolderEntry,
    FolderPage,
    check_listing_args,
    page_from_sorted,
)
from mediahub.storage.validation import SaveMaxLengthMixin, save_max_length


class LocalListingMixin(ActiveContentMixin, SaveMaxLengthMixin):
    """``list_folder``, ``stat`` and ``copy`` for a FileSystemStorage.

    Active content (HTML, SVG...) is refused by the public one when
    ``ACTIVE_CONTENT = "refuse"``; a name picked after a collision keeps ``max_length``.
    """

    visibility = "public"

    def _own_name(self, name: str) -> str:
        """``name``, or the storage-relative name of an absolute path inside the folder.

        ``open(name).name`` is the file's absolute path, and tools hand it back
        (easy-thumbnails' ``thumbnail_cleanup`` calls ``exists()``/``delete()`` with it).
        """
        if not isinstance(name, str) or not os.path.isabs(name):
            return name
        root = os.path.realpath(self.location)
        real = os.path.realpath(name)
        if not real.startswith(root.rstrip(os.sep) + os.sep):
            raise SuspiciousFileOperation(f"{name!r} is not inside the storage's folder.")
        return os.path.relpath(os.path.abspath(name), os.path.abspath(self.location)).replace(
            os.sep, "/"
        )

    def path(self, name: str) -> str:
        name = self._own_name(name)
        if name not in ("", "."):
            validate_name(name.rstrip("/") if name.endswith("/") else name)
        full = super().path(name)
        # safe_join() checks the spelling only: a symlink inside the folder may lead out.
        root = os.path.realpath(self.location)
        real = os.path.realpath(full)
        if real != root and not real.startswith(root.rstrip(os.sep) + os.sep):
            raise SuspiciousFileOperation(
                f"{name!r} leads out of the storage's folder through a symbolic link."
            )
        return full

    def delete(self, name):
        from mediahub.links import changing

        name = self._own_name(name)
        validate_name(name)
        with changing(self, name):  # ends the object's signed links (every path deletes here)
            super().delete(name)

    def get_available_name(self, name, max_length=None):
        validate_name(name)
        # FileSystemStorage._save() asks again without max_length after a collision.
        if max_length is None:
            max_length = save_max_length()
        return super().get_available_name(name, max_length)

    def list_folder(
        self,
        path: str = "",
        *,
        prefix: str = "",
        cursor: str | None = None,
        page_size: int | None = None,
    ) -> FolderPage:
        size = check_listing_args(path, prefix, page_size)
        directory = self.path(path) if path else self.location
        entries: list[tuple[str, FolderEntry | FileEntry]] = []
        try:
            scan = os.scandir(directory)
        except (FileNotFoundError, NotADirectoryError):  # as on S3: an empty folder
            return FolderPage(path=path, prefix=prefix, cursor=cursor)
        with scan:
            for item in scan:
                if not item.name.startswith(prefix):
                    continue
                full = path + item.name
                if item.is_dir(follow_symlinks=False):
                    entries.append((full + "/", FolderEntry(full + "/")))
                elif item.is_file(follow_symlinks=False):
                    info = item.stat()
                    modified = datetime.fromtimestamp(info.st_mtime, tz=UTC)
                    entries.append(
                        (full, FileEntry(full, info.st_size, modified, _weak_etag(info)))
                    )
        return page_from_sorted(path, prefix, entries, cursor, size)

    def stat(self, name: str) -> FileEntry:
        info = os.stat(self.path(name))
        return FileEntry(
            name, info.st_size, datetime.fromtimestamp(info.st_mtime, tz=UTC), _weak_etag(info)
        )

    def copy(self, source_name: str, target_name: str, *, source: Storage | None = None) -> str:
        """Copy ``source_name`` of ``source`` (default: this storage) to ``target_name``."""
        source = self if source is None else source
        validate_name(source_name)
        self.check_write(target_name)
        target = self.path(target_name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        from mediahub.links import changing

        with (
            changing(self, target_name),  # may replace an object: end its signed links
            source.open(source_name, "rb") as src,
            open(target, "wb") as dst,
        ):
            shutil.copyfileobj(src, dst, 1024 * 1024)
        return target_name


def _weak_etag(info: os.stat_result) -> str:
    """A stand-in ETag for a local file: changes whenever size or mtime do."""
    return hashlib.md5(
        f"{info.st_size}-{info.st_mtime_ns}".encode(), usedforsecurity=False
    ).hexdigest()


@deconstructible(path="mediahub.storage.local.PublicFileSystemStorage")
class PublicFileSystemStorage(LocalListingMixin, FileSystemStorage):
    """A local folder served under ``base_url`` (development only)."""

    visibility = "public"


@deconstructible(path="mediahub.storage.local.PrivateFileSystemStorage")
class PrivateFileSystemStorage(LocalListingMixin, FileSystemStorage):
    """A local folder with no public URL: ``url()`` returns a mediahub signed link."""

    visibility = "private"
    #: No public URL, whatever MEDIA_URL says.
    base_url = None

    def __init__(self, location: str | None = None, **kwargs: Any) -> None:
        kwargs.pop("base_url", None)
        super().__init__(location=location, base_url=None, **kwargs)

    def url(self, name: str) -> str:
        from mediahub import links
        from mediahub.storage import alias_of

        validate_name(name)
        return links.sign(name, storage=alias_of(self) or "private")
