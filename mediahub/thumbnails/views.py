"""The endpoint a missing thumbnail's URL points to (URL name ``mediahub:thumbnail``).

A short pipeline: verify the signed token, find the target storage, make the
thumbnail once (:func:`mediahub.thumbnails.generate.ensure`), redirect to it
(a presigned URL for a private source). Bad or tampered token: 404; expired: 410.
A source that cannot be thumbnailed gets the placeholder image (200); a storage
failure gets the placeholder with 503 and ``Retry-After``: never a 500.

With ``?pending=1`` (a page over its in-request budget) a missing thumbnail of a
configured alias is not made in the request: the work goes to a worker
(:func:`mediahub.thumbnails.schedule`) and the answer is the placeholder with 202
and ``Retry-After``, until the thumbnail exists and the answer is the redirect.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.core import signing
from django.core.exceptions import SuspiciousFileOperation
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_safe

from mediahub.names import validate_name
from mediahub.storage import UnknownStorage
from mediahub.thumbnails import generate, naming, tokens
from mediahub.thumbnails.storages import resolve_target

logger = logging.getLogger("mediahub.thumbnails")

PLACEHOLDER = Path(__file__).resolve().parent.parent / "static/mediahub/thumbnail-placeholder.svg"
#: How long a browser may keep the redirect to a public thumbnail of a known version.
PUBLIC_REDIRECT_MAX_AGE = 3600


def _placeholder(status: int, cache_control: str) -> HttpResponse:
    response = HttpResponse(PLACEHOLDER.read_bytes(), content_type="image/svg+xml", status=status)
    response["Cache-Control"] = cache_control
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


def _not_found(status: int = 404) -> HttpResponse:
    response = HttpResponse(status=status)
    response["Cache-Control"] = "private, no-store"
    return response


def _alias_of(options) -> str | None:
    """The configured alias whose options these are (workers make aliases only)."""
    from mediahub.conf import app_settings

    for alias in app_settings.THUMBNAIL_ALIASES or {}:
        try:
            if naming.build_options(alias).prepared_options() == options.prepared_options():
                return alias
        except ValueError:
            continue
    return None


def _scheduled(target, wanted: tokens.Request, spec: generate.Spec):
    """The fresh thumbnail if it exists; else hand it to a worker and return None.

    A size that is no configured alias cannot go to a worker: it is made here.
    """
    from mediahub.thumbnails import schedule

    cached = generate.cache.find(target, wanted.name, spec.stem, wanted.version)
    if cached is not None:
        return cached
    alias = _alias_of(spec.options)
    if alias is None:
        return generate.ensure(target, wanted.name, spec, version=wanted.version)
    try:
        schedule(target.source_alias, [wanted.name], aliases=[alias])
    except Exception as error:  # no task backend: the page keeps its placeholder
        logger.warning("Could not schedule the thumbnail of %r: %s", wanted.name, error)
        return None
    # An immediate task backend has made it already.
    return generate.cache.find(target, wanted.name, spec.stem, wanted.version)


@require_safe
def thumbnail(request: HttpRequest, token: str) -> HttpResponse:
    """Make the thumbnail a signed token names, then redirect to it."""
    try:
        wanted = tokens.load(token)
        validate_name(wanted.name)
        target = resolve_target(wanted.storage)
        options = naming.options_from_payload(wanted.options)
    except tokens.ExpiredToken:
        return _not_found(410)
    except (signing.BadSignature, SuspiciousFileOperation, UnknownStorage, ValueError, TypeError):
        return _not_found()
    private = target.visibility == "private"
    if private and wanted.expires is None:
        # Signed while this alias was public: never a lasting key to a private storage.
        return _not_found()
    spec = generate.Spec(options, naming.stem(target.prefix, wanted.name, options))
    try:
        if request.GET.get(tokens.PENDING_PARAM):
            cached = _scheduled(target, wanted, spec)
            if cached is None:
                response = _placeholder(202, "no-store")
                response["Retry-After"] = "2"
                return response
        else:
            cached = generate.ensure(target, wanted.name, spec, version=wanted.version)
    except generate.SourceMissing:
        return _not_found()
    except (generate.StorageUnavailable, generate.Busy, DatabaseError) as error:
        # S3 down, or the database busy (SQLite locked by a parallel generation).
        logger.warning("Thumbnail of %r not made now: %s", wanted.name, error)
        response = _placeholder(503, "no-store")
        response["Retry-After"] = "10"
        return response
    if cached.failed:
        return _placeholder(200, "private, no-store" if private else "public, max-age=300")
    response = HttpResponseRedirect(target.thumbnail_storage.url(cached.name))
    if private:
        response["Cache-Control"] = "private, no-store"
    elif wanted.version:
        response["Cache-Control"] = f"public, max-age={PUBLIC_REDIRECT_MAX_AGE}"
    else:
        response["Cache-Control"] = "no-cache"
    return response
