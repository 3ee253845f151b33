"""--fix-policy turns Block Public Access on, then proves the owner can still write.

Ceph RGW 16 refuses the owner's own uploads while BlockPublicAcls is on (Ceph bug
49135): the audit must not leave a private storage that cannot save any more.
"""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages

from mediahub.operations import bucket
from tests.commands import run_audit as run


def switches(s3) -> dict[str, bool]:
    try:
        answer = s3.client().get_public_access_block(Bucket=s3.private_bucket)
    except s3.client().exceptions.ClientError:
        return {}
    return answer["PublicAccessBlockConfiguration"]


FIX = ("--storage", "private", "--fix", "--fix-policy", "--noinput")


@pytest.mark.s3semantics
def test_fix_policy_leaves_a_private_storage_that_can_still_save(s3):
    s3.client().delete_public_access_block(Bucket=s3.private_bucket)
    code, out = run(*FIX)
    assert code == 0, out
    assert "FIXED block-public-access" in out
    assert switches(s3)["IgnorePublicAcls"] and switches(s3)["RestrictPublicBuckets"]
    name = storages["private"].save("after-fix.txt", ContentFile(b"still writable"))
    assert storages["private"].open(name).read() == b"still writable"
    assert not [k for k in s3.keys(s3.private_bucket) if k.startswith(".mediahub-audit/")]


def ceph_49135(s3, *, always: bool = False):
    """A write check that answers as Ceph RGW 16 does: refused while BlockPublicAcls is on."""

    def write_refused(storage) -> str:
        if always or switches(s3).get("BlockPublicAcls"):
            return "PutObject failed with AccessDenied"
        return bucket.write_refused.__wrapped__(storage)

    write_refused.__wrapped__ = bucket.write_refused
    return write_refused


def test_block_public_acls_that_refuses_the_owner_is_left_off(s3, monkeypatch):
    original = bucket.write_refused
    monkeypatch.setattr(bucket, "write_refused", ceph_49135(s3))
    s3.client().delete_public_access_block(Bucket=s3.private_bucket)
    code, out = run(*FIX)
    assert code == 0, out
    assert "except BlockPublicAcls" in out and "Ceph RGW bug 49135" in out
    assert switches(s3) == {**bucket.BLOCK_ALL, "BlockPublicAcls": False}
    assert original(storages["private"]) == ""  # and the storage can write
    assert not [k for k in s3.keys(s3.private_bucket) if k.startswith(".mediahub-audit/")]


def test_switches_are_rolled_back_when_no_setting_lets_the_owner_write(s3, monkeypatch):
    monkeypatch.setattr(bucket, "write_refused", ceph_49135(s3, always=True))
    client = s3.client()
    client.put_public_access_block(
        Bucket=s3.private_bucket,
        PublicAccessBlockConfiguration={**bucket.BLOCK_ALL, "RestrictPublicBuckets": False},
    )
    code, out = run(*FIX)
    assert code == 1, out
    assert "rolled back" in out and "previous switches are restored" in out
    assert switches(s3) == {**bucket.BLOCK_ALL, "RestrictPublicBuckets": False}


def test_write_probe_reports_a_refused_write_and_leaves_nothing(s3, fail_s3, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    assert bucket.write_refused(storages["private"]) == ""
    fail_s3("PutObject", status=403)
    assert "PutObject" in bucket.write_refused(storages["private"])
    assert s3.keys(s3.private_bucket) == []
