"""Template tags of signed links (``{% signed_url %}``)."""

from __future__ import annotations

from django import template

register = template.Library()
