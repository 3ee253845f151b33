"""System checks of django-filer's storages, servers and URLs (``mediahub.E1xx/W1xx``).

They read what filer actually uses: the storages and servers ``filer.settings``
built at import. Nothing here touches the network.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.apps import apps
from django.core.checks import Error, Tags, Warning, register
from django.core.files.storage import FileSystemStorage, InMemoryStorage, Storage

from mediahub.contrib.filer.storage import MediahubFilerStorage

E101 = "mediahub.E101"  # filer's private storage on local disk
E102 = "mediahub.E102"  # filer server URLs, but the private storage cannot sign URLs
E103 = "mediahub.E103"  # filer's stock server (needs a local path) on mediahub's storage
W101 = "mediahub.W101"  # filer installed but its storages are not mediahub's
W102 = "mediahub.W102"  # mediahub's private filer storage, but filer.server.urls missing
W103 = "mediahub.W103"  # mediahub.contrib.filer installed without filer

ONE_LINER = (
    "In settings: from mediahub.contrib.filer import filer_servers, filer_storages; "
    "FILER_STORAGES = filer_storages(); FILER_SERVERS = filer_servers()."
)

#: filer.settings attribute -> FILER_STORAGES path, for the messages.
STORAGE_SETTINGS = {
    "FILER_PUBLICMEDIA_STORAGE": "public.main",
    "FILER_PUBLICMEDIA_THUMBNAIL_STORAGE": "public.thumbnails",
    "FILER_PRIVATEMEDIA_STORAGE": "private.main",
    "FILER_PRIVATEMEDIA_THUMBNAIL_STORAGE": "private.thumbnails",
}
PRIVATE_SETTINGS = ("FILER_PRIVATEMEDIA_STORAGE", "FILER_PRIVATEMEDIA_THUMBNAIL_STORAGE")
SERVER_SETTINGS = {
    "FILER_PRIVATEMEDIA_SERVER": "private.main",
    "FILER_PRIVATEMEDIA_THUMBNAIL_SERVER": "private.thumbnails",
}


def _filer_settings() -> Any:
    from filer import settings as filer_settings

    return filer_settings


def _is_local(storage: Any) -> bool:
    return isinstance(storage, FileSystemStorage)


def _is_development(storage: Storage) -> bool:
    """mediahub's own local-folder or in-memory storages (streamed, flagged by W004)."""
    return isinstance(storage, FileSystemStorage | InMemoryStorage) and hasattr(
        storage, "list_folder"
    )


@register(Tags.compatibility)
def check_filer_storages(app_configs=None, **kwargs) -> list:
    """E101, W101, W103: filer keeps its files in mediahub's storages."""
    if not apps.is_installed("filer"):
        return [
            Warning(
                "mediahub.contrib.filer is installed but django-filer is not.",
                hint="Add 'filer' (and 'easy_thumbnails') to INSTALLED_APPS, or remove "
                "'mediahub.contrib.filer'.",
                id=W103,
            )
        ]
    filer_settings = _filer_settings()
    messages: list = []
    foreign = []
    for attribute, path in STORAGE_SETTINGS.items():
        storage = getattr(filer_settings, attribute)
        if isinstance(storage, MediahubFilerStorage):
            continue
        if attribute in PRIVATE_SETTINGS and _is_local(storage):
            visibility, role = path.split(".")
            messages.append(
                Error(
                    f"FILER_STORAGES[{visibility!r}][{role!r}] keeps filer's private "
                    f"files on local disk ({type(storage).__name__}): they are lost with the "
                    "instance and missing on every other one.",
                    hint=ONE_LINER,
                    id=E101,
                )
            )
        else:
            foreign.append(path)
    if foreign:
        messages.append(
            Warning(
                f"django-filer's storages {', '.join(foreign)} are not mediahub's: filer "
                "files bypass mediahub's public/private layout and signed serving.",
                hint=ONE_LINER,
                id=W101,
            )
        )
    private = filer_settings.FILER_PRIVATEMEDIA_STORAGE
    if isinstance(private, MediahubFilerStorage):
        from mediahub.contrib.filer.server import SignedRedirectServer

        for attribute, path in SERVER_SETTINGS.items():
            server = getattr(filer_settings, attribute)
            if not isinstance(server, SignedRedirectServer):
                messages.append(
                    Error(
                        f"FILER_SERVERS['private']['{path.split('.')[1]}'] is "
                        f"{type(server).__name__}, which serves from a local path; filer's "
                        "private files are in mediahub's storage and have none.",
                        hint="FILER_SERVERS = mediahub.contrib.filer.filer_servers()",
                        id=E103,
                    )
                )
    return messages


@register(Tags.urls)
def check_filer_urls(app_configs=None, **kwargs) -> list:
    """E102, W102: filer's private URLs are served, and served by signed redirect."""
    if not apps.is_installed("filer"):
        return []
    filer_settings = _filer_settings()
    private = filer_settings.FILER_PRIVATEMEDIA_STORAGE
    included = filer_server_urls_included()
    messages: list = []
    if isinstance(private, MediahubFilerStorage) and not included:
        messages.append(
            Warning(
                "filer's private files are served at "
                f"{private.base_url!r}, but filer.server.urls is not in the URLconf: "
                "their links answer 404.",
                hint="Add path('', include('filer.server.urls')) to your urls.py.",
                id=W102,
            )
        )
    if included:
        for attribute in PRIVATE_SETTINGS:
            storage = getattr(filer_settings, attribute)
            target = _target(storage)
            if target is None or _is_local(storage) or _is_development(target):
                continue  # E101 / W004 cover local folders
            if not callable(getattr(target, "presigned_url", None)):
                messages.append(
                    Error(
                        f"filer.server.urls serves private files from {type(target).__name__}, "
                        "which cannot presign URLs: every private download would pass "
                        "through the app server.",
                        hint="Point the private storage at S3 (mediahub.dsn.parse("
                        "PRIVATE_STORAGE_DSN, visibility='private')).",
                        id=E102,
                    )
                )
                break
    return messages


def _target(storage: Any) -> Storage | None:
    if isinstance(storage, MediahubFilerStorage):
        try:
            return storage.target
        except Exception:  # reported by mediahub's own storage checks (E001, E009)
            return None
    return storage


def filer_server_urls_included(urlconf: str | None = None) -> bool:
    """True when filer's private file views are reachable in the URLconf."""
    from django.urls import get_resolver
    from filer.server import views

    wanted = {views.serve_protected_file, views.serve_protected_thumbnail}
    return any(callback in wanted for callback in _callbacks(get_resolver(urlconf).url_patterns))


def _callbacks(patterns) -> Iterator[Any]:
    for pattern in patterns:
        nested = getattr(pattern, "url_patterns", None)
        if nested is not None:
            yield from _callbacks(nested)
        else:
            yield getattr(pattern, "callback", None)
