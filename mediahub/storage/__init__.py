"""mediahub's storages and the lookup of storages by visibility or alias.

``get_storage("public")`` / ``get_storage("private")`` return the storages behind
the two visibilities (aliases from ``MEDIAHUB["PUBLIC_STORAGE"]`` /
``["PRIVATE_STORAGE"]``); any other key of ``settings.STORAGES`` is accepted too.
Storages are looked up at call time through :data:`django.core.files.storage.storages`.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import Storage, storages

from mediahub.conf import app_settings

VISIBILITIES = ("public", "private")


class UnknownStorage(LookupError):
    """Raised for a storage name that is neither a visibility nor a configured alias."""


def resolve_alias(name: str) -> str:
    """Map ``"public"``/``"private"`` to their ``STORAGES`` alias; check aliases exist."""
    if name == "public":
        alias = app_settings.PUBLIC_STORAGE
    elif name == "private":
        alias = app_settings.PRIVATE_STORAGE
    else:
        alias = name
    if not isinstance(alias, str) or alias not in settings.STORAGES:
        raise UnknownStorage(f"No storage named {name!r} in settings.STORAGES.")
    return alias


def resolve_aliases(names: list[str] | None, default: tuple[str, ...] = VISIBILITIES) -> list[str]:
    """Resolve several storage names (``default`` when none) to distinct ``STORAGES`` aliases."""
    return list(dict.fromkeys(resolve_alias(name) for name in names or default))


def get_storage(name: str) -> Storage:
    """Return the storage for a visibility (``public``/``private``) or a ``STORAGES`` alias."""
    return storages[resolve_alias(name)]


def visibility_of(storage: Storage) -> str:
    """``"private"`` or ``"public"``: a storage's own declaration, else its place in settings."""
    declared = getattr(storage, "visibility", None)
    if declared in VISIBILITIES:
        return declared
    try:
        if storage is get_storage("private"):
            return "private"
    except UnknownStorage:
        pass
    except Exception:  # noqa: S110 - the private storage cannot be built (E009): not it
        pass
    return "public"


def alias_of(storage: Storage) -> str | None:
    """The ``STORAGES`` alias whose instance is ``storage`` (None if it is not configured)."""
    for alias in settings.STORAGES:
        try:
            instance = storages[alias]
        except Exception:  # noqa: S112 - another alias that cannot be built (E009)
            continue
        if instance is storage:
            return alias
    return None
