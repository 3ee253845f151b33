"""mediahub_cors: rules shown, applied, merged, and real preflights against moto."""

from __future__ import annotations

import io
import json

import pytest
import requests
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from mediahub.operations import cors
from mediahub.storage import get_storage

ORIGIN = "https://www.example.test"


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("mediahub_cors", *args, stdout=out)
    return out.getvalue()


def preflight(s3, bucket: str, key: str, method: str, origin: str = ORIGIN) -> requests.Response:
    return requests.options(
        s3.object_url(bucket, key),
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=10,
    )


# moto maps OPTIONS on an *existing* object to the action "s3:OptionsObject" (which no
# policy grants), so preflights here target keys that do not exist yet, as a direct
# upload does; real S3 answers preflights the same for any key.
@pytest.mark.s3semantics
def test_preflight_fails_before_apply_and_succeeds_after(s3):
    for bucket, key, method in (
        (s3.public_bucket, "new/a.json", "GET"),
        (s3.private_bucket, "uploads/big.bin", "PUT"),
    ):
        before = preflight(s3, bucket, key, method)
        # A browser refuses any answer without Allow-Origin; real S3 also says 403.
        assert "Access-Control-Allow-Origin" not in before.headers
        if s3.endpoint.is_real:
            assert before.status_code == 403

    out = run("--origin", ORIGIN, "--apply")
    assert "applied" in out and "2 updated" in out

    answer = preflight(s3, s3.public_bucket, "new/a.json", "GET")
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN
    upload = preflight(s3, s3.private_bucket, "uploads/big.bin", "PUT")
    assert upload.status_code == 200
    assert "PUT" in upload.headers["Access-Control-Allow-Methods"]
    assert "ETag" in upload.headers["Access-Control-Expose-Headers"]
    other = preflight(s3, s3.public_bucket, "new/a.json", "GET", origin="https://evil.test")
    assert other.status_code == 403
    assert "Access-Control-Allow-Origin" not in other.headers


@pytest.mark.s3semantics
def test_cross_origin_get_carries_allow_origin_after_apply(s3):
    get_storage("public").save("data/hello.json", ContentFile(b'{"message": "hi"}'))
    url = s3.object_url(s3.public_bucket, "data/hello.json")
    before = requests.get(url, headers={"Origin": ORIGIN}, timeout=10)
    assert before.status_code == 200 and "Access-Control-Allow-Origin" not in before.headers
    run("--origin", ORIGIN, "--apply", "--storage", "public")
    after = requests.get(url, headers={"Origin": ORIGIN}, timeout=10)
    assert after.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "ETag" in after.headers["Access-Control-Expose-Headers"]


@pytest.mark.s3semantics
def test_unrelated_rules_survive_and_second_apply_changes_nothing(s3):
    client = s3.client()
    legacy = {
        "ID": "legacy-widget",
        "AllowedOrigins": ["https://widget.partner.test"],
        "AllowedMethods": ["GET"],
        "MaxAgeSeconds": 60,
    }
    client.put_bucket_cors(Bucket=s3.public_bucket, CORSConfiguration={"CORSRules": [legacy]})
    run("--origin", ORIGIN, "--apply")
    rules = client.get_bucket_cors(Bucket=s3.public_bucket)["CORSRules"]
    assert [rule["ID"] for rule in rules] == ["legacy-widget", "mediahub-media", "mediahub-upload"]
    assert rules[0]["AllowedOrigins"] == ["https://widget.partner.test"]
    private_rules = client.get_bucket_cors(Bucket=s3.private_bucket)["CORSRules"]
    assert [rule["ID"] for rule in private_rules] == ["mediahub-upload"]
    assert private_rules[0]["ExposeHeaders"] == ["ETag"]

    out = run("--origin", ORIGIN, "--apply")
    assert "0 updated" in out and out.count("up to date") == 2
    if s3.endpoint.is_real:  # moto refuses a preflight when any rule misses the origin
        assert preflight(s3, s3.public_bucket, "new/a.json", "GET").status_code == 200


