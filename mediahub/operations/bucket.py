"""Bucket-level settings read and written through a storage's own client.

Block Public Access, the bucket policy (which statements let anyone read the
storage's objects), the ACL mode (ACLs are disabled on AWS buckets created since
April 2023), CORS rules, and the anonymous probe that asks S3 itself whether a
stranger can read an object.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from django.core.files.storage import Storage

from mediahub import retry
from mediahub.operations.objects import anonymous_client, base_prefix, client, nested_prefixes

#: The four Block Public Access switches, all on: nothing in the bucket can be public.
BLOCK_ALL = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
#: Grantees of an ACL that mean "anyone".
PUBLIC_GRANTEES = {
    "http://acs.amazonaws.com/groups/global/AllUsers": "AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers": "AuthenticatedUsers",
}
#: Answers of an anonymous GET that prove the object is readable (416: empty object).
READABLE_STATUSES = frozenset({200, 206, 304, 416})
#: S3 actions that allow reading an object.
_READ_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion")
#: Error codes saying a bucket has no such configuration (an answer, not a failure).
_MISSING = {
    "NoSuchPublicAccessBlockConfiguration",
    "NoSuchBucketPolicy",
    "NoSuchCORSConfiguration",
    "OwnershipControlsNotFoundError",
    "NoSuchLifecycleConfiguration",
}
#: Error codes saying the provider does not implement the request.
UNSUPPORTED = {"NotImplemented", "MethodNotAllowed", "UnsupportedOperation", "501"}


class NotSupported(Exception):
    """The S3 provider does not implement this request (reported, not fatal)."""


def _read(storage: Storage, method: str, policy: retry.RetryPolicy | None = None, **kwargs):
    """Call a ``get_bucket_*`` method; None when the configuration does not exist."""
    s3 = client(storage)
    try:
        return retry.call(getattr(s3, method), policy=policy, Bucket=storage.bucket_name, **kwargs)
    except ClientError as error:
        code = retry.error_code(error)
        if code in _MISSING or (code == "NoSuchKey" and method == "get_bucket_cors"):
            return None
        if code in UNSUPPORTED or retry.error_status(error) == 501:
            raise NotSupported(retry.describe(error)) from None
        raise


# -- Block Public Access ---------------------------------------------------------------
def public_access_block(storage: Storage) -> dict[str, bool]:
    """The bucket's Block Public Access switches (all False when none is set)."""
    answer = _read(storage, "get_public_access_block")
    config = (answer or {}).get("PublicAccessBlockConfiguration", {})
    return {name: bool(config.get(name, False)) for name in BLOCK_ALL}


def block_gaps(switches: dict[str, bool]) -> tuple[list[str], bool]:
    """The switches that are off, and whether that can expose objects.

    ``BlockPublicAcls`` alone off is not an exposure: with ``IgnorePublicAcls`` on, a
    public ACL can be written but S3 ignores it (some providers, e.g. Ceph RGW 16,
    refuse even private uploads while ``BlockPublicAcls`` is on).
    """
    off = [name for name, on in switches.items() if not on]
    return off, bool(set(off) - {"BlockPublicAcls"})


def write_refused(storage: Storage) -> str:
    """Write and delete a probe object as the storage does; ``""`` if it worked, else why."""
    import uuid

    from mediahub.operations.transfer import write_parameters

    name = f".mediahub-audit/write-probe-{uuid.uuid4().hex}.txt"
    key = base_prefix(storage) + name
    s3 = client(storage)
    try:
        retry.call(
            s3.put_object,
            Bucket=storage.bucket_name,
            Key=key,
            Body=b"mediahub audit: write probe\n",
            **write_parameters(storage, name),
        )
    except ClientError as error:
        return retry.describe(error)
    retry.call(s3.delete_object, Bucket=storage.bucket_name, Key=key)
    return ""


def put_public_access_block(storage: Storage, config: dict[str, bool]) -> None:
    retry.call(
        client(storage).put_public_access_block,
        Bucket=storage.bucket_name,
        PublicAccessBlockConfiguration=config,
    )


# -- bucket policy -----------------------------------------------------------------------
def bucket_policy(storage: Storage) -> dict[str, Any] | None:
    """The bucket policy as a dict (None when the bucket has none)."""
    answer = _read(storage, "get_bucket_policy")
    if not answer:
        return None
    return json.loads(answer["Policy"])


