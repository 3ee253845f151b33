"""Thumbnail options, source versions and thumbnail names (pure functions, no I/O).

A thumbnail's name encodes what it was built from::

    thumbnails/photos/cat.jpg.64x64_q85_crop-smart.e3b0c44298.jpg
    <prefix>   <source path> <easy-thumbnails options> <version> <ext>

The *version* is a short hash of the source's ETag (or, for storages without
ETags, its last-modified time). When the source is replaced, even outside Django,
its ETag changes, the expected name changes, and the old thumbnail is stale: no
extra column or request is needed to know it, and a CDN never serves the old
image under the new name.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from easy_thumbnails.alias import aliases as easy_aliases
from easy_thumbnails.conf import settings as easy_settings
from easy_thumbnails.files import Thumbnailer
from easy_thumbnails.options import ThumbnailOptions
from easy_thumbnails.utils import valid_processor_options

from mediahub.conf import app_settings

#: Largest width or height a thumbnail may ask for.
MAX_DIMENSION = 4000
#: easy-thumbnails' ``Thumbnail.name`` column is 255 characters long.
MAX_THUMBNAIL_NAME = 255
#: Extension of the cache row that remembers a source which cannot be thumbnailed.
FAILED_EXTENSION = "invalid"

_SIZE = re.compile(r"^\s*(\d+)\s*x\s*(\d+)\s*$")


def parse_size(size: Any) -> tuple[int, int]:
    """``"64x64"``, ``(64, 64)`` or ``[64, 64]`` as a ``(width, height)`` tuple.

    Raises ``ValueError`` for anything else (one of the two may be 0: keep the ratio).
    """
    if isinstance(size, str):
        match = _SIZE.match(size)
        if not match:
            raise ValueError(f"Thumbnail size {size!r} is not of the form 'WIDTHxHEIGHT'.")
        width, height = int(match[1]), int(match[2])
    elif isinstance(size, list | tuple) and len(size) == 2:
        try:
            width, height = (int(value) for value in size)
        except (TypeError, ValueError):
            raise ValueError(f"Thumbnail size {size!r} must be two integers.") from None
    else:
        raise ValueError(f"Thumbnail size {size!r} must be 'WIDTHxHEIGHT' or (width, height).")
    if width < 0 or height < 0 or (width == 0 and height == 0):
        raise ValueError(f"Thumbnail size {size!r} must be positive (one side may be 0).")
    if max(width, height) > MAX_DIMENSION:
        raise ValueError(f"Thumbnail size {size!r} exceeds {MAX_DIMENSION} pixels.")
    return width, height


@lru_cache(maxsize=8)
def _valid_options(processors: tuple[str, ...]) -> frozenset[str]:
    return frozenset(valid_processor_options())


def valid_options() -> frozenset[str]:
    """Option names the configured easy-thumbnails processors accept."""
    key = tuple(easy_settings.THUMBNAIL_PROCESSORS) + tuple(
        easy_settings.THUMBNAIL_SOURCE_GENERATORS
    )
    return _valid_options(key)


def get_alias(alias: str) -> dict[str, Any]:
    """Options of a named alias: ``MEDIAHUB["THUMBNAIL_ALIASES"]``, then easy-thumbnails'."""
    options = (app_settings.THUMBNAIL_ALIASES or {}).get(alias) or easy_aliases.get(alias)
    if not options:
        raise ValueError(
            f"Unknown thumbnail alias {alias!r}: define it in MEDIAHUB['THUMBNAIL_ALIASES']."
        )
    return dict(options)


