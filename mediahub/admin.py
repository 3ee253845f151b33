"""Admin registrations; each feature keeps its ModelAdmin in its own module."""

from __future__ import annotations

from mediahub import audit_admin  # noqa: F401  (download log)
from mediahub.jobs import admin as jobs_admin  # noqa: F401, E402  (jobs)
from mediahub.library import admin as library_admin  # noqa: F401, E402  (media library)
