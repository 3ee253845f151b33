"""Settings for a site run as several processes (web, job workers) sharing one SQLite file."""

from __future__ import annotations

from typing import Any

_TEMPLATE = """
from {base} import *  # noqa: F403

DATABASES = {{
    "default": {{
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": {db!r},
        "OPTIONS": {{
            "timeout": 60,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }},
    }}
}}
MEDIAHUB = {mediahub!r}
LOGGING = {{"version": 1, "root": {{"level": "WARNING"}}}}
"""


def shared_sqlite_settings(base: str, db: str, mediahub: dict[str, Any]) -> str:
    """The text of a settings module: ``base``'s settings on the SQLite file ``db``.

    WAL and immediate transactions, so worker processes write without "database is
    locked"; ``MEDIAHUB`` as given; only warnings logged.
    """
    return _TEMPLATE.format(base=base, db=db, mediahub=mediahub)