def put_bucket_policy(storage: Storage, document: dict[str, Any] | None) -> None:
    """Write the policy, or delete it when ``document`` has no statement left."""
    s3 = client(storage)
    if not document or not document.get("Statement"):
        retry.call(s3.delete_bucket_policy, Bucket=storage.bucket_name)
    else:
        retry.call(s3.put_bucket_policy, Bucket=storage.bucket_name, Policy=json.dumps(document))


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _is_anyone(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return "*" in _as_list(principal.get("AWS"))
    return False


def _matches(pattern: str, value: str) -> bool:
    # Policy wildcards are * and ?; fnmatch's [...] has no meaning there.
    pattern = pattern.replace("[", "[[]")
    return fnmatch.fnmatchcase(value, pattern)


def _allows_read(statement: dict[str, Any]) -> bool:
    """True when the statement's Action (or NotAction) lets a principal read objects."""
    if "NotAction" in statement:
        excluded = [a.lower() for a in _as_list(statement.get("NotAction"))]
        return not all(any(_matches(a, r.lower()) for a in excluded) for r in _READ_ACTIONS)
    actions = [a.lower() for a in _as_list(statement.get("Action"))]
    return any(_matches(a, r.lower()) for a in actions for r in _READ_ACTIONS)


def _arn(resource: Any) -> str:
    return str(resource).replace("arn:aws-cn:", "arn:aws:")


def _literal(pattern: str) -> str:
    """The part of a policy resource before its first wildcard."""
    return re.split(r"[*?]", pattern, maxsplit=1)[0]


@dataclass(frozen=True)
class PolicyGrant:
    """A policy statement that lets anyone read (some of) the storage's objects."""

    index: int
    sid: str
    conditional: bool

    @property
    def label(self) -> str:
        return f"statement {self.sid!r}" if self.sid else f"statement #{self.index + 1}"


def public_read_grants(document: dict[str, Any] | None, storage: Storage) -> list[PolicyGrant]:
    """The statements of ``document`` that allow anonymous reads under the storage's prefix."""
    if not document:
        return []
    # Any key under the storage's prefix stands for all of them...
    inside = f"arn:aws:s3:::{storage.bucket_name}/{base_prefix(storage)}"
    sample = inside + "mediahub-audit-probe"
    nested = tuple(inside + prefix for prefix in nested_prefixes(storage)) or ("\0",)
    grants = []
    for index, statement in enumerate(_as_list(document.get("Statement"))):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        if not _is_anyone(statement.get("Principal")):
            continue
        if not _allows_read(statement):
            continue
        if "NotResource" in statement:
            # Allowed everywhere except the listed resources.
            excluded = [_arn(r) for r in _as_list(statement.get("NotResource"))]
            if any(_matches(r, sample) for r in excluded):
                continue
        else:
            resources = [_arn(r) for r in _as_list(statement.get("Resource"))]
            # ...and a resource whose fixed part lies inside the prefix opens some of them
            # (unless it lies inside another storage nested there, e.g. a public/ prefix).
            if not any(
                _matches(r, sample)
                or (_literal(r).startswith(inside) and not _literal(r).startswith(nested))
                for r in resources
            ):
                continue
        grants.append(
            PolicyGrant(index, str(statement.get("Sid", "")), bool(statement.get("Condition")))
        )
    return grants


def without_statements(document: dict[str, Any], grants: list[PolicyGrant]) -> dict[str, Any]:
    """A copy of ``document`` without the given statements."""
    drop = {grant.index for grant in grants}
    statements = _as_list(document.get("Statement"))
    return {**document, "Statement": [s for i, s in enumerate(statements) if i not in drop]}


def public_read_statement(storage: Storage) -> dict[str, Any]:
    """The statement mediahub adds to make a public storage readable by anyone."""
    return {
        "Sid": "MediahubPublicRead",
        "Effect": "Allow",
        "Principal": "*",
        "Action": ["s3:GetObject"],
        "Resource": [f"arn:aws:s3:::{storage.bucket_name}/{base_prefix(storage)}*"],
    }


# -- ACLs -------------------------------------------------------------------------------
def acls_enabled(storage: Storage) -> bool:
    """False when the bucket's Object Ownership is "bucket owner enforced" (ACLs disabled)."""
    try:
        answer = _read(storage, "get_bucket_ownership_controls")
    except NotSupported:
        return True
    rules = (answer or {}).get("OwnershipControls", {}).get("Rules", [])
    return not any(rule.get("ObjectOwnership") == "BucketOwnerEnforced" for rule in rules)


def public_grants(acl: dict[str, Any]) -> list[str]:
    """``["AllUsers:READ", ...]``: the grants of an object ACL that open it to anyone."""
    found = []
    for grant in acl.get("Grants", ()):
        who = PUBLIC_GRANTEES.get(grant.get("Grantee", {}).get("URI", ""))
        if who:
            found.append(f"{who}:{grant.get('Permission')}")
    return found


def _is_public_grant(grant: dict[str, Any]) -> bool:
    return grant.get("Grantee", {}).get("URI", "") in PUBLIC_GRANTEES


def _is_owner_grant(grant: dict[str, Any], owner: dict[str, Any]) -> bool:
    """The owner's own FULL_CONTROL (what every canned ACL gives)."""
    grantee = grant.get("Grantee", {})
    return (
        bool(owner.get("ID"))
        and grantee.get("ID") == owner.get("ID")
        and grant.get("Permission") == "FULL_CONTROL"
    )


def other_grants(acl: dict[str, Any]) -> list[dict[str, Any]]:
    """Grants a canned ACL would drop: neither public nor the owner's FULL_CONTROL.

    E.g. a CloudFront origin access identity's canonical user, a partner account.
    """
    owner = acl.get("Owner", {})
    return [
        grant
        for grant in acl.get("Grants", ())
        if not _is_public_grant(grant) and not _is_owner_grant(grant, owner)
    ]


def acl_without_public_grants(acl: dict[str, Any]) -> dict[str, Any]:
    """The ``AccessControlPolicy`` of ``acl`` minus its AllUsers/AuthenticatedUsers grants."""
    return {
        "Owner": acl.get("Owner", {}),
        "Grants": [grant for grant in acl.get("Grants", ()) if not _is_public_grant(grant)],
    }


def acl_with_public_read(acl: dict[str, Any]) -> dict[str, Any]:
    """The ``AccessControlPolicy`` of ``acl`` plus AllUsers READ (other grants kept)."""
    policy = acl_without_public_grants(acl)
    policy["Grants"].append(
        {
            "Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
            "Permission": "READ",
        }
    )
    return policy


def storage_uses_acls(storage: Storage) -> bool:
    """True when the (public) storage makes objects readable with a ``public-read`` ACL."""
    acl = getattr(storage, "default_acl", None) or getattr(storage, "object_parameters", {}).get(
        "ACL"
    )
    return acl in ("public-read", "public-read-write")


# -- anonymous probe -------------------------------------------------------------------------
def anonymous_status(storage: Storage, key: str) -> int:
    """HTTP status of an unsigned one-byte GET of ``key``: what a stranger gets."""
    s3 = anonymous_client(storage)

    def probe() -> int:
        try:
            answer = s3.get_object(Bucket=storage.bucket_name, Key=key, Range="bytes=0-0")
        except ClientError as error:
            status = retry.error_status(error) or 0
            if status >= 500:
                raise
            return status
        answer["Body"].close()
        return answer["ResponseMetadata"]["HTTPStatusCode"]

    return retry.call(probe)


def anonymously_readable(storage: Storage, key: str) -> bool:
    return anonymous_status(storage, key) in READABLE_STATUSES


# -- CORS --------------------------------------------------------------------------------------
def cors_rules(storage: Storage) -> list[dict[str, Any]]:
    """The bucket's CORS rules (``[]`` when it has none)."""
    answer = _read(storage, "get_bucket_cors")
    return list((answer or {}).get("CORSRules", []))


def put_cors_rules(storage: Storage, rules: list[dict[str, Any]]) -> None:
    s3 = client(storage)
    if rules:
        retry.call(
            s3.put_bucket_cors,
            Bucket=storage.bucket_name,
            CORSConfiguration={"CORSRules": rules},
        )
    else:
        retry.call(s3.delete_bucket_cors, Bucket=storage.bucket_name)


# -- lifecycle: incomplete multipart uploads ---------------------------------------------------
#: ID of the lifecycle rule mediahub adds (per storage prefix).
ABORT_RULE_ID = "mediahub-abort-incomplete-uploads"
#: Days after which an incomplete multipart upload is left behind (longer than any
#: direct upload session, MEDIAHUB["DIRECT_UPLOAD_EXPIRY"]): the doctor reports older
#: ones, and mediahub's lifecycle rule aborts them.
INCOMPLETE_UPLOAD_DAYS = 1


def lifecycle_rules(storage: Storage) -> list[dict[str, Any]]:
    """The bucket's lifecycle rules (``[]`` when it has none)."""
    answer = _read(storage, "get_bucket_lifecycle_configuration")
    return list((answer or {}).get("Rules", []))


def _rule_prefix(rule: dict[str, Any]) -> str | None:
    """The key prefix a rule applies to; None when it also filters on tags or sizes."""
    if "Filter" not in rule:
        return str(rule.get("Prefix", "") or "")
    condition = rule.get("Filter") or {}
    if "And" in condition:
        condition = condition["And"] or {}
        if set(condition) - {"Prefix"}:
            return None
    elif set(condition) - {"Prefix"}:
        return None
    return str(condition.get("Prefix", "") or "")


def abort_rule(rules: list[dict[str, Any]], storage: Storage) -> dict[str, Any] | None:
    """An enabled rule that aborts incomplete multipart uploads under the storage's prefix."""
    own = base_prefix(storage)
    for rule in rules:
        if rule.get("Status") != "Enabled" or not rule.get("AbortIncompleteMultipartUpload"):
            continue
        prefix = _rule_prefix(rule)
        if prefix is not None and own.startswith(prefix):
            return rule
    return None


def abort_rule_for(storage: Storage, days: int) -> dict[str, Any]:
    """The rule mediahub adds: abort uploads left incomplete ``days`` after they started."""
    prefix = base_prefix(storage)
    return {
        "ID": ABORT_RULE_ID + (f"-{prefix.rstrip('/')}" if prefix else ""),
        "Status": "Enabled",
        "Filter": {"Prefix": prefix},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": days},
    }


def add_abort_rule(storage: Storage, days: int) -> bool:
    """Add mediahub's rule to the bucket's lifecycle rules, keeping every other rule.

    Idempotent: False (nothing written) when a rule already covers the storage.
    """
    rules = lifecycle_rules(storage)
    if abort_rule(rules, storage) is not None:
        return False
    wanted = abort_rule_for(storage, days)
    merged = [rule for rule in rules if rule.get("ID") != wanted["ID"]] + [wanted]
    retry.call(
        client(storage).put_bucket_lifecycle_configuration,
        Bucket=storage.bucket_name,
        LifecycleConfiguration={"Rules": merged},
    )
    return True


@dataclass(frozen=True)
class OpenUpload:
    key: str
    upload_id: str
    initiated: Any  # datetime
    size: int | None = None  # bytes of the parts uploaded (None: not measured)


def open_uploads(
    storage: Storage, *, older_than: Any = None, measure: int = 100
) -> list[OpenUpload]:
    """Multipart uploads under the storage's prefix started before ``older_than`` (a datetime).

    The parts' sizes are added up for the first ``measure`` uploads (one ListParts each).
    """
    s3 = client(storage)
    kwargs: dict[str, Any] = {"Bucket": storage.bucket_name, "Prefix": base_prefix(storage)}
    found: list[OpenUpload] = []
    while True:
        answer = retry.call(s3.list_multipart_uploads, **kwargs)
        for upload in answer.get("Uploads", ()):
            initiated = upload.get("Initiated")
            if older_than is not None and initiated is not None and initiated > older_than:
                continue
            found.append(OpenUpload(upload["Key"], upload["UploadId"], initiated))
        if not answer.get("IsTruncated"):
            break
        kwargs["KeyMarker"] = answer.get("NextKeyMarker", "")
        kwargs["UploadIdMarker"] = answer.get("NextUploadIdMarker", "")
        if not kwargs["KeyMarker"] and not kwargs["UploadIdMarker"]:
            break
    measured = []
    for index, upload in enumerate(found):
        if index >= measure:
            measured.append(upload)
            continue
        size = 0
        part_kwargs: dict[str, Any] = {
            "Bucket": storage.bucket_name,
            "Key": upload.key,
            "UploadId": upload.upload_id,
        }
        try:
            while True:
                parts = retry.call(s3.list_parts, **part_kwargs)
                size += sum(part.get("Size", 0) for part in parts.get("Parts", ()))
                if not parts.get("IsTruncated"):
                    break
                part_kwargs["PartNumberMarker"] = parts.get("NextPartNumberMarker", 0)
        except ClientError:  # aborted or completed meanwhile
            size = 0
        measured.append(OpenUpload(upload.key, upload.upload_id, upload.initiated, size))
    return measured


def abort_upload(storage: Storage, upload: OpenUpload) -> None:
    try:
        retry.call(
            client(storage).abort_multipart_upload,
            Bucket=storage.bucket_name,
            Key=upload.key,
            UploadId=upload.upload_id,
        )
    except ClientError as error:
        if retry.error_code(error) != "NoSuchUpload":  # finished meanwhile
            raise


# -- anonymous list and write ----------------------------------------------------------------
def anonymously_listable(storage: Storage) -> bool:
    """True when an unsigned ListObjectsV2 of the storage's prefix succeeds."""
    return _anonymously(
        storage,
        lambda s3: s3.list_objects_v2(
            Bucket=storage.bucket_name, Prefix=base_prefix(storage), MaxKeys=1
        ),
    )


def anonymously_writable(storage: Storage, key: str) -> bool:
    """True when an unsigned PutObject of ``key`` succeeds (the caller deletes the object)."""
    return _anonymously(
        storage,
        lambda s3: s3.put_object(
            Bucket=storage.bucket_name, Key=key, Body=b"mediahub doctor: anonymous write probe"
        ),
    )


def _anonymously(storage: Storage, request: Callable[[Any], Any]) -> bool:
    """True when ``request(unsigned client)`` succeeds; False when refused (a 5xx is retried,
    then raised)."""
    s3 = anonymous_client(storage)

    def probe() -> bool:
        try:
            request(s3)
        except ClientError as error:
            if (retry.error_status(error) or 0) >= 500:
                raise
            return False
        return True

    return retry.call(probe)
