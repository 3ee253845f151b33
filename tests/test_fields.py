"""mediahub.fields and mediahub.widgets: storage by visibility, signed URLs, admin widget."""

from __future__ import annotations

import io

import pytest
import requests
from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import models
from django.test import override_settings
from django.urls import include, path
from PIL import Image

from example_project.demo.models import Document
from mediahub import dsn, links
from mediahub.checks import file_field_errors
from mediahub.fields import (
    ExistingObject,
    MediaFileField,
    MediaImageField,
    PrivateFileField,
    PrivateImageField,
    PublicFileField,
    PublicImageField,
    RejectedObject,
    private_storage,
)
from mediahub.storage import get_storage, visibility_of
from mediahub.widgets import MediaFileWidget


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), "red").save(buffer, "PNG")
    return buffer.getvalue()


class DocumentForm(forms.ModelForm):
    class Meta:
        model = Document
        fields = ["title", "attachment", "contract", "cover", "scan"]


# -- migrations never capture storages ----------------------------------------------------
def test_deconstruct_records_the_class_and_never_a_storage():
    for field_name, path_ in [
        ("attachment", "mediahub.fields.PublicFileField"),
        ("contract", "mediahub.fields.PrivateFileField"),
        ("cover", "mediahub.fields.PublicImageField"),
        ("scan", "mediahub.fields.PrivateImageField"),
    ]:
        _name, found_path, _args, kwargs = Document._meta.get_field(field_name).deconstruct()
        assert found_path == path_
        assert "storage" not in kwargs and "visibility" not in kwargs
    _n, found_path, _a, kwargs = MediaFileField(visibility="private").deconstruct()
    assert (found_path, kwargs["visibility"]) == ("mediahub.fields.MediaFileField", "private")
    assert "storage" not in kwargs
    _n, found_path, _a, kwargs = MediaImageField(visibility="private").deconstruct()
    assert (found_path, kwargs["visibility"]) == ("mediahub.fields.MediaImageField", "private")


@pytest.mark.django_db
def test_makemigrations_stays_clean_when_storages_change(tmp_path):
    changed = {
        "default": dsn.parse(f"file://{tmp_path}/public?url=/m/"),
        "private": dsn.parse(f"file://{tmp_path}/private", visibility="private"),
        "easy_thumbnails": dsn.parse(f"file://{tmp_path}/public?url=/m/"),
        "staticfiles": settings.STORAGES["staticfiles"],
    }
    for storages in (settings.STORAGES, changed):
        with override_settings(STORAGES=storages):
            # Exits with status 1 when a migration would be created.
            call_command(
                "makemigrations", "demo", "mediahub", check=True, dry_run=True, verbosity=0
            )


def test_storage_follows_settings_at_every_access(tmp_path):
    field = Document._meta.get_field("contract")
    assert field.storage is get_storage("private")
    private = {
        "BACKEND": "mediahub.storage.local.PrivateFileSystemStorage",
        "OPTIONS": {"location": str(tmp_path)},
    }
    with override_settings(STORAGES={**settings.STORAGES, "private": private}):
        assert field.storage is get_storage("private")
        assert field.storage.location == str(tmp_path)
    assert private_storage() is get_storage("private")


def test_fields_refuse_an_explicit_storage_and_unknown_visibilities():
    with pytest.raises(TypeError, match="chooses its storage by visibility"):
        PrivateFileField(storage=get_storage("private"))
    with pytest.raises(ValueError, match="visibility"):
        MediaFileField(visibility="secret")


def test_fields_pass_mediahub_field_checks_with_local_folders(tmp_path):
    local = {
        "default": dsn.parse(f"file://{tmp_path}/public?url=/m/"),
        "private": dsn.parse(f"file://{tmp_path}/private", visibility="private"),
    }
    with override_settings(STORAGES={**settings.STORAGES, **local}):
        assert file_field_errors([Document]) == []
        assert Document._meta.get_field("scan").check() == []


