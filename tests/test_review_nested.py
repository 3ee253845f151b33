"""Security review: the private storage nested in the public one, reached through the
public storage's other paths (ZIP, bulk actions, the folder picker, jobs).

Layout (issue 12, item 7): one bucket, the public storage at its root, the private
one under ``private/``. A staff user who may browse public files only must not read,
list, move or publish private objects by naming them through the public storage.
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.urls import reverse

from mediahub import jobs

pytestmark = pytest.mark.django_db


@pytest.fixture
def nested(nested_private):
    storages["default"].save("photos/open.txt", ContentFile(b"open"))
    storages["private"].save("scans/secret.pdf", ContentFile(b"%PDF secret"))
    return nested_private


@pytest.fixture
def public_editor(client, django_user_model):
    user = django_user_model.objects.create_user("pub", password="pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="mediahub",
            codename__in=["view_public", "upload", "delete", "publish", "view_job"],
        )
    )
    client.force_login(user)
    return user


def test_zip_of_a_nested_private_file_is_refused(nested, client, public_editor):
    response = client.post(
        reverse("admin:mediahub_bulk", args=["public"]),
        {"action": "zip", "path": "", "selected": ["private/scans/secret.pdf"], "confirm": "1"},
    )
    body = b"".join(response.streaming_content) if response.streaming else response.content
    if response.get("Content-Type") == "application/zip":
        names = zipfile.ZipFile(io.BytesIO(body)).namelist()
        assert names == [], names
    assert b"%PDF secret" not in body


def test_zip_of_the_nested_private_folder_is_refused(nested, client, public_editor):
    response = client.post(
        reverse("admin:mediahub_bulk", args=["public"]),
        {"action": "zip", "path": "", "selected": ["private/"], "confirm": "1"},
    )
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"%PDF secret" not in body and b"secret.pdf" not in body


def test_bulk_move_cannot_take_a_private_file_into_the_public_storage(
    nested, client, public_editor
):
    client.post(
        reverse("admin:mediahub_bulk", args=["public"]),
        {
            "action": "move",
            "path": "",
            "selected": ["private/scans/secret.pdf"],
            "target": "photos/",
            "confirm": "1",
        },
    )
    assert not storages["default"].exists("photos/secret.pdf")
    assert storages["private"].exists("scans/secret.pdf")


def test_folder_picker_does_not_list_the_nested_private_storage(nested, client, public_editor):
    url = reverse("admin:mediahub_folders", args=["public"])
    root = json.loads(client.get(url).content)
    assert [f["path"] for f in root["folders"]] == ["photos/"]
    inside = client.get(url, {"path": "private/"})
    assert b"scans" not in inside.content


def test_a_job_cannot_move_the_nested_private_storage_into_public_folders(nested, settings):
    with pytest.raises(jobs.JobError):
        jobs.start("move", storage="public", params={"prefix": "private/", "target": "leak/"})
    with pytest.raises(jobs.JobError):
        jobs.start(
            "move",
            storage="public",
            params={"names": ["private/scans/secret.pdf"], "target": "leak/"},
        )
    assert storages["private"].exists("scans/secret.pdf")
    assert not storages["default"].exists("leak/secret.pdf")


def test_single_file_actions_through_the_public_storage_are_refused(nested, client, public_editor):
    name = "private/scans/secret.pdf"
    client.post(reverse("admin:mediahub_delete", args=["public"]), {"name": name})
    client.post(reverse("admin:mediahub_visibility", args=["public"]), {"name": name})
    client.post(
        reverse("admin:mediahub_move", args=["public"]),
        {"name": "photos/open.txt", "new_name": "private/scans/planted.txt"},
    )
    assert storages["private"].exists("scans/secret.pdf")
    assert not storages["private"].exists("scans/planted.txt")
    assert storages["default"].exists("photos/open.txt")


def test_uploads_through_the_public_storage_never_land_in_the_private_one(
    nested, client, public_editor
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.post(
        reverse("admin:mediahub_upload", args=["public"]),
        {"path": "private/scans/", "files": SimpleUploadedFile("planted.pdf", b"%PDF")},
    )
    assert not storages["private"].exists("scans/planted.pdf")
    from django.core.exceptions import SuspiciousFileOperation

    from mediahub.library.policy import check_upload

    with pytest.raises(SuspiciousFileOperation, match="private storage"):
        check_upload("public", "private/", "x.pdf", 4)


def test_thumbnail_jobs_never_name_a_nested_private_image(nested, settings):
    with pytest.raises(jobs.JobError):
        jobs.start("thumbnails", storage="public", params={"names": ["private/scans/a.png"]})
