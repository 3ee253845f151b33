"""``DATABASE_URL`` to a Django ``DATABASES`` entry (sqlite and postgres forms)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured


def database_from_url(url: str | None, default_sqlite: Path | str) -> dict:
    if not url:
        return _sqlite(str(default_sqlite))
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return _sqlite(unquote(parts.path) or ":memory:")
    if parts.scheme in ("postgres", "postgresql"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
        }
    raise ImproperlyConfigured("DATABASE_URL must start with sqlite:// or postgres://.")


def _sqlite(name: str) -> dict:
    """SQLite that copes with the dev server's parallel requests (thumbnails, uploads)."""
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": name,
        "OPTIONS": {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
