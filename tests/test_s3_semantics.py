"""Security properties of the storages that only a real S3 implementation enforces.

They run on moto's server in ``make test`` (asserting what moto can prove) and on
Ceph's RADOS Gateway in ``make test-rgw``, where every refusal is the server's own.
"""

from __future__ import annotations

import datetime as dt
from unittest import mock
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import requests
from django.core.files.base import ContentFile

from mediahub.storage import get_storage

pytestmark = pytest.mark.s3semantics


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.fixture
def private_object(s3):
    storage = get_storage("private")
    name = storage.save("vault/secret.txt", ContentFile(b"top secret"))
    return storage, name


def test_private_object_is_refused_anonymously_and_public_one_served(s3, private_object):
    get_storage("public").save("open/hello.txt", ContentFile(b"hello"))
    assert s3.anonymous_get(s3.public_bucket, "open/hello.txt").status_code == 200
    assert s3.anonymous_get(s3.private_bucket, "vault/secret.txt").status_code == 403


def test_presigned_url_serves_the_object(private_object):
    storage, name = private_object
    answer = requests.get(storage.url(name), timeout=10)
    assert answer.status_code == 200 and answer.content == b"top secret"


def test_tampered_signature_is_refused(s3, private_object):
    storage, name = private_object
    url = storage.url(name)
    signature = parse_qs(urlsplit(url).query)["X-Amz-Signature"][0]
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    answer = requests.get(_with_query(url, **{"X-Amz-Signature": flipped}), timeout=10)
    if s3.endpoint.is_real:
        assert answer.status_code == 403
    assert b"top secret" not in answer.content or not s3.endpoint.is_real


def test_signature_for_one_key_does_not_open_another(s3, private_object):
    storage, name = private_object
    storage.save("vault/other.txt", ContentFile(b"other secret"))
    url = storage.url(name).replace("vault/secret.txt", "vault/other.txt")
    answer = requests.get(url, timeout=10)
    if s3.endpoint.is_real:
        assert answer.status_code == 403
        assert b"other secret" not in answer.content


def test_garbage_signature_parameter_does_not_bypass_privacy(s3, private_object):
    url = s3.object_url(s3.private_bucket, "vault/secret.txt") + "?Signature=garbage"
    answer = requests.get(url, timeout=10)
    if s3.endpoint.is_real:
        assert answer.status_code in (400, 403)
        assert b"top secret" not in answer.content


def test_expired_presigned_url_is_refused(s3, private_object):
    storage, name = private_object
    # Sign as of ten minutes ago with the default five-minute lifetime: expired on arrival
    # (a build that signed long-lived URLs would be served here, and fail on RGW).
    past = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=10)
    with mock.patch("botocore.auth.get_current_datetime", return_value=past):
        url = storage.url(name)  # the storage's own (short) default lifetime
    assert parse_qs(urlsplit(url).query)["X-Amz-Date"][0].startswith(past.strftime("%Y%m%dT%H%M"))
    answer = requests.get(url, timeout=10)
    if s3.endpoint.is_real:
        assert answer.status_code == 403
        assert b"top secret" not in answer.content


def test_response_content_disposition_is_honoured(private_object):
    storage, name = private_object
    url = storage.presigned_url(
        name, params={"ResponseContentDisposition": 'attachment; filename="report.txt"'}
    )
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"] == 'attachment; filename="report.txt"'
