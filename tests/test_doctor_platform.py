"""What the platform leaves behind, and doors left open: doctor finds, audit --fix cleans.

Incomplete multipart uploads (killed instances, billed forever) and the lifecycle rule
that aborts them; anonymous LIST and WRITE on both buckets; the storage-write layer's
conditional-write probe.
"""

from __future__ import annotations

import json

import pytest
from django.core.files.storage import storages

from mediahub.operations import bucket, doctor
from tests.commands import run_audit as audit

pytestmark = pytest.mark.django_db


def check(alias: str, name: str) -> doctor.Check:
    (health,) = doctor.diagnose([alias]).storages
    (found,) = [c for c in health.checks if c.name == name]
    return found


def lifecycle(s3, bucket_name: str) -> list[dict]:
    try:
        return s3.client().get_bucket_lifecycle_configuration(Bucket=bucket_name)["Rules"]
    except s3.client().exceptions.ClientError:
        return []


EXPIRE_TMP = {
    "ID": "site-expire-tmp",
    "Status": "Enabled",
    "Filter": {"Prefix": "tmp/"},
    "Expiration": {"Days": 7},
}


@pytest.mark.s3semantics
def test_missing_abort_rule_is_reported_and_fix_merges_it_with_existing_rules(s3):
    client = s3.client()
    client.put_bucket_lifecycle_configuration(
        Bucket=s3.public_bucket, LifecycleConfiguration={"Rules": [EXPIRE_TMP]}
    )
    for alias in ("public", "private"):
        found = check(alias, "lifecycle")
        assert found.status == doctor.WARNING and "mediahub_audit --fix" in found.detail

    code, out = audit("--fix")
    assert code == 0, out
    assert out.count("FIXED lifecycle") == 2
    public_rules = {rule["ID"]: rule for rule in lifecycle(s3, s3.public_bucket)}
    assert set(public_rules) == {"site-expire-tmp", bucket.ABORT_RULE_ID}
    assert public_rules["site-expire-tmp"]["Expiration"] == {"Days": 7}
    assert public_rules[bucket.ABORT_RULE_ID]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 1
    }
    assert [rule["ID"] for rule in lifecycle(s3, s3.private_bucket)] == [bucket.ABORT_RULE_ID]
    for alias in ("public", "private"):
        assert check(alias, "lifecycle").status == doctor.OK

    before = lifecycle(s3, s3.public_bucket)
    code, out = audit("--fix")
    assert code == 0 and "FIXED" not in out
    assert lifecycle(s3, s3.public_bucket) == before


def test_a_site_rule_that_already_aborts_uploads_is_enough(s3):
    rule = {
        "ID": "site-abort",
        "Status": "Enabled",
        "Filter": {},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 3},
    }
    s3.client().put_bucket_lifecycle_configuration(
        Bucket=s3.public_bucket, LifecycleConfiguration={"Rules": [rule]}
    )
    found = check("public", "lifecycle")
    assert found.status == doctor.OK and "site-abort" in found.detail and "3 day" in found.detail
    code, out = audit("--storage", "public", "--fix")
    assert "lifecycle" not in out
    assert [r["ID"] for r in lifecycle(s3, s3.public_bucket)] == ["site-abort"]


@pytest.mark.parametrize(
    ("rule", "covers"),
    [
        ({"Status": "Enabled", "Filter": {"Prefix": ""}}, True),
        ({"Status": "Enabled", "Prefix": ""}, True),  # the legacy form
        ({"Status": "Disabled", "Filter": {}}, False),
        ({"Status": "Enabled", "Filter": {"Prefix": "uploads/"}}, False),
        ({"Status": "Enabled", "Filter": {"Tag": {"Key": "a", "Value": "b"}}}, False),
        ({"Status": "Enabled", "Filter": {"And": {"Prefix": ""}}}, True),
    ],
)
def test_which_rules_cover_the_storage(s3, rule, covers):
    rule = {**rule, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}
    assert (bucket.abort_rule([rule], storages["default"]) is not None) is covers


def start_upload(s3, bucket_name: str, key: str, size: int = 5 * 1024**2) -> str:
    client = s3.client()
    upload = client.create_multipart_upload(Bucket=bucket_name, Key=key)["UploadId"]
    client.upload_part(Bucket=bucket_name, Key=key, UploadId=upload, PartNumber=1, Body=b"x" * size)
    return upload


