"""mediahub_cors merges per origin: two sites sharing a bucket keep each other's origins."""

from __future__ import annotations

import io

import pytest
import requests
from django.core.management import call_command

from mediahub.operations import cors

SITE_A = "https://a.example.test"
SITE_B = "https://b.example.test"


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("mediahub_cors", *args, stdout=out)
    return out.getvalue()


def rules(s3, bucket: str) -> dict[str, dict]:
    return {
        rule.get("ID", ""): rule for rule in s3.client().get_bucket_cors(Bucket=bucket)["CORSRules"]
    }


def preflight(s3, bucket: str, origin: str) -> requests.Response:
    return requests.options(
        s3.object_url(bucket, "new/a.json"),
        headers={"Origin": origin, "Access-Control-Request-Method": "GET"},
        timeout=10,
    )


@pytest.mark.s3semantics
def test_second_site_adds_its_origin_without_removing_the_first(s3):
    run("--storage", "public", "--origin", SITE_A, "--apply")
    assert preflight(s3, s3.public_bucket, SITE_A).status_code == 200
    # Another site (other settings, same bucket) applies its own origin.
    out = run("--storage", "public", "--origin", SITE_B, "--apply")
    assert "1 updated" in out
    media = rules(s3, s3.public_bucket)[cors.MEDIA_RULE]
    assert sorted(media["AllowedOrigins"]) == [SITE_A, SITE_B]
    assert preflight(s3, s3.public_bucket, SITE_A).status_code == 200
    assert preflight(s3, s3.public_bucket, SITE_B).status_code == 200
    # Each site applying again changes nothing.
    assert "up to date" in run("--storage", "public", "--origin", SITE_A, "--apply")
    assert "0 updated" in run("--storage", "public", "--origin", SITE_B, "--apply")


def test_replace_keeps_only_the_given_origins(s3):
    run("--storage", "public", "--origin", SITE_A, "--apply")
    run("--storage", "public", "--origin", SITE_B, "--apply", "--replace")
    found = rules(s3, s3.public_bucket)
    assert found[cors.MEDIA_RULE]["AllowedOrigins"] == [SITE_B]
    assert found[cors.UPLOAD_RULE]["AllowedOrigins"] == [SITE_B]


def test_a_private_only_site_keeps_the_public_sites_media_rule(s3, settings):
    from mediahub import dsn

    # Site A serves media from the bucket; site B uses it as its private storage.
    run("--storage", "public", "--origin", SITE_A, "--apply")
    settings.STORAGES = {
        **settings.STORAGES,
        "private": dsn.parse(s3.layout.dsn(s3.public_bucket, "site-b"), visibility="private"),
    }
    run("--storage", "private", "--origin", SITE_B, "--apply")
    found = rules(s3, s3.public_bucket)
    assert found[cors.MEDIA_RULE]["AllowedOrigins"] == [SITE_A]
    assert sorted(found[cors.UPLOAD_RULE]["AllowedOrigins"]) == [SITE_A, SITE_B]


def test_merge_keeps_foreign_rules_and_merges_origins():
    foreign = {"ID": "cdn", "AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}
    no_id = {"AllowedOrigins": ["https://x.test"], "AllowedMethods": ["GET"]}
    old = {**cors.required_rules("public", [SITE_A])[0]}
    merged = cors.merge([foreign, old, no_id], cors.required_rules("public", [SITE_B]))
    assert merged[:2] == [foreign, no_id]
    by_id = {rule["ID"]: rule for rule in merged[2:]}
    assert by_id[cors.MEDIA_RULE]["AllowedOrigins"] == [SITE_A, SITE_B]
    assert by_id[cors.UPLOAD_RULE]["AllowedOrigins"] == [SITE_B]
