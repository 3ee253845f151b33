"""``--enqueue`` on mediahub_audit and mediahub_thumbnails: a job, and the command returns."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from mediahub.jobs.compat import SOURCE
from mediahub.models import Job

pytestmark = pytest.mark.django_db

DUMMY = {"default": {"BACKEND": f"{SOURCE}.backends.dummy.DummyBackend"}}


@pytest.fixture(autouse=True)
def nothing_runs(settings):
    settings.TASKS = DUMMY


def test_audit_enqueue_starts_one_job_per_storage(s3):
    out = StringIO()
    call_command("mediahub_audit", "--enqueue", "--fix", stdout=out)
    audits = list(Job.objects.order_by("id").values_list("kind", "storage", "params", "state"))
    assert audits == [
        ("audit", "private", {"fix": True, "fix_policy": False}, "queued"),
        ("audit", "default", {"fix": True, "fix_policy": False}, "queued"),  # its alias
    ]
    assert "Audit of private enqueued: job #" in out.getvalue()


def test_audit_enqueue_of_an_unknown_storage_is_a_clear_error(s3):
    with pytest.raises(CommandError):
        call_command("mediahub_audit", "--enqueue", "--storage", "nowhere")
    assert Job.objects.count() == 0


def test_thumbnails_enqueue(s3):
    out = StringIO()
    call_command(
        "mediahub_thumbnails", "--enqueue", "--prefix", "photos/", "--alias", "admin", stdout=out
    )
    job = Job.objects.get()
    assert (job.kind, job.storage, job.params) == (
        "thumbnails",
        "public",
        {"prefix": "photos/", "aliases": ["admin"]},
    )
    assert f"job #{job.pk}" in out.getvalue()


@pytest.mark.parametrize(
    "args",
    [["--prefix", "photos/2024-"], ["--force"], ["--dry-run"], ["--alias", "nope"]],
)
def test_thumbnails_enqueue_refuses_what_a_job_cannot_do(s3, args):
    with pytest.raises(CommandError):
        call_command("mediahub_thumbnails", "--enqueue", *args)
    assert Job.objects.count() == 0
