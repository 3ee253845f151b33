"""mediahub_doctor against moto's server: passes on the demo layout, fails when open."""

from __future__ import annotations

import io
import json
import re
from email.utils import parsedate_to_datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mediahub.operations import doctor
from mediahub.testing.s3server import create_layout, public_read_policy


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("mediahub_doctor", *args, stdout=out)
    except CommandError as error:
        return error.returncode, out.getvalue()
    return 0, out.getvalue()


def checks(report: doctor.DoctorReport, alias: str) -> dict[str, str]:
    (health,) = [h for h in report.storages if h.alias == alias]
    return {check.name: check.status for check in health.checks}


#: moto's server lets anyone list a bucket and write new objects (it checks anonymous
#: reads only): there the doctor truthfully fails these; Ceph RGW and AWS refuse both.
MOTO_OPEN = {"anonymous list", "anonymous write"}


def failures(report: doctor.DoctorReport) -> set[str]:
    return {c.name for h in report.storages for c in h.checks if c.status == doctor.FAIL}


def assert_healthy(s3, report: doctor.DoctorReport) -> None:
    """No failure (on moto: none but the anonymous list/write moto cannot refuse)."""
    if s3.endpoint.is_real:
        assert failures(report) == set()
    else:
        assert failures(report) <= MOTO_OPEN


def healthy_exit(s3) -> int:
    return 0 if s3.endpoint.is_real else 1


@pytest.mark.s3semantics
def test_demo_layout_passes(s3):
    # The demo's buckets: create_layout with the site's origins, as `make demo` does.
    create_layout(
        s3.endpoint.url,
        s3.public_bucket,
        s3.private_bucket,
        access_key=s3.endpoint.access_key,
        secret_key=s3.endpoint.secret_key,
        cors_origins=["http://127.0.0.1:8000"],
    )
    code, out = run()
    assert code == healthy_exit(s3), out
    report = doctor.diagnose(["default", "private"])
    assert_healthy(s3, report)
    public = checks(report, "default")
    assert set(public) == {
        "bucket reachable",
        "clock skew",
        "region",
        "credentials (write)",
        "anonymous read",
        "anonymous list",
        "anonymous write",
        "block public access",
        "cors",
        "lifecycle",
        "incomplete uploads",
        "conditional writes",
    }
    for name in ("bucket reachable", "clock skew", "region", "anonymous read", "cors"):
        assert public[name] == "ok", name
    private = checks(report, "private")
    assert private["anonymous read"] == "ok" and private["block public access"] == "ok"
    assert private["bucket policy"] == "ok"
    assert private["cors"] == "ok"  # the demo allows direct uploads too
    if s3.endpoint.is_real:
        assert "0 failure(s)" in out
        assert private["anonymous list"] == private["anonymous write"] == "ok"
        assert public["anonymous write"] == "ok"


def test_missing_cors_is_a_warning_not_a_failure(s3):
    code, out = run()
    assert code == healthy_exit(s3), out
    assert "no rule allows GET (media loaded by JavaScript): run mediahub_cors --apply" in out
    assert "no rule allows PUT (direct uploads)" in out
    # The probe objects are gone again.
    assert s3.keys(s3.public_bucket) == [] and s3.keys(s3.private_bucket) == []


@pytest.mark.s3semantics
def test_private_bucket_with_public_policy_fails(s3):
    client = s3.client()
    client.delete_public_access_block(Bucket=s3.private_bucket)
    client.put_bucket_policy(Bucket=s3.private_bucket, Policy=public_read_policy(s3.private_bucket))
    code, out = run("--storage", "private")
    assert code == 1
    assert "a stranger can read the private storage" in out
    assert "lets anyone read private objects" in out
    report = doctor.diagnose(["private"])
    status = checks(report, "private")
    assert status["anonymous read"] == status["bucket policy"] == "fail"
    assert status["block public access"] == "fail"


@pytest.mark.s3semantics
def test_public_bucket_not_readable_fails(s3):
    s3.client().delete_bucket_policy(Bucket=s3.public_bucket)
    code, out = run("--storage", "public")
    assert code == 1
    assert "a stranger cannot read the public storage" in out


