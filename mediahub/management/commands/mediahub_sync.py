"""``manage.py mediahub_sync push|pull LOCAL_DIR``: copy between a folder and a storage.

The work, the arguments and the report are :mod:`mediahub.operations.sync`'s, shared
with its lean entry, which runs the same command without loading the project's apps:

    DJANGO_SETTINGS_MODULE=mysite.settings python -m mediahub.operations.sync push media/
"""

from __future__ import annotations

from django.core.checks import Tags
from django.core.management.base import BaseCommand, CommandError

from mediahub.operations import sync


class Command(BaseCommand):
    help = sync.HELP
    # The storage checks (mediahub's are tagged "compatibility"), not every model's.
    requires_system_checks = [Tags.compatibility]

    def add_arguments(self, parser):
        sync.add_arguments(parser)

    def handle(self, *args, **options):
        try:
            sync.run_command(options, self.stdout.write, self.stderr.write)
        except sync.SyncError as error:
            raise CommandError(str(error), returncode=error.returncode) from None


def main(argv: list[str] | None = None) -> int:
    """The lean entry (:func:`mediahub.operations.sync.main`)."""
    return sync.main(argv)
