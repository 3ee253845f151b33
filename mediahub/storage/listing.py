"""The listing abstraction shared by every mediahub storage.

``storage.list_folder(path, prefix=..., cursor=..., page_size=...)`` returns one
:class:`FolderPage`: the sub-folders and files of one folder, with size,
last-modified and ETag taken from the listing itself (S3: one ListObjectsV2 per
page, never a request per object).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from datetime import datetime

from mediahub.names import is_valid_name, validate_folder


@dataclass(frozen=True)
class FolderEntry:
    """A sub-folder: ``path`` is its full name relative to the storage, ending in ``/``."""

    path: str

    @property
    def name(self) -> str:
        return posixpath.basename(self.path.rstrip("/"))

    @property
    def valid(self) -> bool:
        """False for raw keys that mediahub refuses to act on (``a//b/``, ``../``)."""
        return is_valid_name(self.path, folder=True)


@dataclass(frozen=True)
class FileEntry:
    """A file: ``path`` is its full object name relative to the storage."""

    path: str
    size: int
    modified: datetime | None = None
    etag: str | None = None

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    @property
    def valid(self) -> bool:
        return is_valid_name(self.path)


@dataclass
class FolderPage:
    """One page of a folder listing."""

    path: str
    prefix: str = ""
    folders: list[FolderEntry] = field(default_factory=list)
    files: list[FileEntry] = field(default_factory=list)
    cursor: str | None = None
    next_cursor: str | None = None

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None

    def __len__(self) -> int:
        return len(self.folders) + len(self.files)


def check_listing_args(path: str, prefix: str, page_size: int | None) -> int:
    """Validate ``list_folder`` arguments; return the page size to use."""
    from django.core.exceptions import SuspiciousFileOperation

    from mediahub.conf import app_settings

    validate_folder(path)
    if prefix and ("/" in prefix or not is_valid_name(path + prefix)):
        raise SuspiciousFileOperation(f"Unsafe name prefix {prefix!r}.")
    size = page_size or app_settings.PAGE_SIZE
    if not 1 <= size <= 1000:
        raise ValueError("page_size must be between 1 and 1000 (S3's listing limit).")
    return size


def page_from_sorted(
    path: str,
    prefix: str,
    entries: list[tuple[str, FolderEntry | FileEntry]],
    cursor: str | None,
    page_size: int,
) -> FolderPage:
    """Paginate ``(sort_key, entry)`` pairs in S3 key order, the cursor being the last key."""
    entries.sort(key=lambda pair: pair[0].encode("utf-8", "surrogatepass"))
    if cursor is not None:
        marker = cursor.encode("utf-8", "surrogatepass")
        entries = [pair for pair in entries if pair[0].encode("utf-8", "surrogatepass") > marker]
    chunk = entries[:page_size]
    page = FolderPage(path=path, prefix=prefix, cursor=cursor)
    for _key, entry in chunk:
        (page.folders if isinstance(entry, FolderEntry) else page.files).append(entry)
    if len(entries) > page_size:
        page.next_cursor = chunk[-1][0]
    return page
