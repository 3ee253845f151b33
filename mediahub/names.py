"""The one validator for object names, used before any name reaches a storage.

django-storages rewrites unsafe names instead of refusing them (``a//b`` reads
``a/b``, ``x/../secret`` deletes ``secret``), so names are checked here, at the
edge, and refused with Django's :class:`~django.core.exceptions.SuspiciousFileOperation`.
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import SuspiciousFileOperation

#: S3's limit for a key, in UTF-8 bytes.
MAX_NAME_BYTES = 1024
#: Common file-system limit for one path segment, in UTF-8 bytes.
MAX_SEGMENT_BYTES = 255
#: Bidirectional controls: they make a displayed name read unlike its key
#: ("invoice\u202efdp.exe" shows as "invoiceexe.pdf").
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def _refuse(name: object, reason: str) -> SuspiciousFileOperation:
    return SuspiciousFileOperation(f"Unsafe object name {name!r}: {reason}.")


def validate_name(name: str, *, folder: bool = False) -> str:
    """Return ``name`` unchanged if it is a canonical, safe object name.

    A safe name is relative, uses ``/`` as its only separator, has no empty,
    ``.`` or ``..`` segment, no control character, no backslash, and fits S3's
    1024-byte key limit. With ``folder=True`` the name may be ``""`` (the root)
    and must otherwise end with ``/``. Bidirectional controls (U+202E...) count as
    control characters.
    """
    if not isinstance(name, str):
        raise _refuse(name, "not a string")
    if folder:
        if name == "":
            return name
        if not name.endswith("/"):
            raise _refuse(name, "a folder name must end with '/'")
        body = name[:-1]
    else:
        body = name
    if not body:
        raise _refuse(name, "empty name")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise _refuse(name[:40] + "...", f"longer than {MAX_NAME_BYTES} bytes")
    if body.startswith("/"):
        raise _refuse(name, "absolute names are not allowed")
    if "\\" in body:
        raise _refuse(name, "backslashes are not allowed")
    for char in body:
        if unicodedata.category(char) in ("Cc", "Cs") or char in "\u2028\u2029":
            raise _refuse(name, "control characters are not allowed")
        if char in BIDI_CONTROLS:
            raise _refuse(name, "control characters are not allowed")
    for segment in body.split("/"):
        if segment == "":
            raise _refuse(name, "empty path segment")
        if segment in (".", ".."):
            raise _refuse(name, "'.' and '..' segments are not allowed")
        if segment != segment.strip():
            raise _refuse(name, "segments may not start or end with spaces")
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise _refuse(name[:40] + "...", f"a segment is longer than {MAX_SEGMENT_BYTES} bytes")
    return name


def validate_folder(path: str) -> str:
    """Validate a folder path (``""`` for the root, else ending with ``/``)."""
    return validate_name(path, folder=True)


def is_valid_name(name: str, *, folder: bool = False) -> bool:
    """True when :func:`validate_name` accepts ``name``."""
    try:
        validate_name(name, folder=folder)
    except SuspiciousFileOperation:
        return False
    return True


def join(folder: str, name: str) -> str:
    """Join a validated folder and a single segment, validating the result."""
    validate_folder(folder)
    if "/" in name:
        raise _refuse(name, "a file name may not contain '/'")
    return validate_name(folder + name)
