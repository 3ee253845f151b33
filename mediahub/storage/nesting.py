"""Storages nested in another: a public storage at a bucket's root, the private one under it.

Two storages may share a bucket (or a local folder) with one's prefix inside the
other's: the public storage at the root, the private one under ``private/``. Seen
from the outer storage, the inner one's objects are just a folder; anything that
walks or lists the outer storage (the media library, thumbnail pre-generation, sync,
audit) must not walk into a nested *private* storage: it would list private names,
hand out public URLs for them, or write public thumbnails of private images.
"""

from __future__ import annotations

from django.core.files.storage import Storage


def nested_private_prefixes(storage: Storage) -> tuple[str, ...]:
    """Name prefixes (``"private/"``, relative to ``storage``) of private storages inside it."""
    from django.core.files.storage import storages

    from mediahub.operations.objects import nested_storages
    from mediahub.storage import visibility_of

    found = []
    for prefix, alias in nested_storages(storage).items():
        try:
            inner = storages[alias]
        except Exception:  # noqa: S112 - a storage that cannot be built holds nothing here
            continue
        if visibility_of(inner) == "private":
            found.append(prefix)
    return tuple(sorted(found))


def is_nested_private(storage: Storage, name: str) -> bool:
    """True when ``name`` (a file or a ``folder/`` of ``storage``) lies in a nested private storage.

    ``"private/"`` itself and everything under it count; ``"private-notes.txt"`` does not.
    """
    prefixes = nested_private_prefixes(storage)
    if not prefixes:
        return False
    folder = name if name.endswith("/") else name + "/"
    return any(name.startswith(prefix) or folder == prefix for prefix in prefixes)


def check_not_nested_private(storage: Storage | str, *names: str) -> None:
    """Refuse names of ``storage`` (an instance or alias) that lie in a nested private storage.

    Every library and job path that takes a name or folder from a user calls it, so a
    user who may browse public files only cannot read, list, move, publish or write
    private objects by naming them through the public storage. Raises
    :class:`~django.core.exceptions.SuspiciousFileOperation` (handled like an unsafe name).
    """
    from django.core.exceptions import SuspiciousFileOperation

    if isinstance(storage, str):
        from mediahub.storage import get_storage

        storage = get_storage(storage)
    prefixes = nested_private_prefixes(storage) if names else ()
    for name in names if prefixes else ():
        folder = name if name.endswith("/") else name + "/"
        if name and (name.startswith(prefixes) or folder in prefixes):
            raise SuspiciousFileOperation(
                f"{name!r} belongs to the private storage: use Private files for it."
            )


def without_nested_private(storage: Storage, entries, path=lambda entry: entry.path):
    """``entries`` (an iterable) minus those whose ``path(entry)`` is in a nested private storage."""
    prefixes = nested_private_prefixes(storage)
    if not prefixes:
        yield from entries
        return
    for entry in entries:
        if entry is None or not path(entry).startswith(prefixes):
            yield entry
