"""audit --fix removes only public grants: other grants (a CloudFront OAI) are kept."""

from __future__ import annotations

import pytest

from mediahub.operations import bucket
from tests.commands import run_audit as run

#: A CloudFront origin access identity's canonical user (reads the bucket for the CDN).
OAI = "b970b42360b81c8ddbd79d2f5df0069ba9033c8a79655752abe380cd6d63ba8bcf23384d"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"


def other_grant(s3, owner: dict) -> dict:
    """The grant a canned ACL would drop: a CloudFront OAI; on RGW (which knows no such
    user) the owner's own READ_ACP beside FULL_CONTROL."""
    if s3.endpoint.kind == "rgw":
        return {"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "READ_ACP"}
    return {"Grantee": {"Type": "CanonicalUser", "ID": OAI}, "Permission": "READ"}


def label(grant: dict) -> str:
    return grant["Grantee"]["ID"] + ":" + grant["Permission"]


def put_with_grants(s3, bucket_name: str, key: str, *public: str) -> dict:
    if not s3.endpoint.is_real:
        pytest.skip("moto ignores the grants of a PutObjectAcl AccessControlPolicy")
    client = s3.client()
    client.put_object(Bucket=bucket_name, Key=key, Body=b"data")
    acl = client.get_object_acl(Bucket=bucket_name, Key=key)
    grants = [g for g in acl["Grants"] if g["Grantee"].get("ID") == acl["Owner"]["ID"]]
    grants.append(other_grant(s3, acl["Owner"]))
    for uri in public:
        grants.append({"Grantee": {"Type": "Group", "URI": uri}, "Permission": "READ"})
    client.put_object_acl(
        Bucket=bucket_name,
        Key=key,
        AccessControlPolicy={"Owner": acl["Owner"], "Grants": grants},
    )
    return acl["Owner"]


def grantees(s3, bucket_name: str, key: str) -> set[str]:
    acl = s3.client().get_object_acl(Bucket=bucket_name, Key=key)
    return {
        g["Grantee"].get("URI") or g["Grantee"].get("ID") + ":" + g["Permission"]
        for g in acl["Grants"]
    }


@pytest.mark.s3semantics
def test_fix_removes_public_grants_and_keeps_other_grants(s3):
    s3.client().delete_public_access_block(Bucket=s3.private_bucket)
    owner = put_with_grants(s3, s3.private_bucket, "docs/a.pdf", ALL_USERS, AUTHENTICATED)
    assert s3.anonymous_get(s3.private_bucket, "docs/a.pdf").status_code == 200

    code, out = run("--storage", "private", "--fix", "--fix-policy", "--noinput")
    assert code == 0, out
    assert "removed 2 public grant(s) from the object ACL; 1 other grant(s) kept" in out
    assert grantees(s3, s3.private_bucket, "docs/a.pdf") == {
        f"{owner['ID']}:FULL_CONTROL",
        label(other_grant(s3, owner)),
    }
    assert s3.anonymous_get(s3.private_bucket, "docs/a.pdf").status_code == 403

    code, out = run("--storage", "private", "--fix", "--fix-policy", "--noinput")
    assert code == 0 and "FIXED" not in out
    assert label(other_grant(s3, owner)) in grantees(s3, s3.private_bucket, "docs/a.pdf")


@pytest.mark.s3semantics
def test_public_storage_using_acls_gets_all_users_read_added_not_replaced(s3, settings):
    from mediahub import dsn

    settings.STORAGES = {
        **settings.STORAGES,
        "default": dsn.parse(s3.layout.public_dsn + "&acl=public-read"),
    }
    s3.client().delete_bucket_policy(Bucket=s3.public_bucket)
    owner = put_with_grants(s3, s3.public_bucket, "img/a.jpg")
    code, out = run("--storage", "public", "--fix")
    assert "FIXED not-readable: img/a.jpg" in out, out
    assert "added AllUsers READ to the object ACL; 1 other grant(s) kept" in out
    found = grantees(s3, s3.public_bucket, "img/a.jpg")
    assert ALL_USERS in found and label(other_grant(s3, owner)) in found


def test_acl_helpers_keep_owner_and_other_grants():
    owner = {"ID": "owner-id"}
    acl = {
        "Owner": owner,
        "Grants": [
            {"Grantee": {"Type": "CanonicalUser", "ID": "owner-id"}, "Permission": "FULL_CONTROL"},
            {"Grantee": {"Type": "CanonicalUser", "ID": OAI}, "Permission": "READ"},
            {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"},
            {"Grantee": {"Type": "Group", "URI": AUTHENTICATED}, "Permission": "WRITE"},
        ],
    }
    kept = bucket.acl_without_public_grants(acl)
    assert kept["Owner"] == owner
    assert [g["Grantee"].get("ID") for g in kept["Grants"]] == ["owner-id", OAI]
    assert [g["Grantee"]["ID"] for g in bucket.other_grants(acl)] == [OAI]
    public = bucket.acl_with_public_read(acl)
    assert bucket.public_grants(public) == ["AllUsers:READ"]
