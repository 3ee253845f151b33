"""Site URLs of mediahub: ``path("media-links/", include("mediahub.urls"))``."""

from __future__ import annotations

from django.urls import path

from mediahub import download
from mediahub.thumbnails import views as thumbnail_views

app_name = "mediahub"

urlpatterns: list = [
    # <path:> so that any change to a token (even a "/") reaches the view's fixed 404.
    path("d/<path:token>", download.download, name="download"),
    path("t/<path:token>", thumbnail_views.thumbnail, name="thumbnail"),
]
