"""The media library end to end: headless Chromium, the live dev server, moto's server.

Screenshots land in ``var/screenshots/`` (the README's come from here).
"""

from __future__ import annotations

import os
import re

import pytest
import requests
from django.contrib.auth.models import Permission

from mediahub.testing.s3server import create_layout

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MiB = 1024**2
SHOTS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "var", "screenshots")


def shot(page, name: str) -> None:
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SHOTS, f"library-{name}.png"), full_page=True)


@pytest.fixture
def library(s3, live_server, settings, django_user_model):
    """Buckets with CORS for the live server, sample objects, and a staff editor."""
    create_layout(
        s3.endpoint.url,
        s3.public_bucket,
        s3.private_bucket,
        access_key=s3.endpoint.access_key,
        secret_key=s3.endpoint.secret_key,
        region=s3.endpoint.region,
        cors_origins=[live_server.url, live_server.url.replace("localhost", "127.0.0.1")],
    )
    settings.MEDIAHUB = {
        "PAGE_SIZE": 5,
        "DIRECT_UPLOAD_THRESHOLD": 1 * MiB,
        "MULTIPART_CHUNK_SIZE": 5 * MiB,
    }
    client = s3.client()
    for index in range(12):
        client.put_object(
            Bucket=s3.public_bucket, Key=f"bulk/file-{index:02}.txt", Body=b"x" * index
        )
    client.put_object(Bucket=s3.public_bucket, Key="welcome.txt", Body=b"hello")
    client.put_object(
        Bucket=s3.public_bucket, Key="photo.png", Body=sample_png(), ContentType="image/png"
    )
    client.put_object(Bucket=s3.private_bucket, Key="contracts/nda.pdf", Body=b"%PDF-1.4")
    user = django_user_model.objects.create_user("editor", password="editor-pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="mediahub"))
    return s3


def sample_png() -> bytes:
    from io import BytesIO

    from PIL import Image

    image = Image.new("RGB", (120, 80))
    image.putdata([(x * 2, y * 3, 160) for y in range(80) for x in range(120)])
    buffer = BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def login(page, live_server) -> None:
    page.goto(live_server.url + "/admin/login/")
    page.fill("#id_username", "editor")
    page.fill("#id_password", "editor-pw")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r".*/admin/$"))


def wait_for_thumbnails(page) -> None:
    """Let the live server finish the thumbnail requests of the page (they write to the DB)."""
    page.wait_for_function(
        "Array.from(document.querySelectorAll('img.mediahub-thumb')).every(img => img.complete)"
    )
    page.wait_for_load_state("networkidle")


def click_and_load(page, target) -> None:
    """Click a link (a selector or a locator) and wait for the page it opens."""
    with page.expect_navigation():
        if isinstance(target, str):
            page.click(target)
        else:
            target.click()


def file_names(page) -> list[str]:
    return page.locator("a.mediahub-file-link").all_inner_texts()


