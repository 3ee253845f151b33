"""mediahub's own settings: ``settings.MEDIAHUB`` merged over :data:`DEFAULTS`.

Values are read on every access (like django-cors-headers), so
``override_settings(MEDIAHUB={...})`` just works and nothing is computed at import.

    from mediahub.conf import app_settings
    app_settings.PAGE_SIZE
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

#: Every option with its default. Documented in the README ("Settings").
DEFAULTS: dict[str, Any] = {
    # Storage aliases (keys of settings.STORAGES) behind the two visibilities.
    "PUBLIC_STORAGE": "default",
    "PRIVATE_STORAGE": "private",
    # Signed links (mediahub.links): default lifetime of a link, in seconds.
    "LINK_EXPIRY": 3600,
    # Longest lifetime links.sign() accepts, in seconds (longer: ValueError).
    "LINK_MAX_EXPIRY": 7 * 24 * 3600,
    # Lifetime of the presigned URL a link redirects to, in seconds.
    "PRESIGN_EXPIRY": 300,
    # Seconds a redeemed object's existence and ETag stay cached (0: a HEAD per redemption).
    "OBJECT_CACHE_TIMEOUT": 30,
    # The CACHES alias of that cache (shared by instances or not: see signed-links docs).
    "OBJECT_CACHE": "default",
    # Record every redeemed link in the download log.
    "AUDIT_LOG": True,
    # Admin media library: entries per page (one ListObjectsV2 call per page).
    "PAGE_SIZE": 100,
    # Largest upload accepted, in bytes (5 GiB).
    "UPLOAD_MAX_SIZE": 5 * 1024**3,
    # Uploads at least this large go straight from the browser to S3 (multipart).
    "DIRECT_UPLOAD_THRESHOLD": 10 * 1024**2,
    # Part size of direct multipart uploads (S3 minimum is 5 MiB).
    "MULTIPART_CHUNK_SIZE": 8 * 1024**2,
    # Allowed upload content types (None: any); e.g. ["image/*", "application/pdf"].
    "UPLOAD_ALLOWED_TYPES": None,
    # HTML/SVG/XML written to the public storage by any path: "attachment" or "refuse".
    "ACTIVE_CONTENT": "attachment",
    # Admin media library: most objects a folder's delete confirmation page counts
    # ("more than N" beyond); no longer a cap: folder actions of any size are jobs.
    "FOLDER_OPERATION_LIMIT": 1000,
    # Admin media library: bulk actions over more objects than this run as jobs.
    "BULK_INLINE_LIMIT": 10,
    # Admin media library: objects a bulk confirmation page counts before saying "more than".
    "BULK_COUNT_LIMIT": 10_000,
    # Admin media library: most files and bytes of a "Download ZIP" (streamed, bounded memory).
    "ZIP_MAX_FILES": 200,
    "ZIP_MAX_SIZE": 200 * 1024**2,
    # Admin media library: most signed links made for one selection at once.
    "SIGN_MANY_LIMIT": 500,
    # Admin media library: format of every date (a Django format name or a date format string).
    "LIBRARY_DATE_FORMAT": "DATETIME_FORMAT",
    # Admin media library: lifetime of a direct multipart upload session, in seconds.
    "DIRECT_UPLOAD_EXPIRY": 6 * 3600,
    # Thumbnails: named aliases ({"name": {"size": (w, h), "crop": ...}}).
    "THUMBNAIL_ALIASES": {"admin": {"size": (80, 80), "crop": "smart"}},
    # Prefix (inside the private storage) for thumbnails of private images.
    "PRIVATE_THUMBNAIL_PREFIX": "thumbnails/",
    # Largest image (in pixels) a thumbnail is made from; bigger is a bomb.
    "THUMBNAIL_MAX_PIXELS": 40_000_000,
    # Image formats thumbnails are made from.
    "THUMBNAIL_FORMATS": ["JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF"],
    # Prefix (inside STORAGES["easy_thumbnails"]) for thumbnails of public images.
    "PUBLIC_THUMBNAIL_PREFIX": "thumbnails/",
    # Largest source file (in bytes) a thumbnail is made from (100 MiB).
    "THUMBNAIL_MAX_SOURCE_SIZE": 100 * 1024**2,
    # Lifetime (s) of the signed URL of a private image's missing thumbnail.
    "THUMBNAIL_LINK_EXPIRY": 3600,
    # Image decodes at once per process (each holds up to 4 bytes x THUMBNAIL_MAX_PIXELS).
    "THUMBNAIL_MAX_DECODES": 1,
    # Missing thumbnails one page may have made in-request; the rest go to workers.
    "THUMBNAIL_REQUEST_BUDGET": 2,
    # Seconds during which thumbnails.schedule() does not enqueue the same names again.
    "THUMBNAIL_SCHEDULE_TTL": 300,
    # Operations (mediahub.retry): tries per S3 request on 500/503/timeouts, on top of
    # botocore's own retries, and the first backoff delay in seconds (doubles each try).
    "RETRY_ATTEMPTS": 4,
    "RETRY_BACKOFF": 0.5,
    # Commands: parallel S3 requests by default (--jobs).
    "OPERATIONS_JOBS": 8,
    # mediahub_sync: folder of its state files (what was synced: size, mtime, ETag), so
    # that unchanged files are skipped without reading them; None: the user's cache
    # folder ($XDG_CACHE_HOME/mediahub/sync); "": no state (unchanged files are hashed).
    "SYNC_STATE_DIR": None,
    # Jobs (mediahub.jobs): the TASKS alias their tasks are enqueued on.
    "TASK_BACKEND": "default",
    # Jobs: objects per chunk (the cursor is saved after each chunk).
    "JOB_CHUNK_SIZE": 500,
    # Jobs: parallel S3 requests inside one chunk (server-side copies, deletes).
    "JOB_THREADS": 16,
    # Jobs: tasks enqueued per job, so that several workers share a large one.
    "JOB_PARALLEL_TASKS": 2,
    # Jobs: seconds a chunk stays claimed without a heartbeat; then another worker takes it.
    "JOB_LEASE_TIMEOUT": 60,
    # Jobs: seconds one task works before it re-enqueues the job and returns.
    "JOB_TASK_TIME": 30,
    # Jobs: errors kept (with object names) on the job record; all failed names are kept.
    "JOB_MAX_ERRORS": 50,
    # mediahub_audit: objects probed with an anonymous request per storage.
    "AUDIT_PROBE_SAMPLE": 20,
}


class MediahubSettings:
    """Attribute access to mediahub's settings, read at access time."""

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown mediahub setting: {name!r}")
        user = getattr(settings, "MEDIAHUB", None) or {}
        return user.get(name, DEFAULTS[name])


app_settings = MediahubSettings()
