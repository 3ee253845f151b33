"""Selection and bulk actions, the folder picker's endpoint, signed-link pages and
preferences, through Django's test client against moto's server."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse

from tests.users import make_user

pytestmark = pytest.mark.django_db

ALL_PERMS = ("view_public", "view_private", "upload", "delete", "publish", "sign")


@pytest.fixture
def editor(client, django_user_model):
    user = make_user(django_user_model, *ALL_PERMS)
    client.force_login(user)
    return user


def put(s3, bucket: str, key: str, body: bytes = b"x") -> None:
    s3.client().put_object(Bucket=bucket, Key=key, Body=body)


def url(view: str, storage: str = "public", **params) -> str:
    base = reverse(f"admin:mediahub_{view}", args=[storage])
    return base + ("?" + urlencode(params, doseq=True) if params else "")


def messages_after(client, response) -> list[str]:
    assert response.status_code == 302, response.status_code
    page = client.get(response["Location"])
    return [str(m) for m in page.context["messages"]]



# -- browse page ------------------------------------------------------------------------
def test_browse_page_has_checkboxes_action_menu_and_row_menus(client, editor, s3):
    put(s3, s3.public_bucket, "pics/a.png")
    put(s3, s3.public_bucket, "pics/sub/b.txt")
    body = client.get(url("browse", path="pics/")).content.decode()
    assert 'name="selected" value="pics/a.png"' in body
    assert 'name="selected" value="pics/sub/"' in body
    assert 'id="action-toggle"' in body
    for action in ("move", "publish", "delete", "zip"):
        assert f'<option value="{action}">' in body
    assert '<option value="sign">' not in body  # public files have public URLs
    assert 'class="mediahub-menu"' in body
    # "Make private" asks for confirmation: a link to the confirmation page, not a form.
    assert 'class="mediahub-publishlink"' in body and "mediahub-visibility" not in body


def test_action_menu_shows_only_permitted_actions(client, django_user_model, s3):
    put(s3, s3.private_bucket, "a.txt")
    client.force_login(make_user(django_user_model, "view_private", "sign"))
    body = client.get(url("browse", "private")).content.decode()
    options = re.findall(r'<option value="(\w+)">', body)
    assert options == ["sign", "zip"]


def test_viewer_without_actions_gets_no_checkboxes(client, django_user_model, s3):
    put(s3, s3.public_bucket, "a.txt")
    client.force_login(make_user(django_user_model, "view_public"))
    body = client.get(url("browse")).content.decode()
    assert 'name="selected"' in body  # the ZIP download needs only the view permission
    assert re.findall(r'<option value="(\w+)">', body) == ["zip"]


def test_dot_files_are_hidden_by_default_with_a_toggle(client, editor, s3):
    put(s3, s3.public_bucket, "bulk/.loaded")
    put(s3, s3.public_bucket, "bulk/file.txt")
    body = client.get(url("browse", path="bulk/")).content.decode()
    assert "file.txt" in body and ".loaded" not in body
    assert "Show dot files (1)" in body
    response = client.post(url("prefs"), {"hidden": "1", "path": "bulk/"})
    assert response.status_code == 302 and "path=bulk%2F" in response["Location"]
    body = client.get(response["Location"]).content.decode()
    assert ".loaded" in body and "Hide dot files" in body


def test_grid_view_is_remembered_in_the_session(client, editor, s3):
    put(s3, s3.public_bucket, "p.png")
    assert 'class="mediahub-table"' in client.get(url("browse")).content.decode()
    client.post(url("prefs"), {"view": "grid"})
    body = client.get(url("browse")).content.decode()
    assert 'class="mediahub-grid"' in body and "mediahub-card" in body
    client.post(url("prefs"), {"view": "bogus"})
    assert 'class="mediahub-grid"' in client.get(url("browse")).content.decode()


def test_grid_never_generates_thumbnails_in_the_request(client, editor, s3, count_requests):
    for index in range(5):
        put(s3, s3.public_bucket, f"g/{index}.png", b"not really a png")
    client.post(url("prefs"), {"view": "grid"})
    count_requests.clear()
    body = client.get(url("browse", path="g/")).content.decode()
    assert body.count("mediahub-card mediahub-file") == 5
    assert dict(count_requests) == {"ListObjectsV2": 1}


def test_dates_use_one_format_from_settings(client, editor, s3, settings):
    put(s3, s3.public_bucket, "d.txt")
    settings.MEDIAHUB = {"LIBRARY_DATE_FORMAT": "Y-m-d H:i"}
    body = client.get(url("browse")).content.decode()
    assert re.search(r"<time datetime=\"[^\"]+\">\d{4}-\d\d-\d\d \d\d:\d\d</time>", body)
    details = client.get(url("details", name="d.txt")).content.decode()
    assert re.search(r"<time datetime=\"[^\"]+\">\d{4}-\d\d-\d\d \d\d:\d\d</time>", details)


# -- confirmation -----------------------------------------------------------------------
def test_confirmation_page_states_the_count_and_changes_nothing(client, editor, s3):
    for index in range(3):
        put(s3, s3.public_bucket, f"c/{index}.txt")
    put(s3, s3.public_bucket, "c/sub/deep.txt")
    response = client.post(
        url("bulk"),
        {"action": "delete", "path": "c/", "selected": ["c/0.txt", "c/1.txt", "c/sub/"]},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Delete 3 files?" in body  # 2 files + the 1 file inside the folder
    assert "c/sub/deep.txt" in body
    assert len(s3.keys(s3.public_bucket, "c/")) == 4


def test_small_selection_is_deleted_in_the_request(client, editor, s3):
    for index in range(3):
        put(s3, s3.public_bucket, f"c/{index}.txt")
    response = client.post(
        url("bulk"),
        {"action": "delete", "confirm": "1", "path": "c/", "selected": ["c/0.txt", "c/2.txt"]},
    )
    assert messages_after(client, response) == ["Deleted 2 items."]
    assert s3.keys(s3.public_bucket, "c/") == ["c/1.txt"]


def test_make_private_keeps_the_name_as_it_is(client, editor, s3):
    put(s3, s3.public_bucket, "Images/photo.png")
    page = client.get(url("bulk", action="publish", selected="Images/photo.png", path="Images/"))
    assert page.status_code == 200 and "Make 1 file private?" in page.content.decode()
    assert "Images/photo.png" in page.content.decode()
    response = client.post(
        url("bulk"),
        {"action": "publish", "confirm": "1", "path": "Images/", "selected": "Images/photo.png"},
    )
    assert messages_after(client, response) == ["1 file is now private."]
    assert s3.keys(s3.private_bucket, "Images/") == ["Images/photo.png"]


def test_move_selection_to_a_folder(client, editor, s3):
    put(s3, s3.public_bucket, "in/a.txt", b"a")
    put(s3, s3.public_bucket, "in/b.txt", b"b")
    response = client.post(
        url("bulk"),
        {
            "action": "move",
            "confirm": "1",
            "path": "in/",
            "selected": ["in/a.txt", "in/b.txt"],
            "target": "out/2024",
        },
    )
    assert messages_after(client, response) == ["Moved 2 items."]
    assert s3.keys(s3.public_bucket) == ["out/2024/a.txt", "out/2024/b.txt"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"action": "delete", "path": "in/"}, "Items must be selected"),
        ({"action": "delete", "path": "in/", "selected": "../etc/passwd"}, "inside the current"),
        ({"action": "delete", "path": "in/", "selected": "in/a//b"}, "unsafe name"),
        ({"action": "delete", "path": "in/", "selected": "other/a.txt"}, "inside the current"),
        ({"action": "explode", "path": "in/", "selected": "in/a.txt"}, "Choose an action"),
        ({"action": "sign", "path": "in/", "selected": "in/a.txt"}, "nothing to sign"),
    ],
)
def test_bad_selection_is_a_clear_error_and_changes_nothing(client, editor, s3, data, expected):
    put(s3, s3.public_bucket, "in/a.txt")
    response = client.post(url("bulk"), {**data, "confirm": "1"})
    assert any(expected in m for m in messages_after(client, response))
    assert s3.keys(s3.public_bucket) == ["in/a.txt"]


def test_move_form_errors_keep_everything(client, editor, s3):
    put(s3, s3.public_bucket, "in/a.txt")
    response = client.post(
        url("bulk"),
        {"action": "move", "confirm": "1", "path": "in/", "selected": "in/a.txt", "target": "../x"},
    )
    assert response.status_code == 400 and b"Unsafe name" in response.content
    assert s3.keys(s3.public_bucket) == ["in/a.txt"]


@pytest.mark.parametrize(
    ("perms", "action"),
    [
        (("view_public",), "delete"),
        (("view_public", "upload"), "move"),
        (("view_public", "delete"), "publish"),
        (("view_private",), "sign"),
    ],
)
def test_each_action_needs_its_permission(client, django_user_model, s3, perms, action):
    put(s3, s3.public_bucket, "in/a.txt")
    client.force_login(make_user(django_user_model, *perms))
    storage = "private" if action == "sign" else "public"
    data = {"action": action, "path": "in/", "selected": "in/a.txt", "target": "x"}
    assert client.post(url("bulk", storage), data).status_code == 403
    assert client.post(url("bulk", storage), {**data, "confirm": "1"}).status_code == 403
    assert s3.keys(s3.public_bucket) == ["in/a.txt"]


def test_bulk_needs_csrf(editor, s3):
    put(s3, s3.public_bucket, "in/a.txt")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(editor)
    data = {"action": "delete", "confirm": "1", "path": "in/", "selected": "in/a.txt"}
    assert strict.post(url("bulk"), data).status_code == 403
    assert strict.post(url("prefs"), {"view": "grid"}).status_code == 403
    assert strict.post(url("folders"), "{}", content_type="application/json").status_code == 403
    assert s3.keys(s3.public_bucket) == ["in/a.txt"]


def test_confirming_needs_post(client, editor, s3):
    put(s3, s3.public_bucket, "in/a.txt")
    page = client.get(url("bulk", action="delete", confirm="1", path="in/", selected="in/a.txt"))
    assert page.status_code == 200  # only the confirmation page
    assert s3.keys(s3.public_bucket) == ["in/a.txt"]


# -- jobs -------------------------------------------------------------------------------
def test_select_all_across_pages_makes_private_as_a_job(client, editor, s3, settings):
    settings.MEDIAHUB = {"PAGE_SIZE": 5, "BULK_INLINE_LIMIT": 3, "JOB_THREADS": 1}
    for index in range(12):
        put(s3, s3.public_bucket, f"many/{index:02}.txt")
    data = {"action": "publish", "path": "many/", "select_across": "1"}
    page = client.post(url("bulk"), data).content.decode()
    assert "Make 12 files private?" in page and "background job" in page
    response = client.post(url("bulk"), {**data, "confirm": "1"})
    shown = messages_after(client, response)
    assert len(shown) == 1 and "job" in shown[0].lower()
    from mediahub.models import Job

    job = Job.objects.get()
    assert (job.kind, job.params) == ("publish", {"prefix": "many/"})
    assert job.state == "succeeded", (job.state, job.errors if hasattr(job, "errors") else None)
    assert s3.keys(s3.public_bucket, "many/") == []  # the immediate backend ran it
    assert len(s3.keys(s3.private_bucket, "many/")) == 12


def test_select_all_with_exclusions_lists_on_the_server(client, editor, s3, settings):
    settings.MEDIAHUB = {"BULK_INLINE_LIMIT": 3, "JOB_THREADS": 1}
    for index in range(6):
        put(s3, s3.public_bucket, f"many/{index}.txt")
    data = {
        "action": "delete",
        "confirm": "1",
        "path": "many/",
        "select_across": "1",
        "exclude": ["many/1.txt", "many/4.txt"],
    }
    client.post(url("bulk"), data)
    from mediahub.models import Job

    job = Job.objects.get()
    assert job.kind == "delete" and sorted(job.params["names"]) == [
        "many/0.txt",
        "many/2.txt",
        "many/3.txt",
        "many/5.txt",
    ]
    assert s3.keys(s3.public_bucket) == ["many/1.txt", "many/4.txt"]


def test_move_of_a_selected_folder_is_a_job(client, editor, s3, settings):
    settings.MEDIAHUB = {"JOB_THREADS": 1}
    put(s3, s3.public_bucket, "src/f/a.txt")
    put(s3, s3.public_bucket, "src/b.txt")
    client.post(
        url("bulk"),
        {
            "action": "move",
            "confirm": "1",
            "path": "src/",
            "selected": ["src/f/", "src/b.txt"],
            "target": "dst",
        },
    )
    assert s3.keys(s3.public_bucket, "dst/") == ["dst/b.txt", "dst/f/a.txt"]


# -- ZIP --------------------------------------------------------------------------------
def test_zip_of_a_selection_is_streamed(client, editor, s3):
    put(s3, s3.public_bucket, "z/a.txt", b"alpha")
    put(s3, s3.public_bucket, "z/sub/b.txt", b"beta")
    response = client.post(
        url("bulk"),
        {"action": "zip", "confirm": "1", "path": "z/", "selected": ["z/a.txt", "z/sub/"]},
    )
    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"] == 'attachment; filename="z.zip"'
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.testzip() is None
    assert {n: archive.read(n) for n in archive.namelist()} == {
        "a.txt": b"alpha",
        "sub/b.txt": b"beta",
    }


def test_zip_over_the_caps_is_refused(client, editor, s3, settings):
    settings.MEDIAHUB = {"ZIP_MAX_FILES": 1}
    put(s3, s3.public_bucket, "z/a.txt")
    put(s3, s3.public_bucket, "z/b.txt")
    data = {"action": "zip", "path": "z/", "selected": ["z/a.txt", "z/b.txt"]}
    page = client.post(url("bulk"), data)
    assert b"A ZIP holds at most 1 files" in page.content and b"mediahub-confirm" in page.content
    response = client.post(url("bulk"), {**data, "confirm": "1"})
    assert not getattr(response, "streaming", False)
    settings.MEDIAHUB = {"ZIP_MAX_SIZE": 1}
    response = client.post(url("bulk"), {**data, "confirm": "1"})
    assert not getattr(response, "streaming", False)


def test_zip_memory_is_bounded(s3):
    """A 12 MiB member streams in chunks: Python's peak allocation stays far below its size."""
    import tracemalloc
    import zlib

    from mediahub.library import zipdownload

    size = 12 * 1024 * 1024
    put(s3, s3.public_bucket, "big.bin", b"\1" * size)
    members = zipdownload.members_for("public", ["big.bin"], "")
    crc, total, largest = 0, 0, 0
    tracemalloc.start()
    try:
        for piece in zipdownload.stream_zip("public", members):
            largest = max(largest, len(piece))
            total += len(piece)
            crc = zlib.crc32(piece, crc)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert largest <= zipdownload.CHUNK + 4096
    assert total > size
    assert peak < 5 * zipdownload.CHUNK, peak  # not the whole object (12 chunks)


