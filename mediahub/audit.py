"""The download audit log: one :class:`~mediahub.models.DownloadLog` row per redeemed link.

On by default; ``MEDIAHUB["AUDIT_LOG"] = False`` switches it off. The client
address is ``REMOTE_ADDR`` as Django sees it: behind a proxy, set it from the
trusted forwarding header in a middleware (never trust ``X-Forwarded-For`` as is).
"""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpRequest

from mediahub.conf import app_settings

#: Longest user agent kept, in characters.
MAX_USER_AGENT = 512
#: Control characters, dropped from the user agent (PostgreSQL refuses NUL in text).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _client_ip(request: HttpRequest) -> str | None:
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_ipv46_address

    address = request.META.get("REMOTE_ADDR") or None
    if address is None:
        return None
    try:
        validate_ipv46_address(address)
    except ValidationError:
        return None
    return address


def record_download(
    request: HttpRequest,
    *,
    storage: str,
    name: str,
    outcome: str,
    user: Any = None,
) -> Any:
    """Record one download attempt; return the row, or None when the log is off.

    ``user`` defaults to the request's authenticated user; ``outcome`` is one of
    :class:`mediahub.models.DownloadLog.Outcome`.
    """
    if not app_settings.AUDIT_LOG:
        return None
    from mediahub.models import DownloadLog

    if user is None:
        candidate = getattr(request, "user", None)
        user = candidate if getattr(candidate, "is_authenticated", False) else None
    return DownloadLog.objects.create(
        storage=storage[:64],
        name=name,
        user=user,
        outcome=outcome,
        method=request.method[:8] if request.method else "",
        ip=_client_ip(request),
        user_agent=_CONTROL.sub("", str(request.META.get("HTTP_USER_AGENT", "")))[:MAX_USER_AGENT],
    )
