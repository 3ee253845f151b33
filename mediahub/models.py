"""mediahub's models.

:class:`MediaLibrary` has no table: it carries the permissions of the admin
media library (Django's auth permissions need a model).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class MediaLibrary(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        verbose_name = _("media library")
        verbose_name_plural = _("media library")
        permissions = [
            ("view_public", _("Can browse public files")),
            ("view_private", _("Can browse private files")),
            ("upload", _("Can upload files and create folders")),
            ("delete", _("Can delete, rename and move files")),
            ("publish", _("Can make files public or private")),
            ("sign", _("Can create signed links to private files")),
        ]

    def __str__(self) -> str:
        return str(self._meta.verbose_name)