# -- the right bucket, the right URL -----------------------------------------------------------
@pytest.mark.s3semantics
@pytest.mark.django_db
def test_fields_store_into_the_right_bucket(s3, client):
    document = Document(title="t")
    document.attachment.save("a.txt", ContentFile(b"public text"), save=False)
    document.contract.save("c.pdf", ContentFile(b"private pdf"), save=False)
    document.cover.save("cover.png", ContentFile(png_bytes()), save=False)
    document.scan.save("scan.png", ContentFile(png_bytes()), save=False)
    document.save()

    assert sorted(s3.keys(s3.public_bucket)) == ["covers/cover.png", "documents/a.txt"]
    assert sorted(s3.keys(s3.private_bucket)) == ["contracts/c.pdf", "scans/scan.png"]
    for key in ("covers/cover.png", "documents/a.txt"):
        assert s3.anonymous_get(s3.public_bucket, key).status_code == 200
    for key in ("contracts/c.pdf", "scans/scan.png"):
        assert s3.anonymous_get(s3.private_bucket, key).status_code == 403

    document = Document.objects.get(pk=document.pk)
    assert document.attachment.url.startswith(f"{s3.endpoint.url}/{s3.public_bucket}/")
    assert "X-Amz-Signature" not in document.attachment.url
    for private in (document.contract, document.scan):
        url = private.url
        assert url.startswith("/media-links/d/")  # a signed link, never a public URL
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(f"{s3.endpoint.url}/{s3.private_bucket}/")


@pytest.mark.django_db
def test_private_url_is_revocable_like_any_link(client):
    document = Document(title="t")
    document.contract.save("c.pdf", ContentFile(b"x"), save=False)
    url = document.contract.url
    links.revoke_all(document.contract.name)
    assert client.get(url).status_code == 410


def test_empty_field_has_no_url():
    with pytest.raises(ValueError):
        _ = Document(title="t").contract.url


# -- the widget --------------------------------------------------------------------------------------
class NoLibraryUrls:
    urlpatterns = [path("media-links/", include("mediahub.urls"))]


def _browse(request, storage):  # pragma: no cover - only reversed
    raise AssertionError


class LibraryUrls:
    urlpatterns = [
        path("media-links/", include("mediahub.urls")),
        path(
            "admin/",
            include(([path("library/<str:storage>/", _browse, name="mediahub_browse")], "admin")),
        ),
    ]


@pytest.mark.django_db
def test_widget_shows_signed_link_preview_clear_and_choose_button():
    document = Document(title="t")
    document.scan.save("scan.png", ContentFile(png_bytes()), save=False)
    widget = MediaFileWidget(visibility="private")

    with override_settings(ROOT_URLCONF=LibraryUrls):
        html = widget.render("scan", document.scan, attrs={"id": "id_scan"})

    href = html.split('<a href="', 1)[1].split('"', 1)[0]
    assert href.startswith("/media-links/d/")
    assert links.load(links.token_from(href)).name == document.scan.name
    preview = html.split('<img src="', 1)[1].split('"', 1)[0]
    assert preview.startswith("/media-links/t/")  # the private thumbnail's signed endpoint
    assert 'name="scan-clear"' in html and 'type="file" name="scan"' in html
    assert '<input type="hidden" name="scan_existing" id="id_scan_existing"' in html
    assert 'class="button mediahub-choose"' in html
    assert 'data-picker-url="/admin/library/private/?_popup=1"' in html
    assert 'data-target="id_scan_existing"' in html
    assert "mediahub/picker.js" in str(widget.media)


def test_widget_renders_a_stored_name_mediahub_refuses_without_a_link():
    # A legacy row may hold a name the storages refuse (" report.pdf"): the change page
    # must still render (to let someone clear or replace it), just without a link.
    document = Document(title="t", scan="docs/ report.png")
    html = MediaFileWidget(visibility="private").render("f", document.scan)
    assert "docs/ report.png" in html
    assert "<a href" not in html and "<img" not in html
    assert 'name="f-clear"' in html


def test_widget_leaves_the_button_out_without_the_media_library():
    widget = MediaFileWidget(visibility="public")
    with override_settings(ROOT_URLCONF=NoLibraryUrls):
        html = widget.render("cover", None, attrs={"id": "id_cover"})
    assert "mediahub-choose" not in html
    assert 'name="cover_existing"' in html


def test_public_widget_links_the_public_url_and_previews_only_images():
    get_storage("public").save("documents/a.txt", ContentFile(b"x"))
    document = Document(title="t", attachment="documents/a.txt")
    html = MediaFileWidget(visibility="public").render("attachment", document.attachment)
    assert '<a href="/media/documents/a.txt"' in html
    assert "<img" not in html


def pick(name: str, visibility: str = "private") -> str:
    """What the library popup hands the widget for ``name`` (a signed pick token)."""
    from mediahub.picker import pick_token

    return pick_token(visibility, name)


