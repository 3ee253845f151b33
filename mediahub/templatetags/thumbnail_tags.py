"""Template tags of thumbnails (``{% media_thumbnail %}``), loaded with ``{% load mediahub %}``.

    {% media_thumbnail photo.image size="64x64" %}
    {% media_thumbnail "scans/a.png" storage="private" alias="admin" %}
    {% media_thumbnail entry storage="private" size="120x90" crop="smart" as thumb %}
    <img src="{{ thumb.url }}" width="{{ thumb.width }}" height="{{ thumb.height }}">

``value`` is a ``FieldFile`` (its own storage is used), an object name, or a
listing entry (its ETag keeps the thumbnail fresh). Rendering never makes a
storage request and never waits for a thumbnail to be made.

One template render (a page) lets at most ``MEDIAHUB["THUMBNAIL_REQUEST_BUDGET"]``
missing thumbnails be made in their own requests; the others are ``pending``
(placeholder, made by a worker): mark them for ``mediahub/thumbnails.js``::

    <img src="{{ thumb }}"{% if thumb.pending %} data-mediahub-thumbnail="pending"{% endif %}>
"""

from __future__ import annotations

import logging
from typing import Any

from django import template
from django.core.exceptions import SuspiciousFileOperation
from django.db.models.fields.files import FieldFile

from mediahub.conf import app_settings
from mediahub.storage import alias_of, visibility_of
from mediahub.thumbnails import Thumb, placeholder_url, thumbnail

register = template.Library()
logger = logging.getLogger("mediahub.thumbnails")


#: Key of a page's remaining in-request budget in the template's render context.
BUDGET_KEY = "mediahub_thumbnail_budget"


@register.simple_tag(takes_context=True)
def media_thumbnail(
    context,
    value: Any,
    *,
    storage: str | None = None,
    alias: str | None = None,
    size: Any = None,
    **options: Any,
) -> Thumb | str:
    """The thumbnail of ``value`` (prints its URL; ``as var`` gives url/width/height).

    ``""`` for an empty value; the placeholder for an unsafe object name. A bad
    ``alias``/``size``/option is a template error (``ValueError``).
    """
    if not value:
        return ""
    if isinstance(value, FieldFile):
        source: Any = value.name
        storage = storage or alias_of(value.storage) or visibility_of(value.storage)
    else:
        source = value
    state = context.render_context
    budget = state.get(BUDGET_KEY)
    if budget is None:
        budget = app_settings.THUMBNAIL_REQUEST_BUDGET
    try:
        thumb = thumbnail(
            source, storage=storage or "public", alias=alias, size=size, budget=budget, **options
        )
    except SuspiciousFileOperation as error:
        logger.warning("No thumbnail for an unsafe object name: %s", error)
        return Thumb(placeholder_url(), ready=True, failed=True)
    if not thumb.ready and not thumb.pending:
        budget -= 1  # this one is made by its own request
    state[BUDGET_KEY] = budget
    return thumb
