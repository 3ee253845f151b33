"""``mediahub_audit``: find (and repair) private objects anyone can read.

For the **private** storage, what makes an object readable by anyone:

* an object ACL granting ``AllUsers`` / ``AuthenticatedUsers`` (a backup restore or a
  bulk push with ``--acl public-read``); only where the bucket has ACLs: on buckets
  with Object Ownership "bucket owner enforced" (the AWS default since 2023) ACLs are
  reported as not applicable;
* a bucket policy statement allowing anonymous ``s3:GetObject`` on the storage's keys;
* Block Public Access switched off (the guard against both);
* and, whatever the cause, an anonymous GET that succeeds: a sample of objects is
  probed with an unsigned request, as a stranger would send it.

For the **public** storage, the reverse: objects a stranger cannot read, and private
objects that landed there (a backup restored to the wrong bucket, a private folder
pushed): objects carrying the private storage's mark (``x-amz-meta-mediahub-visibility``)
and files of private model fields or private django-filer files
(:mod:`mediahub.operations.placement`).

For both: a lifecycle rule that aborts incomplete multipart uploads, and multipart
uploads left open for more than a day (warnings).

``fix=True`` removes public grants from object ACLs (other grants, e.g. a CloudFront
OAI, are kept; AllUsers READ is added on a public storage that uses ACLs), moves
private objects out of the public storage (or deletes the public copy of an identical
private twin), merges the abort rule into the bucket's lifecycle rules and aborts the
left-over uploads; bucket policies and Block Public Access are changed only with
``fix_policy=True`` (and a write is verified afterwards: Ceph RGW's BlockPublicAcls
refuses the owner's own uploads). Fixes are verified, and running the audit twice
changes nothing the second time.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from django.core.files.storage import Storage

from mediahub import retry
from mediahub.operations import bucket, placement
from mediahub.operations.objects import (
    StoredObject,
    base_prefix,
    client,
    describe_storage,
    is_s3,
    iter_objects,
    nested_prefixes,
    shares_bucket_with_counterpart,
)
from mediahub.operations.progress import NoProgress, Progress
from mediahub.storage import get_storage, visibility_of

ERROR, WARNING = "error", "warning"


@dataclass
class Finding:
    """One exposure (or risk) found, and what ``--fix`` did about it."""

    #: object-acl, bucket-policy, block-public-access, anonymous-read, not-readable,
    #: private-object (a private object in the public storage), lifecycle
    kind: str
    target: str  # an object name, or the bucket
    detail: str
    severity: str = ERROR
    fixed: bool = False
    change: str = ""  # what was changed, or why nothing was

    @property
    def open(self) -> bool:
        return self.severity == ERROR and not self.fixed


@dataclass
class AuditReport:
    """The audit of one storage."""

    alias: str
    visibility: str
    location: str
    acls: str = "unknown"  # "enabled", "not applicable", "unknown"
    objects: int = 0
    probed: int = 0
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str = ""

    @property
    def exposed(self) -> list[Finding]:
        """Findings still open (errors not fixed): the command exits 1 when any."""
        return [finding for finding in self.findings if finding.open]

    @property
    def changes(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.fixed]

    def add(self, kind: str, target: str, detail: str, severity: str = ERROR) -> Finding:
        finding = Finding(kind, target, detail, severity)
        self.findings.append(finding)
        return finding

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["exposed"] = len(self.exposed)
        return data


def audit(
    alias: str,
    *,
    fix: bool = False,
    fix_policy: bool = False,
    jobs: int | None = None,
    sample: int | None = None,
    progress: Progress | None = None,
    seed: int | None = None,
) -> AuditReport:
    """Audit the storage ``alias`` (``"public"``, ``"private"`` or a ``STORAGES`` key)."""
    from mediahub.conf import app_settings

    storage = get_storage(alias)
    visibility = visibility_of(storage)
    report = AuditReport(alias, visibility, describe_storage(storage))
    if not is_s3(storage):
        report.skipped = "not an S3 storage (local folders are for development only)"
        return report
    jobs = app_settings.OPERATIONS_JOBS if jobs is None else jobs
    sample = app_settings.AUDIT_PROBE_SAMPLE if sample is None else sample
    auditor = _Auditor(storage, report, fix, fix_policy, max(1, jobs), progress or NoProgress())
    auditor.run(sample, random.Random(seed))  # noqa: S311 - sampling, not security
    return report


class _Auditor:
    def __init__(self, storage, report, fix, fix_policy, jobs, progress) -> None:
        self.storage: Storage = storage
        self.report: AuditReport = report
        self.fix = fix
        self.fix_policy = fix_policy
        self.jobs = jobs
        self.progress = progress
        self.private = report.visibility == "private"
        #: Two prefixes of one bucket: bucket-wide switches serve both storages.
        self.shared = shares_bucket_with_counterpart(storage, report.visibility)

    def run(self, sample: int, rng: random.Random) -> None:
        self.check_block_public_access()
        self.check_policy()
        self.check_lifecycle()
        self.check_incomplete_uploads()
        objects = list(iter_objects(self.storage))
        self.report.objects = len(objects)
        objects = self.check_placement(objects)
        flagged = self.check_acls(objects)
        self.probe(objects, flagged, sample, rng)

    # -- bucket level ------------------------------------------------------------------
    def check_block_public_access(self) -> None:
        if not self.private:
            return
        try:
            current = bucket.public_access_block(self.storage)
        except bucket.NotSupported as error:
            self.report.notes.append(f"Block Public Access: not supported ({error})")
            return
        off, exposing = bucket.block_gaps(current)
        if not off:
            return
        finding = self.report.add(
            "block-public-access",
            self.storage.bucket_name,
            "Block Public Access is off (" + ", ".join(off) + ")",
            ERROR if exposing and not self.shared else WARNING,
        )
        if not exposing:
            finding.change = "IgnorePublicAcls is on: public ACLs have no effect; left as is"
        elif self.shared:
            finding.change = "bucket shared with the public storage: left as is"
        elif not self.fix_policy:
            finding.change = "not changed: run with --fix --fix-policy to block public access"
        elif self.fix:
            self._block_public_access(current, finding)

    def _block_public_access(self, previous: dict[str, bool], finding: Finding) -> None:
        """Turn the switches on, then prove the owner can still write; else step back.

        Ceph RGW (bug 49135) refuses the owner's own uploads while ``BlockPublicAcls``
        is on; ``IgnorePublicAcls`` alone already makes public ACLs ineffective.
        """
        bucket.put_public_access_block(self.storage, dict(bucket.BLOCK_ALL))
        refused = bucket.write_refused(self.storage)
        if not refused:
            finding.fixed = True
            finding.change = "turned all four Block Public Access switches on (a write verified)"
            return
        without_acls = {**bucket.BLOCK_ALL, "BlockPublicAcls": False}
        bucket.put_public_access_block(self.storage, without_acls)
        if not bucket.write_refused(self.storage):
            finding.fixed = True
            finding.change = (
                "turned Block Public Access on except BlockPublicAcls: with it on, this "
                f"provider refused the owner's own upload ({refused}; Ceph RGW bug 49135); "
                "IgnorePublicAcls keeps public ACLs without effect"
            )
            return
        bucket.put_public_access_block(self.storage, previous)
        finding.change = (
            "rolled back: after turning Block Public Access on, the storage could not write "
            f"any more ({refused}); the previous switches are restored: check the provider"
        )

    def check_policy(self) -> list[bucket.PolicyGrant]:
        try:
            document = bucket.bucket_policy(self.storage)
        except bucket.NotSupported as error:
            self.report.notes.append(f"bucket policy: not supported ({error})")
            return []
        grants = bucket.public_read_grants(document, self.storage)
        if self.private:
            for grant in grants:
                finding = self.report.add(
                    "bucket-policy",
                    self.storage.bucket_name,
                    f"policy {grant.label} lets anyone read the private objects"
                    + (" (under conditions: review them)" if grant.conditional else ""),
                )
                if self.shared:
                    finding.change = (
                        "not changed: the bucket is shared with the public storage; "
                        "narrow the statement's Resource to the public prefix"
                    )
                elif not self.fix_policy:
                    finding.change = "not changed: run with --fix --fix-policy to remove it"
            if grants and self.fix and self.fix_policy and not self.shared:
                bucket.put_bucket_policy(self.storage, bucket.without_statements(document, grants))
                for finding in self.report.findings:
                    if finding.kind == "bucket-policy":
                        finding.fixed = True
                        finding.change = "removed the statement from the bucket policy"
            return grants
        if not grants and not bucket.storage_uses_acls(self.storage):
            finding = self.report.add(
                "not-readable",
                self.storage.bucket_name,
                "no bucket policy statement lets anyone read the public objects",
            )
            nested = nested_prefixes(self.storage)
            dormant = self._dormant_private_grants(document)
            if dormant:
                # Allowing public policies would wake statements Block Public Access
                # keeps asleep today, and they open the private storage.
                finding.change = (
                    "not changed: allowing public policies on this bucket would activate "
                    + ", ".join(grant.label for grant in dormant)
                    + ", which opens the private storage; remove it first"
                )
            elif nested:
                # A statement for prefix* would also open the other storages inside it.
                finding.change = (
                    "not changed: other storages live inside this prefix ("
                    + ", ".join(nested)
                    + "); add a statement for the public keys only"
                )
            elif not self.fix_policy:
                finding.change = "not changed: run with --fix --fix-policy to add one"
            elif self.fix:
                self._make_public_by_policy(document)
                finding.fixed = True
                finding.change = (
                    "added a public-read statement (MediahubPublicRead) for "
                    f"{base_prefix(self.storage)}* and allowed public policies"
                )
        return grants

    def check_lifecycle(self) -> None:
        """A lifecycle rule must abort incomplete multipart uploads; ``--fix`` merges one in."""
        try:
            rules = bucket.lifecycle_rules(self.storage)
        except bucket.NotSupported as error:
            self.report.notes.append(f"lifecycle rules: not supported ({error})")
            return
        if bucket.abort_rule(rules, self.storage) is not None:
            return
        finding = self.report.add(
            "lifecycle",
            self.storage.bucket_name,
            "no lifecycle rule aborts incomplete multipart uploads (billed until aborted)",
            WARNING,
        )
        if not self.fix:
            finding.change = "not changed: run with --fix to add one"
            return
        days = max(1, bucket.INCOMPLETE_UPLOAD_DAYS)
        bucket.add_abort_rule(self.storage, days)
        finding.fixed = True
        finding.change = (
            f"added lifecycle rule {bucket.abort_rule_for(self.storage, days)['ID']} "
            f"(aborts after {days} day(s); the {len(rules)} other rule(s) kept)"
        )

    def check_incomplete_uploads(self) -> None:
        """Multipart uploads left open for more than a day; ``--fix`` aborts them."""
        days = bucket.INCOMPLETE_UPLOAD_DAYS
        cutoff = datetime.now(tz=UTC) - timedelta(days=days)
        try:
            uploads = bucket.open_uploads(self.storage, older_than=cutoff)
        except bucket.NotSupported as error:
            self.report.notes.append(f"multipart uploads: not listed ({error})")
            return
        for upload in uploads:
            size = "" if upload.size is None else f", {upload.size / 1024**2:.1f} MiB"
            finding = self.report.add(
                "incomplete-upload",
                upload.key,
                f"multipart upload open for more than {days} day(s){size}",
                WARNING,
            )
            if not self.fix:
                finding.change = "not changed: run with --fix to abort it"
                continue
            try:
                bucket.abort_upload(self.storage, upload)
            except Exception as error:
                finding.change = "could not abort: " + retry.describe(error)
                continue
            finding.fixed = True
            finding.change = "aborted"

    def _dormant_private_grants(self, document: dict | None) -> list[bucket.PolicyGrant]:
        """Statements of a shared bucket's policy that let anyone read the private storage."""
        if not self.shared or not document:
            return []
        try:
            private = get_storage("private")
        except Exception:
            return []
        return bucket.public_read_grants(document, private)

    def _make_public_by_policy(self, document: dict | None) -> None:
        try:
            switches = bucket.public_access_block(self.storage)
        except bucket.NotSupported:
            switches = None
        if switches and (switches["BlockPublicPolicy"] or switches["RestrictPublicBuckets"]):
            switches.update(BlockPublicPolicy=False, RestrictPublicBuckets=False)
            bucket.put_public_access_block(self.storage, switches)
        document = document or {"Version": "2012-10-17", "Statement": []}
        statements = list(document.get("Statement") or [])
        statements.append(bucket.public_read_statement(self.storage))
        bucket.put_bucket_policy(self.storage, {**document, "Statement": statements})

    # -- objects ---------------------------------------------------------------------
    def check_placement(self, objects: list[StoredObject]) -> list[StoredObject]:
        """Public storage: find private objects (mark, private field/filer names); move back.

        Returns the objects still in the storage.
        """
        if self.private or not objects:
            return objects
        try:
            private = get_storage("private")
        except Exception as error:
            self.report.notes.append(f"private objects: not checked (no private storage: {error})")
            return objects
        try:
            references = placement.referenced_names(item.name for item in objects)
        except Exception as error:  # no database, tables not migrated...: still check marks
            self.report.notes.append(
                "private objects: model fields and filer files not checked "
                f"({type(error).__name__}); object metadata checked"
            )
            references = {}
        self.progress.label = f"Checking object metadata ({self.report.alias})"
        self.progress.set_total(len(objects))

        def look(item: StoredObject) -> tuple[StoredObject, dict[str, Any] | str | None]:
            try:
                return item, placement.head(self.storage, item.key)
            except Exception as error:
                return item, retry.describe(error)
            finally:
                self.progress.advance()

        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            heads = list(pool.map(look, objects))
        self.progress.close()
        moves = []
        for item, head in heads:
            if isinstance(head, str):
                self.report.add(
                    "private-object", item.name, "metadata unreadable: " + head, WARNING
                )
                continue
            if head is None:  # deleted meanwhile
                continue
            reasons = []
            if placement.is_marked(head):
                reasons.append("written by the private storage (x-amz-meta-mediahub-visibility)")
            refs = placement.private_references(references.get(item.name, []))
            if refs:
                reasons.append("the file of " + ", ".join(sorted({r.label for r in refs})))
            if not reasons:
                continue
            finding = self.report.add("private-object", item.name, "; ".join(reasons))
            if self.fix:
                moves.append((item, head, finding))
            else:
                finding.change = (
                    "not changed: run with --fix to move it back to the private storage"
                )
        gone: set[str] = set()

        def move(job) -> None:
            item, head, finding = job
            try:
                result = placement.move_back(self.storage, private, item, head)
            except Exception as error:
                finding.change = "could not move: " + retry.describe(error)
                return
            finding.fixed, finding.change = result.fixed, result.change
            if result.fixed:
                gone.add(item.key)

        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            list(pool.map(move, moves))
        return [item for item in objects if item.key not in gone]

    def check_acls(self, objects: list[StoredObject]) -> set[str]:
        """Check every object's ACL (private; public storages using ACLs); flagged keys."""
        if not self.private and not bucket.storage_uses_acls(self.storage):
            self.report.acls = "not used"
            return set()
        if not bucket.acls_enabled(self.storage):
            self.report.acls = "not applicable"
            return set()
        self.report.acls = "enabled"
        self.progress.label = f"Checking ACLs ({self.report.alias})"
        self.progress.set_total(len(objects))
        s3 = client(self.storage)
        name = self.storage.bucket_name

        def check(item: StoredObject) -> tuple[StoredObject, dict[str, Any] | str | None]:
            """``(item, ACL)``; None: ACLs disabled; a string: unreadable ACL."""
            try:
                acl = retry.call(s3.get_object_acl, Bucket=name, Key=item.key)
            except ClientError as error:
                if retry.error_code(error) == "AccessControlListNotSupported":
                    return item, None
                if retry.error_status(error) == 404:  # deleted meanwhile
                    return item, {}
                return item, retry.describe(error)
            except Exception as error:
                return item, retry.describe(error)
            finally:
                self.progress.advance()
            return item, acl

        flagged: set[str] = set()
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            results = list(pool.map(check, objects))
        self.progress.close()
        if any(acl is None for _item, acl in results):
            self.report.acls = "not applicable"
            return flagged
        fixes = []
        for item, acl in results:
            if isinstance(acl, str):
                # Unknown: reported, and always probed anonymously below.
                self.report.add("object-acl", item.name, "ACL unreadable: " + acl, WARNING)
                flagged.add(item.key)
                continue
            if not acl:  # deleted meanwhile
                continue
            grants = bucket.public_grants(acl)
            if self.private and grants:
                finding = self.report.add(
                    "object-acl", item.name, "ACL grants " + ", ".join(grants)
                )
                flagged.add(item.key)
                fixes.append((item, finding, acl))
            elif not self.private and not any(g.startswith("AllUsers:") for g in grants):
                finding = self.report.add(
                    "not-readable", item.name, "ACL does not grant AllUsers READ"
                )
                flagged.add(item.key)
                fixes.append((item, finding, acl))
        if self.fix and fixes:
            with ThreadPoolExecutor(max_workers=self.jobs) as pool:
                list(pool.map(lambda job: self._fix_acl(s3, *job), fixes))
        return flagged

    def _fix_acl(self, s3, item: StoredObject, finding: Finding, acl: dict[str, Any]) -> None:
        """Remove only the public grants (private) or add AllUsers READ (public); keep the rest.

        Other grants (a CloudFront origin access identity, a log reader, a partner
        account) are what the bucket's owner set on purpose: a canned ACL would drop them.
        """
        kept = len(bucket.other_grants(acl))
        if self.private:
            policy = bucket.acl_without_public_grants(acl)
            removed = len(acl.get("Grants", ())) - len(policy["Grants"])
            change = f"removed {removed} public grant(s) from the object ACL"
            canned = "private"
        else:
            policy = bucket.acl_with_public_read(acl)
            change = "added AllUsers READ to the object ACL"
            canned = "public-read"
        # Only the owner's grant besides the public ones: the canned ACL says the same
        # (and is what every provider implements); otherwise the whole policy, to keep them.
        arguments: dict[str, Any] = {"AccessControlPolicy": policy} if kept else {"ACL": canned}
        if kept:
            change += f"; {kept} other grant(s) kept"
        name = self.storage.bucket_name
        try:
            retry.call(s3.put_object_acl, Bucket=name, Key=item.key, **arguments)
            after = retry.call(s3.get_object_acl, Bucket=name, Key=item.key)
        except Exception as error:
            finding.change = "could not fix: " + retry.describe(error)
            return
        public = bucket.public_grants(after)
        done = not public if self.private else "AllUsers:READ" in public
        if not done or len(bucket.other_grants(after)) < kept:
            finding.change = "could not fix: the provider did not apply the new ACL"
            return
        finding.fixed = True
        finding.change = change

    def probe(self, objects, flagged, sample, rng) -> None:
        """Anonymous GETs (after any fix) on the flagged objects and a random sample."""
        if sample <= 0 or not objects:
            return
        chosen = [item for item in objects if item.key in flagged][:sample]
        others = [item for item in objects if item.key not in flagged]
        chosen += rng.sample(others, min(len(others), max(0, sample - len(chosen))))
        self.report.probed = len(chosen)
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            readable = list(
                pool.map(lambda i: bucket.anonymously_readable(self.storage, i.key), chosen)
            )
        expected = not self.private
        by_name = {f.target: f for f in self.report.findings if f.kind in _OBJECT_KINDS}
        for item, is_readable in zip(chosen, readable, strict=True):
            earlier = by_name.get(item.name)
            if is_readable == expected:
                if earlier and earlier.fixed:
                    earlier.change += " (verified: anonymous GET " + (
                        "refused)" if self.private else "allowed)"
                    )
                continue
            if earlier and not earlier.fixed:
                continue  # already reported, and not fixed: no second finding
            if self.private:
                detail = "an anonymous GET succeeds"
            else:
                detail = "an anonymous GET is refused"
            finding = self.report.add(
                "anonymous-read" if self.private else "not-readable", item.name, detail
            )
            finding.change = _probe_hint(self.private, self.fix, self.fix_policy)


_OBJECT_KINDS = ("object-acl", "not-readable")


def _probe_hint(private: bool, fix: bool, fix_policy: bool) -> str:
    if not fix or not fix_policy:
        return "not changed: run with --fix --fix-policy (the bucket policy or settings allow it)"
    return "still " + ("readable" if private else "refused") + ": check the provider's settings"