def test_existing_object_is_validated_in_the_fields_storage():
    widget = MediaFileWidget(visibility="private")
    get_storage("private").save("contracts/old.pdf", ContentFile(b"x"))
    get_storage("public").save("documents/pub.pdf", ContentFile(b"x"))

    chosen = widget.value_from_datadict({"f_existing": pick("contracts/old.pdf")}, {}, "f")
    assert isinstance(chosen, ExistingObject) and chosen == "contracts/old.pdf"
    for bad in ("../etc/passwd", "contracts//old.pdf", "documents/pub.pdf", "nope.pdf"):
        picked = widget.value_from_datadict({"f_existing": pick(bad)}, {}, "f")
        assert isinstance(picked, RejectedObject)
    assert widget.value_from_datadict({"f_existing": " "}, {}, "f") is None
    assert widget.value_omitted_from_data({"f_existing": "x"}, {}, "f") is False


@pytest.mark.django_db
def test_model_form_picks_an_existing_object_without_uploading():
    private = get_storage("private")
    private.save("contracts/old.pdf", ContentFile(b"already there"))
    before = private.listdir("contracts/")

    form = DocumentForm(data={"title": "t", "contract_existing": pick("contracts/old.pdf")})
    assert form.is_valid(), form.errors
    document = form.save()

    assert document.contract.name == "contracts/old.pdf"
    assert private.listdir("contracts/") == before  # nothing new written


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["../secret.pdf", "contracts/missing.pdf", "a\r\nb"])
def test_model_form_refuses_an_unsafe_or_unknown_existing_object(bad):
    form = DocumentForm(data={"title": "t", "contract_existing": pick(bad)})
    assert not form.is_valid()
    assert "is not a file of this storage" in form.errors["contract"][0]
    assert not Document.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "forged",
    [
        "contracts/old.pdf",  # a bare name typed into the form: no library permission used
        "pick_from_public_storage",
        "expired",
        "tampered",
    ],
)
def test_model_form_refuses_a_pick_not_signed_by_the_library(forged, monkeypatch):
    from mediahub import picker

    get_storage("private").save("contracts/old.pdf", ContentFile(b"secret"))
    if forged == "pick_from_public_storage":
        forged = picker.pick_token("public", "contracts/old.pdf")
    elif forged == "expired":
        forged = pick("contracts/old.pdf")
        monkeypatch.setattr(picker, "MAX_AGE", -1)
    elif forged == "tampered":
        token = pick("contracts/old.pdf")
        forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    form = DocumentForm(data={"title": "t", "contract_existing": forged})
    assert not form.is_valid()
    assert "could not be verified" in form.errors["contract"][0]
    assert not Document.objects.exists()


@pytest.mark.django_db
def test_model_form_refuses_an_existing_object_longer_than_the_column():
    # FileField's column holds max_length (100) characters: PostgreSQL would answer a
    # longer picked name with a DataError (a 500), SQLite would store it silently.
    long_name = "contracts/" + "x" * 120 + ".pdf"
    get_storage("private").save(long_name, ContentFile(b"x"))
    form = DocumentForm(data={"title": "t", "contract_existing": pick(long_name)})
    assert not form.is_valid()
    assert "at most 100 characters" in form.errors["contract"][0]
    assert not Document.objects.exists()


@pytest.mark.django_db
def test_model_form_uploads_and_clears():
    upload = SimpleUploadedFile("scan.png", png_bytes(), content_type="image/png")
    form = DocumentForm(data={"title": "t"}, files={"scan": upload})
    assert form.is_valid(), form.errors
    document = form.save()
    assert get_storage("private").exists(document.scan.name)

    form = DocumentForm(data={"title": "t", "scan-clear": "on"}, instance=document)
    assert form.is_valid(), form.errors
    assert form.save().scan.name == ""


@pytest.mark.django_db
def test_image_fields_refuse_non_images():
    upload = SimpleUploadedFile("scan.png", b"not an image", content_type="image/png")
    form = DocumentForm(data={"title": "t"}, files={"scan": upload})
    assert not form.is_valid()
    assert "scan" in form.errors


