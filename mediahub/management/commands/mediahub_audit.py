"""``manage.py mediahub_audit``: find (and fix) private objects anyone can read."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from mediahub import retry
from mediahub.operations.audit import AuditReport, audit
from mediahub.operations.progress import for_command
from mediahub.storage import UnknownStorage, resolve_aliases


class Command(BaseCommand):
    help = (
        "Audit the private storage for objects anyone can read (object ACLs, bucket policy, "
        "Block Public Access, anonymous probes) and the public storage for objects nobody "
        "can read and for private objects restored or pushed there (private mark, private "
        "field and filer names); both for a lifecycle rule aborting incomplete multipart "
        "uploads. Exit status 1 when exposures remain."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--storage",
            action="append",
            dest="storages",
            metavar="ALIAS",
            help="Storage to audit: public, private or a STORAGES alias (repeatable; "
            "default: private and public).",
        )
        parser.add_argument(
            "--fix",
            action="store_true",
            help="Repair what is safe: public grants removed from object ACLs (AllUsers READ "
            "added on a public storage that uses ACLs; other grants kept), private objects "
            "moved out of the public storage, the abort-incomplete-uploads lifecycle rule "
            "merged in, left-over multipart uploads aborted.",
        )
        parser.add_argument(
            "--fix-policy",
            action="store_true",
            help="With --fix, also change bucket policies and Block Public Access.",
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Do not ask before changing bucket policies (--fix-policy).",
        )
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
        parser.add_argument(
            "--enqueue",
            action="store_true",
            help="Run the audit as a background job (one per storage) on the task backend "
            "(MEDIAHUB['TASK_BACKEND']) and return at once; the Jobs admin shows the report.",
        )
        parser.add_argument("--jobs", type=int, default=None, help="Parallel S3 requests.")
        parser.add_argument(
            "--sample",
            type=int,
            default=None,
            help="Objects probed anonymously per storage (MEDIAHUB['AUDIT_PROBE_SAMPLE']).",
        )

    def handle(self, *args, **options):
        if options["fix_policy"] and not options["fix"]:
            raise CommandError("--fix-policy only makes sense with --fix.")
        if options["jobs"] is not None and not 1 <= options["jobs"] <= 64:
            raise CommandError("--jobs must be between 1 and 64.")
        aliases = self.aliases(options["storages"] or ["private", "public"])
        if options["fix_policy"] and options["interactive"]:
            answer = _ask(
                "--fix-policy may remove bucket policy statements and change Block Public "
                f"Access on the buckets of: {', '.join(aliases)}.\n"
                "Type 'yes' to continue, or 'no' to cancel: "
            )
            if answer != "yes":
                raise CommandError("Audit cancelled.")
        if options["enqueue"]:
            return self.enqueue(aliases, options)
        reports = []
        for alias in aliases:
            progress = for_command(f"Auditing {alias}", options)
            try:
                reports.append(
                    audit(
                        alias,
                        fix=options["fix"],
                        fix_policy=options["fix_policy"],
                        jobs=options["jobs"],
                        sample=options["sample"],
                        progress=progress,
                    )
                )
            except Exception as error:
                raise CommandError(retry.describe(error, action=f"auditing {alias}")) from None
        if options["json"]:
            data = {
                "storages": [report.to_dict() for report in reports],
                "exposed": sum(len(report.exposed) for report in reports),
            }
            self.stdout.write(json.dumps(data, indent=2, default=str))
        else:
            for report in reports:
                self.write_report(report, int(options["verbosity"]))
        exposed = sum(len(report.exposed) for report in reports)
        changed = sum(len(report.changes) for report in reports)
        if not options["json"] and options["verbosity"] >= 1:
            self.stdout.write(
                f"{sum(r.objects for r in reports)} objects audited, "
                f"{sum(len(r.findings) for r in reports)} finding(s), {changed} fixed, "
                f"{exposed} exposure(s) left."
            )
        if exposed:
            raise CommandError(
                f"{exposed} exposure(s) not fixed"
                + ("" if options["fix"] else ": run with --fix (and --fix-policy)")
                + ".",
                returncode=1,
            )

    def enqueue(self, aliases: list[str], options) -> None:
        from mediahub import jobs

        for alias in aliases:
            params = {"fix": options["fix"], "fix_policy": options["fix_policy"]}
            try:
                job = jobs.start("audit", storage=alias, params=params)
            except jobs.JobError as error:
                raise CommandError(str(error)) from None
            if options["verbosity"] >= 1:
                self.stdout.write(f"Audit of {alias} enqueued: job #{job.pk}.")

    def aliases(self, names: list[str]) -> list[str]:
        try:
            return resolve_aliases(names)
        except UnknownStorage as error:
            raise CommandError(str(error)) from None

    def write_report(self, report: AuditReport, verbosity: int) -> None:
        title = f"{report.alias} ({report.visibility}, {report.location})"
        if report.skipped:
            self.stdout.write(f"{title}: skipped, {report.skipped}.")
            return
        if verbosity >= 1:
            self.stdout.write(
                self.style.MIGRATE_HEADING(title)
                + f"\n  {report.objects} objects, {report.probed} probed anonymously, "
                f"object ACLs: {report.acls}"
            )
        for note in report.notes:
            self.stdout.write(f"  note: {note}")
        for finding in report.findings:
            if finding.fixed:
                mark = self.style.SUCCESS("FIXED")
            elif finding.severity == "error":
                mark = self.style.ERROR("EXPOSED")
            else:
                mark = self.style.WARNING("WARNING")
            line = f"  {mark} {finding.kind}: {finding.target}: {finding.detail}"
            if finding.change:
                line += f" [{finding.change}]"
            self.stdout.write(line)
        if not report.findings and verbosity >= 1:
            self.stdout.write(self.style.SUCCESS("  clean"))


def _ask(prompt: str) -> str:
    """The operator's answer; no terminal to answer (EOF) cancels."""
    try:
        return input(prompt)
    except EOFError:
        raise CommandError(
            "Audit cancelled: no answer to the confirmation (run with --noinput to skip it)."
        ) from None