# -- signed links -----------------------------------------------------------------------
def test_signed_links_for_a_selection_post_redirect_get_and_csv(client, editor, s3):
    put(s3, s3.private_bucket, "a.pdf")
    put(s3, s3.private_bucket, "=b.pdf")
    data = {
        "action": "sign",
        "confirm": "1",
        "path": "",
        "selected": ["a.pdf", "=b.pdf"],
        "lifetime": "604800",
    }
    response = client.post(url("bulk", "private"), data)
    assert response.status_code == 302 and "/signed/?batch=" in response["Location"]
    page = client.get(response["Location"])
    body = page.content.decode()
    assert "no-store" in page["Cache-Control"]
    links = re.findall(r'value="(http://testserver/media-links/d/[^"]+)"', body)
    assert len(links) == 2 and "Copy all links" in body and 'id="mediahub-expires"' in body
    again = client.get(response["Location"]).content.decode()
    assert re.findall(r'value="(http://testserver/media-links/d/[^"]+)"', again) == links
    rows = list(
        csv.reader(io.StringIO(client.get(response["Location"] + "&format=csv").content.decode()))
    )
    assert rows[0] == ["name", "link", "expires"]
    assert [row[0] for row in rows[1:]] == ["a.pdf", "'=b.pdf"]  # never a formula
    from mediahub import links as mlinks

    loaded = mlinks.load(mlinks.token_from(rows[1][1]))
    assert loaded.name == "a.pdf"


