"""Active content (HTML, SVG, XML...) never reaches the public bucket as a page, on every path.

Each path is driven as a user drives it (a model form post, filer's admin upload, the
library's upload, a direct multipart upload from the "browser", make public, a sync
push) against moto's server over HTTP, and each test reads the stored headers back
with a HEAD request from outside.
"""

from __future__ import annotations

import io
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from mediahub.storage import content, get_storage
from mediahub.storage.content import ActiveContentRefused

MiB = 1024**2
SCRIPT = b"<script>alert(document.domain)</script>"


def head(s3, bucket: str, key: str) -> dict:
    return s3.client().head_object(Bucket=bucket, Key=key)


def assert_safe_text(answer: dict) -> None:
    """``notes.txt`` declared ``text/html``: stored as text, and downloaded, never rendered."""
    assert answer["ContentType"] == "text/plain"
    assert answer.get("ContentDisposition") == "attachment"


# -- the rule ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, expected",
    [
        ("text/plain", "text/plain"),
        ("Text/HTML; charset=UTF-8", "text/html"),
        ('text/plain; charset="utf-8"', "text/plain"),
        ("application/vnd.api+json ; q=1", "application/vnd.api+json"),
    ],
)
def test_content_types_parse_strictly(value, expected):
    assert content.parse_content_type(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "text/plain, text/html",
        "text/plain,text/html",
        "text/html text/plain",
        "text",
        "text/",
        "/html",
        "text/plain\r\nX-Evil: 1",
        "text/plain; charset",
        "text/plain; a=b; c",
        "",
        "text/plain;" + "a=b;" * 100,
    ],
)
def test_malformed_declared_types_are_refused_and_count_as_active(value):
    with pytest.raises(ValueError):
        content.parse_content_type(value)
    if value:
        assert content.is_active_type(value)
        assert content.is_active("notes.txt", value)


@pytest.mark.parametrize(
    "name",
    [
        "page.html",
        "PAGE.HTM",
        "a/b/page.xhtml",
        "icon.svg",
        "icon.svgz",
        "feed.xml",
        "feed.rss",
        "style.xsl",
        "page.html.gz",
        "archive.mhtml",
    ],
)
def test_active_names(name):
    assert content.is_active(name)
    assert content.safe_disposition(name, inline=True) == "attachment"


@pytest.mark.parametrize(
    "declared",
    [
        "text/html",
        "text/html; charset=utf-8",
        "image/svg+xml",
        "application/xml",
        "application/vnd.evil+xml",
        "text/plain, text/html",
    ],
)
def test_declared_active_types_make_a_harmless_name_active(declared):
    assert content.is_active("notes.txt", declared)
    assert content.write_headers("notes.txt", visibility="private", declared=[declared]) == {
        "ContentType": "text/plain",
        "ContentDisposition": "attachment",
    }


@pytest.mark.parametrize(
    "name, expected",
    [
        ("notes.txt", "text/plain"),
        ("photo.JPG", "image/jpeg"),
        ("doc.pdf", "application/pdf"),
        ("no-extension", "application/octet-stream"),
        ("page.html", "text/html"),
    ],
)
def test_content_type_comes_from_the_name(name, expected):
    assert content.content_type_for(name) == expected
    assert not content.is_active("notes.txt", "text/plain", None)
    assert content.safe_disposition("notes.txt", inline=True) == "inline"
    assert content.safe_disposition("notes.txt") == "attachment"


def test_refuse_mode_and_a_wrong_setting(settings):
    settings.MEDIAHUB = {"ACTIVE_CONTENT": "refuse"}
    with pytest.raises(ActiveContentRefused, match="private storage"):
        content.write_headers("x.svg", visibility="public")
    # The private storage keeps them, as attachments.
    assert content.write_headers("x.svg", visibility="private")["ContentDisposition"] == (
        "attachment"
    )
    settings.MEDIAHUB = {"ACTIVE_CONTENT": "inline"}
    with pytest.raises(ValueError, match="ACTIVE_CONTENT"):
        content.write_headers("x.svg", visibility="public")


