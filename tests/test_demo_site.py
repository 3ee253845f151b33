"""The example site's front page against live buckets (what `make demo` serves)."""

from __future__ import annotations

import re

import pytest
import requests
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_front_page_shows_public_thumbnails_and_signed_private_links(client, s3):
    call_command("demo_load", bulk=3, jobs=2, verbosity=0)
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()

    links = re.findall(r'href="(/media-links/d/[^"]+)" class="private-link"', body)
    assert len(links) == 6  # 3 private photos + 3 PDFs, each a mediahub link
    assert s3.private_bucket not in body  # no presigned S3 URL handed out by the page
    pdf = links[-1]  # documents are listed after photos
    redirect = client.get(pdf)
    assert redirect.status_code == 302
    assert redirect["Cache-Control"] == "private, no-store"
    download = requests.get(redirect["Location"], timeout=10)
    assert download.status_code == 200 and download.content.startswith(b"%PDF")
    assert "attachment" in download.headers["Content-Disposition"]

    # Private photos get thumbnails from the private storage, never the public bucket.
    thumbs = re.findall(r'<img src="([^"]+)" alt="" width="80"', body)
    assert len(thumbs) == 3
    for url in thumbs:
        answer = client.get(url.replace("&amp;", "&"))
        assert answer.status_code == 302
        assert s3.private_bucket in answer["Location"]
    assert not [k for k in s3.keys(s3.public_bucket) if "private" in k]