def test_signed_page_of_another_session_or_storage_shows_nothing(
    client, editor, s3, django_user_model
):
    put(s3, s3.private_bucket, "a.pdf")
    response = client.post(url("sign", "private"), {"name": "a.pdf", "lifetime": "3600"})
    target = response["Location"]
    other = Client()
    other.force_login(make_user(django_user_model, *ALL_PERMS, username="other"))
    assert b"media-links" not in other.get(target, follow=True).content
    assert client.get(url("signed", "private", batch="nope")).status_code == 302


def test_sign_presets_custom_units_and_limits(client, editor, s3, settings):
    from mediahub import links as mlinks

    put(s3, s3.private_bucket, "a.pdf")
    response = client.post(
        url("sign", "private"),
        {"name": "a.pdf", "lifetime": "custom", "amount": "2", "unit": "days"},
    )
    page = client.get(response["Location"]).content.decode()
    link = re.search(r'id="mediahub-link" value="([^"]+)"', page).group(1)
    loaded = mlinks.load(mlinks.token_from(link))
    import time

    assert abs(loaded.expires - (time.time() + 2 * 86400)) < 60
    response = client.post(
        url("sign", "private"),
        {"name": "a.pdf", "lifetime": "custom", "amount": "8", "unit": "days"},
    )
    assert response.status_code == 400 and b"at most 7" in response.content
    response = client.post(url("sign", "private"), {"name": "a.pdf", "lifetime": "custom"})
    assert response.status_code == 400 and b"Enter a custom lifetime" in response.content


