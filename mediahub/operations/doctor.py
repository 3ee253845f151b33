"""``mediahub_doctor``: a live check of each storage against its S3 endpoint.

Per storage: the bucket is reachable, the credentials sign requests S3 accepts (a
small probe object is written and deleted), the region matches, a stranger can read
the public storage and cannot read the private one (unsigned GET of the probe
object), a stranger can neither list nor write either bucket (unsigned ListObjectsV2,
and an unsigned PUT of a probe key, deleted again if it was accepted), no bucket
policy opens the private storage, Block Public Access, CORS rules, a lifecycle rule
aborting incomplete multipart uploads, multipart uploads left open for more than a
day, conditional writes (the storage's probe, :mod:`mediahub.storage.conditional`),
and the clock skew between this machine and S3 (``Date`` header): presigned URLs and
signatures fail when the clocks disagree.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from django.core.files.storage import Storage

from mediahub import retry
from mediahub.operations import bucket
from mediahub.operations.objects import (
    client,
    describe_storage,
    is_s3,
    key_of,
    shares_bucket_with_counterpart,
)
from mediahub.operations.transfer import write_parameters
from mediahub.storage import get_storage, visibility_of

OK, WARNING, FAIL, SKIP = "ok", "warning", "fail", "skip"
#: Clock skew (seconds) above which doctor warns, and fails (S3 refuses requests
#: skewed by 15 minutes; presigned URLs of a few minutes break long before).
SKEW_WARNING, SKEW_FAIL = 30, 300


@dataclass
class Check:
    name: str
    status: str
    detail: str = ""


@dataclass
class StorageHealth:
    alias: str
    visibility: str
    location: str
    checks: list[Check] = field(default_factory=list)

    def add(self, name: str, status: str, detail: str = "") -> Check:
        check = Check(name, status, detail)
        self.checks.append(check)
        return check

    @property
    def failed(self) -> list[Check]:
        return [check for check in self.checks if check.status == FAIL]


@dataclass
class DoctorReport:
    storages: list[StorageHealth] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(health.failed for health in self.storages)

    def counts(self) -> dict[str, int]:
        counts = {OK: 0, WARNING: 0, FAIL: 0, SKIP: 0}
        for health in self.storages:
            for check in health.checks:
                counts[check.status] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "counts": self.counts(),
            "storages": [asdict(s) for s in self.storages],
        }


def diagnose(aliases: list[str], *, clock: Callable[[], float] = time.time) -> DoctorReport:
    """Check each storage in ``aliases``; ``clock`` gives this machine's time."""
    report = DoctorReport()
    for alias in aliases:
        try:
            storage = get_storage(alias)
        except Exception as error:  # ImproperlyConfigured, TypeError, ImportError...
            health = StorageHealth(alias, "unknown", f"STORAGES[{alias!r}]")
            report.storages.append(health)
            health.add(
                "storage",
                FAIL,
                f"cannot be built from its settings ({type(error).__name__}): "
                "run manage.py check (mediahub.E009)",
            )
            continue
        health = StorageHealth(alias, visibility_of(storage), describe_storage(storage))
        report.storages.append(health)
        if not is_s3(storage):
            health.add("storage", SKIP, "local storage: for development only, nothing to check")
            continue
        _Doctor(storage, health, clock).run()
    return report


