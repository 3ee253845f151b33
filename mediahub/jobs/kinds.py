"""The kinds of job and their titles (the operations live in mediahub.jobs.operations)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

KIND_TITLES = {
    "move": _("Move"),
    "delete": _("Delete"),
    "publish": _("Change visibility"),
    "thumbnails": _("Generate thumbnails"),
    "audit": _("Audit"),
}