# -- admin ------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_admin_form_uses_the_mediahub_widget_and_stores_uploads(client):
    admin = get_user_model().objects.create_superuser("admin", "a@example.com", "pw")
    client.force_login(admin)

    page = client.get("/admin/demo/document/add/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('class="mediahub-file-widget"') == 4
    assert "mediahub/picker.js" in html

    response = client.post(
        "/admin/demo/document/add/",
        {
            "title": "Admin upload",
            "contract": SimpleUploadedFile("c.pdf", b"%PDF-1.4", content_type="application/pdf"),
        },
    )
    assert response.status_code == 302, response.content[:2000]
    document = Document.objects.get()
    assert get_storage("private").open(document.contract.name).read() == b"%PDF-1.4"
    assert not get_storage("public").exists(document.contract.name)


def test_all_four_field_kinds_are_model_fields():
    kinds = {type(Document._meta.get_field(n)) for n in ("attachment", "contract", "cover", "scan")}
    assert kinds == {PublicFileField, PrivateFileField, PublicImageField, PrivateImageField}
    assert all(issubclass(kind, models.FileField) for kind in kinds)


@pytest.mark.django_db
def test_demo_load_creates_a_document_using_all_four_fields():
    call_command("demo_load", bulk=2, jobs=1, stdout=io.StringIO())
    document = Document.objects.get()
    for field_name in ("attachment", "contract", "cover", "scan"):
        file = getattr(document, field_name)
        assert file.storage.exists(file.name), field_name
    assert document.contract.url.startswith("/media-links/d/")


# -- "Choose existing" end to end in a real browser -----------------------------------------------
@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_choose_existing_in_the_admin_picks_a_private_object(
    live_server, browser_page, click_closing
):
    get_user_model().objects.create_superuser("admin", "a@example.com", "admin-pw")
    get_storage("private").save("contracts/nda.pdf", ContentFile(b"%PDF-1.4 nda"))
    page = browser_page
    page.goto(live_server.url + "/admin/login/?next=/admin/demo/document/add/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin-pw")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/demo/document/add/")
    page.fill("#id_title", "Picked")

    button = page.locator('button.mediahub-choose[data-target="id_contract_existing"]')
    with page.expect_popup() as opened:
        button.click()
    popup = opened.value
    popup.wait_for_load_state()
    assert "_popup=1" in popup.url
    popup.goto(popup.url + "&path=contracts/")
    with popup.expect_event("close"):
        click_closing(popup, 'button.mediahub-pick[data-name="contracts/nda.pdf"]')

    from mediahub.picker import read_pick_token

    assert (
        read_pick_token(page.input_value("#id_contract_existing"), "private") == "contracts/nda.pdf"
    )
    assert page.locator('.mediahub-chosen[data-for="id_contract_existing"]').inner_text() == (
        "contracts/nda.pdf"
    )
    with page.expect_navigation():
        page.click("input[name=_save]")
    document = Document.objects.get(title="Picked")
    assert document.contract.name == "contracts/nda.pdf"
    assert get_storage("private").listdir("contracts/")[1] == ["nda.pdf"]  # nothing uploaded
    # The change form now shows the file with its signed link (screenshot for the README).
    page.goto(f"{live_server.url}/admin/demo/document/{document.pk}/change/")
    href = page.get_attribute("#id_contract_existing >> xpath=.. >> a", "href")
    assert href.startswith("/media-links/d/")


@pytest.mark.s3semantics
@pytest.mark.django_db
def test_easy_thumbnails_own_api_keeps_private_thumbnails_private(s3):
    # {% thumbnail document.scan ... %} and get_thumbnailer() are easy-thumbnails' own
    # ways in: they must not write a private image's thumbnail to its default (public)
    # thumbnail storage.
    from easy_thumbnails.files import get_thumbnailer

    document = Document(title="t")
    document.scan.save("scan.png", ContentFile(png_bytes()), save=False)

    thumb = get_thumbnailer(document.scan).get_thumbnail({"size": (2, 2)})

    assert visibility_of(thumb.storage) == "private"
    assert s3.keys(s3.public_bucket) == []
    assert thumb.name in s3.keys(s3.private_bucket)
    assert s3.anonymous_get(s3.private_bucket, thumb.name).status_code == 403
    assert "X-Amz-Signature" in thumb.url
    assert requests.get(thumb.url, timeout=10).status_code == 200


@pytest.mark.django_db
def test_choose_existing_when_s3_fails_is_a_form_error_not_a_500(s3, fail_s3, monkeypatch):
    import botocore.endpoint

    monkeypatch.setattr(botocore.endpoint.time, "sleep", lambda seconds: None)  # no backoff
    get_storage("private").save("contracts/old.pdf", ContentFile(b"x"))
    fail_s3("HeadObject", status=503)
    form = DocumentForm(data={"title": "t", "contract_existing": pick("contracts/old.pdf")})
    assert not form.is_valid()
    assert "did not answer" in form.errors["contract"][0]
    assert not Document.objects.exists()
