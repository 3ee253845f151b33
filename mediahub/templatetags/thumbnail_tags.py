"""Template tags of thumbnails (``{% media_thumbnail %}``), loaded with ``{% load mediahub %}``.

    {% media_thumbnail photo.image size="64x64" %}
    {% media_thumbnail "scans/a.png" storage="private" alias="admin" %}
    {% media_thumbnail entry storage="private" size="120x90" crop="smart" as thumb %}
    <img src="{{ thumb.url }}" width="{{ thumb.width }}" height="{{ thumb.height }}">

``value`` is a ``FieldFile`` (its own storage is used), an object name, or a
listing entry (its ETag keeps the thumbnail fresh). Rendering never makes a
storage request and never waits for a thumbnail to be made.
"""

from __future__ import annotations

import logging
from typing import Any

from django import template
from django.core.exceptions import SuspiciousFileOperation
from django.db.models.fields.files import FieldFile

from mediahub.storage import alias_of, visibility_of
from mediahub.thumbnails import Thumb, placeholder_url, thumbnail

register = template.Library()
logger = logging.getLogger("mediahub.thumbnails")


@register.simple_tag
def media_thumbnail(
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
    try:
        return thumbnail(source, storage=storage or "public", alias=alias, size=size, **options)
    except SuspiciousFileOperation as error:
        logger.warning("No thumbnail for an unsafe object name: %s", error)
        return Thumb(placeholder_url(), ready=True, failed=True)
