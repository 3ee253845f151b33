"""Every media library page passes an axe-core scan in Chromium, light and dark.

axe-core is test tooling only: ``tests/vendor/axe-core/axe.min.js`` (from the npm
package ``axe-core``, version and licence beside it), injected into the page by
Playwright; the shipped app never loads it. A page fails on any violation whose
impact is "serious" or "critical"; the WCAG 2.x A/AA rules and best practices run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_library_browser import click_and_load, library, login, shot
from tests.test_library_browser_ui import settle

__all__ = ["library"]

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}


def axe_violations(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => await axe.run(document, {
            runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
            resultTypes: ["violations"],
        })"""
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
        if v["impact"] in BLOCKING
    ]


def assert_accessible(page, name: str) -> None:
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        # The admin's links fade their colour on a scheme change (transition: color
        # 0.15s): a scan of a mid-transition frame reports contrast that no user sees.
        # A real violation survives the second, settled scan.
        page.wait_for_timeout(300)
        violations = axe_violations(page)
        if violations:
            page.wait_for_timeout(1000)
            violations = axe_violations(page)
        assert not violations, f"{name} ({scheme}): " + json.dumps(violations, indent=1)


@pytest.fixture
def page(library, live_server, browser_page, settings):
    settings.MEDIAHUB = {**settings.MEDIAHUB, "UPLOAD_MAX_SIZE": 1000}
    login(browser_page, live_server)
    yield browser_page
    settle(browser_page)


def library_url(live_server, storage: str, rest: str = "") -> str:
    return f"{live_server.url}/admin/mediahub/medialibrary/{storage}/{rest}"


def test_list_and_upload_pages(page, live_server):
    page.goto(library_url(live_server, "public"))
    page.wait_for_load_state("networkidle")
    assert_accessible(page, "list")
    # Upload in progress: a refused file stays listed with its message and buttons.
    page.set_input_files(
        "#mediahub-files", [{"name": "big.bin", "mimeType": "text/plain", "buffer": b"x" * 2000}]
    )
    page.click("#mediahub-upload input[type=submit]")
    page.wait_for_selector("#mediahub-progress li[data-state=failed]")
    assert_accessible(page, "upload")
    # An open row menu.
    page.locator("tr.mediahub-file summary").first.click()
    assert_accessible(page, "row menu")


def test_grid_page(page, live_server):
    page.goto(library_url(live_server, "public"))
    click_and_load(page, "#mediahub-view-grid")
    page.wait_for_load_state("networkidle")
    assert_accessible(page, "grid")
    page.emulate_media(color_scheme="dark")
    shot(page, "grid-dark")


def test_details_confirmation_move_and_signed_pages(page, live_server):
    page.goto(library_url(live_server, "private", "details/?name=contracts/nda.pdf"))
    assert_accessible(page, "details")
    click_and_load(page, "#mediahub-sign-form input[type=submit]")
    assert_accessible(page, "signed link")
    page.goto(library_url(live_server, "public", "?path=bulk%2F"))
    page.check("#action-toggle")
    page.select_option("#mediahub-action", "move")
    assert_accessible(page, "bulk bar")
    click_and_load(page, "#mediahub-go")
    page.click("button.mediahub-browse-folders")
    page.wait_for_selector("button.mediahub-folder-choose")
    assert_accessible(page, "move confirmation with folder picker")
    page.goto(
        library_url(
            live_server, "public", "bulk/?action=delete&path=bulk/&selected=bulk/file-01.txt"
        )
    )
    assert_accessible(page, "delete confirmation")
    page.goto(library_url(live_server, "public", "move/?name=welcome.txt"))
    assert_accessible(page, "rename")
    page.emulate_media(color_scheme="dark")
    page.goto(library_url(live_server, "public"))
    page.wait_for_load_state("networkidle")
    shot(page, "dark")


def test_choose_existing_popup_with_its_folder_picker(page, live_server):
    page.goto(library_url(live_server, "public", "?_popup=1&target=id_file"))
    assert_accessible(page, "picker popup")
    page.fill("#mediahub-goto-folder", "bu")
    page.wait_for_selector("button.mediahub-folder-option[data-path='bulk/']")
    assert_accessible(page, "picker popup with folder suggestions")
    with page.expect_navigation():
        page.click("button.mediahub-folder-option[data-path='bulk/']")
    assert "path=bulk%2F" in page.url and "_popup=1" in page.url and "target=id_file" in page.url
    assert page.locator("button.mediahub-pick").count() == 5
