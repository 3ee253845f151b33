"""Storages for django-filer that forward to mediahub's storages, looked up per call.

django-filer builds its four storages (public and private, main and thumbnails)
once, when ``filer.settings`` is imported. These classes are what it builds: each
instance holds only a storage *name* (``"public"``, ``"private"`` or a
``STORAGES`` alias) and, on every call, forwards to
:func:`mediahub.storage.get_storage`. So filer never captures a boto3 client or a
bucket name, and ``override_settings(STORAGES=...)`` reaches filer too.

The private ones answer ``url()`` with a path on the site (``base_url`` + name),
served by ``filer.server.urls`` through :mod:`mediahub.contrib.filer.server`: a
permission check, then a redirect to a fresh presigned URL. They never hand out a
presigned URL to whoever can see a page.

Each role is its own class because easy-thumbnails keys its thumbnail cache on the
storage's class path.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

from django.core.files.storage import Storage
from django.utils.deconstruct import deconstructible
from django.utils.encoding import filepath_to_uri

from mediahub.names import validate_folder, validate_name
from mediahub.storage import get_storage

#: Where filer's private files and thumbnails are served on the site (filer's defaults).
PRIVATE_BASE_URL = "/smedia/filer_private/"
PRIVATE_THUMBNAILS_BASE_URL = "/smedia/filer_private_thumbnails/"


class MediahubFilerStorage(Storage):
    """A filer storage forwarding to mediahub's storage ``storage``, under ``prefix``.

    ``prefix`` (a folder such as ``"filer_private_thumbnails/"``) is added to every
    name on the way in and removed on the way out, so filer sees the same names as
    with its own storages while the objects share one bucket.
    """

    visibility = "public"
    base_url: str | None = None

    def __init__(
        self, storage: str | None = None, prefix: str = "", base_url: str | None = None
    ) -> None:
        if prefix:
            validate_folder(prefix)
        self.storage_name = storage or self.visibility
        self.prefix = prefix
        if base_url is not None:
            if not base_url.endswith("/"):
                raise ValueError(f"base_url must end with '/', not {base_url!r}.")
            self.base_url = base_url

    def __repr__(self) -> str:
        return f"<{type(self).__name__} storage={self.storage_name!r} prefix={self.prefix!r}>"

    # -- the storage behind ------------------------------------------------------
    @property
    def target(self) -> Storage:
        """mediahub's storage behind this one, looked up now (never cached here)."""
        return get_storage(self.storage_name)

    def key(self, name: str) -> str:
        """The name of ``name`` in :attr:`target` (validated, prefixed)."""
        validate_name(name)
        return self.prefix + name

    def unkey(self, key: str) -> str:
        """Inverse of :meth:`key`."""
        if not key.startswith(self.prefix):  # pragma: no cover - target broke its contract
            raise ValueError(f"{key!r} is outside {self.prefix!r}.")
        return key[len(self.prefix) :]

    def _max_length(self, max_length: int | None) -> int | None:
        return None if max_length is None else max_length + len(self.prefix)

    # -- Storage API ----------------------------------------------------------------
    def save(self, name: str | None, content: Any, max_length: int | None = None) -> str:
        if name is None:
            name = content.name
        key = self.target.save(self.key(name), content, max_length=self._max_length(max_length))
        return self.unkey(key)

    def _open(self, name: str, mode: str = "rb") -> Any:
        return self.target.open(self.key(name), mode)

    def _save(self, name: str, content: Any) -> str:  # pragma: no cover - save() forwards
        return self.unkey(self.target._save(self.key(name), content))

    def get_valid_name(self, name: str) -> str:
        return self.target.get_valid_name(name)

    def get_alternative_name(self, file_root: str, file_ext: str) -> str:
        return self.target.get_alternative_name(file_root, file_ext)

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        key = self.target.get_available_name(self.key(name), self._max_length(max_length))
        return self.unkey(key)

    def generate_filename(self, filename: str) -> str:
        return self.target.generate_filename(filename)

    def path(self, name: str) -> str:
        raise NotImplementedError(
            "mediahub's filer storages have no local path: use open() or the storage API."
        )

    def delete(self, name: str) -> None:
        self.target.delete(self.key(name))

    def exists(self, name: str) -> bool:
        return self.target.exists(self.key(name))

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        return self.target.listdir(self.prefix + path)

    def size(self, name: str) -> int:
        return self.target.size(self.key(name))

    def url(self, name: str) -> str:
        if self.base_url is None:
            return self.target.url(self.key(name))
        validate_name(name)
        return urljoin(self.base_url, filepath_to_uri(name))

    def get_accessed_time(self, name: str):
        return self.target.get_accessed_time(self.key(name))

    def get_created_time(self, name: str):
        return self.target.get_created_time(self.key(name))

    def get_modified_time(self, name: str):
        return self.target.get_modified_time(self.key(name))


@deconstructible(path="mediahub.contrib.filer.storage.FilerPublicStorage")
class FilerPublicStorage(MediahubFilerStorage):
    """filer's public files: in mediahub's public storage, served by its public URLs."""

    visibility = "public"


@deconstructible(path="mediahub.contrib.filer.storage.FilerPublicThumbnailStorage")
class FilerPublicThumbnailStorage(MediahubFilerStorage):
    """Thumbnails of filer's public images: in mediahub's public storage."""

    visibility = "public"


@deconstructible(path="mediahub.contrib.filer.storage.FilerPrivateStorage")
class FilerPrivateStorage(MediahubFilerStorage):
    """filer's private files: in mediahub's private storage, served by permission check."""

    visibility = "private"
    base_url = PRIVATE_BASE_URL


@deconstructible(path="mediahub.contrib.filer.storage.FilerPrivateThumbnailStorage")
class FilerPrivateThumbnailStorage(MediahubFilerStorage):
    """Thumbnails of filer's private images: in mediahub's private storage, never public."""

    visibility = "private"
    base_url = PRIVATE_THUMBNAILS_BASE_URL


def resolve(storage: Any, name: str) -> tuple[Storage, str]:
    """``(real storage, name in it)`` for ``name`` of ``storage`` (a filer proxy or not)."""
    if isinstance(storage, MediahubFilerStorage):
        return storage.target, storage.key(name)
    return storage, name
