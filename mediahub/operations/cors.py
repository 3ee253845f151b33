"""``mediahub_cors``: the CORS rules mediahub needs on its buckets, merged with the rest.

* Media loaded by JavaScript from the public storage needs ``GET``/``HEAD`` from the
  site's origins.
* Direct uploads (browser to S3, multipart) need ``PUT``/``POST`` from those origins
  with ``ExposeHeaders: ETag`` (the browser must read each part's ETag), on the private
  bucket and on the public one.

mediahub's rules carry an ``ID`` starting with ``mediahub-``; applying merges them per
origin: every other rule of the bucket is kept, and so are the origins other sites
sharing the bucket put in mediahub's rules (``--replace`` drops those). Origins default to
``CSRF_TRUSTED_ORIGINS`` plus ``https://`` (and, with ``DEBUG``, ``http://``) for each
``ALLOWED_HOSTS`` entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.storage import Storage

from mediahub.operations import bucket
from mediahub.operations.objects import describe_storage, is_s3, same_bucket
from mediahub.storage import get_storage, visibility_of

RULE_PREFIX = "mediahub-"
MEDIA_RULE = "mediahub-media"
UPLOAD_RULE = "mediahub-upload"


class OriginError(ValueError):
    """An origin that is not ``scheme://host[:port]``."""


def check_origin(origin: str) -> str:
    """Return ``origin`` normalised (no trailing slash) or raise :class:`OriginError`."""
    origin = origin.strip().rstrip("/")
    parts = urlsplit(origin)
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or parts.path
        or parts.query
        or parts.fragment
        or "@" in parts.netloc
        or not _wildcard_ok(parts.netloc)
    ):
        raise OriginError(
            f"{origin!r} is not an origin: use scheme://host[:port], e.g. https://www.example.com"
        )
    return origin


def _wildcard_ok(netloc: str) -> bool:
    """No wildcard, or one leading ``*.`` before a domain of two labels or more.

    ``https://*`` or ``https://*.com`` would let every site drive the bucket.
    """
    if "*" not in netloc:
        return True
    rest = netloc.removeprefix("*.")
    host = rest.rsplit(":", 1)[0] if ":" in rest else rest
    return netloc.startswith("*.") and "*" not in rest and host.count(".") >= 1


def default_origins() -> list[str]:
    """The site's origins from ``CSRF_TRUSTED_ORIGINS`` and ``ALLOWED_HOSTS``."""
    origins: list[str] = []
    for origin in getattr(settings, "CSRF_TRUSTED_ORIGINS", []) or []:
        try:
            origins.append(check_origin(origin))
        except OriginError:
            continue
    schemes = ["https", "http"] if settings.DEBUG else ["https"]
    for host in getattr(settings, "ALLOWED_HOSTS", []) or []:
        if not host or host == "*" or host in ("testserver",):
            continue
        host = "*" + host if host.startswith(".") else host
        for scheme in schemes:
            try:
                origins.append(check_origin(f"{scheme}://{host}"))
            except OriginError:  # e.g. ".localhost": not worth a bucket-wide wildcard
                continue
    return list(dict.fromkeys(origins))


