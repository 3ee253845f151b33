"""Running management commands in tests: exit code and output, never an exception."""

from __future__ import annotations

import io

from django.core.management import call_command
from django.core.management.base import CommandError


def run_command(name: str, *args: str) -> tuple[int, str]:
    """``(exit code, stdout)`` of ``manage.py name args`` (stderr dropped)."""
    out = io.StringIO()
    try:
        call_command(name, *args, stdout=out, stderr=io.StringIO())
    except CommandError as error:
        return error.returncode, out.getvalue()
    return 0, out.getvalue()


def run_audit(*args: str) -> tuple[int, str]:
    """``(exit code, stdout)`` of ``mediahub_audit args``."""
    return run_command("mediahub_audit", *args)
