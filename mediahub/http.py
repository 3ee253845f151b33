"""HTTP helpers of downloads: safe ``Content-Disposition`` values.

A download's file name comes from object names and from whoever signed the link,
so it is treated as hostile: path separators, quotes, control characters (CR/LF
would split the header), and non-ASCII are all handled here, in one place, for
both the streamed responses and S3's ``ResponseContentDisposition``.
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
from urllib.parse import quote

#: Longest file name put in a header, in characters (extension kept).
MAX_FILENAME_LENGTH = 150
#: Name used when nothing printable is left of the given one.
FALLBACK_FILENAME = "download"

# Characters that may appear inside a quoted-string without escaping (RFC 9110 5.6.4),
# minus '"' and '\' which are replaced rather than escaped (some clients mishandle escapes),
# and minus '/': NFKD turns look-alikes such as U+FF0F (fullwidth solidus) back into it.
_QUOTABLE = re.compile(r"[^\x20\x21\x23-\x2e\x30-\x5b\x5d-\x7e]")


def safe_filename(name: str | None) -> str:
    """Return a file name fit for a download header (the last path segment, cleaned).

    Keeps only what follows the last ``/`` or ``\\``, drops control and format
    characters (CR, LF, NUL, bidi overrides), normalises to NFC, trims spaces and
    dots at the ends and shortens to :data:`MAX_FILENAME_LENGTH` characters keeping
    the extension. Never returns an empty string.
    """
    text = unicodedata.normalize("NFC", str(name or ""))
    text = re.split(r"[/\\]", text)[-1]
    text = "".join(
        char for char in text if unicodedata.category(char) not in ("Cc", "Cf", "Cs", "Zl", "Zp")
    )
    text = text.strip(" .")
    if len(text) > MAX_FILENAME_LENGTH:
        root, ext = posixpath.splitext(text)
        ext = ext if len(ext) <= 16 else ""
        text = root[: MAX_FILENAME_LENGTH - len(ext)].rstrip(" .") + ext
    return text or FALLBACK_FILENAME


def ascii_filename(name: str) -> str:
    """An ASCII stand-in for ``name`` (accents stripped, the rest ``_``) for ``filename=``."""
    decomposed = unicodedata.normalize("NFKD", name)
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    text = _QUOTABLE.sub("_", stripped)
    return text.strip(" .") or FALLBACK_FILENAME


def content_disposition(filename: str | None, *, inline: bool = False) -> str:
    """A ``Content-Disposition`` value per RFC 6266: ``filename`` plus ``filename*``.

    ``filename="..."`` carries an ASCII-only, quote-free version for old clients;
    ``filename*=UTF-8''...`` the exact (cleaned) name, percent-encoded. The result
    is pure printable ASCII, so no file name can inject a header. Django's own
    ``content_disposition_header`` sends only ``filename*`` for non-ASCII names and
    keeps separators, hence this function.
    """
    kind = "inline" if inline else "attachment"
    name = safe_filename(filename)
    fallback = ascii_filename(name)
    encoded = quote(name, safe="")
    if fallback == name:
        return f'{kind}; filename="{fallback}"'
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
