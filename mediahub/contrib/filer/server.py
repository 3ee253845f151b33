"""A django-filer server backend: permission check, then a redirect to a presigned URL.

filer's own backends serve a private file from ``filer_file.path`` (the default
one reads the whole file into memory); on S3 there is no path. This one, set in
``FILER_SERVERS`` (:func:`mediahub.contrib.filer.filer_servers`), answers filer's
private URLs (``filer.server.urls``) with a 302 to a fresh, short-lived presigned
URL carrying the original file name in ``Content-Disposition``, and records the
download in mediahub's audit log. For a local-folder storage (development) it
streams the file in chunks instead. No local path, nothing read into memory.

filer's views (``serve_protected_file``, ``serve_protected_thumbnail``) check
``file.has_read_permission(request)`` before calling :meth:`serve`; ``serve``
checks it again for files, so the backend is safe wherever it is wired.
``FILER_ENABLE_PERMISSIONS`` decides what that check means (off: any signed-in
user may read files in folders; on: folder permissions apply).
"""

from __future__ import annotations

import logging
import mimetypes
import posixpath
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.cache import add_never_cache_headers
from filer.server.backends.base import ServerBase

from mediahub.contrib.filer.storage import MediahubFilerStorage, resolve
from mediahub.http import content_disposition
from mediahub.storage import UnknownStorage, alias_of, resolve_alias
from mediahub.storage.content import safe_inline
from mediahub.storage.s3 import check_expiry

logger = logging.getLogger("mediahub.contrib.filer")


class ServiceUnavailable(HttpResponse):
    """503 when the storage cannot be reached (no detail leaked)."""

    status_code = 503


class SignedRedirectServer(ServerBase):
    """Serve filer's private files and thumbnails by redirect to a presigned URL.

    ``inline``: ``Content-Disposition: inline`` instead of ``attachment`` for files
    (thumbnails are always inline). ``expires_in``: presigned URL lifetime in
    seconds (default ``MEDIAHUB["PRESIGN_EXPIRY"]``). ``thumbnails``: set by
    :func:`~mediahub.contrib.filer.filer_servers` on the thumbnail server.
    """

    def __init__(
        self, inline: bool = False, expires_in: int | None = None, thumbnails: bool = False
    ) -> None:
        if expires_in is not None:
            try:
                check_expiry(expires_in)
            except ValueError as exc:
                raise ImproperlyConfigured(f"FILER_SERVERS expires_in: {exc}") from None
        self.inline = inline
        self.expires_in = expires_in
        self.thumbnails = thumbnails

    def serve(self, request: HttpRequest, filer_file: Any, **kwargs: Any) -> HttpResponse:
        """Answer one request for ``filer_file`` (a filer ``File`` or a thumbnail file).

        Files: permission check, one ``HEAD`` (a deleted object answers 404, not a
        presigned URL to an S3 error), an audit row, the redirect. Thumbnails (a
        folder listing shows dozens): the redirect only, inline, not audited.
        """
        is_file = hasattr(filer_file, "has_read_permission")
        field_file = filer_file.file if is_file else filer_file
        name = field_file.name
        if not name:
            raise Http404("File not found")
        target, key = resolve(field_file.storage, name)
        alias = _alias(field_file.storage, target)
        if is_file:
            if not filer_file.has_read_permission(request):
                _record(request, alias, key, "forbidden")
                raise PermissionDenied
            filename = filer_file.original_filename or posixpath.basename(name)
            inline, content_type = self.inline, None
            try:
                found = target.exists(key)
            except (ClientError, BotoCoreError, OSError) as error:
                logger.warning("filer download: storage %r failed: %s", alias, type(error).__name__)
                _record(request, alias, key, "unavailable")
                return _no_store(ServiceUnavailable("Storage unavailable, try again later."))
            if not found:
                _record(request, alias, key, "missing")
                raise Http404("File not found")
        else:
            filename = posixpath.basename(name)
            inline, content_type = True, mimetypes.guess_type(name)[0]
        if callable(getattr(target, "presigned_url", None)):
            from mediahub.links import presigned_download_url

            url = presigned_download_url(
                target,
                key,
                filename=filename,
                inline=inline,
                content_type=content_type,
                expires_in=self.expires_in,
            )
            if is_file:
                _record(request, alias, key, "redirected")
            return _no_store(HttpResponseRedirect(url))
        response = FileResponse(target.open(key, "rb"), content_type=content_type)
        inline = safe_inline(key, inline, content_type) and safe_inline(filename, inline)
        response["Content-Disposition"] = content_disposition(filename, inline=inline)
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'"
        if is_file:
            _record(request, alias, key, "streamed")
        return _no_store(response)


def _alias(storage: Any, target: Any) -> str:
    if isinstance(storage, MediahubFilerStorage):
        try:
            return resolve_alias(storage.storage_name)
        except UnknownStorage:  # pragma: no cover - target lookup would have failed first
            return storage.storage_name
    return alias_of(target) or type(target).__name__


def _record(request: HttpRequest, alias: str, name: str, outcome: str) -> None:
    from mediahub.audit import record_download

    record_download(request, storage=alias, name=name, outcome=outcome)


def _no_store(response: HttpResponse) -> HttpResponse:
    add_never_cache_headers(response)
    response["Cache-Control"] = "private, no-store"
    return response
