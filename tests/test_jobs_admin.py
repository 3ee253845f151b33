"""The Jobs admin and the library views that start jobs (test client, moto's server)."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from mediahub import jobs
from mediahub.jobs.compat import SOURCE
from mediahub.models import Job
from tests.users import make_user

pytestmark = pytest.mark.django_db

LIBRARY = ("view_public", "view_private", "upload", "delete", "publish", "sign")
DUMMY = {"default": {"BACKEND": f"{SOURCE}.backends.dummy.DummyBackend"}}


@pytest.fixture
def editor(client, django_user_model):
    user = make_user(django_user_model, *LIBRARY, "view_job", "run_operations")
    client.force_login(user)
    return user


def put(s3, key: str, body: bytes = b"x", bucket: str | None = None) -> None:
    s3.client().put_object(Bucket=bucket or s3.public_bucket, Key=key, Body=body)


def messages_after(client, response) -> list[str]:
    assert response.status_code == 302, response.status_code
    page = client.get(response["Location"])
    return [str(m) for m in page.context["messages"]]


# -- the library's folder actions become jobs -------------------------------------------------
def test_folder_move_in_the_library_runs_as_a_job_and_links_to_its_progress(client, editor, s3):
    for i in range(5):
        put(s3, f"trip/{i}.txt")
    response = client.post(
        reverse("admin:mediahub_move", args=["public"]),
        {"folder": "trip/", "new_name": "2024/trip/", "path": ""},
    )
    job = Job.objects.get()
    assert (job.kind, job.storage, job.params) == (
        "move",
        "public",
        {"prefix": "trip/", "target": "2024/trip/"},
    )
    assert job.requested_by == editor and job.state == Job.State.SUCCEEDED  # immediate backend
    [message] = messages_after(client, response)
    assert "Moving trip/ to 2024/trip/." in message
    assert reverse("admin:mediahub_job_change", args=[job.pk]) in message
    assert sorted(s3.keys(s3.public_bucket)) == [f"2024/trip/{i}.txt" for i in range(5)]


def test_folder_move_over_the_old_limit_is_accepted(client, editor, s3, settings):
    settings.TASKS = DUMMY
    settings.MEDIAHUB = {"FOLDER_OPERATION_LIMIT": 2}
    for i in range(5):
        put(s3, f"big/{i}.txt")
    response = client.post(
        reverse("admin:mediahub_move", args=["public"]),
        {"folder": "big/", "new_name": "bigger/", "path": ""},
    )
    assert response.status_code == 302
    assert Job.objects.get().state == Job.State.QUEUED  # the request only enqueued


def test_folder_move_with_bad_target_shows_the_error_and_starts_nothing(client, editor, s3):
    put(s3, "a/1.txt")
    response = client.post(
        reverse("admin:mediahub_move", args=["public"]),
        {"folder": "a/", "new_name": "a/inside/", "path": ""},
    )
    assert response.status_code == 400
    assert "cannot be moved into itself" in response.content.decode()
    assert Job.objects.count() == 0


def test_folder_delete_page_and_job(client, editor, s3, settings):
    settings.MEDIAHUB = {"FOLDER_OPERATION_LIMIT": 3}
    for i in range(5):
        put(s3, f"old/{i}.txt")
    url = reverse("admin:mediahub_delete", args=["public"])
    page = client.get(url, {"folder": "old/"}).content.decode()
    assert "more than 3 files" in page and "background job" in page
    response = client.post(url, {"folder": "old/", "path": ""})
    job = Job.objects.get()
    assert job.kind == "delete" and job.params == {"prefix": "old/"}
    assert "Deleting folder old/." in messages_after(client, response)[0]
    assert s3.keys(s3.public_bucket) == []


def test_folder_visibility_runs_as_a_publish_job(client, editor, s3, settings):
    settings.MEDIAHUB = {"JOB_THREADS": 1}
    put(s3, "docs/a.pdf", bucket=s3.private_bucket)
    put(s3, "docs/b.pdf", bucket=s3.private_bucket)
    response = client.post(
        reverse("admin:mediahub_visibility", args=["private"]), {"folder": "docs/", "path": ""}
    )
    job = Job.objects.get()
    assert job.kind == "publish" and job.storage == "private"
    assert "to the public files" in messages_after(client, response)[0]
    assert sorted(s3.keys(s3.public_bucket)) == ["docs/a.pdf", "docs/b.pdf"]


def test_folder_jobs_need_the_library_permission(client, django_user_model, s3, settings):
    settings.TASKS = DUMMY
    viewer = make_user(django_user_model, "view_public", username="viewer")
    client.force_login(viewer)
    put(s3, "a/1.txt")
    response = client.post(
        reverse("admin:mediahub_delete", args=["public"]), {"folder": "a/", "path": ""}
    )
    assert response.status_code == 403 and Job.objects.count() == 0


# -- the Jobs admin ------------------------------------------------------------------------
@pytest.fixture
def queued_job(s3, settings):
    settings.TASKS = DUMMY
    return jobs.start("delete", storage="public", params={"prefix": "a/"})


def test_jobs_are_listed_under_media_library_with_progress_bars(client, editor, queued_job):
    index = client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:mediahub_job_changelist") in index
    page = client.get(reverse("admin:mediahub_job_changelist")).content.decode()
    assert f'data-mediahub-job="{queued_job.pk}"' in page and "<progress" in page
    assert "mediahub/jobs.js" in page
    assert reverse("admin:mediahub_job_progress") in page
    assert "Run audit" in page and "Generate thumbnails" in page


def test_progress_endpoint_answers_json(client, editor, queued_job):
    Job.objects.filter(pk=queued_job.pk).update(total_objects=200, done_objects=50)
    response = client.get(reverse("admin:mediahub_job_progress"), {"ids": f"{queued_job.pk},999"})
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    data = json.loads(response.content)["jobs"]
    assert list(data) == [str(queued_job.pk)]
    assert data[str(queued_job.pk)]["percent"] == 25
    assert data[str(queued_job.pk)]["text"] == "50 / 200 objects"
    assert client.get(reverse("admin:mediahub_job_progress"), {"ids": "x"}).status_code == 400


def test_job_page_shows_errors_and_the_retry_button(client, editor, queued_job):
    Job.objects.filter(pk=queued_job.pk).update(
        state=Job.State.FAILED,
        errors=[{"name": "a/broken.txt", "error": "SlowDown (HTTP 503)"}],
        error_count=1,
        failed_items=["a/broken.txt"],
    )
    page = client.get(reverse("admin:mediahub_job_change", args=[queued_job.pk])).content.decode()
    assert "a/broken.txt" in page and "SlowDown (HTTP 503)" in page
    assert "Retry 1 failed item" in page
    assert "Cancel job" not in page


def test_cancel_button_needs_post_csrf_and_permission(django_user_model, queued_job, client):
    url = reverse("admin:mediahub_job_cancel", args=[queued_job.pk])
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(make_user(django_user_model, *LIBRARY, "view_job"))
    assert strict.post(url).status_code == 403  # no CSRF token
    assert strict.get(url).status_code == 405
    viewer = make_user(django_user_model, "view_public", "view_job", username="viewer")
    client.force_login(viewer)
    assert client.post(url).status_code == 403  # may see jobs, may not delete files
    queued_job.refresh_from_db()
    assert queued_job.state == Job.State.QUEUED
    client.force_login(make_user(django_user_model, *LIBRARY, "view_job", username="ed2"))
    response = client.post(url)
    assert response.status_code == 302
    queued_job.refresh_from_db()
    assert queued_job.state == Job.State.CANCELLED


def test_cancel_and_retry_admin_actions_check_each_job(client, django_user_model, s3, settings):
    settings.TASKS = DUMMY
    public = jobs.start("delete", storage="public", params={"prefix": "a/"})
    private = jobs.start("delete", storage="private", params={"prefix": "a/"})
    user = make_user(django_user_model, "view_public", "delete", "view_job")
    client.force_login(user)
    response = client.post(
        reverse("admin:mediahub_job_changelist"),
        {"action": "cancel_selected", "_selected_action": [public.pk, private.pk]},
    )
    assert response.status_code == 302
    public.refresh_from_db()
    private.refresh_from_db()
    assert public.state == Job.State.CANCELLED and private.state == Job.State.QUEUED
    Job.objects.filter(pk=public.pk).update(failed_items=["a/x.txt"])
    client.post(
        reverse("admin:mediahub_job_changelist"),
        {"action": "retry_selected", "_selected_action": [public.pk]},
    )
    retry = Job.objects.get(retry_of=public)
    assert retry.params == {"names": ["a/x.txt"]} and retry.requested_by == user


def test_retry_button_starts_a_job_of_the_failed_items(client, editor, queued_job):
    jobs.cancel(queued_job)
    Job.objects.filter(pk=queued_job.pk).update(failed_items=["a/1.txt", "a/2.txt"])
    response = client.post(reverse("admin:mediahub_job_retry", args=[queued_job.pk]))
    retry = Job.objects.get(retry_of=queued_job)
    assert response["Location"] == reverse("admin:mediahub_job_change", args=[retry.pk])
    assert retry.params == {"names": ["a/1.txt", "a/2.txt"]}


def test_staff_without_job_permission_sees_no_jobs(client, django_user_model, queued_job):
    client.force_login(make_user(django_user_model, *LIBRARY, username="nojobs"))
    assert client.get(reverse("admin:mediahub_job_changelist")).status_code == 403
    assert client.get(reverse("admin:mediahub_job_progress")).status_code == 403


def test_run_audit_from_the_admin(client, editor, s3, settings):
    settings.TASKS = DUMMY
    url = reverse("admin:mediahub_job_run")
    assert "fix_policy" in client.get(url, {"kind": "audit"}).content.decode()
    response = client.post(url, {"kind": "audit", "storage": "private", "fix": "on"})
    job = Job.objects.get()
    assert (job.kind, job.storage, job.params) == (
        "audit",
        "private",
        {"fix": True, "fix_policy": False},
    )
    assert response["Location"] == reverse("admin:mediahub_job_change", args=[job.pk])
    response = client.post(url, {"kind": "thumbnails", "storage": "public", "prefix": "../"})
    assert response.status_code == 400 and Job.objects.count() == 1
    assert client.get(url, {"kind": "move"}).status_code == 404


def test_run_needs_the_run_operations_permission(client, django_user_model, s3):
    client.force_login(make_user(django_user_model, *LIBRARY, "view_job", username="ed"))
    url = reverse("admin:mediahub_job_run")
    assert client.post(url, {"kind": "audit", "storage": "public"}).status_code == 403
    page = client.get(reverse("admin:mediahub_job_changelist")).content.decode()
    assert "Run audit" not in page
