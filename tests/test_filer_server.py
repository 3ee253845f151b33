"""django-filer on mediahub's S3 storages: uploads, buckets, signed serving, thumbnails.

Against moto's server over HTTP (``s3`` fixture). filer reads its ``FILER_*``
settings at import, so tests change them by patching ``filer.settings``.
"""

from __future__ import annotations

import io
from urllib.parse import unquote, urlsplit

import pytest
import requests
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image as PILImage

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4 private report\n" * 20


def png_bytes(color: str = "red", size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def filer_settings(monkeypatch):
    """filer's import-time settings, patchable per test."""
    from filer import settings as fs

    cache.clear()  # filer caches folder permissions in Django's cache
    monkeypatch.setattr(fs, "FILER_ENABLE_PERMISSIONS", False)
    yield fs
    cache.clear()


@pytest.fixture
def folder(db):
    from filer.models import Folder

    return Folder.objects.create(name="Reports")


@pytest.fixture
def admin_user(db):
    return User.objects.create_superuser("boss", "boss@example.com", "pw")


@pytest.fixture
def staff_user(db):
    user = User.objects.create_user("clerk", "clerk@example.com", "pw", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="filer", codename__endswith="_file")
    )
    return user


def make_file(folder, *, is_public: bool, name: str = "Quarterly report.pdf", data: bytes = PDF):
    from filer.models import File

    return File.objects.create(
        file=ContentFile(data, name=name),
        original_filename=name,
        is_public=is_public,
        folder=folder,
    )


def make_image(folder, *, is_public: bool, name: str = "photo.png"):
    from filer.models import Image

    return Image.objects.create(
        file=ContentFile(png_bytes(), name=name),
        original_filename=name,
        is_public=is_public,
        folder=folder,
    )


def key_of(storage, name: str) -> str:
    return storage.key(name)


# -- where the objects go -----------------------------------------------------------------
@pytest.mark.s3semantics
def test_private_file_from_model_api_lands_in_private_bucket_and_is_not_anonymous(s3, folder):
    filer_file = make_file(folder, is_public=False)

    key = filer_file.file.storage.key(filer_file.file.name)
    assert key.startswith("filer_private/")
    assert key in s3.keys(s3.private_bucket)
    assert s3.keys(s3.public_bucket) == []
    assert s3.anonymous_get(s3.private_bucket, key).status_code == 403
    assert filer_file.url == f"/smedia/filer_private/{filer_file.file.name}"


@pytest.mark.s3semantics
def test_public_file_lands_in_public_bucket_and_is_readable_anonymously(s3, folder):
    filer_file = make_file(folder, is_public=True, name="brochure.pdf")

    key = filer_file.file.name
    assert key.startswith("filer_public/")
    assert key in s3.keys(s3.public_bucket)
    assert s3.keys(s3.private_bucket) == []
    answer = requests.get(filer_file.url, timeout=10)
    assert answer.status_code == 200
    assert answer.content == PDF
    assert "X-Amz-Signature" not in filer_file.url


def test_admin_upload_of_private_file_lands_in_private_bucket(
    s3, client, admin_user, folder, filer_settings, monkeypatch
):
    from filer.models import File

    monkeypatch.setattr(filer_settings, "FILER_IS_PUBLIC_DEFAULT", False)
    client.force_login(admin_user)
    upload = SimpleUploadedFile("Contract 2026.pdf", PDF, content_type="application/pdf")

    answer = client.post(
        reverse("admin:filer-ajax_upload", kwargs={"folder_id": folder.pk}), {"file": upload}
    )

    assert answer.status_code == 200, answer.content
    filer_file = File.objects.get(pk=answer.json()["file_id"])
    assert filer_file.is_public is False
    key = filer_file.file.storage.key(filer_file.file.name)
    assert s3.keys(s3.private_bucket) == [key]
    assert s3.keys(s3.public_bucket) == []
    assert s3.anonymous_get(s3.private_bucket, key).status_code == 403
    # ...and its filer URL redirects the uploader to the bytes, under its own name.
    redirect = client.get(filer_file.url)
    assert redirect.status_code == 302
    download = requests.get(redirect["Location"], timeout=10)
    assert download.content == PDF
    assert 'filename="Contract 2026.pdf"' in download.headers["Content-Disposition"]


def test_admin_upload_of_public_image_lands_in_public_bucket(
    s3, client, admin_user, folder, filer_settings, monkeypatch
):
    from filer.models import Image

    monkeypatch.setattr(filer_settings, "FILER_IS_PUBLIC_DEFAULT", True)
    client.force_login(admin_user)
    upload = SimpleUploadedFile("cover.png", png_bytes(), content_type="image/png")

    answer = client.post(
        reverse("admin:filer-ajax_upload", kwargs={"folder_id": folder.pk}), {"file": upload}
    )

    assert answer.status_code == 200, answer.content
    image = Image.objects.get(pk=answer.json()["file_id"])
    assert image.is_public and (image.width, image.height) == (64, 48)
    assert s3.keys(s3.public_bucket) == [image.file.name]
    assert s3.keys(s3.private_bucket) == []


