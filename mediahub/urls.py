"""Site URLs of mediahub: ``path("media-links/", include("mediahub.urls"))``."""

from __future__ import annotations

from django.urls import path  # noqa: F401

app_name = "mediahub"

urlpatterns: list = []
