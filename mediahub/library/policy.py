"""What may be uploaded, and how it is stored (type, disposition), from ``MEDIAHUB``.

The content type stored is guessed from the name, so what was checked is what
S3 serves; HTML, SVG and XML in the public storage are stored as attachments
(or refused, ``ACTIVE_CONTENT = "refuse"``) so a browser never runs them as a
page of the bucket's origin.
"""

from __future__ import annotations

import copy
import fnmatch
import mimetypes
import posixpath
from dataclasses import dataclass

from django.core.files.storage import Storage
from django.utils.translation import gettext as _

from mediahub.conf import app_settings
from mediahub.library.errors import LibraryError
from mediahub.names import join
from mediahub.storage import get_storage
from mediahub.storage.s3 import MediaS3Storage

#: Content types a browser may run as a page (script) when served inline.
ACTIVE_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/xsl",
        "application/xslt+xml",
    }
)
ACTIVE_EXTENSIONS = frozenset(
    {".html", ".htm", ".shtml", ".xhtml", ".svg", ".svgz", ".xml", ".xsl", ".xslt"}
)
#: Longest file name accepted from a form (one path segment, in characters).
MAX_SEGMENT_CHARS = 255


def guess_type(name: str) -> str:
    """The content type served for ``name`` (from its extension)."""
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def is_image_type(content_type: str) -> bool:
    """Raster images get thumbnails (SVG is active content, not an image here)."""
    return content_type.startswith("image/") and content_type not in ACTIVE_TYPES


@dataclass(frozen=True)
class UploadPolicy:
    """How an accepted upload is written: its content type and disposition."""

    name: str
    content_type: str
    content_disposition: str | None = None

    def object_parameters(self) -> dict[str, str]:
        params = {"ContentType": self.content_type}
        if self.content_disposition:
            params["ContentDisposition"] = self.content_disposition
        return params


def is_active_content(name: str, *types: str | None) -> bool:
    """True for files a browser may execute (HTML, SVG, XML) when served inline."""
    extension = posixpath.splitext(name)[1].lower()
    if extension in ACTIVE_EXTENSIONS:
        return True
    return any((t or "").split(";")[0].strip().lower() in ACTIVE_TYPES for t in types)


def check_upload(
    storage: str, path: str, filename: str, size: int, declared_type: str | None = None
) -> UploadPolicy:
    """Accept or refuse an upload of ``filename`` (``size`` bytes) into ``path``.

    Limits come from ``MEDIAHUB``: ``UPLOAD_MAX_SIZE``, ``UPLOAD_ALLOWED_TYPES``
    and ``ACTIVE_CONTENT`` (HTML/SVG/XML in the public storage: served as an
    attachment, or refused). The content type stored is the one guessed from
    the name, so what was checked is what S3 serves.
    """
    if not isinstance(filename, str) or not filename or len(filename) > MAX_SEGMENT_CHARS:
        raise LibraryError(_("File names must be 1 to 255 characters long."))
    name = join(path, filename)
    if not isinstance(size, int) or size < 0:
        raise LibraryError(_("The file size is missing or invalid."))
    if size > app_settings.UPLOAD_MAX_SIZE:
        raise LibraryError(
            _("%(name)s is too large (%(size)s bytes; the limit is %(limit)s bytes).")
            % {"name": filename, "size": size, "limit": app_settings.UPLOAD_MAX_SIZE}
        )
    content_type = guess_type(name)
    allowed = app_settings.UPLOAD_ALLOWED_TYPES
    if allowed is not None and not any(
        fnmatch.fnmatchcase(content_type, pattern) for pattern in allowed
    ):
        raise LibraryError(
            _("%(name)s has type %(type)s, which is not allowed here (allowed: %(allowed)s).")
            % {"name": filename, "type": content_type, "allowed": ", ".join(allowed)}
        )
    disposition = None
    if storage == "public" and is_active_content(name, content_type, declared_type):
        if app_settings.ACTIVE_CONTENT == "refuse":
            raise LibraryError(
                _(
                    "%(name)s is HTML, SVG or XML, which the public storage refuses "
                    "(a browser could run it as a page); upload it to the private storage."
                )
                % {"name": filename}
            )
        disposition = "attachment"
    return UploadPolicy(name=name, content_type=content_type, content_disposition=disposition)


def with_object_parameters(storage: Storage, params: dict[str, str]) -> Storage:
    """A copy of an S3 storage writing ``params`` on every object (other storages: as is)."""
    if not isinstance(storage, MediaS3Storage):
        return storage
    clone = copy.copy(storage)
    # copy() drops the (thread-local) boto3 connections; reuse them instead of
    # building a new client for every upload.
    clone._connections = storage._connections
    clone.object_parameters = {**storage.object_parameters, **params}
    return clone


def save_upload(storage: str, path: str, uploaded) -> str:
    """Save a file uploaded through Django; returns the final name (never overwrites).

    Files at or above ``DIRECT_UPLOAD_THRESHOLD`` must go straight to S3
    (:mod:`mediahub.library.uploads`), so the app server never holds them.
    """
    size = uploaded.size
    policy = check_upload(storage, path, uploaded.name, size, uploaded.content_type)
    target = get_storage(storage)
    if size >= app_settings.DIRECT_UPLOAD_THRESHOLD and isinstance(target, MediaS3Storage):
        raise LibraryError(
            _(
                "%(name)s is too large to go through the site; the library uploads files "
                "of %(limit)s bytes or more directly to storage (JavaScript needed)."
            )
            % {"name": uploaded.name, "limit": app_settings.DIRECT_UPLOAD_THRESHOLD}
        )
    writer = with_object_parameters(target, policy.object_parameters())
    return writer.save(policy.name, uploaded)
