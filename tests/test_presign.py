"""mediahub.storage.presign: byte-identical to botocore's presigned URLs, with fallbacks.

Unit tests on in-process botocore clients (no request is sent: presigning is local),
with the clock frozen on both sides; the storages' use of it against the moto server.
"""

from __future__ import annotations

import datetime as dt
import random
from unittest import mock

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.credentials import Credentials, RefreshableCredentials
from botocore.exceptions import NoCredentialsError, ParamValidationError
from django.core.files.base import ContentFile

from mediahub.names import is_valid_name
from mediahub.storage import get_storage, presign
from mediahub.storage.presign import Presigner

NOW = 1_800_000_123.0
FROZEN = dt.datetime.fromtimestamp(NOW, dt.UTC)

#: Every response-* parameter of GetObject (ResponseExpires is a timestamp: a fallback).
RESPONSE_PARAMS = (
    "ResponseCacheControl",
    "ResponseContentDisposition",
    "ResponseContentEncoding",
    "ResponseContentLanguage",
    "ResponseContentType",
)
ALPHABET = (
    "abcXYZ019 -_.~/!$&'()*+,;=:@%?#[]\"<>\\^`{|}"
    "éèüßø日本語中文Ω€😀\u00a0\u200b\u202e\t"
)


def client(
    *,
    endpoint: str | None = None,
    region: str = "us-east-1",
    addressing: str | None = None,
    token: str | None = None,
    key: str = "AKIDEXAMPLE",
    secret: str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
):
    s3 = {"addressing_style": addressing} if addressing else None
    session = boto3.session.Session(
        aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token
    )
    return session.client(
        "s3",
        region_name=region,
        endpoint_url=endpoint,
        config=Config(signature_version="s3v4", s3=s3),
    )


CLIENTS = {
    "aws-virtual": lambda: client(region="eu-west-3"),
    "aws-path": lambda: client(region="us-east-1", addressing="path"),
    "aws-session-token": lambda: client(region="ap-southeast-2", token="FQoG/+token=="),
    "custom-ip-path": lambda: client(endpoint="http://127.0.0.1:9000"),
    "custom-host-virtual": lambda: client(
        endpoint="https://s3.example.net:8443/base", addressing="virtual", token="t0k3n"
    ),
    "custom-host-default": lambda: client(endpoint="https://minio.example.com", region="xx-1"),
}


@pytest.fixture(autouse=True)
def frozen_clocks(monkeypatch):
    """The same instant for botocore and for mediahub's presigner."""
    monkeypatch.setattr(presign, "clock", lambda: NOW)
    with mock.patch("botocore.auth.get_current_datetime", return_value=FROZEN):
        yield


def random_key(rng: random.Random) -> str:
    length = rng.randint(1, 40)
    key = "".join(rng.choice(ALPHABET) for _ in range(length))
    return key if key.strip("/") else key + "x"


