from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from mediahub.dsn import parse

SECRET = "s3cr3t/with+special@chars"
ENCODED = "s3cr3t%2Fwith%2Bspecial%40chars"


def test_aws_virtual_hosted_form_gives_bucket_region_prefix_and_decoded_secret():
    entry = parse(f"s3://AKIA123:{ENCODED}@my-media.s3.eu-west-1.amazonaws.com/site/uploads")
    assert entry["BACKEND"] == "mediahub.storage.s3.PublicS3Storage"
    opts = entry["OPTIONS"]
    assert opts["bucket_name"] == "my-media"
    assert opts["region_name"] == "eu-west-1"
    assert opts["location"] == "site/uploads"
    assert opts["access_key"] == "AKIA123"
    assert opts["secret_key"] == SECRET
    assert opts["signature_version"] == "s3v4"
    assert "endpoint_url" not in opts


def test_aws_global_endpoint_defaults_to_us_east_1():
    opts = parse("s3://K:S@bucket-name.s3.amazonaws.com")["OPTIONS"]
    assert opts["region_name"] == "us-east-1"
    assert opts["bucket_name"] == "bucket-name"


def test_other_provider_is_path_style_https_with_endpoint():
    opts = parse("s3://K:S@fra1.digitaloceanspaces.com:8443/media/prefix/")["OPTIONS"]
    assert opts["endpoint_url"] == "https://fra1.digitaloceanspaces.com:8443"
    assert opts["bucket_name"] == "media"
    assert opts["location"] == "prefix"
    assert opts["addressing_style"] == "path"


def test_s3_http_is_plain_http_for_local_servers():
    opts = parse("s3+http://K:S@127.0.0.1:9000/bucket")["OPTIONS"]
    assert opts["endpoint_url"] == "http://127.0.0.1:9000"
    assert opts["url_protocol"] == "http:"


def test_credentials_may_be_omitted_for_the_default_chain():
    opts = parse("s3://my-media.s3.us-west-2.amazonaws.com")["OPTIONS"]
    assert opts["access_key"] is None and opts["secret_key"] is None


def test_query_parameters_override_defaults():
    opts = parse(
        "s3://K:S@minio.example.com/bkt?region=eu-central-1&domain=cdn.example.com&acl=public-read&expiry=600"
    )["OPTIONS"]
    assert opts["region_name"] == "eu-central-1"
    assert opts["custom_domain"] == "cdn.example.com"
    assert opts["default_acl"] == "public-read"
    assert opts["querystring_expire"] == 600


def test_acl_none_means_no_object_acl():
    assert parse("s3://K:S@h.example/bkt?acl=none")["OPTIONS"]["default_acl"] is None


def test_private_visibility_picks_the_private_backend():
    entry = parse("s3://K:S@bkt.s3.eu-west-1.amazonaws.com", visibility="private")
    assert entry["BACKEND"] == "mediahub.storage.s3.PrivateS3Storage"


def test_file_dsn_public_has_url_private_has_none(tmp_path):
    public = parse(f"file://{tmp_path}?url=/files/")
    assert public == {
        "BACKEND": "mediahub.storage.local.PublicFileSystemStorage",
        "OPTIONS": {"location": str(tmp_path), "base_url": "/files/"},
    }
    private = parse(f"file://{tmp_path}", visibility="private")
    assert private["BACKEND"] == "mediahub.storage.local.PrivateFileSystemStorage"
    assert "base_url" not in private["OPTIONS"]


def test_memory_dsn():
    assert parse("memory://")["BACKEND"] == "mediahub.storage.memory.PublicMemoryStorage"