def test_json_output(s3):
    code, out = run("--json")
    data = json.loads(out)
    assert code == healthy_exit(s3) and data["ok"] is s3.endpoint.is_real
    assert [s["alias"] for s in data["storages"]] == ["default", "private"]
    failed = {c["name"] for s in data["storages"] for c in s["checks"] if c["status"] == "fail"}
    assert failed <= (set() if s3.endpoint.is_real else MOTO_OPEN)


def test_clock_skew_is_measured_against_the_server_date(s3):
    server = doctor.diagnose(["default"])
    assert checks(server, "default")["clock skew"] == "ok"
    head = s3.client().head_bucket(Bucket=s3.public_bucket)
    server_now = parsedate_to_datetime(head["ResponseMetadata"]["HTTPHeaders"]["date"]).timestamp()
    late = doctor.diagnose(["default"], clock=lambda: server_now + 600)
    assert checks(late, "default")["clock skew"] == "fail"
    (health,) = late.storages
    (skew,) = [c for c in health.checks if c.name == "clock skew"]
    assert re.match(r"\+(5[89]\d|60\d) s against the S3 server", skew.detail), skew.detail
    assert "NTP" in skew.detail
    slightly = doctor.diagnose(["default"], clock=lambda: server_now - 60)
    assert checks(slightly, "default")["clock skew"] == "warning"


def test_missing_bucket_fails_clearly(s3):
    client = s3.client()
    client.delete_bucket_policy(Bucket=s3.public_bucket)
    client.delete_bucket(Bucket=s3.public_bucket)
    code, out = run("--storage", "public")
    assert code == 1
    assert f"bucket {s3.public_bucket!r} does not exist: check the DSN" in out


def test_s3_errors_are_reported_per_check(s3, fail_s3, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    fail_s3("GetBucketCors", status=500)
    report = doctor.diagnose(["default"])
    (health,) = report.storages
    (cors,) = [c for c in health.checks if c.name == "cors"]
    assert cors.status == "fail" and "GetBucketCors failed with InternalError" in cors.detail
    assert checks(report, "default")["anonymous read"] == "ok"  # the other checks still ran


def test_local_storages_are_skipped(settings, tmp_path):
    from mediahub import dsn

    settings.STORAGES = {
        **settings.STORAGES,
        "default": dsn.parse(f"file://{tmp_path}/pub?url=/m/"),
        "private": dsn.parse(f"file://{tmp_path}/prv", visibility="private"),
    }
    code, out = run()
    assert code == 0 and "local storage" in out and "2 skipped" in out


def test_unknown_storage_is_a_clear_error(s3):
    with pytest.raises(CommandError, match="No storage named 'nope'"):
        call_command("mediahub_doctor", "--storage", "nope", stdout=io.StringIO())


def test_works_when_only_a_public_storage_is_configured(s3, settings):
    settings.STORAGES = {k: v for k, v in settings.STORAGES.items() if k != "private"}
    report = doctor.diagnose(["default"])
    assert_healthy(s3, report)
    assert checks(report, "default")["anonymous read"] == "ok"


def test_storage_that_cannot_be_built_is_a_failure_not_a_traceback(s3, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {
            "BACKEND": "mediahub.storage.s3.PrivateS3Storage",
            "OPTIONS": {"bucket_name": "prv", "secret_key": "TopSecretValue", "acl": "x"},
        },
    }
    code, out = run()
    assert code == 1
    assert "private" in out and "cannot be built" in out
    assert "TopSecretValue" not in out
    assert "anonymous read" in out  # the public storage was still checked


def test_unparseable_date_header_is_skipped_not_a_crash(s3, monkeypatch):
    health = doctor.StorageHealth("public", "public", "")
    from mediahub.storage import get_storage

    checker = doctor._Doctor(get_storage("public"), health, lambda: 0.0)
    checker.clock_skew({"ResponseMetadata": {"HTTPHeaders": {"date": "not a date"}}})
    assert [c.status for c in health.checks] == [doctor.SKIP]