# -- storage.save ------------------------------------------------------------------------------
def test_save_stores_the_type_from_the_name_never_the_declared_one(s3):
    public = get_storage("public")
    upload = SimpleUploadedFile("notes.txt", SCRIPT, content_type="text/html")
    name = public.save("notes.txt", upload)
    assert_safe_text(head(s3, s3.public_bucket, name))
    name = public.save("page.html", ContentFile(b"<h1>hi</h1>"))
    answer = head(s3, s3.public_bucket, name)
    assert answer["ContentType"] == "text/html"
    assert answer["ContentDisposition"] == "attachment"
    # An ordinary file stays inline-able, with its real type.
    name = public.save("a.pdf", SimpleUploadedFile("a.pdf", b"%PDF", content_type="text/html"))
    answer = head(s3, s3.public_bucket, name)
    assert answer["ContentType"] == "application/pdf"
    assert answer.get("ContentDisposition") == "attachment"  # declared HTML: stricter
    name = public.save("b.pdf", SimpleUploadedFile("b.pdf", b"%PDF", content_type="image/png"))
    answer = head(s3, s3.public_bucket, name)
    assert answer["ContentType"] == "application/pdf" and "ContentDisposition" not in answer


def test_multipart_save_gets_the_same_headers(s3):
    body = b"<svg>" + b" " * (9 * MiB) + b"</svg>"
    name = get_storage("public").save("big.svg", ContentFile(body))
    answer = head(s3, s3.public_bucket, name)
    assert answer["ContentLength"] == len(body)
    assert answer["ContentType"] == "image/svg+xml"
    assert answer["ContentDisposition"] == "attachment"


def test_write_mode_open_gets_the_same_headers(s3):
    with get_storage("public").open("w.html", "wb") as handle:
        handle.write(SCRIPT)
    assert head(s3, s3.public_bucket, "w.html")["ContentDisposition"] == "attachment"


def test_refuse_mode_refuses_before_any_request(s3, settings, count_requests):
    settings.MEDIAHUB = {"ACTIVE_CONTENT": "refuse"}
    public = get_storage("public")
    count_requests.clear()
    for name, upload in (
        ("page.html", ContentFile(SCRIPT)),
        ("notes.txt", SimpleUploadedFile("notes.txt", SCRIPT, content_type="text/html")),
        ("big.svg", ContentFile(b"<svg>" + b" " * (9 * MiB))),
    ):
        with pytest.raises(ActiveContentRefused):
            public.save(name, upload)
    assert count_requests.total == 0
    assert s3.keys(s3.public_bucket) == []
    # The private storage takes them (as attachments).
    name = get_storage("private").save("page.html", ContentFile(SCRIPT))
    assert head(s3, s3.private_bucket, name)["ContentDisposition"] == "attachment"


@pytest.mark.parametrize("scheme", ["memory", "file"])
def test_local_and_memory_public_storages_refuse_too(settings, tmp_path, scheme):
    from mediahub import dsn

    url = "memory://" if scheme == "memory" else f"file://{tmp_path}"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": dsn.parse(url),
        "private": dsn.parse(url.replace("memory://", "memory://"), visibility="private"),
    }
    settings.MEDIAHUB = {"ACTIVE_CONTENT": "refuse"}
    public = get_storage("public")
    with pytest.raises(ActiveContentRefused):
        public.save("page.html", ContentFile(SCRIPT))
    with pytest.raises(ActiveContentRefused):
        public.save("n.txt", SimpleUploadedFile("n.txt", SCRIPT, content_type="text/html"))
    get_storage("private").save("page.html", ContentFile(SCRIPT))
    with pytest.raises(ActiveContentRefused):
        public.copy("page.html", "page.html", source=get_storage("private"))
    assert public.save("n.txt", ContentFile(b"text")) == "n.txt"


