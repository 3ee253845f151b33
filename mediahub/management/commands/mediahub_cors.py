"""``manage.py mediahub_cors``: show or apply the CORS rules mediahub's buckets need."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from mediahub import retry
from mediahub.operations import cors
from mediahub.storage import UnknownStorage, resolve_aliases


class Command(BaseCommand):
    help = (
        "Show the buckets' CORS rules and the ones mediahub needs (GET/HEAD for media from "
        "the site's origins; PUT/POST with ExposeHeaders ETag for direct uploads). "
        "--apply writes them, keeping unrelated rules."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--origin",
            action="append",
            dest="origins",
            metavar="URL",
            help="Allowed origin, e.g. https://www.example.com (repeatable; default: "
            "CSRF_TRUSTED_ORIGINS and ALLOWED_HOSTS).",
        )
        parser.add_argument(
            "--storage",
            action="append",
            dest="storages",
            metavar="ALIAS",
            help="Storage whose bucket to configure (repeatable; default: public and private).",
        )
        parser.add_argument("--apply", action="store_true", help="Write the rules.")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="mediahub's rules allow exactly these origins (by default origins that other "
            "sites sharing the bucket added are kept).",
        )
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args, **options):
        try:
            aliases = resolve_aliases(options["storages"])
        except UnknownStorage as error:
            raise CommandError(str(error)) from None
        origins = options["origins"] or cors.default_origins()
        try:
            report = cors.plan(aliases, origins, replace=options["replace"])
            if options["apply"]:
                cors.apply(report)
        except cors.OriginError as error:
            raise CommandError(str(error)) from None
        except Exception as error:
            raise CommandError(retry.describe(error, action="CORS")) from None
        if options["json"]:
            data = {
                "origins": report.origins,
                "buckets": [entry.to_dict() for entry in report.buckets],
                "skipped": report.skipped,
            }
            self.stdout.write(json.dumps(data, indent=2))
            return
        verbosity = int(options["verbosity"])
        for entry in report.buckets:
            self.stdout.write(
                self.style.MIGRATE_HEADING(f"Bucket {entry.bucket} ({', '.join(entry.storages)})")
            )
            if verbosity >= 1:
                self.write_rules("current rules", entry.current)
            if entry.applied:
                self.stdout.write(self.style.SUCCESS("  applied: rules written"))
            elif entry.up_to_date:
                self.stdout.write(self.style.SUCCESS("  up to date"))
            else:
                self.write_rules("rules after --apply (other rules kept)", entry.wanted)
                self.stdout.write(self.style.WARNING("  differs: run with --apply to write them"))
        for line in report.skipped:
            self.stdout.write(f"Skipped {line}")
        changed = sum(entry.applied for entry in report.buckets)
        pending = sum(not entry.up_to_date for entry in report.buckets)
        self.stdout.write(
            f"{len(report.buckets)} bucket(s), origins {', '.join(report.origins)}: "
            f"{changed} updated, {pending} pending."
        )

    def write_rules(self, title: str, rules: list[dict]) -> None:
        self.stdout.write(f"  {title}:" + ("" if rules else " none"))
        for rule in rules:
            self.stdout.write(
                "    - {id}: {methods} from {origins}{expose}".format(
                    id=rule.get("ID", "(no id)"),
                    methods="/".join(rule.get("AllowedMethods", [])),
                    origins=", ".join(rule.get("AllowedOrigins", [])),
                    expose=(
                        "; exposes " + ", ".join(rule["ExposeHeaders"])
                        if rule.get("ExposeHeaders")
                        else ""
                    ),
                )
            )
