"""``FILER_STORAGES`` and ``FILER_SERVERS`` built from mediahub's storages.

django-filer reads both settings once, when ``filer.settings`` is first imported,
and instantiates the storages and servers right there. What these functions return
is made for that: plain dicts of import strings and names, whose storages are thin
forwarders (:mod:`mediahub.contrib.filer.storage`) that look mediahub's storage up
on every call. Nothing is instantiated and no setting is read when they run, so:

* settings can call them before ``STORAGES`` is even defined;
* tests that change ``STORAGES`` (``override_settings``) reach filer's files too;
* what filer *does* capture at import is the ``base_url`` of the private storages
  (``filer.server.urls`` builds its URL patterns from it) and the other
  ``FILER_*`` values in ``filer.settings``: change those in tests by patching
  ``filer.settings`` attributes, not with ``override_settings``.
"""

from __future__ import annotations

from typing import Any

from mediahub.contrib.filer.storage import PRIVATE_BASE_URL, PRIVATE_THUMBNAILS_BASE_URL

STORAGE_MODULE = "mediahub.contrib.filer.storage"
SERVER = "mediahub.contrib.filer.server.SignedRedirectServer"
UPLOAD_TO = "filer.utils.generate_filename.randomized"

#: Object-name prefixes, the same as filer's own defaults (private ones in the private bucket).
PUBLIC_PREFIX = "filer_public"
PUBLIC_THUMBNAILS_DIR = "filer_public_thumbnails"
PRIVATE_PREFIX = "filer_private"
PRIVATE_THUMBNAILS_PREFIX = "filer_private_thumbnails/"


def filer_storages(
    *,
    public: str = "public",
    private: str = "private",
    private_base_url: str = PRIVATE_BASE_URL,
    private_thumbnails_base_url: str = PRIVATE_THUMBNAILS_BASE_URL,
    upload_to: str = UPLOAD_TO,
) -> dict[str, Any]:
    """A complete ``FILER_STORAGES`` on mediahub's public and private storages.

    ``public``/``private`` name the storages (``"public"``/``"private"`` follow
    ``MEDIAHUB["PUBLIC_STORAGE"]``/``["PRIVATE_STORAGE"]``; any ``STORAGES`` alias
    works). Layout of the objects:

    * public files ``filer_public/…`` and their thumbnails
      ``filer_public_thumbnails/…`` in the public storage;
    * private files ``filer_private/…`` and their thumbnails
      ``filer_private_thumbnails/…`` in the private storage, served on the site at
      ``private_base_url`` / ``private_thumbnails_base_url`` (include
      ``filer.server.urls`` and set ``FILER_SERVERS = filer_servers()``).
    """
    for url in (private_base_url, private_thumbnails_base_url):
        if not (url.startswith("/") and url.endswith("/")):
            raise ValueError(f"A filer base URL is a path starting and ending with '/': {url!r}")
    if private_base_url == private_thumbnails_base_url:
        raise ValueError("Private files and private thumbnails need different base URLs.")
    return {
        "public": {
            "main": {
                "ENGINE": f"{STORAGE_MODULE}.FilerPublicStorage",
                "OPTIONS": {"storage": public},
                "UPLOAD_TO": upload_to,
                "UPLOAD_TO_PREFIX": PUBLIC_PREFIX,
            },
            "thumbnails": {
                "ENGINE": f"{STORAGE_MODULE}.FilerPublicThumbnailStorage",
                "OPTIONS": {"storage": public},
                "THUMBNAIL_OPTIONS": {"base_dir": PUBLIC_THUMBNAILS_DIR},
            },
        },
        "private": {
            "main": {
                "ENGINE": f"{STORAGE_MODULE}.FilerPrivateStorage",
                "OPTIONS": {"storage": private, "base_url": private_base_url},
                "UPLOAD_TO": upload_to,
                "UPLOAD_TO_PREFIX": PRIVATE_PREFIX,
            },
            "thumbnails": {
                "ENGINE": f"{STORAGE_MODULE}.FilerPrivateThumbnailStorage",
                # A prefix on the storage, not a thumbnail base_dir: filer maps a
                # thumbnail's URL path back to its source file by name.
                "OPTIONS": {
                    "storage": private,
                    "prefix": PRIVATE_THUMBNAILS_PREFIX,
                    "base_url": private_thumbnails_base_url,
                },
                "THUMBNAIL_OPTIONS": {},
            },
        },
    }


def filer_servers(*, inline: bool = False, expires_in: int | None = None) -> dict[str, Any]:
    """A complete ``FILER_SERVERS``: private files and thumbnails by signed redirect.

    ``inline`` serves private files with ``Content-Disposition: inline`` instead of
    ``attachment`` (thumbnails are always inline); ``expires_in`` is the lifetime of
    the presigned URLs in seconds (default ``MEDIAHUB["PRESIGN_EXPIRY"]``, read per
    request).
    """
    options: dict[str, Any] = {"inline": inline, "expires_in": expires_in}
    return {
        "private": {
            "main": {"ENGINE": SERVER, "OPTIONS": dict(options)},
            "thumbnails": {"ENGINE": SERVER, "OPTIONS": {**options, "thumbnails": True}},
        }
    }
