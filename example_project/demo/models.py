"""The demo's model: one of each mediahub field."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from mediahub.fields import PrivateFileField, PrivateImageField, PublicFileField, PublicImageField


class Document(models.Model):
    """A document with a public and a private file, and a public and a private image."""

    title = models.CharField(_("title"), max_length=200)
    attachment = PublicFileField(_("public file"), upload_to="documents/", blank=True)
    contract = PrivateFileField(_("private file"), upload_to="contracts/", blank=True)
    cover = PublicImageField(_("public image"), upload_to="covers/", blank=True)
    scan = PrivateImageField(_("private image"), upload_to="scans/", blank=True)

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")

    def __str__(self) -> str:
        return self.title
