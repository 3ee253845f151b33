"""Reading the library: folder pages, file details, links and thumbnails.

A page is one ``list_folder`` call (one ListObjectsV2 on S3) and nothing per
file (a private storage nested in the public one is not shown there, nor entered): public URLs are built by the storage without a request, private files
are signed on demand, thumbnails come from :mod:`mediahub.thumbnails` (one
database query per page) when it is installed.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.utils.translation import gettext as _

from mediahub.conf import app_settings
from mediahub.library.errors import LibraryError
from mediahub.library.policy import guess_type, is_image_type
from mediahub.names import validate_folder, validate_name
from mediahub.storage import get_storage
from mediahub.storage.listing import FileEntry, FolderEntry, FolderPage
from mediahub.storage.nesting import is_nested_private, nested_private_prefixes

logger = logging.getLogger(__name__)


@dataclass
class FileRow:
    """A file of a listing page, with what the template shows for it."""

    entry: FileEntry
    content_type: str
    url: str | None = None
    thumbnail: str | None = None

    @property
    def is_image(self) -> bool:
        return is_image_type(self.content_type)


@dataclass
class Listing:
    """One page of a folder: sub-folders, decorated files and the cursors."""

    storage: str
    page: FolderPage
    folders: list[FolderEntry] = field(default_factory=list)
    files: list[FileRow] = field(default_factory=list)
    #: Raw keys mediahub refuses to act on (``a//b``), listed but not actionable.
    invalid: list[str] = field(default_factory=list)


def list_page(
    storage: str,
    path: str = "",
    *,
    prefix: str = "",
    cursor: str | None = None,
    page_size: int | None = None,
) -> Listing:
    """One page of ``path``: one listing request, no request per file.

    Public files get their public URL (no request); private files get none here
    (the page links them to a view that signs a link on demand, so a page costs
    no signing work). Images get thumbnail URLs from :mod:`mediahub.thumbnails`
    when it is installed (one database query for the page, no storage request);
    a failing thumbnail never breaks the page.
    """
    validate_folder(path)
    if prefix:
        validate_prefix(path, prefix)
    target = get_storage(storage)
    nested = nested_private_prefixes(target)
    if nested and is_nested_private(target, path):
        raise LibraryError(
            _("This folder belongs to the private storage: browse it under Private files.")
        )
    page = target.list_folder(
        path, prefix=prefix, cursor=cursor or None, page_size=page_size or app_settings.PAGE_SIZE
    )
    listing = Listing(storage=storage, page=page)
    hidden = thumbnail_folder(storage)
    for folder in page.folders:
        if folder.path == hidden or (nested and folder.path.startswith(nested)):
            continue
        if folder.valid:
            listing.folders.append(folder)
        else:
            listing.invalid.append(folder.path)
    for entry in page.files:
        if not entry.valid:
            listing.invalid.append(entry.path)
            continue
        row = FileRow(entry=entry, content_type=guess_type(entry.path))
        if storage == "public":
            row.url = file_url(storage, entry.path)
        listing.files.append(row)
    add_thumbnails(storage, [row for row in listing.files if row.is_image])
    return listing


def thumbnail_folder(storage: str) -> str | None:
    """The folder of this storage that holds mediahub's thumbnails (hidden from the library).

    Deleting or moving it by hand would break every cached thumbnail, so it is not
    offered; ``mediahub.thumbnails.delete_thumbnails`` and the command manage it.
    """
    thumbnails = optional_module("mediahub.thumbnails.storages")
    if thumbnails is None:
        return None
    try:
        target = thumbnails.resolve_target(storage)
    except Exception:  # a thumbnail misconfiguration must never break browsing
        logger.warning("Could not resolve the thumbnail folder of %r.", storage, exc_info=True)
        return None
    return target.prefix if target.same_storage and target.prefix else None


def add_thumbnails(storage: str, rows: list[FileRow]) -> None:
    """Set ``row.thumbnail`` for image rows, passing the listing's ETag and modified time."""
    thumbnails = optional_module("mediahub.thumbnails")
    if thumbnails is None or not rows:
        return
    try:
        if hasattr(thumbnails, "thumbnails"):  # one query for the whole page
            found = thumbnails.thumbnails(
                [row.entry for row in rows], storage=storage, alias="admin"
            )
            for row, thumb in zip(rows, found, strict=True):
                row.thumbnail = thumb.url
            return
    except Exception:  # a thumbnail must never break the page
        logger.warning("No thumbnails for a page of the %s storage.", storage, exc_info=True)
        return
    for row in rows:
        row.thumbnail = _thumbnail(thumbnails, storage, row.entry)


def validate_prefix(path: str, prefix: str) -> str:
    """A name-prefix filter is one partial segment: no ``/``, nothing the validator refuses."""
    if "/" in prefix:
        raise LibraryError(_("The name filter cannot contain '/'; open the folder instead."))
    validate_name(path + prefix)
    return prefix


def optional_module(name: str):
    """Import an optional sibling feature (links, thumbnails) if it is installed."""
    if importlib.util.find_spec(name) is None:
        return None
    return importlib.import_module(name)


def _thumbnail(thumbnails, storage: str, entry: FileEntry) -> str | None:
    try:
        return thumbnails.thumbnail_url(
            entry.path,
            storage=storage,
            alias="admin",
            source_etag=entry.etag,
            source_modified=entry.modified,
        )
    except Exception:  # a thumbnail must never break the page
        logger.warning("No thumbnail for %r in the %s storage.", entry.path, storage, exc_info=True)
        return None


def file_url(
    storage: str,
    name: str,
    *,
    user: Any = None,
    expires_in: int | None = None,
    inline: bool = False,
) -> str | None:
    """The public URL of a public file, or a signed link to a private one.

    ``None`` when no link can be made (signed links not installed, or failing):
    the page then shows the name without a link.
    """
    validate_name(name)
    try:
        if storage == "public":
            target = get_storage(storage)
            if is_nested_private(target, name):
                return None  # a private file seen through the public storage: no public URL
            return target.url(name)
        links = optional_module("mediahub.links")
        if links is None or not hasattr(links, "sign"):
            return None
        return links.sign(
            name,
            storage=storage,
            user=user if user is not None and user.is_authenticated else None,
            expires_in=expires_in,
            inline=inline,
        )
    except (ClientError, BotoCoreError, ValueError, LookupError):
        logger.warning("No link for %r in the %s storage.", name, storage, exc_info=True)
        return None


def sign_link(
    name: str,
    *,
    expires_in: int,
    inline: bool = False,
    user: Any = None,
    storage: str = "private",
) -> str:
    """A signed link to a private file, for the details page's generator."""
    validate_name(name)
    links = optional_module("mediahub.links")
    if links is None or not hasattr(links, "sign"):
        raise LibraryError(_("Signed links are not available (mediahub.links is not installed)."))
    try:
        return links.sign(name, storage=storage, user=user, expires_in=expires_in, inline=inline)
    except ValueError as exc:
        raise LibraryError(str(exc)) from None


def details(storage: str, name: str) -> FileRow:
    """Metadata of one file (one HEAD request); ``FileNotFoundError`` if missing."""
    validate_name(name)
    target = get_storage(storage)
    if is_nested_private(target, name):
        raise FileNotFoundError(name)  # another storage's file: not found here
    entry = target.stat(name)
    row = FileRow(entry=entry, content_type=guess_type(name))
    if storage == "public":
        row.url = file_url(storage, name)
    if row.is_image:
        add_thumbnails(storage, [row])
    return row
