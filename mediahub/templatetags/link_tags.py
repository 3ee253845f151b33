"""Template tags of signed links (``{% signed_url %}``), loaded with ``{% load mediahub %}``.

{% signed_url document.pdf %}
{% signed_url "reports/2024.pdf" expires=600 filename="Report.pdf" inline=True %}
{% signed_url document.pdf user=request.user as link %}
"""

from __future__ import annotations

import logging
from typing import Any

from django import template
from django.core.exceptions import SuspiciousFileOperation
from django.db.models.fields.files import FieldFile

from mediahub import links
from mediahub.storage import alias_of

register = template.Library()
logger = logging.getLogger("mediahub.links")


@register.simple_tag
def signed_url(
    value: Any,
    *,
    storage: str | None = None,
    expires: int | None = None,
    filename: str | None = None,
    inline: bool = False,
    user: Any = None,
) -> str:
    """A signed link to ``value`` (a ``FieldFile`` or an object name); ``""`` for no file.

    A ``FieldFile`` is signed in its own storage; a name in ``storage`` (default
    ``"private"``). ``expires`` is the link's lifetime in seconds, ``filename`` and
    ``inline`` shape the download, ``user`` binds the link to that user (an
    anonymous or inactive ``user`` gives ``""``: a link meant for one user is never
    issued unbound). An unsafe object name gives ``""`` and a logged warning.
    """
    if isinstance(value, FieldFile):
        if not value:
            return ""
        name = value.name
        alias = storage or alias_of(value.storage) or getattr(value.field, "visibility", "private")
    else:
        if not value:
            return ""
        name = str(value)
        alias = storage or "private"
    if user is not None and not (
        getattr(user, "is_authenticated", False) and getattr(user, "is_active", True)
    ):
        # Never fall back to an unbound link: an anonymous (or inactive) user gets no link.
        return ""
    try:
        return links.sign(
            name, storage=alias, expires_in=expires, user=user, filename=filename, inline=inline
        )
    except SuspiciousFileOperation as error:
        # A bad stored name (a legacy row) costs its link, not the whole page.
        logger.warning("No signed link for an unsafe object name: %s", error)
        return ""