def test_user_autocomplete_needs_the_sign_permission(client, editor, s3, django_user_model):
    make_user(django_user_model, username="alice")
    make_user(django_user_model, username="alan")
    answer = client.get(url("users", "private", q="al")).json()
    assert answer == {"users": ["alan", "alice"]}
    viewer = Client()
    viewer.force_login(make_user(django_user_model, "view_private", username="viewer"))
    assert viewer.get(url("users", "private", q="al")).status_code == 403


# -- folder picker ----------------------------------------------------------------------
def test_folder_picker_lists_one_level_with_one_request(client, editor, s3, count_requests):
    for key in ("a/x/1.txt", "a/y/2.txt", "a/yz/3.txt", "a/file.txt", "b/4.txt"):
        put(s3, s3.public_bucket, key)
    count_requests.clear()
    answer = client.get(url("folders", path="a/")).json()
    assert [f["path"] for f in answer["folders"]] == ["a/x/", "a/y/", "a/yz/"]
    assert dict(count_requests) == {"ListObjectsV2": 1}
    answer = client.get(url("folders", path="a/", q="y")).json()
    assert [f["name"] for f in answer["folders"]] == ["y", "yz"]


@pytest.mark.parametrize("params", [{"path": "../"}, {"path": "a"}, {"path": "a/", "q": "x/y"}])
def test_folder_picker_refuses_bad_input(client, editor, s3, params):
    response = client.get(url("folders", **params))
    assert response.status_code == 400 and response.json()["error"]


