"""What an object is served as: its content type from the name, never from the client.

The one place that decides, for every write path (``save``, multipart, copies, direct
uploads, sync push, filer) and for the signed links that open private objects:

* :func:`content_type_for` gives the ``Content-Type`` stored for a name, from its
  extension only. The browser's declared type (``UploadedFile.content_type``) is
  attacker-controlled and is never stored.
* :func:`is_active` says whether a browser could run the object as a page of the
  bucket's origin: HTML, XHTML, SVG, XML and every ``+xml`` type (by name, or by
  a declared/stored type), and any declared type that does not parse strictly
  (``text/plain, text/html`` is two types: treated as active).
* :func:`write_headers` gives the headers a storage writes: the type from the name,
  plus ``Content-Disposition: attachment`` for active content, or raises
  :class:`ActiveContentRefused` in a public storage when ``MEDIAHUB["ACTIVE_CONTENT"]``
  is ``"refuse"``.
* :func:`safe_disposition` / :func:`safe_inline` turn an "open inline" request for an
  active object into a download (signed links, filer's server).
"""

from __future__ import annotations

import mimetypes
import posixpath
import re
from collections.abc import Iterable

from django.core.exceptions import SuspiciousFileOperation

#: ``MEDIAHUB["ACTIVE_CONTENT"]`` values.
ACTIVE_CONTENT_MODES = ("attachment", "refuse")
#: Stored for names whose type is unknown (browsers download it, never render it).
DEFAULT_TYPE = "application/octet-stream"

#: Content types a browser renders as a document (and so runs its scripts).
ACTIVE_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "application/vnd.wap.xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/xsl",
        "application/xslt+xml",
        "text/xml-external-parsed-entity",
        "application/xml-dtd",
        "application/mathml+xml",
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "text/rdf",
        "multipart/x-mixed-replace",
        "message/rfc822",
        "application/x-shockwave-flash",
        "text/x-server-parsed-html",
    }
)
#: Extensions that are active whatever ``mimetypes`` maps them to on this machine.
ACTIVE_EXTENSIONS = frozenset(
    {
        ".html",
        ".htm",
        ".shtml",
        ".shtm",
        ".stm",
        ".xhtml",
        ".xht",
        ".svg",
        ".svgz",
        ".xml",
        ".xsl",
        ".xslt",
        ".xsd",
        ".dtd",
        ".rss",
        ".atom",
        ".rdf",
        ".mml",
        ".mht",
        ".mhtml",
        ".swf",
    }
)
#: Types fixed here rather than read from the machine's mime.types (which varies).
_KNOWN_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".xhtml": "application/xhtml+xml",
    ".svg": "image/svg+xml",
    ".svgz": "image/svg+xml",
    ".xml": "application/xml",
    ".txt": "text/plain",
    ".pdf": "application/pdf",
    ".json": "application/json",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".md": "text/markdown",
}

# RFC 9110 media type: type "/" subtype *( OWS ";" OWS parameter ).
_TCHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t !-~\x80-\xff])*"'
_MEDIA_TYPE = re.compile(
    rf"(?P<type>{_TCHARS})/(?P<subtype>{_TCHARS})"
    rf"(?:[ \t]*;[ \t]*{_TCHARS}=(?:{_TCHARS}|{_QUOTED}))*[ \t]*"
)


class ActiveContentRefused(SuspiciousFileOperation):
    """An active file (HTML, SVG, XML...) refused by a public storage (``ACTIVE_CONTENT``)."""


def parse_content_type(value: str) -> str:
    """The lower-case ``type/subtype`` of one strictly valid media type, else ``ValueError``.

    Lists (``text/plain, text/html``), missing subtypes, control characters and
    anything else a lenient parser might read differently from a browser are refused.
    """
    if not isinstance(value, str) or len(value) > 256:
        raise ValueError("A content type must be a string of at most 256 characters.")
    match = _MEDIA_TYPE.fullmatch(value.strip(" \t"))
    if match is None:
        raise ValueError(f"Not a single valid media type: {value[:80]!r}.")
    return f"{match['type']}/{match['subtype']}".lower()


def content_type_for(name: str) -> str:
    """The ``Content-Type`` stored for ``name``: from its extension, never from a client.

    A compressed name (``page.html.gz``) gets the type of what it holds, as
    ``mimetypes`` and django-storages do (the ``Content-Encoding`` says ``gzip``).
    """
    extension = _extension(name)
    if extension in _KNOWN_TYPES:
        return _KNOWN_TYPES[extension]
    guessed, _encoding = mimetypes.guess_type(posixpath.basename(name).lower(), strict=False)
    return guessed or DEFAULT_TYPE