# -- serving private files ------------------------------------------------------------------
@pytest.mark.s3semantics
def test_private_url_redirects_permitted_user_to_working_presigned_url(
    s3, client, admin_user, folder, filer_settings
):
    from mediahub.models import DownloadLog

    filer_file = make_file(folder, is_public=False)
    client.force_login(admin_user)

    answer = client.get(filer_file.url)

    assert answer.status_code == 302
    assert "no-store" in answer["Cache-Control"]
    location = answer["Location"]
    assert location.startswith(s3.endpoint.url + "/" + s3.private_bucket + "/filer_private/")
    assert "X-Amz-Signature=" in location
    download = requests.get(location, timeout=10)
    assert download.status_code == 200
    assert download.content == PDF
    assert download.headers["Content-Disposition"] == (
        'attachment; filename="Quarterly report.pdf"'
    )
    log = DownloadLog.objects.get()
    assert (log.user, log.outcome, log.storage) == (admin_user, "redirected", "private")
    assert log.name == filer_file.file.storage.key(filer_file.file.name)


def test_presigned_url_carries_non_ascii_original_name(s3, client, admin_user, folder):
    filer_file = make_file(folder, is_public=False, name="Bilan été.pdf")
    client.force_login(admin_user)

    location = client.get(filer_file.url)["Location"]

    disposition = unquote(dict(_query(location))["response-content-disposition"])
    assert (
        disposition
        == "attachment; filename=\"Bilan ete.pdf\"; filename*=UTF-8''Bilan%20%C3%A9t%C3%A9.pdf"
    )


def _query(url: str):
    return (part.split("=", 1) for part in urlsplit(url).query.split("&"))


def test_private_url_refuses_anonymous_user(s3, client, folder, filer_settings):
    filer_file = make_file(folder, is_public=False)

    answer = client.get(filer_file.url)

    assert answer.status_code == 404
    assert "Location" not in answer


@pytest.mark.parametrize("permissions", [False, True], ids=["permissions-off", "permissions-on"])
def test_folder_permissions_decide_who_reads(
    s3, client, staff_user, folder, filer_settings, monkeypatch, permissions
):
    """Off: any signed-in user reads files in folders. On: only with a folder permission."""
    from filer.models import FolderPermission

    monkeypatch.setattr(filer_settings, "FILER_ENABLE_PERMISSIONS", permissions)
    filer_file = make_file(folder, is_public=False)
    client.force_login(staff_user)

    first = client.get(filer_file.url)

    assert first.status_code == (404 if permissions else 302)
    if permissions:
        FolderPermission.objects.create(
            folder=folder, type=FolderPermission.THIS, user=staff_user, can_read=True
        )
        cache.clear()
        granted = client.get(filer_file.url)
        assert granted.status_code == 302
        assert requests.get(granted["Location"], timeout=10).content == PDF


def test_unpermitted_user_refused_with_permissions_on(
    s3, client, staff_user, folder, filer_settings, monkeypatch
):
    from filer.models import FolderPermission

    from mediahub.models import DownloadLog

    monkeypatch.setattr(filer_settings, "FILER_ENABLE_PERMISSIONS", True)
    other = User.objects.create_user("other", is_staff=True)
    FolderPermission.objects.create(
        folder=folder, type=FolderPermission.THIS, user=other, can_read=True
    )
    filer_file = make_file(folder, is_public=False)
    client.force_login(staff_user)

    answer = client.get(filer_file.url)

    assert answer.status_code == 404
    assert not DownloadLog.objects.exists()


def test_server_checks_permission_itself(rf, s3, folder, filer_settings):
    """Wired anywhere, the backend still refuses a user filer would refuse."""
    from django.contrib.auth.models import AnonymousUser
    from django.core.exceptions import PermissionDenied

    from mediahub.contrib.filer.server import SignedRedirectServer

    filer_file = make_file(folder, is_public=False)
    request = rf.get("/")
    request.user = AnonymousUser()

    with pytest.raises(PermissionDenied):
        SignedRedirectServer().serve(request, filer_file)
    from mediahub.models import DownloadLog

    assert DownloadLog.objects.get().outcome == "forbidden"


def test_missing_object_is_404_and_logged(s3, client, admin_user, folder):
    from mediahub.models import DownloadLog

    filer_file = make_file(folder, is_public=False)
    s3.client().delete_object(
        Bucket=s3.private_bucket, Key=filer_file.file.storage.key(filer_file.file.name)
    )
    client.force_login(admin_user)

    assert client.get(filer_file.url).status_code == 404
    assert DownloadLog.objects.get().outcome == "missing"


