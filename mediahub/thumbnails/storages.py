"""Where a source's thumbnails live, and under which cache identity.

easy-thumbnails writes every thumbnail to one storage and keys its cache rows
(``Source``/``Thumbnail``) on ``get_storage_hash(storage)``, the storage's class
path, so two S3 storages of one class share a namespace. mediahub instead picks
the thumbnail storage from the source's visibility:

* a **public** source (``MEDIAHUB["PUBLIC_STORAGE"]``) gets its thumbnails in
  ``STORAGES["easy_thumbnails"]`` under ``MEDIAHUB["PUBLIC_THUMBNAIL_PREFIX"]``
  (another public alias keeps them in itself, under the same prefix);
* a **private** source gets them in its own private storage under
  ``MEDIAHUB["PRIVATE_THUMBNAIL_PREFIX"]``: never in a public bucket.

and hashes an identity made of the storage *alias* and its location (endpoint,
bucket, prefix), so each alias has its own cache rows and a changed bucket never
serves rows of the old one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.storage import Storage, storages
from easy_thumbnails.utils import get_storage_hash

from mediahub.conf import app_settings
from mediahub.names import validate_folder
from mediahub.storage import get_storage, resolve_alias, visibility_of

logger = logging.getLogger("mediahub.thumbnails")

#: The ``STORAGES`` alias easy-thumbnails reads (2.9+).
EASY_THUMBNAILS_ALIAS = "easy_thumbnails"


@dataclass(frozen=True)
class Target:
    """A source storage and the storage its thumbnails are written to."""

    visibility: str
    source_alias: str
    source_storage: Storage
    thumbnail_alias: str
    thumbnail_storage: Storage
    #: Folder (ending in ``/``, or ``""``) of the thumbnails inside ``thumbnail_storage``.
    prefix: str
    #: easy-thumbnails ``storage_hash`` of the source rows / of the thumbnail rows.
    source_hash: str
    thumbnail_hash: str

    @property
    def same_storage(self) -> bool:
        """True when thumbnails share a bucket (or folder) with their sources."""
        return storage_identity(self.source_storage) == storage_identity(self.thumbnail_storage)

    def is_thumbnail_name(self, name: str) -> bool:
        """True for an object of the source storage that is itself one of our thumbnails."""
        return self.same_storage and name.startswith(self.prefix)


def storage_identity(storage: Storage) -> str:
    """Where a storage's objects are: class, endpoint, bucket and location (no secret)."""
    cls = type(storage)
    parts = [
        f"{cls.__module__}.{cls.__qualname__}",
        str(getattr(storage, "endpoint_url", "") or ""),
        str(getattr(storage, "bucket_name", "") or ""),
        str(getattr(storage, "location", "") or ""),
    ]
    return "|".join(parts)


def cache_hash(alias: str, storage: Storage) -> str:
    """The ``storage_hash`` of mediahub's cache rows for one storage alias."""
    return get_storage_hash(f"mediahub:{alias}|{storage_identity(storage)}")


def _prefix(setting: str) -> str:
    value = getattr(app_settings, setting)
    try:
        if not value:
            raise SuspiciousFileOperation("empty")
        validate_folder(value)
    except SuspiciousFileOperation:
        # Thumbnails need a folder of their own: mixed with the sources, they would be
        # listed (and thumbnailed) as sources themselves.
        raise ImproperlyConfigured(
            f"MEDIAHUB[{setting!r}] must be a folder name ending in '/', such as "
            f"'thumbnails/' (got {value!r})."
        ) from None
    return value


def resolve_target(storage: str = "public") -> Target:
    """The :class:`Target` of ``"public"``, ``"private"`` or a ``STORAGES`` alias.

    Raises :class:`mediahub.storage.UnknownStorage` for an unknown name.
    """
    from django.conf import settings

    source_alias = resolve_alias(storage)
    source = get_storage(source_alias)
    visibility = visibility_of(source)
    if visibility == "private":
        thumb_alias, thumbs, prefix = source_alias, source, _prefix("PRIVATE_THUMBNAIL_PREFIX")
    else:
        thumb_alias, thumbs = source_alias, source
        if source_alias == resolve_alias("public") and EASY_THUMBNAILS_ALIAS in settings.STORAGES:
            thumb_alias, thumbs = EASY_THUMBNAILS_ALIAS, storages[EASY_THUMBNAILS_ALIAS]
            if visibility_of(thumbs) == "private":
                # A misconfiguration (check E007): keep public thumbnails with their source.
                thumb_alias, thumbs = source_alias, source
        prefix = _prefix("PUBLIC_THUMBNAIL_PREFIX")
    return Target(
        visibility=visibility,
        source_alias=source_alias,
        source_storage=source,
        thumbnail_alias=thumb_alias,
        thumbnail_storage=thumbs,
        prefix=prefix,
        source_hash=cache_hash(source_alias, source),
        thumbnail_hash=cache_hash(thumb_alias, thumbs),
    )


def write(storage: Storage, name: str, content, *, replace: bool = False) -> str:
    """Store a thumbnail at exactly ``name`` without ever breaking one already there.

    A thumbnail's name encodes its source version and options, so whatever is
    already at ``name`` is an equivalent image, typically written a moment ago by
    another instance making the same missing thumbnail, and possibly being served
    right now. The write is a create-if-absent (mediahub's storages answer a taken
    name with another name, from S3's 412): when ``name`` is taken, the existing
    object is kept and only our own copy is dropped, so there is no moment when
    ``name`` is missing (deleting and re-uploading it gave clients 403/404).

    ``replace=True`` (``--force``) overwrites in place: one PUT, which S3 applies
    atomically (readers see the old or the new bytes, never nothing).
    """
    if replace:
        return _overwrite(storage, name, content)
    saved = storage.save(name, content)
    if saved != name:  # the name was taken: keep theirs, drop ours
        try:
            storage.delete(saved)
        except Exception as error:  # an orphan copy is harmless: say so and go on
            logger.warning("Could not delete the extra thumbnail copy %r: %s", saved, error)
    return name


def _overwrite(storage: Storage, name: str, content) -> str:
    if getattr(storage, "file_overwrite", None) is False:
        import copy

        overwriting = copy.copy(storage)  # shares the connection; only this flag differs
        overwriting.file_overwrite = True
        saved = overwriting.save(name, content)
    else:
        if storage.exists(name):  # a local folder: no atomic replace to be had
            storage.delete(name)
        saved = storage.save(name, content)
    if saved != name:  # pragma: no cover - an overwriting storage keeps the name
        storage.delete(saved)
    return name