def test_folder_picker_creates_a_folder_with_the_upload_permission(
    client, editor, s3, django_user_model
):
    response = client.post(
        url("folders"), {"path": "", "name": "new"}, content_type="application/json"
    )
    assert response.status_code == 201 and response.json()["path"] == "new/"
    assert "new/" in [f["path"] for f in client.get(url("folders")).json()["folders"]]
    bad = client.post(url("folders"), {"path": "", "name": "a/b"}, content_type="application/json")
    assert bad.status_code == 400 and "/" in bad.json()["error"]
    viewer = Client()
    viewer.force_login(make_user(django_user_model, "view_public", username="viewer"))
    response = viewer.post(
        url("folders"), {"path": "", "name": "x"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert viewer.get(url("folders")).status_code == 200


def test_javascript_catalog_is_served(client, editor):
    response = client.get(reverse("admin:mediahub_jsi18n"))
    assert response.status_code == 200 and b"gettext" in response.content


@pytest.mark.slow
def test_500_files_across_pages_in_three_posts_with_one_listing_for_the_count(
    client, editor, s3, settings, count_requests
):
    from concurrent.futures import ThreadPoolExecutor

    settings.MEDIAHUB = {"PAGE_SIZE": 100, "JOB_THREADS": 1}
    s3_client = s3.client()
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda i: s3_client.put_object(
                    Bucket=s3.public_bucket, Key=f"shoot/{i:03}.jpg", Body=b"j"
                ),
                range(500),
            )
        )
    # Delete: the same selection path as move and publish, and quick on the immediate backend.
    data = {"action": "delete", "path": "shoot/", "select_across": "1"}
    count_requests.clear()
    page = client.post(url("bulk"), data).content.decode()
    assert "Delete 500 files?" in page
    assert dict(count_requests) == {"ListObjectsV2": 1}  # counted by listing, 1,000 a page
    response = client.post(url("bulk"), {**data, "confirm": "1"})
    assert response.status_code == 302
    from mediahub.models import Job

    assert Job.objects.get().params == {"prefix": "shoot/"}  # not 500 names in the request
    assert s3.keys(s3.public_bucket, "shoot/") == []


