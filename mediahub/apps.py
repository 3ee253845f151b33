from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MediahubConfig(AppConfig):
    name = "mediahub"
    verbose_name = _("Media library")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from mediahub import checks  # noqa: F401  (registers the system checks)
