"""The media library's editor features in a real Chromium: selection and bulk actions,
drag-and-drop of a folder, the grid, the folder picker, signed-link presets and copy,
and a keyboard-only path. Screenshots land in ``var/screenshots/``."""

from __future__ import annotations

import re

import pytest

from tests.test_library_browser import (
    click_and_load,
    file_names,
    library,
    login,
    shot,
    wait_for_thumbnails,
)

__all__ = ["library"]  # the fixture, imported for this module's tests

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def editor_page(library, live_server, browser_page, settings):
    settings.MEDIAHUB = {**settings.MEDIAHUB, "JOB_THREADS": 1, "BULK_INLINE_LIMIT": 3}
    login(browser_page, live_server)
    yield browser_page
    settle(browser_page)


def settle(page) -> None:
    """Let the live server finish the page's thumbnail requests (they write to the database)
    before the test database is flushed."""
    try:
        wait_for_thumbnails(page)
    except Exception:  # noqa: S110 - a closed or navigated page has nothing left to wait for
        pass


def browse(page, live_server, storage: str = "public", query: str = "") -> None:
    page.goto(f"{live_server.url}/admin/mediahub/medialibrary/{storage}/{query}")


def test_select_everything_across_pages_and_make_it_private_as_a_job(
    editor_page, live_server, library
):
    page, s3 = editor_page, library
    browse(page, live_server, query="?path=bulk%2F")
    assert len(file_names(page)) == 5  # page 1 of 3
    page.check("#action-toggle")
    assert page.inner_text("#mediahub-counter") == "5 of 5 selected"
    page.click("#mediahub-select-across")
    assert page.inner_text("#mediahub-counter") == "Everything in this folder"
    page.select_option("#mediahub-action", "publish")
    shot(page, "bulk-bar")
    click_and_load(page, "#mediahub-go")
    assert "Make 12 files private?" in page.inner_text("#content")
    assert "background job" in page.inner_text("#content")
    click_and_load(page, "#mediahub-confirm")
    message = page.locator(".messagelist")
    assert "Started a background job" in message.inner_text()
    assert message.locator("a").count() == 1  # to the job's progress page
    assert s3.keys(s3.public_bucket, "bulk/") == []
    assert len(s3.keys(s3.private_bucket, "bulk/")) == 12


def test_unchecking_rows_after_select_all_excludes_them(editor_page, live_server, library):
    page, s3 = editor_page, library
    browse(page, live_server, query="?path=bulk%2F")
    page.check("#action-toggle")
    page.click("#mediahub-select-across")
    page.uncheck("input.action-select[value='bulk/file-00.txt']")
    assert "except 1 item" in page.inner_text("#mediahub-counter")
    page.select_option("#mediahub-action", "delete")
    click_and_load(page, "#mediahub-go")
    assert "Delete 11 files?" in page.inner_text("#content")
    click_and_load(page, "#mediahub-confirm")
    assert s3.keys(s3.public_bucket, "bulk/") == ["bulk/file-00.txt"]


DROP_FOLDER = """
async ([count, big]) => {
  // A dropped folder as Chromium hands it over: DataTransferItem.webkitGetAsEntry()
  // returning directory entries whose reader answers in batches, then [].
  function fileEntry(name, body) {
    return { isFile: true, isDirectory: false, name,
             file(ok) { ok(new File([body], name, { type: "text/plain" })); } };
  }
  function dirEntry(name, children) {
    return { isFile: false, isDirectory: true, name,
             createReader() {
               let batches = [children.slice(0, 10), children.slice(10)];
               return { readEntries(ok) { ok(batches.length ? batches.shift() : []); } };
             } };
  }
  const top = [];
  for (let i = 0; i < count - 5; i++) top.push(fileEntry(`photo-${i}.txt`, "x".repeat(i + 1)));
  const sub = [];
  for (let i = 0; i < 5; i++) sub.push(fileEntry(`scan-${i}.txt`, "y".repeat(i + 1)));
  top.push(dirEntry("sub", sub));
  const items = [{ kind: "file", webkitGetAsEntry: () => dirEntry("album", top) },
                 { kind: "file", webkitGetAsEntry: () => fileEntry("huge.bin", "z".repeat(big)) }];
  const dataTransfer = { types: ["Files"], items, files: [], dropEffect: "none" };
  const target = document.querySelector("#result_list");
  for (const type of ["dragenter", "dragover", "drop"]) {
    const event = new Event(type, { bubbles: true, cancelable: true });
    Object.defineProperty(event, "dataTransfer", { value: dataTransfer });
    target.dispatchEvent(event);
  }
}
"""