def test_select_all_moved_into_an_existing_folder_goes_by_names(client, editor, s3, settings):
    settings.MEDIAHUB = {"BULK_INLINE_LIMIT": 1, "JOB_THREADS": 1}
    put(s3, s3.public_bucket, "in/a.txt")
    put(s3, s3.public_bucket, "in/sub/b.txt")
    put(s3, s3.public_bucket, "out/old.txt")
    data = {"action": "move", "confirm": "1", "path": "in/", "select_across": "1", "target": "out"}
    client.post(url("bulk"), data)
    from mediahub.models import Job

    job = Job.objects.get()
    assert job.params["base"] == "in/" and sorted(job.params["names"]) == [
        "in/a.txt",
        "in/sub/b.txt",
    ]
    assert s3.keys(s3.public_bucket) == ["out/a.txt", "out/old.txt", "out/sub/b.txt"]


def test_everything_at_the_top_level_leaves_the_thumbnail_folder_alone(
    client, editor, s3, settings
):
    settings.MEDIAHUB = {"BULK_INLINE_LIMIT": 1, "JOB_THREADS": 1}
    put(s3, s3.private_bucket, "thumbnails/a.jpg.80x80_q85.jpg")
    put(s3, s3.private_bucket, "a.jpg")
    put(s3, s3.private_bucket, "docs/b.pdf")
    data = {"action": "delete", "path": "", "select_across": "1"}
    page = client.post(url("bulk", "private"), data).content.decode()
    assert "Delete 2 files?" in page and "thumbnails/" not in page
    client.post(url("bulk", "private"), {**data, "confirm": "1"})
    assert s3.keys(s3.private_bucket) == ["thumbnails/a.jpg.80x80_q85.jpg"]


def test_zip_of_private_files_is_in_the_download_log(client, editor, s3):
    from mediahub.models import DownloadLog

    put(s3, s3.private_bucket, "p/a.pdf", b"a")
    put(s3, s3.private_bucket, "p/b.pdf", b"b")
    response = client.post(
        url("bulk", "private"),
        {"action": "zip", "confirm": "1", "path": "p/", "selected": ["p/a.pdf", "p/b.pdf"]},
    )
    assert response.streaming
    b"".join(response.streaming_content)
    logged = DownloadLog.objects.order_by("name").values_list("name", "outcome", "user")
    assert list(logged) == [("p/a.pdf", "streamed", editor.pk), ("p/b.pdf", "streamed", editor.pk)]