@pytest.mark.parametrize(
    ("dsn", "part"),
    [
        ("", "the DSN"),
        ("no-scheme", "the scheme"),
        (f"ftp://K:{ENCODED}@host/bkt", "the scheme"),
        (f"s3://K:{ENCODED}@/bucket", "the host"),
        (f"s3://K:{ENCODED}@host.example", "the bucket"),
        (f"s3://K:{ENCODED}@host.example/Bad_Bucket", "the bucket"),
        (f"s3://K:{ENCODED}@host.example:99999/bkt", "the port"),
        (f"s3://K:{ENCODED}@host.example:abc/bkt", "the port"),
        (f"s3://:{ENCODED}@host.example/bkt", "the credentials"),
        (f"s3://{ENCODED}@host.example/bkt", "the credentials"),
        (f"s3://K:{ENCODED}@host.example/bkt?acl=everyone", "acl"),
        (f"s3://K:{ENCODED}@host.example/bkt?expiry=604801", "expiry"),
        (f"s3://K:{ENCODED}@host.example/bkt?expiry=-5", "expiry"),
        (f"s3://K:{ENCODED}@host.example/bkt?expiry=soon", "expiry"),
        (f"s3://K:{ENCODED}@host.example/bkt?colour=red", "query parameter"),
        (f"s3://K:{ENCODED}@host.example/bkt?region=eu-west-1&region=us-east-1", "query parameter"),
        (f"s3://K:{ENCODED}@host.example/bkt/../etc", "the prefix"),
        (f"s3://K:{ENCODED}@ho st.example/bkt", "the host"),
        (f"s3://K:{ENCODED}@host.example/bkt\n", "the DSN"),
        (f"s3+http://K:{ENCODED}@[::1/bkt", "the host"),
        (f"s3+http://K:{ENCODED}@[::1]9000/bkt", "the host"),
        ("file://relative/path", "the host"),
        ("file:///", "the path"),
        ("file:///srv/../etc", "the path"),
        ("memory://host", "a memory:// DSN"),
    ],
)
def test_malformed_dsn_names_the_part_and_never_the_secret(dsn, part):
    with pytest.raises(ImproperlyConfigured) as info:
        parse(dsn)
    message = str(info.value)
    assert part in message
    assert SECRET not in message and ENCODED not in message


@pytest.mark.parametrize(
    "dsn",
    [
        f"s3://K:{ENCODED}@bkt.s3.eu-west-1.amazonaws.com?acl=public-read",
        f"s3://K:{ENCODED}@bkt.s3.eu-west-1.amazonaws.com?domain=cdn.example.com",
        "file:///srv/private?url=/private/",
    ],
)
def test_private_storage_refuses_public_options(dsn):
    with pytest.raises(ImproperlyConfigured) as info:
        parse(dsn, visibility="private")
    assert ENCODED not in str(info.value)


def test_unknown_visibility_is_refused():
    with pytest.raises(ImproperlyConfigured):
        parse("memory://", visibility="secret")


def _secret_fragments(secret: str, size: int = 4) -> set[str]:
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


@pytest.mark.parametrize(
    ("dsn", "secret"),
    [
        # AWS secret keys contain '/' and '+': written unencoded, the '/' ends the host.
        (
            "s3://AKIA:wJalr/XUtnFEMI/K7MDENG@my-media.s3.eu-west-1.amazonaws.com/x",
            "wJalrXUtnFEMIK7MDENG",
        ),
        ("s3://AKIA:wJalrX/UtnFEMI@minio.example.com/bucket", "wJalrXUtnFEMI"),
        ("s3://AKIA:12345/UtnFEMIbcd@minio.example.com/bucket", "12345UtnFEMIbcd"),
        ("s3://AKIA:wJalrX?UtnF=EMIbcd@minio.example.com/bucket", "wJalrXUtnFEMIbcd"),
        ("s3://AKIA:wJalrX?UtnFEMIbcd@minio.example.com/bucket", "wJalrXUtnFEMIbcd"),
        # The '@' forgotten: the secret stands where the port would be.
        ("s3://AKIA:wJalrXUtnFEMI.minio.example.com/bucket", "wJalrXUtnFEMI"),
    ],
)
def test_unencoded_secret_is_never_echoed(dsn, secret):
    with pytest.raises(ImproperlyConfigured) as info:
        parse(dsn)
    message = str(info.value)
    assert "credentials" in message or "port" in message
    leaked = [part for part in _secret_fragments(secret) if part in message]
    assert not leaked, message


@pytest.mark.parametrize(
    ("dsn", "part"),
    [
        ("s3://K:S@host.example/bkt%0A", "the bucket"),
        ("s3://K:S@host.example/bkt?region=eu-west-1%0A", "the region"),
        ("s3://K:S@host.example:\u00b2/bkt", "the port"),
        ("s3://K:S@host.example/bkt?expiry=\u00b2", "expiry"),
        ("s3://K:S@host.example/bkt?expiry=\u0661\u0662", "expiry"),
    ],
)
def test_trailing_newlines_and_non_ascii_digits_are_refused(dsn, part):
    with pytest.raises(ImproperlyConfigured) as info:
        parse(dsn)
    assert part in str(info.value)


def test_ipv6_endpoint_and_prefix():
    opts = parse("s3+http://K:S@[::1]:9000/bucket/site/media/")["OPTIONS"]
    assert opts["endpoint_url"] == "http://[::1]:9000"
    assert opts["bucket_name"] == "bucket"
    assert opts["location"] == "site/media"


def test_at_sign_in_a_prefix_without_credentials_is_fine():
    opts = parse("s3://my-media.s3.eu-west-1.amazonaws.com/users@example/")["OPTIONS"]
    assert opts["location"] == "users@example"