def test_drag_and_drop_of_a_folder_of_20_files_keeps_its_structure(
    editor_page, live_server, library, settings
):
    page, s3 = editor_page, library
    settings.MEDIAHUB = {**settings.MEDIAHUB, "UPLOAD_MAX_SIZE": 1000}
    browse(page, live_server)
    page.evaluate(DROP_FOLDER, [20, 2000])
    page.wait_for_function(
        "document.querySelectorAll('#mediahub-progress li[data-state=done]').length === 20",
        timeout=60_000,
    )
    failed = page.locator("#mediahub-progress li[data-state=failed]")
    assert failed.count() == 1
    assert "huge.bin is larger than the upload limit" in failed.inner_text()
    assert failed.get_by_role("button", name="Retry the upload of huge.bin").is_visible()
    shot(page, "upload-progress")
    keys = s3.keys(s3.public_bucket, "album/")
    assert len(keys) == 20
    assert "album/sub/scan-4.txt" in keys and "album/photo-14.txt" in keys
    assert (
        s3.client().get_object(Bucket=s3.public_bucket, Key="album/sub/scan-2.txt")["Body"].read()
        == b"yyy"
    )


def test_grid_view_is_remembered_and_navigable_by_keyboard(editor_page, live_server, library):
    page = editor_page
    browse(page, live_server)
    click_and_load(page, "#mediahub-view-grid")
    assert page.locator("ul.mediahub-grid li.mediahub-card").count() >= 3
    card = page.locator("li.mediahub-card", has=page.locator("text=photo.png"))
    assert card.locator("img.mediahub-thumb").count() == 1
    assert card.locator(".mediahub-card-size").inner_text() == "259\xa0bytes"
    page.wait_for_load_state("networkidle")
    shot(page, "grid")
    browse(page, live_server)  # remembered for the user's session
    assert page.locator("ul.mediahub-grid").count() == 1
    first = page.locator(".mediahub-nav-item").first
    first.focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.textContent.trim()") != first.inner_text()
    page.keyboard.press("Home")
    assert page.evaluate("document.activeElement === document.querySelector('.mediahub-nav-item')")
    page.keyboard.press("Space")  # selects the focused card
    assert page.inner_text("#mediahub-counter").startswith("1 of")


def test_move_with_the_folder_picker_and_a_folder_created_on_the_way(
    editor_page, live_server, library
):
    page, s3 = editor_page, library
    browse(page, live_server)
    page.check("input.action-select[value='welcome.txt']")
    page.select_option("#mediahub-action", "move")
    click_and_load(page, "#mediahub-go")
    page.click("button.mediahub-browse-folders")
    page.click("button.mediahub-folder-option[data-path='bulk/']")
    assert page.input_value("#id_target") == "bulk/"
    page.fill(".mediahub-folder-create input", "archive")
    page.click(".mediahub-folder-create button")
    page.wait_for_function("document.querySelector('#id_target').value === 'bulk/archive/'")
    # Type-ahead: the list narrows to folders starting with what is typed.
    page.fill("#id_target", "bu")
    page.wait_for_selector("button.mediahub-folder-option[data-path='bulk/']")
    page.fill("#id_target", "bulk/archive/")
    click_and_load(page, "#mediahub-confirm")
    assert "Moved 1 item." in page.inner_text(".messagelist")
    assert "bulk/archive/welcome.txt" in s3.keys(s3.public_bucket, "bulk/archive/")
    assert "welcome.txt" not in s3.keys(s3.public_bucket)


def test_signed_link_presets_expiry_and_copy(library, live_server, browser, settings):
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        permissions=["clipboard-read", "clipboard-write"],
    )
    page = context.new_page()
    try:
        login(page, live_server)
        page.goto(
            live_server.url + "/admin/mediahub/medialibrary/private/details/?name=contracts/nda.pdf"
        )
        # Only for user: suggestions come from the autocomplete endpoint as you type.
        page.fill("#id_username", "edi")
        page.wait_for_selector("#mediahub-users option[value='editor']", state="attached")
        page.fill("#id_username", "")
        page.get_by_label("7 days").check()
        expiry = page.inner_text(".mediahub-expiry")
        assert expiry.startswith("Valid until")
        page.get_by_label("1 hour").check()
        assert page.inner_text(".mediahub-expiry") != expiry
        shot(page, "sign-form")
        click_and_load(page, "#mediahub-sign-form input[type=submit]")
        assert "/signed/?batch=" in page.url
        assert page.inner_text("#mediahub-expires")
        link = page.input_value("#mediahub-link")
        page.click("button.mediahub-copy")
        page.wait_for_selector("button.mediahub-copy[data-copied='1']")
        assert page.evaluate("navigator.clipboard.readText()") == link
        assert "Copied" in page.inner_text(".mediahub-copied")
        shot(page, "signed")
        page.reload()  # a GET page: reloading shows the same link, signs nothing
        assert page.input_value("#mediahub-link") == link
    finally:
        context.close()


