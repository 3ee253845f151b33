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
from mediahub.testing.sigv4 import recomputed_signature

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


def signature_holds(s3, url: str) -> bool:
    """Whether ``url``'s signature is the one its own parameters and path sign to."""
    query = parse_qs(urlsplit(url).query)
    return query["X-Amz-Signature"][0] == recomputed_signature(
        url,
        "GET",
        access_key=s3.endpoint.access_key,
        secret_key=s3.endpoint.secret_key,
        region=s3.endpoint.region,
    )


def needs_real_s3(s3, what: str) -> None:
    if not s3.endpoint.is_real:
        pytest.skip(f"moto does not check {what}: proven on Ceph RGW by make test-rgw")


def test_tampered_signature_is_refused(s3, private_object):
    storage, name = private_object
    url = storage.url(name)
    signature = parse_qs(urlsplit(url).query)["X-Amz-Signature"][0]
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    tampered = _with_query(url, **{"X-Amz-Signature": flipped})
    assert signature_holds(s3, url) and not signature_holds(s3, tampered)
    if s3.endpoint.is_real:  # and the server itself refuses it
        answer = requests.get(tampered, timeout=10)
        assert answer.status_code == 403 and b"top secret" not in answer.content


def test_signature_for_one_key_does_not_open_another(s3, private_object):
    storage, name = private_object
    storage.save("vault/other.txt", ContentFile(b"other secret"))
    url = storage.url(name).replace("vault/secret.txt", "vault/other.txt")
    assert not signature_holds(s3, url)  # the key is part of what is signed
    if s3.endpoint.is_real:
        answer = requests.get(url, timeout=10)
        assert answer.status_code == 403 and b"other secret" not in answer.content


def test_garbage_signature_parameter_does_not_bypass_privacy(s3, private_object):
    # moto skips its anonymous-access check whenever a "Signature=" parameter is present.
    needs_real_s3(s3, "signatures")
    url = s3.object_url(s3.private_bucket, "vault/secret.txt") + "?Signature=garbage"
    answer = requests.get(url, timeout=10)
    assert answer.status_code in (400, 403)
    assert b"top secret" not in answer.content


def test_expired_presigned_url_is_refused(s3, private_object):
    storage, name = private_object
    # Sign as of ten minutes ago with the default five-minute lifetime: expired on arrival
    # (a build that signed long-lived URLs would be served here, and fail on RGW).
    past = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=10)
    with mock.patch("botocore.auth.get_current_datetime", return_value=past):
        url = storage.url(name)  # the storage's own (short) default lifetime
    query = parse_qs(urlsplit(url).query)
    signed_at = dt.datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")
    expires_at = signed_at + dt.timedelta(seconds=int(query["X-Amz-Expires"][0]))
    assert expires_at < dt.datetime.now(dt.UTC).replace(tzinfo=None)  # expired on its face
    assert signature_holds(s3, url)  # and validly signed: only the server's clock refuses it
    if s3.endpoint.is_real:
        answer = requests.get(url, timeout=10)
        assert answer.status_code == 403 and b"top secret" not in answer.content


def test_response_content_disposition_is_honoured(private_object):
    storage, name = private_object
    url = storage.presigned_url(
        name, params={"ResponseContentDisposition": 'attachment; filename="report.txt"'}
    )
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"] == 'attachment; filename="report.txt"'
