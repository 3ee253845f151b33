"""``manage.py mediahub_thumbnails``: pre-generate the thumbnails of a storage."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from mediahub import retry
from mediahub.conf import app_settings
from mediahub.names import validate_folder
from mediahub.operations.progress import for_command
from mediahub.storage import UnknownStorage
from mediahub.thumbnails.pregenerate import Report, pregenerate, walk
from mediahub.thumbnails.storages import resolve_target

#: Threads per process: one source's S3 requests overlap another's decode (decodes stay
#: capped by MEDIAHUB["THUMBNAIL_MAX_DECODES"]).
IO_THREADS = 2


class Command(BaseCommand):
    help = (
        "Generate the missing or stale thumbnails of every image in a storage (or under a "
        "prefix), for the aliases of MEDIAHUB['THUMBNAIL_ALIASES']. Fresh thumbnails are "
        "skipped. Exit status 1 when any thumbnail could not be made."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--storage",
            default="public",
            metavar="ALIAS",
            help="public (default), private or a STORAGES alias.",
        )
        parser.add_argument(
            "--prefix",
            default="",
            help="Only objects whose name starts with this (a folder such as 'photos/', "
            "optionally followed by the start of a name).",
        )
        parser.add_argument(
            "--alias",
            action="append",
            dest="aliases",
            metavar="NAME",
            help="Thumbnail alias to generate (repeatable; default: all configured aliases).",
        )
        parser.add_argument(
            "--jobs",
            type=int,
            default=1,
            help="Worker processes making thumbnails in parallel, one per core (default 1). "
            "Each holds at most MEDIAHUB['THUMBNAIL_MAX_DECODES'] decoded images.",
        )
        parser.add_argument(
            "--force", action="store_true", help="Remake thumbnails even when they are fresh."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Only count what would be generated."
        )
        parser.add_argument(
            "--enqueue",
            action="store_true",
            help="Generate them in a background job on the task backend "
            "(MEDIAHUB['TASK_BACKEND']) and return at once (--prefix must be a folder).",
        )

    def handle(self, *args, **options):
        if not 1 <= options["jobs"] <= 64:
            raise CommandError("--jobs must be between 1 and 64.")
        prefix = options["prefix"]
        folder = prefix.rpartition("/")[0]
        try:
            validate_folder(f"{folder}/" if folder else "")
            target = resolve_target(options["storage"])
        except UnknownStorage as error:
            raise CommandError(str(error)) from None
        except Exception as error:  # SuspiciousFileOperation
            raise CommandError(f"--prefix: {error}") from None
        aliases = options["aliases"] or list(app_settings.THUMBNAIL_ALIASES or {})
        if not aliases:
            raise CommandError("No thumbnail alias: set MEDIAHUB['THUMBNAIL_ALIASES'] or --alias.")
        if options["enqueue"]:
            return self.enqueue(options["storage"], prefix, aliases, options)
        try:
            report = self.run(target, prefix, aliases, options)
        except ValueError as error:  # unknown alias, bad options
            raise CommandError(str(error)) from None
        except Exception as error:
            if retry.is_retryable(error) or retry.error_code(error):
                raise CommandError(retry.describe(error, action="Listing")) from None
            raise
        self.summarise(report, options)

    def enqueue(self, storage: str, prefix: str, aliases: list[str], options) -> None:
        from mediahub import jobs

        if options["force"] or options["dry_run"]:
            raise CommandError("--force and --dry-run do not apply to --enqueue.")
        params = {"prefix": prefix, "aliases": aliases}
        try:
            job = jobs.start("thumbnails", storage=storage, params=params)
        except jobs.JobError as error:
            raise CommandError(str(error)) from None
        if options["verbosity"] >= 1:
            self.stdout.write(f"Thumbnails of {storage} enqueued: job #{job.pk}.")

    def run(self, target, prefix: str, aliases: list[str], options) -> Report:
        # The raw stream: the bar redraws its line with "\r".
        progress = for_command(f"Thumbnails of {target.source_alias}", options, self.stderr._out)
        entries = list(walk(target, prefix))
        progress.set_total(len(entries))
        with progress:
            return pregenerate(
                target,
                entries,
                aliases,
                processes=options["jobs"],
                jobs=IO_THREADS,
                force=options["force"],
                dry_run=options["dry_run"],
                progress=lambda done, total: progress.advance(),
            )

    def summarise(self, report: Report, options) -> None:
        for name, alias, reason in report.failures:
            self.stderr.write(f"FAILED {name} [{alias}]: {reason}")
        verb = "would be generated" if options["dry_run"] else "generated"
        line = (
            f"{report.sources} images: {report.generated} thumbnails {verb}, "
            f"{report.fresh} fresh, {report.failed} failed."
        )
        if options["verbosity"] >= 1:
            self.stdout.write(line)
        if report.failed:
            raise CommandError(f"{report.failed} thumbnails could not be made.", returncode=1)
