"""The media library's views through Django's test client, against moto's server."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from mediahub.storage import get_storage
from tests.users import make_user

pytestmark = pytest.mark.django_db

ALL_PERMS = ("view_public", "view_private", "upload", "delete", "publish", "sign")


@pytest.fixture(autouse=True)
def no_retry_backoff(monkeypatch):
    """botocore sleeps between retries of injected 503s; the tests need not wait."""
    import time as real_time
    from types import SimpleNamespace

    import botocore.endpoint

    fake = SimpleNamespace(
        **{k: getattr(real_time, k) for k in dir(real_time) if not k.startswith("__")}
    )
    fake.sleep = lambda seconds: None
    monkeypatch.setattr(botocore.endpoint, "time", fake)


@pytest.fixture
def editor(client, django_user_model):
    user = make_user(django_user_model, *ALL_PERMS)
    client.force_login(user)
    return user


def browse_url(storage: str = "public", **params) -> str:
    url = reverse("admin:mediahub_browse", kwargs={"storage": storage})
    if params:
        from urllib.parse import urlencode

        url += "?" + urlencode(params, doseq=True)
    return url


def put(s3, bucket: str, key: str, body: bytes = b"x", **extra) -> None:
    s3.client().put_object(Bucket=bucket, Key=key, Body=body, **extra)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def follow_messages(client, response) -> list[str]:
    assert response.status_code == 302, response.status_code
    page = client.get(response["Location"])
    return messages_of(page)


# -- admin index -------------------------------------------------------------------------
def test_admin_index_lists_media_library_with_public_and_private_files(client, editor, s3):
    page = client.get(reverse("admin:index")).content.decode()
    assert "Media library" in page
    public = reverse("admin:mediahub_publicfiles_changelist")
    private = reverse("admin:mediahub_privatefiles_changelist")
    assert f'href="{public}"' in page and "Public files" in page
    assert f'href="{private}"' in page and "Private files" in page
    assert client.get(public)["Location"] == browse_url("public")
    assert client.get(private)["Location"] == browse_url("private")


@pytest.mark.parametrize("action", ["1/change/", "1/history/", "1/delete/", "add/"])
def test_model_admin_pages_of_the_table_less_model_are_404_not_500(client, editor, action):
    """MediaLibrary has no table: its admin has no object pages (they queried it: 500)."""
    response = client.get(f"{reverse('admin:app_list', args=['mediahub'])}medialibrary/{action}")
    assert response.status_code == 404


def test_index_shows_only_the_storages_a_user_may_view(client, django_user_model, s3):
    client.force_login(make_user(django_user_model, "view_public"))
    page = client.get(reverse("admin:index")).content.decode()
    assert "Public files" in page
    assert "Private files" not in page


# -- browse --------------------------------------------------------------------------------
def test_browse_lists_folders_then_files_with_metadata(client, editor, s3):
    put(s3, s3.public_bucket, "photos/a.jpg", b"12345")
    put(s3, s3.public_bucket, "photos/sub/b.txt")
    put(s3, s3.public_bucket, "root.txt")
    response = client.get(browse_url(path="photos/"))
    assert response.status_code == 200
    body = response.content.decode()
    assert body.index("sub/") < body.index("a.jpg")
    assert "5\xa0bytes" in body
    assert "image/jpeg" in body
    assert "root.txt" not in body
    # The public URL is the file's link; breadcrumbs lead back to the root.
    assert get_storage("public").url("photos/a.jpg") in body
    assert f'href="{browse_url()}"' in body


@pytest.mark.parametrize(
    ("storage", "bucket"), [("public", "public_bucket"), ("private", "private_bucket")]
)
def test_thumbnail_folder_is_hidden_from_the_library(client, editor, s3, storage, bucket):
    put(s3, getattr(s3, bucket), "thumbnails/photo.jpg.80x80_q85.jpg")
    put(s3, getattr(s3, bucket), "albums/photo.jpg")
    body = client.get(browse_url(storage)).content.decode()
    assert "albums/" in body
    assert "thumbnails/" not in body


def test_browse_page_costs_one_listing_request_and_nothing_per_file(
    client, editor, s3, count_requests, settings
):
    for index in range(12):
        put(s3, s3.public_bucket, f"many/{index:02}.png")
    settings.MEDIAHUB = {"PAGE_SIZE": 5}
    count_requests.clear()
    response = client.get(browse_url(path="many/"))
    assert response.status_code == 200
    assert dict(count_requests) == {"ListObjectsV2": 1}
    count_requests.clear()
    client.get(browse_url("private"))
    assert dict(count_requests) == {"ListObjectsV2": 1}


def _link(body: str, css_class: str) -> str | None:
    match = re.search(rf'<a href="([^"]+)" class="{css_class}"', body)
    return match.group(1).replace("&amp;", "&") if match else None


def test_pagination_next_and_previous_by_cursor(client, editor, s3, settings):
    for index in range(12):
        put(s3, s3.public_bucket, f"big/{index:02}.txt")
    settings.MEDIAHUB = {"PAGE_SIZE": 5}
    seen = []
    url = browse_url(path="big/")
    pages = []
    while url:
        body = client.get(url).content.decode()
        names = re.findall(r'class="mediahub-file-link"[^>]*>([^<]+)<', body)
        pages.append((url, names))
        seen += names
        url = _link(body, "mediahub-next")
    assert seen == [f"{index:02}.txt" for index in range(12)]
    assert [len(names) for _url, names in pages] == [5, 5, 2]
    # Previous from the last page gives the second page, then the first.
    body = client.get(pages[2][0]).content.decode()
    assert "Page 3" in body
    second = client.get(_link(body, "mediahub-previous")).content.decode()
    assert re.findall(r'class="mediahub-file-link"[^>]*>([^<]+)<', second) == pages[1][1]
    first = client.get(_link(second, "mediahub-previous")).content.decode()
    assert re.findall(r'class="mediahub-file-link"[^>]*>([^<]+)<', first) == pages[0][1]
    assert _link(first, "mediahub-previous") is None


def test_filter_by_name_prefix(client, editor, s3):
    for name in ("cat.jpg", "car.png", "dog.jpg"):
        put(s3, s3.public_bucket, f"pets/{name}")
    body = client.get(browse_url(path="pets/", prefix="ca")).content.decode()
    assert "cat.jpg" in body and "car.png" in body
    assert "dog.jpg" not in body


def test_script_in_names_is_rendered_escaped(client, editor, s3):
    put(s3, s3.public_bucket, "x/<script>alert(1)<script>.txt")
    put(s3, s3.public_bucket, 'x/"><img src=y onerror=alert(2)>/z.txt')
    body = client.get(browse_url(path="x/")).content.decode()
    assert "<script>alert(1)" not in body
    assert "&lt;script&gt;alert(1)&lt;script&gt;.txt" in body
    assert "&quot;&gt;&lt;img src=y onerror=alert(2)&gt;/" in body
    assert "<img src=y" not in body


def test_raw_keys_mediahub_refuses_are_listed_but_not_actionable(client, editor, s3):
    put(s3, s3.public_bucket, "odd//double.txt")
    put(s3, s3.public_bucket, "odd/fine.txt")
    body = client.get(browse_url(path="odd/")).content.decode()
    assert "fine.txt" in body
    assert "mediahub-invalid" in body
    assert "odd//" in body and 'class="mediahub-folder-link">/' not in body


@pytest.mark.parametrize(
    "params",
    [
        {"path": "../"},
        {"path": "a/../"},
        {"path": "/etc/"},
        {"path": "a\x00/"},
        {"path": "a\nb/"},
        {"path": "no-slash"},
        {"path": "a" * 2000 + "/"},
        {"prefix": "a/b"},
        {"prefix": "\x07"},
        {"cursor": "bad cursor with spaces"},
    ],
)
def test_bad_location_is_refused_with_a_message_and_no_storage_request(
    client, editor, s3, count_requests, params
):
    count_requests.clear()
    response = client.get(browse_url(**params))
    assert response.status_code == 302
    assert count_requests.total == 0
    assert response["Location"] == browse_url()
    assert follow_messages(client, response)


def test_unknown_storage_is_404(client, editor, s3):
    assert client.get(browse_url("secret")).status_code == 404
    assert (
        client.get(reverse("admin:mediahub_details", args=["nope"]) + "?name=a").status_code == 404
    )


@pytest.mark.parametrize("fault", [{"status": 503}, {"timeout": True}])
def test_s3_failure_while_listing_is_a_message_not_a_500(client, editor, s3, fail_s3, fault):
    fail_s3("ListObjectsV2", **fault)
    response = client.get(browse_url())
    assert response.status_code == 502
    text = " ".join(messages_of(response))
    assert "storage" in text and "Try again" in text
    assert s3.layout.secret_key not in response.content.decode()


def test_garbage_cursor_from_s3_is_a_message(client, editor, s3):
    put(s3, s3.public_bucket, "a.txt")
    response = client.get(browse_url(cursor="not-a-real-token"))
    # S3 refuses an unknown token (moto with a 500, S3/RGW with a 400): a message, not our 500.
    assert response.status_code in (200, 502)
    if not s3.endpoint.is_real:
        assert response.status_code == 502
    if response.status_code == 502:
        assert "storage refused" in " ".join(messages_of(response))


# -- details, open, sign ------------------------------------------------------------------------
def test_details_show_metadata(client, editor, s3):
    put(s3, s3.public_bucket, "docs/report.pdf", b"%PDF-1.4 hello")
    body = client.get(
        reverse("admin:mediahub_details", args=["public"]) + "?name=docs/report.pdf"
    ).content.decode()
    assert "application/pdf" in body and "14 bytes" in body
    etag = s3.client().head_object(Bucket=s3.public_bucket, Key="docs/report.pdf")["ETag"]
    assert etag.strip('"') in body
    assert get_storage("public").url("docs/report.pdf") in body


def test_details_of_a_missing_file_is_a_message(client, editor, s3):
    response = client.get(reverse("admin:mediahub_details", args=["public"]) + "?name=gone.txt")
    assert "does not exist" in " ".join(follow_messages(client, response))


def test_private_file_opens_through_a_signed_link_bound_to_the_user(client, editor, s3):
    put(s3, s3.private_bucket, "secret.txt", b"top secret")
    body = client.get(browse_url("private")).content.decode()
    open_url = reverse("admin:mediahub_open", args=["private"]) + "?name=secret.txt"
    assert open_url in body
    link = client.get(open_url)["Location"]
    assert link.startswith("/media-links/")
    presigned = client.get(link)["Location"]
    import requests

    assert requests.get(presigned, timeout=10).content == b"top secret"


def test_signed_link_generator(client, editor, s3, django_user_model):
    put(s3, s3.private_bucket, "a/report.pdf", b"pdf bytes")
    url = reverse("admin:mediahub_sign", args=["private"])
    data = {"name": "a/report.pdf", "lifetime": "custom", "amount": "10", "unit": "minutes"}
    response = client.post(url, {**data, "inline": "on"})
    # Post/redirect/get: the link is shown on a GET page.
    assert response.status_code == 302
    response = client.get(response["Location"])
    link = re.search(r'id="mediahub-link" value="([^"]+)"', response.content.decode()).group(1)
    assert link.startswith("http://testserver/media-links/")
    from mediahub import links

    loaded = links.load(links.token_from(link))
    assert loaded.name == "a/report.pdf"
    # Bad lifetime and unknown user: form errors, no link.
    response = client.post(url, {**data, "amount": "0"})
    assert response.status_code == 400 and b"signed/" not in response.get("Location", "").encode()
    response = client.post(url, {**data, "amount": "60", "username": "ghost"})
    assert response.status_code == 400 and b"No user with this username" in response.content


def test_sign_needs_the_sign_permission(client, django_user_model, s3):
    client.force_login(make_user(django_user_model, "view_private"))
    put(s3, s3.private_bucket, "a.txt")
    url = reverse("admin:mediahub_sign", args=["private"])
    assert client.post(url, {"name": "a.txt", "lifetime": "3600"}).status_code == 403
    details = client.get(reverse("admin:mediahub_details", args=["private"]) + "?name=a.txt")
    assert b"mediahub-sign-form" not in details.content


# -- new folder -------------------------------------------------------------------------------
def test_create_folder(client, editor, s3):
    url = reverse("admin:mediahub_mkdir", args=["public"])
    response = client.post(url, {"path": "", "name": "albums"})
    assert "albums/" in " ".join(follow_messages(client, response))
    assert "albums/" in s3.keys(s3.public_bucket)
    assert "albums/" in client.get(browse_url()).content.decode()
    # Again: refused, nothing changed.
    response = client.post(url, {"path": "", "name": "albums"})
    assert "exists already" in " ".join(follow_messages(client, response))


@pytest.mark.parametrize("name", ["..", "a/b", "x\x00y", "a\\b", "a" * 300, ""])
def test_create_folder_refuses_bad_names(client, editor, s3, name, count_requests):
    count_requests.clear()
    response = client.post(reverse("admin:mediahub_mkdir", args=["public"]), {"name": name})
    assert response.status_code == 302
    assert "PutObject" not in count_requests
    assert s3.keys(s3.public_bucket) == []


# -- uploads through the site -------------------------------------------------------------------
def test_upload_several_files_never_overwrites(client, editor, s3):
    put(s3, s3.public_bucket, "in/a.txt", b"old")
    url = reverse("admin:mediahub_upload", args=["public"])
    files = [ContentFile(b"new a", name="a.txt"), ContentFile(b"b", name="b.txt")]
    response = client.post(
        url, {"path": "in/", "files": files}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 200
    stored = [f["stored_as"] for f in response.json()["files"]]
    assert stored[1] == "in/b.txt"
    assert stored[0] != "in/a.txt" and stored[0].startswith("in/a_")
    body = s3.client().get_object(Bucket=s3.public_bucket, Key="in/a.txt")["Body"].read()
    assert body == b"old"
    # The final name is reported.
    messages = " ".join(messages_of(client.get(browse_url(path="in/"))))
    assert stored[0] in messages


def test_upload_limits_from_settings(client, editor, s3, settings):
    settings.MEDIAHUB = {"UPLOAD_MAX_SIZE": 10, "UPLOAD_ALLOWED_TYPES": ["image/*"]}
    url = reverse("admin:mediahub_upload", args=["public"])
    big = ContentFile(b"x" * 11, name="big.png")
    pdf = ContentFile(b"%PDF", name="doc.pdf")
    response = client.post(url, {"files": [big, pdf]}, headers={"Accept": "application/json"})
    assert response.status_code == 400
    errors = " ".join(response.json()["errors"])
    assert "too large" in errors and "not allowed" in errors
    assert s3.keys(s3.public_bucket) == []


def test_html_and_svg_go_public_as_attachments_or_are_refused(client, editor, s3, settings):
    url = reverse("admin:mediahub_upload", args=["public"])
    client.post(url, {"files": [ContentFile(b"<svg/>", name="x.svg")]})
    head = s3.client().head_object(Bucket=s3.public_bucket, Key="x.svg")
    assert head["ContentDisposition"] == "attachment"
    assert head["ContentType"] == "image/svg+xml"
    # A harmless name with an HTML type declared by the browser is treated the same.
    settings.MEDIAHUB = {"ACTIVE_CONTENT": "refuse"}
    response = client.post(
        url,
        {"files": [ContentFile(b"<html>", name="page.html")]},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400 and "refuses" in response.json()["errors"][0]
    assert s3.keys(s3.public_bucket) == ["x.svg"]
    # The private storage keeps them as they are.
    client.post(
        reverse("admin:mediahub_upload", args=["private"]),
        {"files": [ContentFile(b"<html>", name="page.html")]},
    )
    assert s3.keys(s3.private_bucket) == ["page.html"]


def test_large_files_must_go_direct(client, editor, s3, settings):
    settings.MEDIAHUB = {"DIRECT_UPLOAD_THRESHOLD": 4}
    response = client.post(
        reverse("admin:mediahub_upload", args=["public"]),
        {"files": [ContentFile(b"12345", name="five.bin")]},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400 and "directly" in response.json()["errors"][0]
    assert s3.keys(s3.public_bucket) == []


@pytest.mark.parametrize("fault", [{"status": 503}, {"timeout": True}])
def test_upload_failure_is_a_message(client, editor, s3, fail_s3, fault):
    fail_s3("PutObject", **fault)
    response = client.post(
        reverse("admin:mediahub_upload", args=["public"]),
        {"files": [ContentFile(b"abc", name="a.txt")]},
    )
    assert "Try again" in " ".join(follow_messages(client, response))


# -- move / rename ---------------------------------------------------------------------------------
def test_move_file_copies_verifies_then_deletes(client, editor, s3, count_requests):
    put(s3, s3.public_bucket, "a/one.txt", b"one")
    url = reverse("admin:mediahub_move", args=["public"])
    form = client.get(url + "?name=a/one.txt")
    assert b'value="a/one.txt"' in form.content
    count_requests.clear()
    response = client.post(url, {"name": "a/one.txt", "new_name": "b/uno.txt"})
    assert response.status_code == 302
    assert s3.keys(s3.public_bucket) == ["b/uno.txt"]
    assert response["Location"] == browse_url(path="b/")
    ops = list(count_requests)
    assert ops.index("CopyObject") < ops.index("DeleteObject")


def test_move_refuses_to_overwrite(client, editor, s3):
    put(s3, s3.public_bucket, "one.txt", b"one")
    put(s3, s3.public_bucket, "two.txt", b"two")
    response = client.post(
        reverse("admin:mediahub_move", args=["public"]), {"name": "one.txt", "new_name": "two.txt"}
    )
    assert response.status_code == 400
    assert b"exists already" in response.content
    assert s3.client().get_object(Bucket=s3.public_bucket, Key="two.txt")["Body"].read() == b"two"
    assert sorted(s3.keys(s3.public_bucket)) == ["one.txt", "two.txt"]


@pytest.mark.parametrize("new_name", ["../x.txt", "/abs.txt", "a//b.txt", "x\x1by.txt", "a" * 1100])
def test_move_refuses_unsafe_names(client, editor, s3, new_name, count_requests):
    put(s3, s3.public_bucket, "one.txt", b"one")
    count_requests.clear()
    response = client.post(
        reverse("admin:mediahub_move", args=["public"]), {"name": "one.txt", "new_name": new_name}
    )
    assert response.status_code == 400
    assert count_requests.total == 0
    assert s3.keys(s3.public_bucket) == ["one.txt"]


def test_failed_copy_keeps_the_original(client, editor, s3, fail_s3):
    put(s3, s3.public_bucket, "one.txt", b"one")
    fail_s3("CopyObject", status=500)
    response = client.post(
        reverse("admin:mediahub_move", args=["public"]), {"name": "one.txt", "new_name": "two.txt"}
    )
    assert response.status_code == 400
    assert b"Try again" in response.content
    assert s3.keys(s3.public_bucket) == ["one.txt"]


def test_copy_that_does_not_verify_is_removed_and_the_original_kept(
    client, editor, s3, monkeypatch
):
    from mediahub.library import operations

    put(s3, s3.public_bucket, "one.txt", b"one")
    monkeypatch.setattr(operations, "_verify", lambda *args: False)
    response = client.post(
        reverse("admin:mediahub_move", args=["public"]), {"name": "one.txt", "new_name": "two.txt"}
    )
    assert b"did not match" in response.content
    assert s3.keys(s3.public_bucket) == ["one.txt"]


def test_move_folder(client, editor, s3):
    for key in ("src/", "src/a.txt", "src/deep/b.txt", "other.txt"):
        put(s3, s3.public_bucket, key, b"" if key.endswith("/") else key.encode())
    url = reverse("admin:mediahub_move", args=["public"])
    response = client.post(url, {"folder": "src/", "new_name": "dst"})
    assert response.status_code == 302
    assert sorted(s3.keys(s3.public_bucket)) == ["dst/", "dst/a.txt", "dst/deep/b.txt", "other.txt"]
    # Into itself, or onto an existing folder: refused.
    assert client.post(url, {"folder": "dst/", "new_name": "dst/inner/"}).status_code == 400
    put(s3, s3.public_bucket, "taken/x.txt")
    assert client.post(url, {"folder": "dst/", "new_name": "taken/"}).status_code == 400
    assert "dst/a.txt" in s3.keys(s3.public_bucket)


def test_failed_folder_move_removes_partial_copies(client, editor, s3, fail_s3):
    for key in ("src/a.txt", "src/b.txt"):
        put(s3, s3.public_bucket, key)
    fail_s3("CopyObject", status=503, times=10**6)
    original = list(s3.keys(s3.public_bucket))
    response = client.post(
        reverse("admin:mediahub_move", args=["public"]), {"folder": "src/", "new_name": "dst/"}
    )
    assert response.status_code == 302  # a job (tests/test_jobs.py): it failed, moved nothing
    from mediahub.models import Job

    assert Job.objects.get().state == Job.State.FAILED
    assert sorted(s3.keys(s3.public_bucket)) == sorted(original)


# -- delete --------------------------------------------------------------------------------------
def test_delete_file_asks_then_deletes(client, editor, s3):
    put(s3, s3.public_bucket, "a/x.txt", b"12")
    url = reverse("admin:mediahub_delete", args=["public"])
    confirm = client.get(url + "?name=a/x.txt&path=a/")
    assert b"Yes, I" in confirm.content and s3.keys(s3.public_bucket) == ["a/x.txt"]
    response = client.post(url, {"name": "a/x.txt", "path": "a/"})
    assert response["Location"] == browse_url(path="a/")
    assert s3.keys(s3.public_bucket) == []
    response = client.post(url, {"name": "a/x.txt", "path": "a/"})
    assert "does not exist" in " ".join(follow_messages(client, response))


def test_delete_folder_shows_the_count_and_deletes_everything(client, editor, s3, settings):
    for key in ("f/", "f/1.txt", "f/2.txt", "f/sub/3.txt", "keep.txt"):
        put(s3, s3.public_bucket, key)
    url = reverse("admin:mediahub_delete", args=["public"])
    body = client.get(url + "?folder=f/").content.decode()
    assert "the 3 files in it" in body
    settings.MEDIAHUB = {"FOLDER_OPERATION_LIMIT": 2}  # counted up to 2; no cap (a job)
    assert "more than 2 files" in client.get(url + "?folder=f/").content.decode()
    response = client.post(url, {"folder": "f/"})
    assert "Deleting folder f/." in " ".join(follow_messages(client, response))
    assert s3.keys(s3.public_bucket) == ["keep.txt"]


@pytest.mark.parametrize(
    "params", [{"folder": "../"}, {"name": "../etc/passwd"}, {"folder": ""}, {}]
)
def test_delete_refuses_bad_targets(client, editor, s3, params, count_requests):
    put(s3, s3.public_bucket, "keep.txt")
    count_requests.clear()
    response = client.post(reverse("admin:mediahub_delete", args=["public"]), params)
    assert response.status_code == 302
    assert count_requests.total == 0
    assert s3.keys(s3.public_bucket) == ["keep.txt"]


# -- publish / unpublish ---------------------------------------------------------------------------
def test_make_private_and_public_again(client, editor, s3):
    put(s3, s3.public_bucket, "pics/p.png", b"png bytes", ContentType="image/png")
    assert s3.anonymous_get(s3.public_bucket, "pics/p.png").status_code == 200
    url = reverse("admin:mediahub_visibility", args=["public"])
    response = client.post(url, {"name": "pics/p.png", "path": "pics/"})
    assert "private" in " ".join(follow_messages(client, response))
    assert s3.keys(s3.public_bucket) == []
    assert s3.keys(s3.private_bucket) == ["pics/p.png"]
    assert s3.anonymous_get(s3.private_bucket, "pics/p.png").status_code == 403
    client.post(reverse("admin:mediahub_visibility", args=["private"]), {"name": "pics/p.png"})
    assert s3.keys(s3.public_bucket) == ["pics/p.png"]
    assert s3.keys(s3.private_bucket) == []
    assert s3.anonymous_get(s3.public_bucket, "pics/p.png").content == b"png bytes"


def test_publish_refuses_to_overwrite_the_other_storage(client, editor, s3):
    put(s3, s3.public_bucket, "same.txt", b"public")
    put(s3, s3.private_bucket, "same.txt", b"private")
    response = client.post(
        reverse("admin:mediahub_visibility", args=["public"]), {"name": "same.txt"}
    )
    assert "exists already" in " ".join(follow_messages(client, response))
    get = s3.client().get_object
    assert get(Bucket=s3.private_bucket, Key="same.txt")["Body"].read() == b"private"
    assert get(Bucket=s3.public_bucket, Key="same.txt")["Body"].read() == b"public"


def test_publishing_svg_makes_it_an_attachment(client, editor, s3):
    put(s3, s3.private_bucket, "icon.svg", b"<svg/>", ContentType="image/svg+xml")
    client.post(reverse("admin:mediahub_visibility", args=["private"]), {"name": "icon.svg"})
    head = s3.client().head_object(Bucket=s3.public_bucket, Key="icon.svg")
    assert head["ContentDisposition"] == "attachment"


def test_publishing_judges_active_content_by_stored_type_too(client, editor, s3, settings):
    """x.html renamed x.txt keeps its text/html type: public, it must not render as a page."""
    put(s3, s3.private_bucket, "page.txt", b"<script>alert(1)</script>", ContentType="text/html")
    client.post(reverse("admin:mediahub_visibility", args=["private"]), {"name": "page.txt"})
    head = s3.client().head_object(Bucket=s3.public_bucket, Key="page.txt")
    assert head["ContentDisposition"] == "attachment"
    assert head["ContentType"] == "text/plain"
    settings.MEDIAHUB = {**getattr(settings, "MEDIAHUB", {}), "ACTIVE_CONTENT": "refuse"}
    put(s3, s3.private_bucket, "other.txt", b"<svg/>", ContentType="image/svg+xml")
    response = client.post(
        reverse("admin:mediahub_visibility", args=["private"]), {"name": "other.txt"}
    )
    assert "refuses" in " ".join(follow_messages(client, response))
    assert s3.keys(s3.private_bucket) == ["other.txt"]


def test_failed_publish_keeps_the_original(client, editor, s3, fail_s3):
    put(s3, s3.public_bucket, "p.txt", b"p")
    fail_s3("CopyObject", timeout=True)
    response = client.post(reverse("admin:mediahub_visibility", args=["public"]), {"name": "p.txt"})
    assert "did not answer" in " ".join(follow_messages(client, response))
    assert s3.keys(s3.public_bucket) == ["p.txt"]
    assert s3.keys(s3.private_bucket) == []


@pytest.mark.parametrize("action", ["move", "visibility"])
def test_copy_made_but_not_verifiable_is_removed_so_a_retry_works(
    client, editor, s3, fail_s3, monkeypatch, action
):
    """S3 fails right after the copy (the check cannot run): no stray copy blocks a retry."""
    from mediahub.storage.s3 import MediaS3Storage

    put(s3, s3.public_bucket, "p.txt", b"p")
    copy = MediaS3Storage.copy_if_absent  # the library copies only onto a free name

    def copy_then_fail(self, *args, **kwargs):
        result = copy(self, *args, **kwargs)
        fail_s3("HeadObject", status=503)
        return result

    monkeypatch.setattr(MediaS3Storage, "copy_if_absent", copy_then_fail)
    data = {"name": "p.txt", "new_name": "q.txt"}
    response = client.post(reverse(f"admin:mediahub_{action}", args=["public"]), data)
    assert b"Try again" in response.content or "Try again" in " ".join(
        follow_messages(client, response)
    )
    assert s3.keys(s3.public_bucket) == ["p.txt"]
    assert s3.keys(s3.private_bucket) == []


@pytest.mark.parametrize("outcome", ["kept", "deleted", "unknown"])
@pytest.mark.parametrize("action", ["move", "visibility"])
def test_failed_delete_of_the_original_leaves_one_copy(
    client, editor, s3, monkeypatch, fail_s3, action, outcome
):
    """The original could not be deleted: the copy goes, so a retry works (make private
    stays retryable); if S3 did delete it and only the answer was lost, the move stands;
    if S3 cannot tell, both stay and the message says so."""
    from botocore.exceptions import ClientError

    from mediahub.storage.s3 import MediaS3Storage

    put(s3, s3.public_bucket, "p.txt", b"p")
    delete = MediaS3Storage.delete

    def failing_delete(self, name):
        if self.bucket_name == s3.public_bucket and name == "p.txt":
            if outcome == "deleted":
                delete(self, name)
            if outcome == "unknown":
                fail_s3("HeadObject", status=503)
            error = {"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}
            raise ClientError(error, "DeleteObject")
        return delete(self, name)

    monkeypatch.setattr(MediaS3Storage, "delete", failing_delete)
    data = {"name": "p.txt", "new_name": "q.txt"}
    response = client.post(reverse(f"admin:mediahub_{action}", args=["public"]), data)
    text = response.content.decode() if response.status_code != 302 else ""
    text += " ".join(follow_messages(client, response)) if response.status_code == 302 else ""
    everything = s3.keys(s3.public_bucket) + [f"private:{k}" for k in s3.keys(s3.private_bucket)]
    if outcome == "deleted":
        assert everything == (["q.txt"] if action == "move" else ["private:p.txt"])
        assert "Try again" not in text
    elif outcome == "unknown":
        assert everything == (
            ["p.txt", "q.txt"] if action == "move" else ["p.txt", "private:p.txt"]
        )
        assert "both exist" in text
    else:
        assert everything == ["p.txt"]
        assert "Try again" in text


def test_publish_drops_the_old_thumbnails(client, editor, s3, monkeypatch):
    from mediahub import thumbnails

    calls = []
    monkeypatch.setattr(
        thumbnails, "delete_thumbnails", lambda name, storage: calls.append((name, storage))
    )
    put(s3, s3.public_bucket, "t.png", b"png")
    client.post(reverse("admin:mediahub_visibility", args=["public"]), {"name": "t.png"})
    assert calls == [("t.png", "public")]


def test_delete_and_move_drop_the_old_thumbnails(client, editor, s3, monkeypatch):
    """A deleted public image must not live on as public thumbnails."""
    from mediahub import thumbnails

    calls = []
    monkeypatch.setattr(
        thumbnails, "delete_thumbnails", lambda name, storage: calls.append((name, storage))
    )
    put(s3, s3.public_bucket, "gone.png", b"png")
    put(s3, s3.private_bucket, "old.png", b"png")
    for key in ("dir/a.jpg", "dir/notes.txt", "box/b.gif"):
        put(s3, s3.public_bucket, key, b"x")
    client.post(reverse("admin:mediahub_delete", args=["public"]), {"name": "gone.png"})
    client.post(
        reverse("admin:mediahub_move", args=["private"]), {"name": "old.png", "new_name": "new.png"}
    )
    client.post(reverse("admin:mediahub_delete", args=["public"]), {"folder": "dir/"})
    client.post(
        reverse("admin:mediahub_move", args=["public"]), {"folder": "box/", "new_name": "b2"}
    )
    assert calls == [
        ("gone.png", "public"),
        ("old.png", "private"),
        ("dir/a.jpg", "public"),
        ("box/b.gif", "public"),
    ]


def test_thumbnails_left_behind_are_a_warning(client, editor, s3, monkeypatch):
    from botocore.exceptions import EndpointConnectionError

    from mediahub import thumbnails

    def fail(name, storage):
        raise EndpointConnectionError(endpoint_url="http://s3")

    monkeypatch.setattr(thumbnails, "delete_thumbnails", fail)
    put(s3, s3.public_bucket, "t.png", b"png")
    response = client.post(reverse("admin:mediahub_visibility", args=["public"]), {"name": "t.png"})
    shown = " ".join(follow_messages(client, response))
    assert "now in the private files" in shown
    assert "thumbnails" in shown and "still public" in shown
    assert s3.keys(s3.private_bucket) == ["t.png"]


# -- CSRF and methods ----------------------------------------------------------------------------
def test_every_action_needs_csrf(editor, s3):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(editor)
    put(s3, s3.public_bucket, "a.txt")
    for action, data in [
        ("mkdir", {"name": "n"}),
        ("upload", {"files": [ContentFile(b"x", name="x.txt")]}),
        ("move", {"name": "a.txt", "new_name": "b.txt"}),
        ("delete", {"name": "a.txt"}),
        ("visibility", {"name": "a.txt"}),
        ("upload_start", {}),
    ]:
        response = strict.post(reverse(f"admin:mediahub_{action}", args=["public"]), data)
        assert response.status_code == 403, action
    assert s3.keys(s3.public_bucket) == ["a.txt"]


def test_state_changing_views_refuse_get(client, editor, s3):
    for action in ("mkdir", "upload", "visibility", "sign", "upload_start"):
        assert client.get(reverse(f"admin:mediahub_{action}", args=["public"])).status_code == 405


def test_location_is_kept_in_popup_mode(client, editor, s3):
    put(s3, s3.public_bucket, "p/a.jpg")
    body = client.get(browse_url(path="p/", _popup="1", target="id_file_existing")).content.decode()
    assert 'data-popup-target="id_file_existing"' in body
    assert 'class="button default mediahub-pick" data-name="p/a.jpg"' in body
    token = re.search(r'data-name="p/a.jpg" data-token="([^"]+)"', body).group(1)
    from mediahub.picker import read_pick_token

    assert read_pick_token(token, "public") == "p/a.jpg"
    assert "mediahub-visibility" not in body  # no actions in the picker
    parent = re.search(r'<a href="([^"]+)">Parent folder', body).group(1).replace("&amp;", "&")
    query = parse_qs(urlsplit(parent).query)
    assert query["_popup"] == ["1"] and query["target"] == ["id_file_existing"]
    # A hostile target id is dropped.
    body = client.get(browse_url(_popup="1", target='x"><script>')).content.decode()
    assert 'data-popup-target=""' in body


# -- local development storages (memory here): same views, no S3 ----------------------------------
def test_library_works_on_non_s3_storages(client, editor):
    """tests.settings uses in-memory storages: every action works without S3."""
    public = get_storage("public")
    public.save("docs/a.txt", ContentFile(b"a"))
    assert "docs/" in client.get(browse_url()).content.decode()
    body = client.get(browse_url(path="docs/")).content.decode()
    assert "a.txt" in body and 'data-direct="0"' in body
    client.post(reverse("admin:mediahub_mkdir", args=["public"]), {"name": "new"})
    assert "new/" in client.get(browse_url()).content.decode()
    response = client.post(
        reverse("admin:mediahub_upload", args=["public"]),
        {"path": "docs/", "files": [ContentFile(b"b", name="a.txt")]},
        headers={"Accept": "application/json"},
    )
    assert response.json()["files"][0]["stored_as"].startswith("docs/a_")
    move = reverse("admin:mediahub_move", args=["public"])
    client.post(move, {"name": "docs/a.txt", "new_name": "new/a.txt"})
    assert public.exists("new/a.txt") and not public.exists("docs/a.txt")
    client.post(move, {"folder": "new/", "new_name": "moved/"})
    assert public.exists("moved/a.txt") and not public.exists("new/a.txt")
    client.post(reverse("admin:mediahub_visibility", args=["public"]), {"name": "moved/a.txt"})
    assert get_storage("private").exists("moved/a.txt") and not public.exists("moved/a.txt")
    client.post(reverse("admin:mediahub_delete", args=["public"]), {"folder": "docs/"})
    assert public.listdir("")[0] == ["moved"]


def test_unconfigured_private_storage_is_a_message(client, editor, settings):
    settings.STORAGES = {k: v for k, v in settings.STORAGES.items() if k != "private"}
    response = client.get(browse_url("private"))
    assert response.status_code == 400
    assert "not configured" in " ".join(messages_of(response))


def test_unreachable_endpoint_is_a_message_not_a_500(client, editor, settings):
    from mediahub import dsn

    dead = "s3+http://key:secret@127.0.0.1:9/nowhere?region=us-east-1"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": dsn.parse(dead),
        "private": dsn.parse(dead, visibility="private"),
    }
    response = client.get(browse_url())
    assert response.status_code == 502
    assert "did not answer" in " ".join(messages_of(response))
    response = client.post(reverse("admin:mediahub_mkdir", args=["public"]), {"name": "new"})
    assert "did not answer" in " ".join(follow_messages(client, response))
