"""Consistency of the library's admin pages: the download log's wording and layout."""

from __future__ import annotations

import pytest
from django.urls import reverse

from mediahub.models import DownloadLog

pytestmark = pytest.mark.django_db


def test_download_log_counts_downloads_in_the_plural(admin_client):
    for index in range(8):
        DownloadLog.objects.create(storage="private", name=f"a/{index}.pdf", outcome="redirected")
    body = admin_client.get(reverse("admin:mediahub_downloadlog_changelist")).content.decode()
    assert "8 downloads" in body and "8 download log" not in body
    assert "mediahub/audit_admin.css" in body  # full-width table, wrapping long names
    DownloadLog.objects.exclude(name="a/0.pdf").delete()
    body = admin_client.get(reverse("admin:mediahub_downloadlog_changelist")).content.decode()
    assert "1 download\n" in body or "1 download " in body


def test_messages_show_object_names_as_stored(admin_client, s3):
    """The admin capitalises the first letter of every message; the library does not."""
    for key in ("images/photo.png", "images/other.png"):
        s3.client().put_object(Bucket=s3.public_bucket, Key=key, Body=b"x")
    response = admin_client.post(
        reverse("admin:mediahub_move", args=["public"]),
        {"name": "images/photo.png", "new_name": "images/other.png", "path": "images/"},
    )
    page = response.content.decode()
    assert "images/other.png exists already" in page
    assert "Images/other.png" not in page
