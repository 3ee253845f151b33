"""Storage DSNs: one URL string describes one storage.

``parse(dsn, visibility="public"|"private")`` returns a ``STORAGES`` entry::

    STORAGES = {
        "default": dsn.parse(os.environ["DEFAULT_STORAGE_DSN"]),
        "private": dsn.parse(os.environ["PRIVATE_STORAGE_DSN"], visibility="private"),
    }

Forms (secrets percent-encoded, query parameters override defaults):

* ``s3://KEY:SECRET@BUCKET.s3.REGION.amazonaws.com/PREFIX`` (AWS, virtual-hosted)
* ``s3://KEY:SECRET@HOST[:PORT]/BUCKET/PREFIX`` (other providers, path-style, HTTPS)
* ``s3+http://...`` the same over plain HTTP (local servers)
* ``file:///ABSOLUTE/PATH?url=/media/`` (development only)
* ``memory://`` (tests)

Query parameters: ``region``, ``domain`` (custom/CDN domain, public only),
``acl`` (``public-read``, ``private`` or ``none``), ``expiry`` (seconds of
presigned URLs, at most 7 days), ``addressing`` (``path`` or ``virtual``),
``conditional_writes`` (``auto``, ``on`` or ``off``: see
:mod:`mediahub.storage.conditional`), ``parallel_parts`` (parts of one large save
in flight at once, 1 to 64).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

#: SigV4 presigned URLs cannot live longer than 7 days.
MAX_PRESIGN_EXPIRY = 7 * 24 * 3600

BACKENDS = {
    ("s3", "public"): "mediahub.storage.s3.PublicS3Storage",
    ("s3", "private"): "mediahub.storage.s3.PrivateS3Storage",
    ("file", "public"): "mediahub.storage.local.PublicFileSystemStorage",
    ("file", "private"): "mediahub.storage.local.PrivateFileSystemStorage",
    ("memory", "public"): "mediahub.storage.memory.PublicMemoryStorage",
    ("memory", "private"): "mediahub.storage.memory.PrivateMemoryStorage",
}

_AWS_HOST = re.compile(
    r"^(?P<bucket>[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])\.s3"
    r"(?:[.-](?P<region>[a-z]{2}(?:-[a-z]+)+-\d))?\.amazonaws\.com(?:\.cn)?"
)
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")
_REGION = re.compile(r"[a-z0-9][a-z0-9-]{0,40}")
_ACLS = {"public-read": "public-read", "private": "private", "none": None}
_S3_PARAMS = {
    "region",
    "domain",
    "acl",
    "expiry",
    "addressing",
    "conditional_writes",
    "parallel_parts",
}
_CONDITIONAL_WRITES = ("auto", "on", "off")


class DSNError(ImproperlyConfigured):
    """A malformed storage DSN. The message names the part, never the secret."""


def _fail(part: str, problem: str) -> DSNError:
    return DSNError(f"Invalid storage DSN: {part} {problem}.")


def parse(dsn: str, *, visibility: str = "public") -> dict[str, Any]:
    """Return the ``STORAGES`` entry (``{"BACKEND": ..., "OPTIONS": {...}}``) for ``dsn``."""
    if visibility not in ("public", "private"):
        raise ImproperlyConfigured(f"visibility must be 'public' or 'private', not {visibility!r}.")
    if not isinstance(dsn, str) or not dsn.strip():
        raise _fail("the DSN", "is empty")
    if any(ord(c) < 32 or ord(c) == 127 for c in dsn):
        raise _fail("the DSN", "contains control characters")
    scheme, sep, _rest = dsn.partition("://")
    if not sep:
        raise _fail("the scheme", "is missing (expected s3://, s3+http://, file:// or memory://)")
    scheme = scheme.lower()
    if scheme in ("s3", "s3+https", "s3+http"):
        return _parse_s3(dsn, scheme, visibility)
    if scheme == "file":
        return _parse_file(dsn, visibility)
    if scheme == "memory":
        return _parse_memory(dsn, visibility)
    # Do not echo the DSN: the scheme alone is safe to show.
    raise _fail(f"the scheme {scheme[:20]!r}", "is not one of s3, s3+http, file, memory")


def _query(query: str, allowed: set[str]) -> dict[str, str]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise _fail("the query string", "is malformed") from None
    params: dict[str, str] = {}
    for key, value in pairs:
        if key not in allowed:
            raise _fail(
                f"query parameter {key[:30]!r}",
                f"is unknown (allowed: {', '.join(sorted(allowed))})",
            )
        if key in params:
            raise _fail(f"query parameter {key!r}", "is given twice")
        params[key] = value
    return params


def _split_netloc(netloc: str) -> tuple[str | None, str | None, str]:
    """Split ``user:password@host`` without urllib (which may echo secrets in errors)."""
    userinfo, at, hostport = netloc.rpartition("@")
    if not at:
        return None, None, netloc
    key, colon, secret = userinfo.partition(":")
    if not colon or not key or not secret:
        raise _fail("the credentials", "must be KEY:SECRET (percent-encoded) or omitted")
    return unquote(key), unquote(secret), hostport


def _parse_s3(dsn: str, scheme: str, visibility: str) -> dict[str, Any]:
    rest = dsn.split("://", 1)[1]
    # A secret with an unencoded '/', '?' or '#' ends the host early and leaves the
    # rest of the secret in the path or query, where error messages would quote it.
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    if "@" not in rest[:end] and "@" in rest[end:]:
        try:
            return _parse_s3_parts(rest, scheme, visibility)
        except DSNError:
            raise _fail(
                "the credentials or the host",
                "are malformed: percent-encode the key and secret "
                "('/' as %2F, '+' as %2B, '@' as %40, '?' as %3F, '#' as %23)",
            ) from None
    return _parse_s3_parts(rest, scheme, visibility)


def _parse_s3_parts(rest: str, scheme: str, visibility: str) -> dict[str, Any]:
    rest, _hash, fragment = rest.partition("#")
    if fragment:
        raise _fail("the fragment", "is not allowed")
    rest, _q, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    access_key, secret_key, hostport = _split_netloc(netloc)
    params = _query(query, _S3_PARAMS)
    if not hostport:
        raise _fail("the host", "is missing")
    if hostport.startswith("["):
        host, bracket, port = hostport.partition("]")
        if not bracket or (port and not port.startswith(":")):
            raise _fail("the host", "is not a valid [IPv6] address (expected [ADDRESS]:PORT)")
        host += "]"
        port = port.removeprefix(":")
    elif ":" in hostport:
        host, _colon, port = hostport.rpartition(":")
    else:
        host, port = hostport, ""
    if port:
        if not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
            # Not quoted: with a missing '@', what stands there is the secret.
            raise _fail("the port", "is not a number between 1 and 65535")
    host = host.lower()
    if not re.fullmatch(r"[a-z0-9.\-]+|\[[0-9a-f:.]+\]", host):
        raise _fail(f"the host {host[:60]!r}", "is not a valid host name")

    segments = [unquote(s) for s in path.split("/")] if slash else []
    options: dict[str, Any] = {
        "signature_version": "s3v4",
        "access_key": access_key,
        "secret_key": secret_key,
    }
    aws = _AWS_HOST.fullmatch(host)
    if aws and scheme == "s3" and not port:
        options["bucket_name"] = aws.group("bucket")
        options["region_name"] = aws.group("region") or "us-east-1"
        options["addressing_style"] = "virtual"
    else:
        if not segments or not segments[0]:
            raise _fail("the bucket", "is missing (expected s3://KEY:SECRET@HOST/BUCKET/PREFIX)")
        options["bucket_name"] = segments.pop(0)
        protocol = "http" if scheme == "s3+http" else "https"
        options["endpoint_url"] = f"{protocol}://{hostport.lower()}"
        options["addressing_style"] = "path"
        options["region_name"] = "us-east-1"
        if scheme == "s3+http":
            options["url_protocol"] = "http:"
    if not _BUCKET.fullmatch(options["bucket_name"]):
        raise _fail(f"the bucket {options['bucket_name'][:70]!r}", "is not a valid bucket name")

    prefix = "/".join(s for s in segments)
    if prefix:
        from mediahub.names import is_valid_name

        if not is_valid_name(prefix.rstrip("/")):
            raise _fail(f"the prefix {prefix[:60]!r}", "is not a safe object name")
        options["location"] = prefix.rstrip("/")

    if "region" in params:
        if not _REGION.fullmatch(params["region"]):
            raise _fail(f"the region {params['region'][:30]!r}", "is not valid")
        options["region_name"] = params["region"]
    if "addressing" in params:
        if params["addressing"] not in ("path", "virtual"):
            raise _fail("addressing", "must be 'path' or 'virtual'")
        options["addressing_style"] = params["addressing"]
    if "acl" in params:
        if params["acl"] not in _ACLS:
            raise _fail(f"acl {params['acl'][:30]!r}", "must be public-read, private or none")
        acl = _ACLS[params["acl"]]
        if visibility == "private" and acl == "public-read":
            raise _fail("acl=public-read", "is not allowed on a private storage")
        options["default_acl"] = acl
    if "expiry" in params:
        options["querystring_expire"] = _expiry(params["expiry"])
    if "conditional_writes" in params:
        if params["conditional_writes"] not in _CONDITIONAL_WRITES:
            raise _fail("conditional_writes", "must be 'auto', 'on' or 'off'")
        options["conditional_writes"] = params["conditional_writes"]
    if "parallel_parts" in params:
        value = params["parallel_parts"]
        if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= 64:
            raise _fail("parallel_parts", "must be a number from 1 to 64")
        options["parallel_parts"] = int(value)
    if "domain" in params:
        domain = params["domain"].lower()
        if visibility == "private":
            raise _fail(
                "domain",
                "is not allowed on a private storage (its URLs would not be signed)",
            )
        if not re.fullmatch(r"[a-z0-9.\-]+(:\d+)?(/[A-Za-z0-9._~\-/]*)?", domain):
            raise _fail(f"the domain {domain[:60]!r}", "is not a valid host name")
        options["custom_domain"] = domain
    return {"BACKEND": BACKENDS["s3", visibility], "OPTIONS": options}


def _expiry(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or int(value) <= 0:
        raise _fail(f"expiry {value[:20]!r}", "must be a positive number of seconds")
    seconds = int(value)
    if seconds > MAX_PRESIGN_EXPIRY:
        raise _fail(
            f"expiry {seconds}", f"exceeds the SigV4 limit of {MAX_PRESIGN_EXPIRY} seconds (7 days)"
        )
    return seconds


def _parse_file(dsn: str, visibility: str) -> dict[str, Any]:
    parts = urlsplit(dsn)
    if parts.netloc not in ("", "localhost"):
        raise _fail("the host of a file:// DSN", "must be empty (file:///ABSOLUTE/PATH)")
    path = unquote(parts.path)
    if not path.startswith("/") or path == "/":
        raise _fail("the path of a file:// DSN", "must be an absolute folder")
    if "/../" in path + "/" or "/./" in path + "/":
        raise _fail("the path of a file:// DSN", "must not contain '.' or '..' segments")
    params = _query(parts.query, {"url"} if visibility == "public" else set())
    options: dict[str, Any] = {"location": path.rstrip("/") or "/"}
    if visibility == "public":
        url = params.get("url", "/media/")
        if not url.endswith("/"):
            raise _fail("url", "must end with '/'")
        options["base_url"] = url
    return {"BACKEND": BACKENDS["file", visibility], "OPTIONS": options}


def _parse_memory(dsn: str, visibility: str) -> dict[str, Any]:
    parts = urlsplit(dsn)
    if parts.netloc or parts.path not in ("", "/"):
        raise _fail("a memory:// DSN", "takes no host or path")
    params = _query(parts.query, {"url"} if visibility == "public" else set())
    options: dict[str, Any] = {}
    if "url" in params:
        options["base_url"] = params["url"]
    return {"BACKEND": BACKENDS["memory", visibility], "OPTIONS": options}