def required_rules(visibility: str, origins: list[str]) -> list[dict[str, Any]]:
    """The CORS rules mediahub needs on a bucket holding a storage of ``visibility``."""
    origins = sorted(dict.fromkeys(origins))
    rules = []
    if visibility == "public":
        rules.append(
            {
                "ID": MEDIA_RULE,
                "AllowedOrigins": origins,
                "AllowedMethods": ["GET", "HEAD"],
                "AllowedHeaders": ["*"],
                "ExposeHeaders": ["ETag", "Content-Length", "Content-Type"],
                "MaxAgeSeconds": 3600,
            }
        )
    rules.append(
        {
            "ID": UPLOAD_RULE,
            "AllowedOrigins": origins,
            "AllowedMethods": ["PUT", "POST"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag"],
            "MaxAgeSeconds": 3600,
        }
    )
    return rules


def merge(
    current: list[dict[str, Any]], needed: list[dict[str, Any]], *, replace: bool = False
) -> list[dict[str, Any]]:
    """The bucket's rules with mediahub's ``needed`` ones merged in, per origin.

    Every rule whose ID mediahub does not set now is kept as is (another tool's rules,
    and another site's mediahub rules in a shared bucket). A rule mediahub sets keeps
    the origins already in it (another site sharing the bucket added them) and gains
    ours; ``replace=True`` drops those other origins.
    """
    ids = {rule["ID"] for rule in needed}
    others = [rule for rule in current if rule.get("ID") not in ids]
    merged = []
    for rule in needed:
        origins = set(rule["AllowedOrigins"])
        if not replace:
            for old in current:
                if old.get("ID") == rule["ID"]:
                    origins.update(old.get("AllowedOrigins") or [])
        merged.append({**rule, "AllowedOrigins": sorted(origins)})
    return others + merged


def _canonical(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rules in a comparable form (S3 may reorder lists and drop empty fields)."""
    result = []
    for rule in rules:
        result.append(
            {
                key: sorted(value) if isinstance(value, list) else value
                for key, value in rule.items()
                if value not in (None, [], "")
            }
        )
    return result


@dataclass
class BucketCors:
    """The CORS state of one bucket and what mediahub wants there."""

    bucket: str
    storages: list[str]
    current: list[dict[str, Any]] = field(default_factory=list)
    wanted: list[dict[str, Any]] = field(default_factory=list)
    applied: bool = False
    error: str = ""
    storage: Storage | None = field(default=None, repr=False, compare=False)

    @property
    def up_to_date(self) -> bool:
        return _canonical(self.current) == _canonical(self.wanted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "storages": self.storages,
            "current": self.current,
            "wanted": self.wanted,
            "up_to_date": self.up_to_date,
            "applied": self.applied,
            "error": self.error,
        }


@dataclass
class CorsReport:
    origins: list[str]
    buckets: list[BucketCors] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def plan(aliases: list[str], origins: list[str], *, replace: bool = False) -> CorsReport:
    """Read each bucket's rules and work out the merged rules mediahub wants.

    ``replace=True``: mediahub's rules allow exactly ``origins`` (drops the origins
    other sites sharing the bucket added).
    """
    origins = list(dict.fromkeys(check_origin(origin) for origin in origins))
    if not origins:
        raise OriginError(
            "No origin to allow: pass --origin https://www.example.com, or set "
            "CSRF_TRUSTED_ORIGINS / ALLOWED_HOSTS."
        )
    report = CorsReport(origins=origins)
    groups: list[tuple[Storage, list[str], set[str]]] = []
    for alias in aliases:
        storage = get_storage(alias)
        if not is_s3(storage):
            report.skipped.append(f"{alias}: {describe_storage(storage)} (not S3: no CORS)")
            continue
        for first, names, visibilities in groups:
            if same_bucket(first, storage):
                names.append(alias)
                visibilities.add(visibility_of(storage))
                break
        else:
            groups.append((storage, [alias], {visibility_of(storage)}))
    for storage, names, visibilities in groups:
        entry = BucketCors(bucket=storage.bucket_name, storages=names, storage=storage)
        entry.current = bucket.cors_rules(storage)
        needed = required_rules("public" if "public" in visibilities else "private", origins)
        entry.wanted = merge(entry.current, needed, replace=replace)
        report.buckets.append(entry)
    return report


def apply(report: CorsReport) -> CorsReport:
    """Write the wanted rules where they differ from the current ones (idempotent)."""
    for entry in report.buckets:
        if entry.up_to_date:
            continue
        bucket.put_cors_rules(entry.storage, entry.wanted)
        entry.current = bucket.cors_rules(entry.storage)
        entry.applied = True
    return report
