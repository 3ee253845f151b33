"""``{% load mediahub %}``: every mediahub template tag in one library.

The tags live in one module per feature (``link_tags``, ``thumbnail_tags``); this
library re-exports them so templates need a single ``{% load mediahub %}``.
"""

from __future__ import annotations

from django import template

from mediahub.templatetags import link_tags, thumbnail_tags

register = template.Library()

for _library in (link_tags.register, thumbnail_tags.register):
    register.tags.update(_library.tags)
    register.filters.update(_library.filters)