def random_params(rng: random.Random) -> dict:
    params = {}
    for name in RESPONSE_PARAMS:
        if rng.random() < 0.4:
            params[name] = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 30)))
    if rng.random() < 0.2:
        params["VersionId"] = "".join(rng.choice(ALPHABET) for _ in range(8))
    if rng.random() < 0.05:
        params["ResponseExpires"] = dt.datetime(2031, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    return params


def botocore_url(c, operation: str, bucket: str, key: str, params: dict, expires: int) -> str:
    return c.generate_presigned_url(
        operation, Params={**params, "Bucket": bucket, "Key": key}, ExpiresIn=expires
    )


@pytest.mark.slow
def test_ten_thousand_random_requests_are_byte_identical_to_botocore():
    rng = random.Random(20241129)
    clients = {name: make() for name, make in CLIENTS.items()}
    presigners = {}
    compared = 0
    for _ in range(10_000):
        name = rng.choice(list(clients))
        c = clients[name]
        bucket = rng.choice(["media-private", "bucket.with.dots", "b"])
        presigner = presigners.setdefault((name, bucket), Presigner(bucket))
        operation = rng.choice(["get_object", "get_object", "head_object", "upload_part"])
        key = random_key(rng)
        if operation == "upload_part":
            params = {
                "UploadId": random_key(rng),
                "PartNumber": rng.randint(1, 10_000),
                "ContentLength": rng.randint(0, 5 * 1024**3),
            }
        elif operation == "head_object":
            params = {"VersionId": "v" + random_key(rng)} if rng.random() < 0.5 else {}
        else:
            params = random_params(rng)
        expires = rng.choice([1, 60, 300, 3600, 604800])
        mine = presigner.url(
            c, key, operation=operation, params=params, expires_in=expires, now=NOW
        )
        assert mine == botocore_url(c, operation, bucket, key, params, expires), (
            name,
            operation,
            key,
            params,
        )
        compared += 1
    assert compared == 10_000


@pytest.mark.parametrize("operation", ["get_object", "head_object", "put_object", "delete_object"])
def test_each_object_operation_matches_botocore(operation):
    c = CLIENTS["custom-host-virtual"]()
    url = Presigner("bkt").presign(c, "a b/ü.txt", operation=operation, expires_in=60, now=NOW)
    assert url == botocore_url(c, operation, "bkt", "a b/ü.txt", {}, 60)


@pytest.mark.parametrize(
    "params",
    [
        {"ResponseExpires": dt.datetime(2030, 1, 1, tzinfo=dt.UTC)},  # a timestamp
        {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": "k" * 32},  # headers
        {"RequestPayer": "requester"},
        {"IfMatch": '"abc"'},
    ],
)
def test_what_it_does_not_cover_goes_to_botocore_unchanged(params):
    c = CLIENTS["custom-ip-path"]()
    presigner = Presigner("bkt")
    with pytest.raises(presign.NotCovered):
        presigner.presign(c, "k.pdf", params=params, expires_in=60, now=NOW)
    assert presigner.url(c, "k.pdf", params=params, expires_in=60, now=NOW) == botocore_url(
        c, "get_object", "bkt", "k.pdf", params, 60
    )


def test_bad_parameters_get_botocores_own_errors():
    c = CLIENTS["custom-ip-path"]()
    presigner = Presigner("bkt")
    with pytest.raises(ParamValidationError):
        presigner.url(c, "k", params={"NoSuchParameter": "x"}, expires_in=60)
    with pytest.raises(ParamValidationError):  # a string where an integer is due
        presigner.url(
            c,
            "k",
            operation="upload_part",
            params={"UploadId": "u", "PartNumber": "3"},
            expires_in=60,
        )


def test_credentials_are_read_on_every_call_so_refreshed_ones_are_used():
    c = CLIENTS["aws-virtual"]()
    presigner = Presigner("bkt")
    first = presigner.url(c, "k", expires_in=60, now=NOW)
    issued = iter(range(1, 100))

    def refresh():
        number = next(issued)
        return {
            "access_key": f"ROLEKEY{number}",
            "secret_key": f"rolesecret{number}",
            "token": f"roletoken{number}",
            # Inside the mandatory refresh window: every read refreshes (an expiring role).
            "expiry_time": (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).isoformat(),
        }

    c._request_signer._credentials = RefreshableCredentials.create_from_metadata(
        refresh(), refresh, "test"
    )
    refreshed = presigner.url(c, "k", expires_in=60, now=NOW)
    assert refreshed != first
    assert "ROLEKEY" in refreshed and "X-Amz-Security-Token=roletoken" in refreshed
    assert "rolesecret" not in refreshed
    c._request_signer._credentials = Credentials("STATIC", "static-secret")
    assert presigner.url(c, "k", expires_in=60, now=NOW) == botocore_url(
        c, "get_object", "bkt", "k", {}, 60
    )


def test_no_credentials_raise_botocores_error():
    c = CLIENTS["custom-ip-path"]()
    c._request_signer._credentials = None
    with pytest.raises(NoCredentialsError):
        Presigner("bkt").url(c, "k", expires_in=60)


def test_the_signing_key_is_derived_once_per_day(monkeypatch):
    c = CLIENTS["aws-virtual"]()
    presigner = Presigner("bkt")
    presigner.template(c, "get_object")  # botocore's probe derives its own key
    presign._keys.clear()
    derivations = []
    original_new = presign.hmac.new

    def counting_new(key, msg=None, digestmod=None):
        if isinstance(key, bytes) and key.startswith(b"AWS4"):
            derivations.append(key)
        return original_new(key, msg, digestmod)

    monkeypatch.setattr(presign.hmac, "new", counting_new)
    for offset in range(500):
        presigner.url(c, f"k{offset}", expires_in=60, now=NOW + offset)
    assert len(derivations) == 1
    presigner.url(c, "k", expires_in=60, now=NOW + 86_400)  # the next day
    assert len(derivations) == 2


def test_a_sigv2_client_falls_back_entirely():
    session = boto3.session.Session(aws_access_key_id="A", aws_secret_access_key="B")
    c = session.client("s3", region_name="us-east-1", config=Config(signature_version="s3"))
    presigner = Presigner("bkt")
    with pytest.raises(presign.NotCovered):
        presigner.presign(c, "k", expires_in=60)
    url = presigner.url(c, "k", expires_in=60)
    assert "Signature=" in url and "X-Amz-Signature" not in url


# -- the storages use it ---------------------------------------------------------------------
@pytest.mark.django_db
def test_storage_presigned_url_and_url_are_botocores_and_work(s3):
    storage = get_storage("private")
    name = storage.save("docs/ü ber.pdf", ContentFile(b"%PDF fast"))
    client_ = storage.connection.meta.client
    key = storage._key(name)
    params = {"ResponseContentDisposition": 'attachment; filename="x.pdf"'}
    assert storage.presigned_url(name, expires_in=120, params=params) == (
        botocore_url(client_, "get_object", storage.bucket_name, key, params, 120)
    )
    assert storage.url(name) == botocore_url(
        client_, "get_object", storage.bucket_name, key, {}, storage.querystring_expire
    )

    # And it works (with the real clock: a real S3 refuses URLs from the future).
    with mock.patch.object(presign, "clock", None):
        url = storage.url(name)
    assert requests.get(url, timeout=10).content == b"%PDF fast"


@pytest.mark.django_db
def test_upload_part_urls_sign_the_part_length(s3):
    storage = get_storage("private")
    url = storage.presigned_url(
        "big.bin",
        method="upload_part",
        params={"UploadId": "u-1", "PartNumber": 2, "ContentLength": 5 * 1024**2},
        expires_in=60,
    )
    assert "X-Amz-SignedHeaders=content-length%3Bhost" in url
    assert url == botocore_url(
        storage.connection.meta.client,
        "upload_part",
        storage.bucket_name,
        storage._key("big.bin"),
        {"UploadId": "u-1", "PartNumber": 2, "ContentLength": 5 * 1024**2},
        60,
    )


@pytest.mark.django_db
def test_public_urls_are_django_storages_own_byte_for_byte(s3):
    from storages.backends.s3 import S3Storage

    rng = random.Random(3)
    storage = get_storage("public")
    for _ in range(300):
        name = "/".join(
            "".join(rng.choice("abcXYZ09 -_.~!$&'()*+,;=:@%?#[]éü日本😀") for _ in range(6)).strip()
            or "x"
            for _ in range(rng.randint(1, 3))
        )
        if not is_valid_name(name):
            continue
        assert storage.url(name) == S3Storage.url(storage, name), name
    name = storage.save("pub/ü ber.txt", ContentFile(b"public bytes"))
    assert requests.get(storage.url(name), timeout=10).content == b"public bytes"
