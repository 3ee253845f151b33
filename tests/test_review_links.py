"""Security review: what a signed link makes the browser render (moto's server over HTTP)."""

from __future__ import annotations

import pytest
import requests
from django.core.cache import cache

from mediahub import links

pytestmark = pytest.mark.django_db

PAGE = b"<html><script>alert(document.domain)</script></html>"


@pytest.fixture(autouse=True)
def empty_object_cache():
    cache.clear()
    yield
    cache.clear()


def test_inline_link_never_renders_a_stored_html_type_under_a_harmless_name(s3, client):
    # A private object stored as text/html under a harmless name: written by boto3, a
    # backup restore, or by a version of the app that stored the browser's type.
    s3.client().put_object(
        Bucket=s3.private_bucket, Key="reports/q3.pdf", Body=PAGE, ContentType="text/html"
    )
    response = client.get(links.sign("reports/q3.pdf", inline=True))
    assert response.status_code == 302
    served = requests.get(response["Location"], timeout=10)
    assert served.status_code == 200
    kind = served.headers["Content-Type"].split(";")[0].strip().lower()
    disposition = served.headers.get("Content-Disposition", "")
    assert kind != "text/html" or disposition.startswith("attachment"), (kind, disposition)
    assert kind == "application/pdf"  # the type of the name the link was issued for