def test_storage_failure_is_503_without_detail(s3, client, admin_user, folder, fail_s3):
    filer_file = make_file(folder, is_public=False)
    client.force_login(admin_user)
    fail_s3("HeadObject", status=503)

    answer = client.get(filer_file.url)

    assert answer.status_code == 503
    assert b"SlowDown" not in answer.content and b"injected" not in answer.content


def test_inline_option_and_lifetime(s3, rf, admin_user, folder):
    from mediahub.contrib.filer.server import SignedRedirectServer

    filer_file = make_file(folder, is_public=False, name="notes.pdf")
    request = rf.get("/")
    request.user = admin_user

    location = SignedRedirectServer(inline=True, expires_in=60).serve(request, filer_file)[
        "Location"
    ]

    query = dict(_query(location))
    assert unquote(query["response-content-disposition"]) == 'inline; filename="notes.pdf"'
    assert query["X-Amz-Expires"] == "60"


def test_local_private_storage_streams_without_a_path(settings, tmp_path, client, admin_user):
    """Development: a local private folder is streamed in chunks, never by path."""
    from filer.models import Folder

    from mediahub import dsn

    settings.STORAGES = {
        **settings.STORAGES,
        "private": dsn.parse(f"file://{tmp_path}", visibility="private"),
    }
    filer_file = make_file(Folder.objects.create(name="local"), is_public=False)
    client.force_login(admin_user)

    answer = client.get(filer_file.url)

    assert answer.status_code == 200
    assert answer.streaming
    assert b"".join(answer.streaming_content) == PDF
    assert answer["Content-Disposition"] == 'attachment; filename="Quarterly report.pdf"'
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert (tmp_path / "filer_private").is_dir()


# -- thumbnails ---------------------------------------------------------------------------
THUMB = {"size": (40, 40), "crop": True}


@pytest.mark.s3semantics
def test_private_image_thumbnails_stay_private_and_are_served_signed(
    s3, client, admin_user, folder, count_requests
):
    from mediahub.models import DownloadLog

    image = make_image(folder, is_public=False)

    thumbnail = image.file.get_thumbnail(THUMB)

    private_keys = s3.keys(s3.private_bucket)
    thumb_key = "filer_private_thumbnails/" + thumbnail.name
    assert thumb_key in private_keys
    assert s3.keys(s3.public_bucket) == []
    assert s3.anonymous_get(s3.private_bucket, thumb_key).status_code == 403
    assert thumbnail.url == "/smedia/filer_private_thumbnails/" + thumbnail.name

    assert client.get(thumbnail.url).status_code == 404  # anonymous
    client.force_login(admin_user)
    count_requests.clear()
    answer = client.get(thumbnail.url)
    assert answer.status_code == 302
    assert count_requests.total == 0  # listings show dozens: no HEAD, no audit row
    assert not DownloadLog.objects.exists()
    download = requests.get(answer["Location"], timeout=10)
    assert download.status_code == 200
    assert download.headers["Content-Type"] == "image/jpeg"  # thumbnail.name ends .jpg
    assert download.headers["Content-Disposition"].startswith("inline;")
    assert PILImage.open(io.BytesIO(download.content)).size == (40, 40)


def test_admin_icon_of_private_image_goes_through_signed_thumbnail(s3, client, admin_user, folder):
    image = make_image(folder, is_public=False)
    client.force_login(admin_user)

    icon = client.get(reverse("admin:filer_image_fileicon", args=(image.pk, 40)))

    assert icon.status_code == 302
    assert icon["Location"].startswith("/smedia/filer_private_thumbnails/filer_private/")
    signed = client.get(icon["Location"])
    assert signed.status_code == 302
    assert requests.get(signed["Location"], timeout=10).status_code == 200
    assert s3.keys(s3.public_bucket) == []


def test_public_image_thumbnails_go_to_public_bucket(s3, folder):
    image = make_image(folder, is_public=True)

    thumbnail = image.file.get_thumbnail(THUMB)

    assert thumbnail.name.startswith("filer_public_thumbnails/filer_public/")
    assert thumbnail.name in s3.keys(s3.public_bucket)
    assert s3.keys(s3.private_bucket) == []
    assert requests.get(thumbnail.url, timeout=10).status_code == 200


@pytest.mark.parametrize("seconds", [0, -5, 604801, "60"])
def test_server_refuses_bad_lifetimes_at_start_up(seconds):
    from django.core.exceptions import ImproperlyConfigured

    from mediahub.contrib.filer.server import SignedRedirectServer

    with pytest.raises(ImproperlyConfigured, match="expires_in"):
        SignedRedirectServer(expires_in=seconds)
