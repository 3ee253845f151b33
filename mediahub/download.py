"""The view behind signed links (URL name ``mediahub:download``).

A thin wrapper around :func:`mediahub.links.redeem`: it maps each refusal to its
status, records the attempt in the audit log, and answers 302 to a fresh presigned
URL (S3) or streams the file (local folders). Every answer is
``Cache-Control: private, no-store``; refusals have one fixed body per status,
so a probing client learns nothing about what was wrong with its token.

Only GET and HEAD are answered; any other method gets ``405`` with ``Allow: GET,
HEAD``. The view is exempt from CSRF checks (it changes nothing, and a cross-site
POST would otherwise get a 403 from the middleware instead of the documented 405).
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.db import DatabaseError
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from mediahub import links
from mediahub.audit import record_download
from mediahub.http import content_disposition

logger = logging.getLogger(__name__)

#: Title and explanation of each refusal (constant: nothing depends on the token).
ERRORS = {
    403: (_("Forbidden"), _("This link was issued to another user.")),
    404: (_("Not found"), _("This link is not valid, or the file no longer exists.")),
    410: (_("Link expired"), _("This link has expired or was revoked. Ask for a new one.")),
    503: (
        _("Temporarily unavailable"),
        _("The file store did not answer. Try again in a minute."),
    ),
}

#: Headers of every answer of this view.
HEADERS = {
    "Cache-Control": "private, no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def error_response(status: int) -> HttpResponse:
    """The fixed page of a refused link."""
    title, message = ERRORS[status]
    body = render_to_string(
        "mediahub/download_error.html", {"status": status, "title": title, "message": message}
    )
    response = HttpResponse(body, status=status)
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    if status == 503:
        response["Retry-After"] = "60"
    return response


def stream(redemption: links.Redemption) -> FileResponse:
    """Stream the object from a storage that cannot presign (local folders)."""
    link = redemption.link
    handle = redemption.storage.open(link.name, "rb")
    content_type, _encoding = mimetypes.guess_type(link.download_name)
    response = FileResponse(handle, content_type=content_type or "application/octet-stream")
    response["Content-Disposition"] = content_disposition(
        link.download_name, inline=redemption.inline
    )
    response["Content-Security-Policy"] = "default-src 'none'"
    return response


def with_headers(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Put :data:`HEADERS` on every answer of ``view``, the ``405`` of a wrong method included."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        for header, value in HEADERS.items():
            response[header] = value
        response.setdefault("Content-Security-Policy", "default-src 'none'")
        return response

    return wrapper


@csrf_exempt
@with_headers
@require_safe
def download(request: HttpRequest, token: str) -> HttpResponse:
    """Redeem a signed link: 302 to storage, stream, or a refusal.

    A database failure (revocation state or audit log unreadable or busy) is a
    ``503``: a link whose revocation or audit cannot be checked is not served.
    """
    try:
        return redeem_link(request, token)
    except DatabaseError as error:
        logger.warning("Database error while redeeming a link: %s", type(error).__name__)
        return error_response(503)


def redeem_link(request: HttpRequest, token: str) -> HttpResponse:
    """The answer to one link (database errors propagate)."""
    try:
        redemption = links.redeem(token, user=getattr(request, "user", None))
        if redemption.can_redirect:
            location = redemption.presigned_url(
                method="HEAD" if request.method == "HEAD" else "GET"
            )
            response: HttpResponse = HttpResponseRedirect(location)
            outcome = "redirected"
        else:
            response = stream(redemption)
            outcome = "streamed"
    except links.LinkError as error:
        if error.link is not None and error.outcome:
            record_download(
                request, storage=error.link.storage, name=error.link.name, outcome=error.outcome
            )
        if isinstance(error, links.LoginRequired):
            response = redirect_to_login(request.get_full_path())
        else:
            response = error_response(error.status)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        # Deleted between the existence check and the open, or a folder of a local storage.
        response = error_response(404)
    except OSError as error:
        logger.warning("Could not open a linked file: %s", type(error).__name__)
        response = error_response(503)
    else:
        try:
            record_download(
                request,
                storage=redemption.link.storage,
                name=redemption.link.name,
                outcome=outcome,
            )
        except DatabaseError:
            response.close()  # the streamed file, if any
            raise
    return response