def is_active_type(content_type: str | None) -> bool:
    """True when a browser would render ``content_type`` as a document.

    ``None``/empty is not active; a value that does not parse strictly is.
    """
    if not content_type:
        return False
    try:
        media_type = parse_content_type(content_type)
    except ValueError:
        return True
    return media_type in ACTIVE_TYPES or media_type.endswith("+xml")


def is_active(name: str, *declared: str | None) -> bool:
    """True for a name (or any declared/stored type) a browser could run as a page."""
    inner = _inner_name(name)
    if _extension(inner) in ACTIVE_EXTENSIONS or _extension(name) in ACTIVE_EXTENSIONS:
        return True
    return is_active_type(content_type_for(name)) or any(is_active_type(t) for t in declared)


def check_mode(mode: str) -> str:
    """``mode`` if it is a valid ``ACTIVE_CONTENT`` value, else ``ValueError``."""
    if mode not in ACTIVE_CONTENT_MODES:
        raise ValueError(
            f"MEDIAHUB['ACTIVE_CONTENT'] must be one of {', '.join(ACTIVE_CONTENT_MODES)}, "
            f"not {mode!r}."
        )
    return mode


def active_content_mode() -> str:
    """``MEDIAHUB["ACTIVE_CONTENT"]``, checked."""
    from mediahub.conf import app_settings

    return check_mode(app_settings.ACTIVE_CONTENT)


def refuse_message(name: str) -> str:
    return (
        f"{posixpath.basename(name)!r} is HTML, SVG or XML (a browser could run it as a "
        "page of the bucket's origin): the public storage refuses it "
        '(MEDIAHUB["ACTIVE_CONTENT"] = "refuse"). Store it in the private storage.'
    )


def check_public_write(name: str, *declared: str | None) -> None:
    """Raise :class:`ActiveContentRefused` when a public storage must refuse ``name``."""
    if active_content_mode() == "refuse" and is_active(name, *declared):
        raise ActiveContentRefused(refuse_message(name))


def write_headers(
    name: str, *, visibility: str = "public", declared: Iterable[str | None] = ()
) -> dict[str, str]:
    """``ContentType`` (and ``ContentDisposition``) to store ``name`` with.

    Active content gets ``attachment`` in every storage (a private object's
    presigned URL serves the stored headers too); a public storage in ``refuse``
    mode raises :class:`ActiveContentRefused` instead. ``declared`` types (what the
    client or the source object claims) only ever make the answer stricter.
    """
    declared = tuple(declared)
    if visibility == "public":
        check_public_write(name, *declared)
    headers = {"ContentType": content_type_for(name)}
    if is_active(name, *declared):
        headers["ContentDisposition"] = "attachment"
    return headers


def safe_disposition(name: str, inline: bool = False) -> str:
    """``"inline"`` only when asked and ``name`` is not active, else ``"attachment"``."""
    return "inline" if safe_inline(name, inline) else "attachment"


def safe_inline(name: str, inline: bool, *declared: str | None) -> bool:
    """Whether ``name`` may be opened inline: never for active content."""
    return bool(inline) and not is_active(name, *declared)


def _extension(name: str) -> str:
    return posixpath.splitext(posixpath.basename(name))[1].lower()


def _inner_name(name: str) -> str:
    """``page.html`` for ``page.html.gz`` (what a compressed name holds)."""
    root, extension = posixpath.splitext(name)
    if extension.lower() in mimetypes.encodings_map:
        return root
    return name


def declared_type(content: object) -> tuple[str, ...]:
    """The client's declared type of ``content`` (an ``UploadedFile``), as a tuple."""
    value = getattr(content, "content_type", None)
    return (value,) if isinstance(value, str) else ()


class ActiveContentMixin:
    """For storages that store no headers (local folders, memory): refuse per the setting.

    In ``"attachment"`` mode they can only store the bytes: a development server serves
    them with the type from the name (Django's ``static.serve``); see the docs.
    """

    visibility = "public"

    def check_write(self, name: str, content: object = None) -> None:
        """Raise :class:`ActiveContentRefused` when this storage must refuse ``name``."""
        if self.visibility == "public":
            check_public_write(name, *declared_type(content))

    def _save(self, name, content):
        self.check_write(name, content)
        return super()._save(name, content)
