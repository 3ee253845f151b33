"""Security review: who may see a job (its parameters and errors name objects)."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from mediahub import jobs
from mediahub.jobs.compat import SOURCE
from mediahub.models import Job
from tests.users import make_user

pytestmark = pytest.mark.django_db

DUMMY = {"default": {"BACKEND": f"{SOURCE}.backends.dummy.DummyBackend"}}


@pytest.fixture
def private_job(s3, settings):
    settings.TASKS = DUMMY
    job = jobs.start("delete", storage="private", params={"prefix": "payroll-2026/"})
    Job.objects.filter(pk=job.pk).update(
        state=Job.State.FAILED,
        errors=[{"name": "payroll-2026/ceo-salary.pdf", "error": "SlowDown (HTTP 503)"}],
        error_count=1,
        failed_items=["payroll-2026/ceo-salary.pdf"],
    )
    return job


def test_a_private_job_is_hidden_from_staff_who_may_not_browse_private_files(
    client, django_user_model, private_job
):
    client.force_login(make_user(django_user_model, "view_public", "view_job", username="viewer"))
    listing = client.get(reverse("admin:mediahub_job_changelist"))
    assert listing.status_code == 200
    assert f'data-mediahub-job="{private_job.pk}"' not in listing.content.decode()
    page = client.get(reverse("admin:mediahub_job_change", args=[private_job.pk]))
    assert page.status_code in (302, 403, 404)
    assert b"ceo-salary" not in page.content and b"payroll-2026" not in page.content
    progress = client.get(reverse("admin:mediahub_job_progress"), {"ids": str(private_job.pk)})
    assert json.loads(progress.content)["jobs"] == {}


def test_a_private_job_stays_visible_to_who_may_browse_private_files(
    client, django_user_model, private_job
):
    client.force_login(make_user(django_user_model, "view_private", "view_job", username="p"))
    page = client.get(reverse("admin:mediahub_job_change", args=[private_job.pk]))
    assert page.status_code == 200 and b"ceo-salary" in page.content
    progress = client.get(reverse("admin:mediahub_job_progress"), {"ids": str(private_job.pk)})
    assert list(json.loads(progress.content)["jobs"]) == [str(private_job.pk)]


def test_a_move_job_of_names_onto_themselves_loses_nothing(s3):
    from django.core.files.base import ContentFile

    from mediahub.storage import get_storage

    public = get_storage("public")
    public.save("a/x.txt", ContentFile(b"only copy"))
    public.save("a/b/y.txt", ContentFile(b"another"))
    try:
        job = jobs.start("move", storage="public", params={"names": ["a/x.txt"], "target": "a/"})
    except jobs.JobError:
        job = None
    if job is not None:
        job.refresh_from_db()
        assert job.error_count == 1
    with public.open("a/x.txt") as handle:
        assert handle.read() == b"only copy"
    try:
        jobs.start(
            "move",
            storage="public",
            params={"names": ["a/b/y.txt"], "target": "a/b/", "base": "a/b/"},
        )
    except jobs.JobError:
        pass
    with public.open("a/b/y.txt") as handle:
        assert handle.read() == b"another"


def test_the_move_operation_never_deletes_an_object_moved_onto_itself(s3):
    from django.core.files.base import ContentFile

    from mediahub.library.operations import move_objects
    from mediahub.storage import get_storage

    public = get_storage("public")
    public.save("a/x.txt", ContentFile(b"only copy"))
    [outcome] = move_objects("public", [{"name": "a/x.txt"}], base="", target="a/")
    assert outcome.error
    with public.open("a/x.txt") as handle:
        assert handle.read() == b"only copy"
