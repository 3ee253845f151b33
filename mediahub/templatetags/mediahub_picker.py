"""``{% load mediahub_picker %}``: the ``pick_token`` filter of the library's popup."""

from __future__ import annotations

from django import template

from mediahub.picker import pick_token as make_pick_token

register = template.Library()


@register.filter
def pick_token(name: str, visibility: str) -> str:
    """``{{ path|pick_token:storage }}``: the signed pick for the model-field widget."""
    return make_pick_token(visibility, name)
