"""mediahub.audit and the download log admin."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.test import RequestFactory, override_settings

from mediahub import links
from mediahub.audit import MAX_USER_AGENT, record_download
from mediahub.models import DownloadLog
from mediahub.storage import get_storage

pytestmark = pytest.mark.django_db


@pytest.fixture
def report():
    return get_storage("private").save("docs/report.pdf", ContentFile(b"data"))


def test_a_redeemed_link_is_recorded_with_user_ip_and_agent(client, report):
    user = get_user_model().objects.create_user("alice", password="pw")
    client.force_login(user)
    client.get(links.sign(report, user=user), REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="curl/8")
    row = DownloadLog.objects.get()
    assert (row.storage, row.name, row.user, row.outcome) == ("private", report, user, "streamed")
    assert (row.ip, row.user_agent, row.method) == ("203.0.113.7", "curl/8", "GET")
    assert row.created is not None


def test_a_redirect_to_s3_is_recorded(s3, client):
    name = get_storage("private").save("a.pdf", ContentFile(b"x"))
    client.head(links.sign(name))
    row = DownloadLog.objects.get()
    assert (row.outcome, row.method, row.user) == ("redirected", "HEAD", None)


def test_the_log_can_be_switched_off(client, report):
    with override_settings(MEDIAHUB={"AUDIT_LOG": False}):
        assert client.get(links.sign(report)).status_code == 200
        assert client.get(links.sign("docs/missing.pdf")).status_code == 404
    assert not DownloadLog.objects.exists()


def test_record_download_keeps_bad_input_out():
    request = RequestFactory().get("/", REMOTE_ADDR="not an ip", HTTP_USER_AGENT="x" * 5000)
    row = record_download(request, storage="private", name="a.pdf", outcome="missing")
    assert row.ip is None
    assert len(row.user_agent) == MAX_USER_AGENT
    with override_settings(MEDIAHUB={"AUDIT_LOG": False}):
        assert record_download(request, storage="private", name="a", outcome="missing") is None


def test_user_agent_control_characters_are_dropped():
    # PostgreSQL refuses NUL in text columns: a hostile header must not turn a
    # download into a 500 (nor put raw control characters into the admin).
    request = RequestFactory().get("/", HTTP_USER_AGENT="evil\x00agent\x1b[31m\x7f/1")
    row = record_download(request, storage="private", name="a.pdf", outcome="missing")
    assert row.user_agent == "evilagent[31m/1"


def test_admin_lists_and_filters_but_cannot_change(client, report):
    admin = get_user_model().objects.create_superuser("admin", "a@example.com", "pw")
    client.force_login(admin)
    client.get(links.sign(report))
    client.get(links.sign("docs/missing.pdf"))
    row = DownloadLog.objects.get(outcome="streamed")

    listing = client.get("/admin/mediahub/downloadlog/")
    assert listing.status_code == 200
    assert "docs/report.pdf" in listing.content.decode()
    filtered = client.get("/admin/mediahub/downloadlog/?outcome=missing").content.decode()
    assert "docs/missing.pdf" in filtered and "docs/report.pdf" not in filtered
    searched = client.get("/admin/mediahub/downloadlog/?q=report").content.decode()
    assert "docs/report.pdf" in searched

    assert client.get("/admin/mediahub/downloadlog/add/").status_code == 403
    assert client.get(f"/admin/mediahub/downloadlog/{row.pk}/delete/").status_code == 403
    detail = client.get(f"/admin/mediahub/downloadlog/{row.pk}/change/")
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()  # read-only
    client.post(f"/admin/mediahub/downloadlog/{row.pk}/change/", {"outcome": "expired"})
    row.refresh_from_db()
    assert row.outcome == "streamed"
