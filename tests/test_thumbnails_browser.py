"""Pending thumbnails in a real browser: placeholders first, the thumbnails once a worker made them.

The media library in headless Chromium (the live dev server, moto's server). With a
budget of 0 every missing thumbnail of the page is pending; no worker runs until the
test plays it (``generate_batch``), and ``mediahub/thumbnails.js`` swaps each image in.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from mediahub.thumbnails.pregenerate import generate_batch
from tests.test_library_browser import library, login, sample_png  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NAMES = [f"gallery/photo-{index}.png" for index in range(3)]


def test_pending_thumbnails_appear_once_a_worker_has_made_them(
    library,  # noqa: F811 - the fixture imported above
    live_server,
    browser_page,
    settings,
    monkeypatch,
):
    from mediahub import jobs

    settings.MEDIAHUB = {**settings.MEDIAHUB, "THUMBNAIL_REQUEST_BUDGET": 0}
    enqueued = []
    monkeypatch.setattr(jobs, "start", lambda kind, **kwargs: enqueued.append(kwargs))
    client = library.client()
    for name in NAMES:
        client.put_object(Bucket=library.public_bucket, Key=name, Body=sample_png())

    page = browser_page
    login(page, live_server)
    url = reverse("admin:mediahub_browse", kwargs={"storage": "public"})
    page.goto(f"{live_server.url}{url}?path=gallery/")

    thumbs = page.locator("img.mediahub-thumb")
    assert thumbs.count() == len(NAMES)
    # Placeholders, each handed to a worker (nothing made in the page's requests).
    page.wait_for_function(
        "Array.from(document.querySelectorAll('img.mediahub-thumb'))"
        ".every(img => img.dataset.mediahubThumbnail === 'polling')"
    )
    assert all("pending=1" in src for src in thumbs.evaluate_all("l => l.map(i => i.src)"))
    assert sorted(name for call in enqueued for name in call["params"]["names"]) == NAMES

    report = generate_batch("public", NAMES, ["admin"])  # the worker
    assert report.generated == len(NAMES)

    page.wait_for_function(
        "Array.from(document.querySelectorAll('img.mediahub-thumb'))"
        ".every(img => img.dataset.mediahubThumbnail === 'ready' && img.complete"
        " && img.naturalWidth === 80)",
        timeout=20_000,
    )