def build_options(alias: str | None = None, size: Any = None, **options: Any) -> ThumbnailOptions:
    """easy-thumbnails options from an alias or a size plus extra options.

    Raises ``ValueError`` for a missing/unknown alias, a bad size or an unknown option.
    """
    if alias and size is not None:
        raise ValueError("Pass alias= or size=, not both.")
    if alias:
        merged = {**get_alias(alias), **options}
    elif size is not None:
        merged = {**options, "size": size}
    else:
        raise ValueError("Pass alias=NAME or size='WIDTHxHEIGHT'.")
    merged.pop("ALIAS", None)
    merged["size"] = parse_size(merged.get("size"))
    unknown = sorted(key for key in merged if key not in valid_options())
    if unknown:
        raise ValueError(f"Unknown thumbnail option(s) {', '.join(unknown)}.")
    return ThumbnailOptions(merged)


def options_payload(options: ThumbnailOptions) -> dict[str, Any]:
    """JSON-friendly form of ``options`` (for signed URLs)."""
    return {
        key: list(value) if isinstance(value, tuple) else value for key, value in options.items()
    }


def options_from_payload(payload: dict[str, Any]) -> ThumbnailOptions:
    data = dict(payload)
    data["size"] = parse_size(data.get("size"))
    return ThumbnailOptions(data)


def version_of(etag: str | None, modified: datetime | None) -> str | None:
    """A short, stable hash of a source version: its ETag, else its last-modified time."""
    if etag:
        text = "e:" + etag.strip('"')
    elif modified is not None:
        if modified.tzinfo is None:
            modified = modified.replace(tzinfo=UTC)
        text = "m:" + modified.astimezone(UTC).isoformat()
    else:
        return None
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:10]


def extension_for(source_name: str, transparent: bool) -> str:
    """The thumbnail's file extension, following easy-thumbnails' settings."""
    source_ext = posixpath.splitext(source_name)[1][1:].lower()
    preserve = easy_settings.THUMBNAIL_PRESERVE_EXTENSIONS
    if preserve is True or (isinstance(preserve, list | tuple) and source_ext in preserve):
        extension = source_ext
    elif transparent:
        extension = easy_settings.THUMBNAIL_TRANSPARENCY_EXTENSION
    else:
        extension = easy_settings.THUMBNAIL_EXTENSION
    return extension or "jpg"


def stem(prefix: str, source_name: str, options: ThumbnailOptions) -> str:
    """The part of a thumbnail's name before its version: ``prefix/path/file.opts.``."""
    opts = "_".join(options.prepared_options())
    name = f"{prefix}{source_name}.{opts}."
    if len(name) + 40 > MAX_THUMBNAIL_NAME:
        digest = hashlib.sha1(source_name.encode(), usedforsecurity=False).hexdigest()[:24]
        name = f"{prefix}_long/{digest}.{opts}."
    return name


def thumbnail_name(stem_: str, version: str | None, extension: str) -> str:
    return f"{stem_}{version or '0'}.{extension}"


def split_name(stem_: str, name: str) -> tuple[str, str] | None:
    """``(version, extension)`` of a thumbnail name made from ``stem_``, else None."""
    if not name.startswith(stem_):
        return None
    rest = name[len(stem_) :].split(".")
    if len(rest) != 2 or not all(rest):
        return None
    return rest[0], rest[1]


def source_key(name: str) -> str:
    """The ``Source.name`` of a source (the column holds 255 characters)."""
    if len(name) <= MAX_THUMBNAIL_NAME:
        return name
    return "sha1:" + hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()


class MediaThumbnailer(Thumbnailer):
    """A ``Thumbnailer`` whose thumbnail names carry mediahub's prefix and source version.

    Always built with both storages explicitly (``get_thumbnailer(storage, name)``
    would write to the default thumbnail storage).
    """

    def __init__(self, *args: Any, prefix: str = "", version: str | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.mediahub_prefix = prefix
        self.mediahub_version = version
        # Cache rows are written by mediahub (per alias), never looked up by storage class.
        self.thumbnail_check_cache_miss = False

    def get_thumbnail_name(self, thumbnail_options, transparent=False):
        options = self.get_options(thumbnail_options)
        return thumbnail_name(
            stem(self.mediahub_prefix, self.name, options),
            self.mediahub_version,
            extension_for(self.name, transparent),
        )
