"""``manage.py mediahub_doctor``: a live health report of mediahub's storages."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from mediahub.operations import doctor
from mediahub.storage import UnknownStorage, resolve_aliases


class Command(BaseCommand):
    help = (
        "Check each storage live: bucket reachable, credentials, region, public storage "
        "readable and private storage NOT readable anonymously, neither listable nor "
        "writable anonymously, bucket policy, Block Public Access, CORS, lifecycle rule and "
        "left-over multipart uploads, conditional writes, clock skew. Exit status 1 on any "
        "failure."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--storage",
            action="append",
            dest="storages",
            metavar="ALIAS",
            help="Storage to check (repeatable; default: public and private).",
        )
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args, **options):
        try:
            aliases = resolve_aliases(options["storages"])
        except UnknownStorage as error:
            raise CommandError(str(error)) from None
        report = doctor.diagnose(aliases)
        if options["json"]:
            self.stdout.write(json.dumps(report.to_dict(), indent=2))
        else:
            self.write_report(report, int(options["verbosity"]))
        if not report.ok:
            failed = report.counts()[doctor.FAIL]
            raise CommandError(f"{failed} check(s) failed.", returncode=1)

    def write_report(self, report: doctor.DoctorReport, verbosity: int) -> None:
        styles = {
            doctor.OK: self.style.SUCCESS,
            doctor.WARNING: self.style.WARNING,
            doctor.FAIL: self.style.ERROR,
            doctor.SKIP: str,
        }
        for health in report.storages:
            self.stdout.write(
                self.style.MIGRATE_HEADING(
                    f"{health.alias} ({health.visibility}, {health.location})"
                )
            )
            for check in health.checks:
                if check.status == doctor.OK and verbosity < 1:
                    continue
                label = styles[check.status](f"{check.status.upper():7}")
                self.stdout.write(f"  {label} {check.name}: {check.detail}")
        counts = report.counts()
        self.stdout.write(
            f"{counts[doctor.OK]} ok, {counts[doctor.WARNING]} warning(s), "
            f"{counts[doctor.FAIL]} failure(s), {counts[doctor.SKIP]} skipped."
        )
