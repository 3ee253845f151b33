"""``manage.py mediahub_sync push|pull LOCAL_DIR``: copy between a folder and a storage.

Start-up matters for a command run from cron or CI: this module imports only Django's
command machinery; the storage, boto3 and the sync code are imported when the command
runs, not for ``--help``. :func:`main` runs the same command without loading the
project's apps (no admin, no models, no easy-thumbnails/filer/Pillow):

    DJANGO_SETTINGS_MODULE=mysite.settings python -m mediahub.operations.sync push media/
"""

from __future__ import annotations

import json
import os
import sys

from django.core.checks import Tags
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Copy between a local folder and a storage, skipping unchanged files (size and "
        "mtime, or with --checksum their MD5/ETag) and keeping private objects private. "
        "push uploads, pull downloads."
    )
    # The storage checks (mediahub's are tagged "compatibility"), not every model's.
    requires_system_checks = [Tags.compatibility]

    def add_arguments(self, parser):
        parser.add_argument(
            "direction",
            choices=["push", "pull"],
            help="push: local folder to storage; pull: storage to local folder.",
        )
        parser.add_argument("local_dir", metavar="LOCAL_DIR", help="The local folder.")
        parser.add_argument(
            "--storage",
            default="public",
            metavar="ALIAS",
            help="public, private or a STORAGES alias (default: public).",
        )
        parser.add_argument("--prefix", default="", help="Folder inside the storage.")
        parser.add_argument(
            "--jobs",
            type=int,
            default=None,
            help="S3 requests in flight at once, multipart parts included "
            "(default: MEDIAHUB['OPERATIONS_JOBS']).",
        )
        parser.add_argument(
            "--checksum",
            action="store_true",
            help="Compare contents (MD5/ETag) instead of size and mtime: reads every "
            "file of the same size.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Show what would change; change nothing."
        )
        parser.add_argument(
            "--delete",
            action="store_true",
            help="Delete what is gone on the other side (after every copy succeeded).",
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Do not ask before deleting.",
        )
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args, **options):
        from django.core.exceptions import SuspiciousFileOperation

        from mediahub import retry
        from mediahub.operations import sync
        from mediahub.operations.progress import for_command
        from mediahub.storage import UnknownStorage, get_storage

        try:
            storage = get_storage(options["storage"])
        except UnknownStorage as error:
            raise CommandError(str(error)) from None
        except Exception as error:  # ImproperlyConfigured, TypeError... (check: E009)
            raise CommandError(
                f"the storage {options['storage']!r} cannot be built: "
                f"{type(error).__name__}: {error}"
            ) from None
        direction, local_dir = options["direction"], options["local_dir"]
        if options["jobs"] is not None and not 1 <= options["jobs"] <= 64:
            raise CommandError("--jobs must be between 1 and 64.")
        if options["delete"] and options["interactive"] and not options["dry_run"]:
            side = "the storage" if direction == "push" else local_dir
            answer = _ask(
                f"Files missing from the source will be DELETED from {side}.\n"
                "Type 'yes' to continue, or 'no' to cancel: "
            )
            if answer != "yes":
                raise CommandError("Sync cancelled.")
        run = sync.push if direction == "push" else sync.pull
        progress = for_command(direction.capitalize(), options)
        try:
            report = run(
                storage,
                local_dir,
                prefix=options["prefix"],
                jobs=options["jobs"],
                dry_run=options["dry_run"],
                delete=options["delete"],
                checksum=options["checksum"],
                progress=progress,
            )
        except (FileNotFoundError, SuspiciousFileOperation, ValueError) as error:
            raise CommandError(str(error)) from None
        except Exception as error:
            raise CommandError(retry.describe(error, action=direction)) from None
        self.write_report(report, options)
        if report.failed:
            raise CommandError(
                f"{len(report.failed)} file(s) failed; run again to retry them"
                + (" (nothing was deleted)." if options["delete"] else "."),
                returncode=1,
            )

    def write_report(self, report, options: dict) -> None:
        if options["json"]:
            self.stdout.write(json.dumps(report.to_dict(), indent=2))
            return
        verbosity = int(options["verbosity"])
        verb = "Would copy" if report.dry_run else "Copied"
        if verbosity >= 2:
            for name in report.copied:
                self.stdout.write(f"{verb} {name}")
            for name in report.deleted:
                self.stdout.write(f"{'Would delete' if report.dry_run else 'Deleted'} {name}")
        for name in report.refused:
            self.stderr.write(f"Skipped unsafe name {name!r}")
        for name, error in report.failed:
            self.stderr.write(f"Failed {name}: {error}")
        if report.delete_skipped:
            self.stderr.write(report.delete_skipped.capitalize() + ".")
        if verbosity >= 1:
            self.stdout.write(report.summary())


def _ask(prompt: str) -> str:
    """The operator's answer; no terminal to answer (EOF) cancels."""
    try:
        return input(prompt)
    except EOFError:
        raise CommandError(
            "Sync cancelled: no answer to the confirmation (run with --noinput to skip it)."
        ) from None


def main(argv: list[str] | None = None) -> int:
    """``mediahub_sync`` without ``django.setup()``: only the settings and the storages.

    The command needs no model, so the project's apps (admin, filer, easy-thumbnails,
    Pillow...) are not loaded; this saves most of a ``manage.py`` start-up. The
    settings module comes from ``--settings`` or ``DJANGO_SETTINGS_MODULE``; the system
    checks are not run (``manage.py mediahub_sync`` runs them).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    command = Command()
    parser = command.create_parser("python -m", "mediahub.operations.sync")
    options = vars(parser.parse_args(argv))
    if options.get("settings"):
        os.environ["DJANGO_SETTINGS_MODULE"] = options["settings"]
    if options.get("pythonpath"):
        sys.path.insert(0, options["pythonpath"])
    elif os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as manage.py finds the project's package
    options["skip_checks"] = True
    args = options.pop("args", ())
    try:
        command.execute(*args, **options)
    except CommandError as error:
        command.stderr.write(f"CommandError: {error}")
        return error.returncode
    return 0
