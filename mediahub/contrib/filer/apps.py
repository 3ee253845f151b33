from __future__ import annotations

from django.apps import AppConfig, apps
from django.utils.translation import gettext_lazy as _


class MediahubFilerConfig(AppConfig):
    """django-filer on mediahub's storages (``mediahub.contrib.filer``)."""

    name = "mediahub.contrib.filer"
    label = "mediahub_filer"
    verbose_name = _("Media library: django-filer")

    def ready(self) -> None:
        from mediahub.contrib.filer import checks  # noqa: F401  (registers the checks)

        if apps.is_installed("filer"):
            from mediahub.contrib.filer import switch

            switch.install()
