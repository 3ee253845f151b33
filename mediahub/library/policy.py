"""What may be uploaded through the library, from ``MEDIAHUB``.

The library checks early, with messages for its users; the rule itself lives in
the storages' write path (:mod:`mediahub.storage.content`), which every other path
(model forms, filer, sync, copies) passes too: the content type stored comes from
the name, so what was checked is what S3 serves, and HTML, SVG and XML in the
public storage are stored as attachments (or refused, ``ACTIVE_CONTENT = "refuse"``)
so a browser never runs them as a page of the bucket's origin.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from django.utils.translation import gettext as _

from mediahub.conf import app_settings
from mediahub.library.errors import LibraryError
from mediahub.names import join
from mediahub.storage import content, get_storage
from mediahub.storage.content import ACTIVE_EXTENSIONS, ACTIVE_TYPES  # noqa: F401 - re-exported
from mediahub.storage.nesting import check_not_nested_private
from mediahub.storage.s3 import MediaS3Storage

#: Longest file name accepted from a form (one path segment, in characters).
MAX_SEGMENT_CHARS = 255


def guess_type(name: str) -> str:
    """The content type served for ``name`` (from its extension)."""
    return content.content_type_for(name)


def is_image_type(content_type: str) -> bool:
    """Raster images get thumbnails (SVG is active content, not an image here)."""
    return content_type.startswith("image/") and not content.is_active_type(content_type)


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
    """True for files a browser may execute (HTML, SVG, XML) when served inline.

    ``types`` (declared or stored) are parsed strictly: one that is not a single
    valid media type (``text/plain, text/html``) counts as active.
    """
    return content.is_active(name, *types)


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
    check_not_nested_private(storage, name)  # the private storage's prefix, seen from public
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
    if is_active_content(name, content_type, declared_type):
        if storage == "public" and content.active_content_mode() == "refuse":
            raise LibraryError(
                _(
                    "%(name)s is HTML, SVG or XML, which the public storage refuses "
                    "(a browser could run it as a page); upload it to the private storage."
                )
                % {"name": filename}
            )
        disposition = "attachment"
    return UploadPolicy(name=name, content_type=content_type, content_disposition=disposition)


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
    # The storage writes the type and disposition from the name (policy.object_parameters()).
    saved = target.save(policy.name, uploaded)
    from mediahub.library.operations import schedule_thumbnails

    schedule_thumbnails(storage, [saved])  # made by a worker, not by the next page
    return saved