def test_without_apply_nothing_is_written(s3):
    out = run("--origin", ORIGIN)
    assert "run with --apply" in out and "2 pending" in out
    with pytest.raises(Exception, match="NoSuchCORSConfiguration"):
        s3.client().get_bucket_cors(Bucket=s3.public_bucket)


def test_json_output(s3):
    data = json.loads(run("--origin", ORIGIN, "--json", "--storage", "private"))
    assert data["origins"] == [ORIGIN]
    (bucket,) = data["buckets"]
    assert bucket["bucket"] == s3.private_bucket and not bucket["up_to_date"]
    assert bucket["wanted"][0]["AllowedMethods"] == ["PUT", "POST"]


@override_settings(
    CSRF_TRUSTED_ORIGINS=["https://shop.example.com"],
    ALLOWED_HOSTS=["shop.example.com", ".cdn-site.test", "*"],
    DEBUG=False,
)
def test_origins_default_from_settings():
    assert cors.default_origins() == [
        "https://shop.example.com",
        "https://*.cdn-site.test",
    ]


@pytest.mark.parametrize(
    "origin",
    [
        "example.com",
        "ftp://x.test",
        "https://x.test/path",
        "https://u:p@x.test",
        "https://*",
        "https://*.com",
        "https://x*.test",
        "https://*.x.test:*",
    ],
)
def test_bad_origin_is_refused_and_nothing_written(s3, origin):
    with pytest.raises(CommandError, match="is not an origin"):
        run("--origin", origin, "--apply")
    with pytest.raises(Exception, match="NoSuchCORSConfiguration"):
        s3.client().get_bucket_cors(Bucket=s3.public_bucket)


@override_settings(CSRF_TRUSTED_ORIGINS=[], ALLOWED_HOSTS=[])
def test_no_origin_at_all_is_a_clear_error(s3):
    with pytest.raises(CommandError, match="No origin to allow"):
        run("--apply")


def test_s3_failure_is_one_clear_line(s3, fail_s3, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    fail_s3("PutBucketCors", status=500)
    with pytest.raises(CommandError, match="PutBucketCors failed with InternalError"):
        run("--origin", ORIGIN, "--apply")


@pytest.mark.browser
@pytest.mark.s3semantics
def test_front_page_javascript_fetch_works_after_apply(s3, live_server, browser_page):
    get_storage("public").save(
        "data/hello.json", ContentFile(b'{"message": "Hello from the public bucket"}')
    )
    browser_page.goto(live_server.url + "/")
    result = browser_page.locator("#cors-result")
    browser_page.wait_for_selector("#cors-result[data-state]")
    assert result.get_attribute("data-state") == "failed"

    run("--origin", live_server.url, "--apply", "--storage", "public")
    browser_page.reload()
    browser_page.wait_for_selector("#cors-result[data-state=ok]")
    assert "Hello from the public bucket" in result.inner_text()


def test_shared_bucket_gets_one_rule_set(s3, settings):
    from mediahub import dsn

    settings.STORAGES = {
        **settings.STORAGES,
        "default": dsn.parse(s3.layout.dsn(s3.public_bucket, "public")),
        "private": dsn.parse(s3.layout.dsn(s3.public_bucket, "private"), visibility="private"),
    }
    out = run("--origin", ORIGIN, "--apply")
    assert "Bucket " + s3.public_bucket + " (default, private)" in out and "1 updated" in out
    rules = s3.client().get_bucket_cors(Bucket=s3.public_bucket)["CORSRules"]
    assert [rule["ID"] for rule in rules] == ["mediahub-media", "mediahub-upload"]


def test_subdomain_wildcard_origin_is_accepted():
    assert cors.check_origin("https://*.example.com/") == "https://*.example.com"


@override_settings(CSRF_TRUSTED_ORIGINS=[], ALLOWED_HOSTS=[".localhost", "www.example.com", "*"])
def test_allowed_hosts_that_are_no_safe_origin_are_left_out():
    assert cors.default_origins() == ["https://www.example.com"]