def tab_to(page, selector: str, limit: int = 80) -> None:
    """Press Tab until the element matching ``selector`` has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} is not reachable with Tab")


def test_keyboard_only_upload_move_and_sign(editor_page, live_server, library):
    page, s3 = editor_page, library
    browse(page, live_server, "private")
    # Upload: the file input opens its chooser from the keyboard.
    tab_to(page, "#mediahub-files")
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files([{"name": "memo.txt", "mimeType": "text/plain", "buffer": b"memo"}])
    tab_to(page, "#mediahub-upload input[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "memo.txt" in file_names(page)
    # Move: select the row, pick the action, confirm with a folder typed in.
    tab_to(page, "input.action-select[value='memo.txt']")
    page.keyboard.press("Space")
    page.keyboard.press("Shift+Tab")
    while not page.evaluate("document.activeElement.id === 'mediahub-action'"):
        page.keyboard.press("Shift+Tab")
    page.keyboard.press("ArrowDown")  # Move to…
    assert page.input_value("#mediahub-action") == "move"
    tab_to(page, "#mediahub-go")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    tab_to(page, "#id_target")
    page.keyboard.type("contracts/")
    tab_to(page, "#mediahub-confirm")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "contracts/memo.txt" in s3.keys(s3.private_bucket, "contracts/")
    # Sign: open the row's menu with the keyboard, then the details page's form.
    browse(page, live_server, "private", "?path=contracts%2F")
    tab_to(page, "summary[aria-label='Actions for memo.txt']")
    page.keyboard.press("Enter")  # opens the menu, its first item takes the focus
    page.wait_for_function("document.activeElement.closest('.mediahub-menu-items') !== null")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Signed link"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    tab_to(page, "input[name=lifetime][value='86400']")
    page.keyboard.press("ArrowRight")  # radio group: the next preset, 7 days
    assert page.is_checked("input[name=lifetime][value='604800']")
    tab_to(page, "#mediahub-sign-form input[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert re.search(r"/media-links/d/", page.input_value("#mediahub-link"))


def test_one_upload_is_cancelled_and_retried_while_the_others_finish(
    editor_page, live_server, library
):
    page, s3 = editor_page, library
    browse(page, live_server)
    held = []

    def hold_first(route):
        if not held and b"slow.txt" in (route.request.post_data_buffer or b""):
            held.append(route)  # never answered: the upload hangs until cancelled
            return
        route.continue_()

    page.route("**/upload/", hold_first)
    page.set_input_files(
        "#mediahub-files",
        [
            {"name": "slow.txt", "mimeType": "text/plain", "buffer": b"slow"},
            {"name": "fast.txt", "mimeType": "text/plain", "buffer": b"fast"},
        ],
    )
    page.click("#mediahub-upload input[type=submit]")
    page.wait_for_selector("#mediahub-progress li[data-state=done]")
    slow = page.locator("#mediahub-progress li", has_text="slow.txt")
    assert slow.get_attribute("data-state") == "running"
    slow.get_by_role("button", name="Cancel the upload of slow.txt").click()
    page.wait_for_selector("#mediahub-progress li[data-cancelled='1']")
    assert "Cancelled" in slow.inner_text()
    assert "slow.txt" not in s3.keys(s3.public_bucket)
    page.unroute("**/upload/")
    with page.expect_navigation():  # the last upload done: the listing reloads
        slow.get_by_role("button", name="Retry the upload of slow.txt").click()
    assert {"slow.txt", "fast.txt"} <= set(file_names(page))


def test_rows_are_one_line_at_1280_px_even_with_long_names(editor_page, live_server, library):
    page, s3 = editor_page, library
    long_name = "a-very-long-file-name-" * 8 + ".txt"
    s3.client().put_object(Bucket=s3.public_bucket, Key=long_name, Body=b"x")
    browse(page, live_server)
    heights = page.eval_on_selector_all(
        "#result_list tbody tr", "rows => rows.map(r => r.getBoundingClientRect().height)"
    )
    assert len(heights) >= 4 and max(heights) < 48, heights
    width = page.evaluate("document.querySelector('#result_list').getBoundingClientRect().right")
    assert width <= 1280
    # The full name is still there (title of the cell is cut with an ellipsis, not the name).
    assert long_name in file_names(page)