class _Doctor:
    def __init__(self, storage: Storage, health: StorageHealth, clock) -> None:
        self.storage = storage
        self.health = health
        self.clock = clock
        self.private = health.visibility == "private"
        #: Two prefixes of one bucket: bucket-wide switches serve both storages.
        self.shared = shares_bucket_with_counterpart(storage, health.visibility)

    def run(self) -> None:
        if not self.reachable():
            return
        steps = (
            self.region,
            self.probe,
            self.anonymous_list,
            self.anonymous_write,
            self.policy,
            self.block_public_access,
            self.cors,
            self.lifecycle,
            self.incomplete_uploads,
            self.conditional_writes,
        )
        for step in steps:
            try:
                step()
            except Exception as error:  # one failing check must not hide the others
                self.health.add(step.__name__.replace("_", " "), FAIL, retry.describe(error))

    def reachable(self) -> bool:
        s3 = client(self.storage)
        try:
            answer = retry.call(s3.head_bucket, Bucket=self.storage.bucket_name)
        except Exception as error:
            status = retry.error_status(error)
            if status == 404:
                detail = f"bucket {self.storage.bucket_name!r} does not exist: check the DSN"
            elif status == 403:
                detail = "access denied: check the DSN's credentials and their permissions"
            else:
                detail = retry.describe(error)
            self.health.add("bucket reachable", FAIL, detail)
            return False
        self.health.add("bucket reachable", OK, self.storage.bucket_name)
        self.clock_skew(answer)
        return True

    def clock_skew(self, answer: dict[str, Any]) -> None:
        header = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
        if not header:
            self.health.add("clock skew", SKIP, "the server sent no Date header")
            return
        try:
            server_time = parsedate_to_datetime(header).timestamp()
        except (TypeError, ValueError):
            self.health.add("clock skew", SKIP, "the server's Date header is not a date")
            return
        skew = self.clock() - server_time
        detail = f"{skew:+.0f} s against the S3 server"
        if abs(skew) > SKEW_FAIL:
            status, detail = FAIL, detail + ": synchronise this machine's clock (NTP)"
        elif abs(skew) > SKEW_WARNING:
            status = WARNING
        else:
            status = OK
        self.health.add("clock skew", status, detail)

    def region(self) -> None:
        answer = _get(self.storage, "get_bucket_location")
        actual = (answer or {}).get("LocationConstraint") or "us-east-1"
        if actual == "EU":
            actual = "eu-west-1"
        configured = self.storage.region_name or "us-east-1"
        if actual in (configured, "default", ""):
            self.health.add("region", OK, configured)
        else:
            self.health.add(
                "region",
                WARNING,
                f"bucket is in {actual}, DSN says {configured}: set ?region={actual}",
            )

    def probe(self) -> None:
        """Write, read anonymously and delete a small probe object."""
        name = f".mediahub-doctor/probe-{uuid.uuid4().hex}.txt"
        key = key_of(self.storage, name)
        s3 = client(self.storage)
        params = write_parameters(self.storage, name)
        try:
            retry.call(
                s3.put_object,
                Bucket=self.storage.bucket_name,
                Key=key,
                Body=b"mediahub doctor probe\n",
                **params,
            )
        except Exception as error:
            self.health.add("credentials (write)", FAIL, retry.describe(error))
            return
        try:
            self.health.add("credentials (write)", OK, "signed write accepted")
            readable = bucket.anonymously_readable(self.storage, key)
            if self.private and readable:
                self.health.add(
                    "anonymous read",
                    FAIL,
                    "a stranger can read the private storage: run mediahub_audit --fix --fix-policy",
                )
            elif self.private:
                self.health.add("anonymous read", OK, "refused, as it should be")
            elif readable:
                self.health.add("anonymous read", OK, "allowed, as it should be")
            else:
                self.health.add(
                    "anonymous read",
                    FAIL,
                    "a stranger cannot read the public storage: add a public-read bucket "
                    "policy (mediahub_audit --storage public --fix --fix-policy)",
                )
        finally:
            retry.call(s3.delete_object, Bucket=self.storage.bucket_name, Key=key)

    def anonymous_list(self) -> None:
        """An unsigned ListObjectsV2: nobody should enumerate the keys of either storage."""
        if not bucket.anonymously_listable(self.storage):
            self.health.add("anonymous list", OK, "refused, as it should be")
        elif self.private:
            self.health.add(
                "anonymous list",
                FAIL,
                "a stranger can list the private storage's keys: remove s3:ListBucket for "
                "Principal * from the bucket policy (and any public-read bucket ACL)",
            )
        else:
            self.health.add(
                "anonymous list",
                WARNING,
                "a stranger can list every key of the public storage (files linked nowhere "
                "too): remove s3:ListBucket for Principal * unless you mean it",
            )

    def anonymous_write(self) -> None:
        """An unsigned PutObject of a probe key (deleted again if it was accepted)."""
        key = key_of(self.storage, f".mediahub-doctor/anonymous-{uuid.uuid4().hex}.txt")
        if not bucket.anonymously_writable(self.storage, key):
            self.health.add("anonymous write", OK, "refused, as it should be")
            return
        try:
            retry.call(client(self.storage).delete_object, Bucket=self.storage.bucket_name, Key=key)
            cleaned = "the probe object was deleted"
        except Exception as error:
            cleaned = f"delete the probe object {key!r} by hand ({retry.describe(error)})"
        self.health.add(
            "anonymous write",
            FAIL,
            "a stranger can write to the bucket: remove s3:PutObject for Principal * from the "
            f"bucket policy and any public-read-write ACL; {cleaned}",
        )

    def lifecycle(self) -> None:
        try:
            rule = bucket.abort_rule(bucket.lifecycle_rules(self.storage), self.storage)
        except bucket.NotSupported:
            self.health.add("lifecycle", SKIP, "lifecycle rules not supported by this provider")
            return
        if rule is None:
            self.health.add(
                "lifecycle",
                WARNING,
                "no lifecycle rule aborts incomplete multipart uploads (left by killed "
                "instances, billed until aborted): run mediahub_audit --fix",
            )
            return
        days = (rule.get("AbortIncompleteMultipartUpload") or {}).get("DaysAfterInitiation")
        self.health.add(
            "lifecycle",
            OK,
            f"rule {rule.get('ID') or '(no id)'!s} aborts incomplete uploads after {days} day(s)",
        )

    def incomplete_uploads(self) -> None:
        days = bucket.INCOMPLETE_UPLOAD_DAYS
        cutoff = datetime.fromtimestamp(self.clock(), tz=UTC) - timedelta(days=days)
        try:
            uploads = bucket.open_uploads(self.storage, older_than=cutoff)
        except bucket.NotSupported:
            self.health.add("incomplete uploads", SKIP, "not supported by this provider")
            return
        if not uploads:
            self.health.add("incomplete uploads", OK, f"none older than {days} day(s)")
            return
        size = sum(upload.size or 0 for upload in uploads)
        self.health.add(
            "incomplete uploads",
            WARNING,
            f"{len(uploads)} multipart upload(s) open for more than {days} day(s) "
            f"({size / 1024**2:.1f} MiB stored, billed until aborted): run mediahub_audit "
            "--fix (aborts them and adds a lifecycle rule)",
        )

    def conditional_writes(self) -> None:
        """The storage-write layer's probe: a second ``If-None-Match: *`` PUT must be refused."""
        try:
            from mediahub.storage import conditional
        except ImportError:
            self.health.add("conditional writes", SKIP, "mediahub.storage.conditional missing")
            return
        mode = getattr(self.storage, "conditional_writes", "auto")
        support = conditional.probe(self.storage, refresh=True)
        if support.put:
            self.health.add("conditional writes", OK, support.detail or "honoured")
        elif mode == "on":
            self.health.add(
                "conditional writes",
                FAIL,
                f"{support.detail}: with conditional_writes=on two saves of one name "
                "overwrite each other; set conditional_writes=auto (or off)",
            )
        else:
            self.health.add(
                "conditional writes",
                WARNING,
                f"{support.detail}: saves check the name first (a HEAD before the write), "
                "which leaves a short race window",
            )

    def policy(self) -> None:
        if not self.private:
            return
        grants = bucket.public_read_grants(bucket.bucket_policy(self.storage), self.storage)
        if grants and not self.shared:
            labels = ", ".join(grant.label for grant in grants)
            self.health.add("bucket policy", FAIL, f"{labels} lets anyone read private objects")
        elif grants:
            self.health.add("bucket policy", FAIL, "a public statement covers the private prefix")
        else:
            self.health.add("bucket policy", OK, "no public statement")

    def block_public_access(self) -> None:
        try:
            switches = bucket.public_access_block(self.storage)
        except bucket.NotSupported:
            self.health.add("block public access", SKIP, "not supported by this provider")
            return
        off, exposing = bucket.block_gaps(switches)
        if not self.private:
            detail = "all on" if not off else "off: " + ", ".join(off)
            self.health.add("block public access", OK, detail)
        elif not off:
            self.health.add("block public access", OK, "all four switches on")
        elif not exposing:
            self.health.add(
                "block public access", OK, "on (BlockPublicAcls off; IgnorePublicAcls covers it)"
            )
        elif self.shared:
            self.health.add(
                "block public access", WARNING, "off (bucket shared with the public storage)"
            )
        else:
            self.health.add(
                "block public access",
                FAIL,
                "off: " + ", ".join(off) + " (run mediahub_audit --fix --fix-policy)",
            )

    def cors(self) -> None:
        try:
            rules = bucket.cors_rules(self.storage)
        except bucket.NotSupported:
            self.health.add("cors", SKIP, "not supported by this provider")
            return
        method = "PUT" if self.private else "GET"
        origins = sorted(
            {
                o
                for rule in rules
                if method in rule.get("AllowedMethods", [])
                for o in rule.get("AllowedOrigins", [])
            }
        )
        use = "direct uploads" if self.private else "media loaded by JavaScript"
        if origins:
            self.health.add("cors", OK, f"{method} allowed from " + ", ".join(origins))
        else:
            self.health.add(
                "cors", WARNING, f"no rule allows {method} ({use}): run mediahub_cors --apply"
            )


def _get(storage: Storage, method: str) -> dict[str, Any] | None:
    return retry.call(getattr(client(storage), method), Bucket=storage.bucket_name)