@pytest.mark.s3semantics
def test_left_behind_uploads_are_reported_and_fix_aborts_them(s3, monkeypatch):
    start_upload(s3, s3.private_bucket, "big/video.mp4")
    if s3.endpoint.is_real:  # moto dates every upload in 2010
        found = check("private", "incomplete uploads")
        assert found.status == doctor.OK  # just started: a live upload, not a leftover
        monkeypatch.setattr(bucket, "INCOMPLETE_UPLOAD_DAYS", 0)  # "older than a day" now
    found = check("private", "incomplete uploads")
    assert found.status == doctor.WARNING
    assert "1 multipart upload(s)" in found.detail and "5.0 MiB" in found.detail

    code, out = audit("--storage", "private", "--json")
    (report,) = json.loads(out)["storages"]
    (leftover,) = [f for f in report["findings"] if f["kind"] == "incomplete-upload"]
    assert leftover["target"] == "big/video.mp4" and not leftover["fixed"]
    assert s3.client().list_multipart_uploads(Bucket=s3.private_bucket).get("Uploads")

    code, out = audit("--storage", "private", "--fix")
    assert "FIXED incomplete-upload: big/video.mp4" in out and "aborted" in out
    assert not s3.client().list_multipart_uploads(Bucket=s3.private_bucket).get("Uploads")
    assert check("private", "incomplete uploads").status == doctor.OK
    code, out = audit("--storage", "private", "--fix")
    assert "FIXED" not in out


def open_policy(bucket_name: str, *actions: str, resource: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Open",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": list(actions),
                    "Resource": resource,
                }
            ],
        }
    )


@pytest.mark.s3semantics
def test_anonymous_write_allowed_by_policy_fails_and_the_probe_is_cleaned_up(s3):
    client = s3.client()
    policy = json.loads(client.get_bucket_policy(Bucket=s3.public_bucket)["Policy"])
    policy["Statement"].append(
        {
            "Sid": "OpenWrite",
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["s3:PutObject"],
            "Resource": f"arn:aws:s3:::{s3.public_bucket}/*",
        }
    )
    client.put_bucket_policy(Bucket=s3.public_bucket, Policy=json.dumps(policy))
    found = check("public", "anonymous write")
    assert found.status == doctor.FAIL
    assert "a stranger can write" in found.detail and "probe object was deleted" in found.detail
    assert s3.keys(s3.public_bucket) == []


@pytest.mark.s3semantics
def test_anonymous_list_of_the_private_bucket_fails(s3):
    client = s3.client()
    client.delete_public_access_block(Bucket=s3.private_bucket)
    client.put_bucket_policy(
        Bucket=s3.private_bucket,
        Policy=open_policy(
            s3.private_bucket, "s3:ListBucket", resource=f"arn:aws:s3:::{s3.private_bucket}"
        ),
    )
    found = check("private", "anonymous list")
    assert found.status == doctor.FAIL and "s3:ListBucket" in found.detail


@pytest.mark.s3semantics
def test_anonymous_list_and_write_are_refused_on_the_recommended_layout(s3):
    if not s3.endpoint.is_real:
        pytest.skip("moto's server lets anyone list and write (it checks anonymous reads only)")
    for alias in ("public", "private"):
        assert check(alias, "anonymous write").status == doctor.OK
    assert check("private", "anonymous list").status == doctor.OK


def test_conditional_write_check_uses_the_storage_probe(s3, monkeypatch):
    from mediahub.storage import conditional

    found = check("public", "conditional writes")
    if s3.endpoint.is_real or found.status == doctor.OK:
        assert "412" in found.detail or found.status == doctor.WARNING
    ignored = conditional.ConditionalSupport(
        put=False, copy=False, detail="conditional PutObject: accepted, the header is ignored"
    )
    monkeypatch.setattr(conditional, "probe", lambda storage, refresh=False: ignored)
    found = check("public", "conditional writes")
    assert found.status == doctor.WARNING and "race window" in found.detail
    storage = storages["default"]
    monkeypatch.setattr(storage, "conditional_writes", "on", raising=False)
    (health,) = [h for h in [doctor.StorageHealth("default", "public", "")]]
    doctor._Doctor(storage, health, lambda: 0.0).conditional_writes()
    (result,) = health.checks
    assert result.status == doctor.FAIL and "conditional_writes=on" in result.detail