@pytest.mark.s3semantics  # on RGW: the direct upload crosses real CORS and signed part sizes
def test_staff_user_browses_uploads_organises_publishes_signs_and_deletes(
    library, live_server, browser_page
):
    page = browser_page
    s3 = library
    login(page, live_server)

    # Admin index -> both libraries.
    click_and_load(page, page.get_by_role("link", name="Private files").first)
    assert "contracts/" in page.locator("a.mediahub-folder-link").all_inner_texts()
    click_and_load(page, page.get_by_role("link", name="Public files").first)
    assert "welcome.txt" in file_names(page)

    # Into a large folder, page through it, and back by breadcrumb.
    click_and_load(page, page.get_by_role("link", name="bulk/"))
    seen = file_names(page)
    assert len(seen) == 5
    click_and_load(page, "a.mediahub-next")
    seen += file_names(page)
    click_and_load(page, "a.mediahub-next")
    last = file_names(page)
    seen += last
    assert seen == [f"file-{index:02}.txt" for index in range(12)]
    assert page.locator("a.mediahub-next").count() == 0
    click_and_load(page, "a.mediahub-previous")
    assert file_names(page) == seen[5:10]
    click_and_load(page, page.locator(".breadcrumbs").get_by_role("link", name="Public files"))
    assert "welcome.txt" in file_names(page)

    # Keyboard: filter by name prefix with Tab-reachable field and Enter.
    page.focus("#mediahub-prefix")
    page.keyboard.type("wel")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*prefix=wel.*"))
    assert file_names(page) == ["welcome.txt"]
    click_and_load(page, page.get_by_role("link", name="Clear filter"))

    # Upload two files: one through the site, one straight to S3 in two parts.
    big = bytes(range(256)) * (6 * MiB // 256)
    page.set_input_files(
        "#mediahub-files",
        [
            {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"small notes"},
            {"name": "video.bin", "mimeType": "application/octet-stream", "buffer": big},
        ],
    )
    with page.expect_navigation():
        page.click("#mediahub-upload input[type=submit]")
    assert {"notes.txt", "video.bin"} <= set(file_names(page))
    stored = s3.client().get_object(Bucket=s3.public_bucket, Key="video.bin")
    assert stored["ContentLength"] == len(big) and "-2" in stored["ETag"]  # multipart, 2 parts
    assert s3.client().list_multipart_uploads(Bucket=s3.public_bucket).get("Uploads", []) == []
    wait_for_thumbnails(page)
    shot(page, "browse")

    # New folder, then move the small file into it.
    page.fill("#id_name", "inbox")
    with page.expect_navigation():
        page.click(".mediahub-mkdir input[type=submit]")
    assert "inbox/" in page.locator("a.mediahub-folder-link").all_inner_texts()
    row = page.locator("tr.mediahub-file", has=page.locator("a", has_text="notes.txt"))
    row.locator("summary").click()  # the row's action menu
    click_and_load(page, row.get_by_role("link", name="Rename/move"))
    page.fill("#id_new_name", "inbox/notes.txt")
    page.click("input[type=submit][value=Move]")
    page.wait_for_url(re.compile(r".*path=inbox%2F.*"))
    assert file_names(page) == ["notes.txt"]

    # Make it private (after a confirmation): it leaves the public bucket and is not
    # readable anonymously.
    page.locator("tr.mediahub-file summary").click()
    click_and_load(page, page.locator("tr.mediahub-file").get_by_role("link", name="Make private"))
    assert "Make 1 file private?" in page.locator("#content").inner_text()
    click_and_load(page, "#mediahub-confirm")
    assert "1 file is now private." in page.locator(".messagelist").inner_text()
    assert "inbox/notes.txt" not in s3.keys(s3.public_bucket)
    assert s3.anonymous_get(s3.private_bucket, "inbox/notes.txt").status_code == 403

    # In the private library: details, signed link, download through it.
    click_and_load(page, page.get_by_role("link", name="Private files").first)
    click_and_load(page, page.get_by_role("link", name="inbox/"))
    page.locator("tr.mediahub-file summary").click()
    click_and_load(page, page.locator("tr.mediahub-file").get_by_role("link", name="Details"))
    details_url = page.url
    page.get_by_label("Custom", exact=True).check()
    page.fill("#id_amount", "10")
    page.select_option("#id_unit", "minutes")
    page.click("#mediahub-sign-form input[type=submit]")
    page.wait_for_url(re.compile(r".*/signed/\?batch=.*"))
    link = page.input_value("#mediahub-link")
    assert "/media-links/" in link
    shot(page, "details")
    download = page.request.get(link)
    assert download.ok and download.body() == b"small notes"
    assert requests.get(link, timeout=10, allow_redirects=True).content == b"small notes"

    # Delete it (with confirmation).
    page.goto(details_url)
    click_and_load(page, page.get_by_role("link", name="Delete"))
    page.click("#mediahub-confirm-delete")
    assert "Deleted inbox/notes.txt" in page.locator(".messagelist").inner_text()
    assert s3.keys(s3.private_bucket, "inbox/") == []

    # Dark theme: the admin's CSS variables apply to the library too.
    page.goto(live_server.url + "/admin/mediahub/medialibrary/public/")
    page.emulate_media(color_scheme="light")
    light = page.evaluate("getComputedStyle(document.querySelector('#result_list')).color")
    page.emulate_media(color_scheme="dark")
    dark = page.evaluate("getComputedStyle(document.querySelector('#result_list')).color")
    assert light != dark
    wait_for_thumbnails(page)
    shot(page, "dark")


def test_choose_existing_picker_fills_the_model_field(
    library, live_server, browser_page, django_user_model, click_closing
):
    editor = django_user_model.objects.get(username="editor")
    editor.user_permissions.add(*Permission.objects.filter(codename="add_document"))
    page = browser_page
    login(page, live_server)
    page.goto(live_server.url + "/admin/demo/document/add/")
    button = page.locator("button.mediahub-choose").first
    target = button.get_attribute("data-target")
    with page.expect_popup() as popup_info:
        button.click()
    popup = popup_info.value
    popup.wait_for_load_state()
    assert "_popup=1" in popup.url
    wait_for_thumbnails(popup)
    with popup.expect_event("close"):
        click_closing(popup, "button.mediahub-pick[data-name='welcome.txt']")
    from mediahub.picker import read_pick_token

    assert read_pick_token(page.input_value(f"#{target}"), "public") == "welcome.txt"
    assert page.locator(f".mediahub-chosen[data-for='{target}']").inner_text() == "welcome.txt"