# -- the model form post -------------------------------------------------------------------------
@pytest.mark.django_db
def test_model_form_post_of_notes_txt_declared_as_html(client, s3, settings):
    from example_project.demo.models import Document

    admin = get_user_model().objects.create_superuser("admin", "a@example.com", "pw")
    client.force_login(admin)
    upload = SimpleUploadedFile("notes.txt", SCRIPT, content_type="text/html")
    response = client.post("/admin/demo/document/add/", {"title": "Notes", "attachment": upload})
    assert response.status_code == 302, response.content[:2000]
    document = Document.objects.get()
    assert_safe_text(head(s3, s3.public_bucket, document.attachment.name))
    # Anonymous readers of the bucket's origin get a download, not a page.
    answer = s3.anonymous_get(s3.public_bucket, document.attachment.name)
    assert answer.headers["Content-Type"] == "text/plain"
    assert answer.headers["Content-Disposition"] == "attachment"

    settings.MEDIAHUB = {"ACTIVE_CONTENT": "refuse"}
    upload = SimpleUploadedFile("page.html", SCRIPT, content_type="text/html")
    response = client.post("/admin/demo/document/add/", {"title": "Page", "attachment": upload})
    assert response.status_code == 200  # the form again, with its error
    assert "a browser could run as a page" in response.content.decode()
    assert Document.objects.count() == 1
    assert s3.keys(s3.public_bucket) == [document.attachment.name]


# -- django-filer ------------------------------------------------------------------------------
@pytest.mark.django_db
def test_filer_admin_upload_of_active_content_is_not_served_as_a_page(client, s3, monkeypatch):
    from filer import settings as filer_settings
    from filer.models import File, Folder

    from mediahub.contrib.filer.storage import FilerPublicStorage

    monkeypatch.setattr(filer_settings, "FILER_ENABLE_PERMISSIONS", False)
    monkeypatch.setattr(filer_settings, "FILER_IS_PUBLIC_DEFAULT", True)
    folder = Folder.objects.create(name="Press")
    client.force_login(get_user_model().objects.create_superuser("boss", "b@example.com", "pw"))
    # filer itself refuses .html names (FILER's deny_html); an RSS feed and a disguised name pass it.
    for filename, declared in (("notes.txt", "text/html"), ("feed.rss", "application/pdf")):
        upload = SimpleUploadedFile(filename, SCRIPT, content_type=declared)
        answer = client.post(
            reverse("admin:filer-ajax_upload", kwargs={"folder_id": folder.pk}), {"file": upload}
        )
        assert answer.status_code == 200, answer.content
        filer_file = File.objects.get(pk=answer.json()["file_id"])
        assert isinstance(filer_file.file.storage, FilerPublicStorage)
        stored = head(s3, s3.public_bucket, filer_file.file.storage.key(filer_file.file.name))
        assert stored["ContentType"] == content.content_type_for(filename)
        assert stored["ContentDisposition"] == "attachment"


# -- the library's upload, and the direct (multipart) upload ----------------------------------------
@pytest.fixture
def editor(client, django_user_model, settings):
    from tests.test_library_views import ALL_PERMS, make_user

    settings.MEDIAHUB = {"MULTIPART_CHUNK_SIZE": 5 * MiB, "DIRECT_UPLOAD_THRESHOLD": 1 * MiB}
    user = make_user(django_user_model, *ALL_PERMS)
    client.force_login(user)
    return user


@pytest.mark.django_db
def test_library_upload_of_notes_txt_declared_as_html(client, editor, s3):
    upload = SimpleUploadedFile("notes.txt", SCRIPT, content_type="text/html")
    response = client.post(reverse("admin:mediahub_upload", args=["public"]), {"files": [upload]})
    assert response.status_code in (200, 302)
    assert_safe_text(head(s3, s3.public_bucket, "notes.txt"))


