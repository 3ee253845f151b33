"""Template tags of thumbnails (``{% media_thumbnail %}``)."""

from __future__ import annotations

from django import template

register = template.Library()