def direct_upload(client, body: bytes, filename: str, declared: str | None) -> None:
    """What library.js does (start, sign parts, PUT each part to S3, complete), with a type."""
    from tests.test_library_uploads import call

    data = {"path": "", "filename": filename, "size": len(body), "type": declared}
    start = call(client, "start", data).json()
    numbers = list(range(1, start["parts"] + 1))
    urls = call(client, "parts", {"token": start["token"], "parts": numbers}).json()["urls"]
    parts = []
    for number in numbers:
        chunk = body[(number - 1) * start["part_size"] : number * start["part_size"]]
        # A browser may add any Content-Type to its PUT: S3 keeps the upload's own.
        answer = requests.put(
            urls[str(number)], data=chunk, headers={"Content-Type": "text/html"}, timeout=30
        )
        assert answer.status_code == 200
        parts.append({"PartNumber": number, "ETag": answer.headers["ETag"]})
    done = call(client, "complete", {"token": start["token"], "parts": parts})
    assert done.status_code == 200, done.content


@pytest.mark.django_db
def test_direct_upload_headers_are_fixed_by_the_server_not_the_browser(client, editor, s3):
    from tests.test_library_uploads import call

    body = SCRIPT + b" " * (6 * MiB)
    direct_upload(client, body, "notes.txt", "text/html")
    answer = head(s3, s3.public_bucket, "notes.txt")
    assert_safe_text(answer)
    assert answer["ContentLength"] == len(body)
    direct_upload(client, body, "page.html", "text/plain")
    answer = head(s3, s3.public_bucket, "page.html")
    assert answer["ContentType"] == "text/html" and answer["ContentDisposition"] == "attachment"
    direct_upload(client, body, "clip.bin", "text/plain, text/html")
    assert head(s3, s3.public_bucket, "clip.bin")["ContentType"] == "application/octet-stream"
    # A part URL cannot change the headers: it signs UploadId, PartNumber and length only.
    token = call(client, "start", {"filename": "x.txt", "size": len(body)}).json()["token"]
    url = call(client, "parts", {"token": token, "parts": [1]}).json()["urls"]["1"]
    assert "content-type" not in parse_qs(urlsplit(url).query).get("X-Amz-SignedHeaders", [""])[0]


# -- copies: make public, storage.copy, copy_if_absent ----------------------------------------------
@pytest.mark.django_db
def test_make_public_replaces_a_lax_stored_type_with_the_computed_one(client, editor, s3):
    s3.client().put_object(
        Bucket=s3.private_bucket, Key="notes.txt", Body=SCRIPT, ContentType="text/plain, text/html"
    )
    client.post(reverse("admin:mediahub_visibility", args=["private"]), {"name": "notes.txt"})
    answer = head(s3, s3.public_bucket, "notes.txt")
    assert answer["ContentType"] == "text/plain"
    assert s3.keys(s3.private_bucket) == []


@pytest.mark.django_db
def test_copy_into_public_computes_headers_and_drops_the_private_mark(s3):
    from mediahub.storage.s3 import VISIBILITY_METADATA

    private, public = get_storage("private"), get_storage("public")
    s3.client().put_object(
        Bucket=s3.private_bucket,
        Key="a/notes.txt",
        Body=SCRIPT,
        ContentType="text/html",
        Metadata={"owner": "team-a", VISIBILITY_METADATA: "private"},
    )
    public.copy("a/notes.txt", "b/notes.txt", source=private)
    answer = head(s3, s3.public_bucket, "b/notes.txt")
    assert answer["ContentType"] == "text/plain"
    assert answer["Metadata"] == {"owner": "team-a"}
    public.copy("a/notes.txt", "b/notes.html", source=private)
    assert head(s3, s3.public_bucket, "b/notes.html")["ContentDisposition"] == "attachment"
    # Within private storage the mark stays.
    private.copy("a/notes.txt", "c/notes.txt")
    assert head(s3, s3.private_bucket, "c/notes.txt")["Metadata"][VISIBILITY_METADATA] == "private"
    assert public.copy_if_absent("a/notes.txt", "d/page.svg", source=private)
    assert head(s3, s3.public_bucket, "d/page.svg")["ContentDisposition"] == "attachment"


@pytest.mark.django_db
def test_copy_into_public_in_refuse_mode_is_refused(s3, settings):
    settings.MEDIAHUB = {"ACTIVE_CONTENT": "refuse"}
    private, public = get_storage("private"), get_storage("public")
    private.save("page.html", ContentFile(SCRIPT))
    for copy in (public.copy, public.copy_if_absent):
        with pytest.raises(ActiveContentRefused):
            copy("page.html", "page.html", source=private)
    assert s3.keys(s3.public_bucket) == []


# -- sync push -----------------------------------------------------------------------------------
def test_sync_push_stores_computed_headers_and_refuses_per_setting(s3, tmp_path, settings):
    (tmp_path / "notes.txt").write_bytes(SCRIPT)
    (tmp_path / "page.html").write_bytes(SCRIPT)
    (tmp_path / "big.svg").write_bytes(b"<svg>" + b" " * (9 * MiB))
    call_command("mediahub_sync", "push", str(tmp_path), "--noinput", stdout=io.StringIO())
    assert head(s3, s3.public_bucket, "notes.txt")["ContentType"] == "text/plain"
    for key, kind in (("page.html", "text/html"), ("big.svg", "image/svg+xml")):
        answer = head(s3, s3.public_bucket, key)
        assert answer["ContentType"] == kind and answer["ContentDisposition"] == "attachment"

    settings.MEDIAHUB = {"ACTIVE_CONTENT": "refuse"}
    (tmp_path / "other.xhtml").write_bytes(SCRIPT)
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command(
            "mediahub_sync", "push", str(tmp_path), "--noinput", stdout=io.StringIO(), stderr=err
        )
    assert "other.xhtml" in err.getvalue()
    assert "other.xhtml" not in s3.keys(s3.public_bucket)


# -- opening a private active object "inline" ------------------------------------------------------
@pytest.mark.django_db
def test_inline_link_to_a_private_active_object_downloads_it(client, s3):
    from mediahub import links

    private = get_storage("private")
    s3.client().put_object(
        Bucket=s3.private_bucket, Key="report.svg", Body=SCRIPT, ContentType="image/svg+xml"
    )
    s3.client().put_object(
        Bucket=s3.private_bucket, Key="photo.png", Body=b"\x89PNG", ContentType="image/png"
    )
    for name, inline in (("report.svg", "attachment"), ("photo.png", "inline")):
        response = client.get(links.sign(name, inline=True))
        assert response.status_code == 302
        answer = requests.get(response["Location"], timeout=10)
        assert answer.status_code == 200
        assert answer.headers["Content-Disposition"].startswith(inline)
    url = links.presigned_download_url(private, "report.svg", inline=True, content_type="text/html")
    disposition = parse_qs(urlsplit(url).query)["response-content-disposition"][0]
    assert disposition.startswith("attachment")


def test_direct_upload_start_declared_type_is_never_stored(s3, settings):
    """The token, not the browser, carries what is stored: start() ignores declared types."""
    from mediahub.library import uploads

    settings.MEDIAHUB = {"MULTIPART_CHUNK_SIZE": 5 * MiB}
    started = uploads.start("public", "", "notes.txt", 6 * MiB, "text/html")
    upload = uploads.load(started["token"], "public")
    listing = s3.client().list_multipart_uploads(Bucket=s3.public_bucket)["Uploads"]
    assert [u["Key"] for u in listing] == ["notes.txt"]
    uploads.abort(upload)
    assert json.dumps(started)  # a JSON answer for the browser
