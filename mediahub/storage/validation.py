"""Every name a storage method receives goes through :func:`mediahub.names.validate_name`.

And a name a storage picks itself (another name after a collision) still fits the
field's ``max_length``: :class:`SaveMaxLengthMixin` keeps the ``max_length`` of the
``save()`` in progress for ``_save()``, and :func:`alternative_name` applies it.
"""

from __future__ import annotations

import posixpath
from contextvars import ContextVar
from typing import Any

from django.core.exceptions import SuspiciousFileOperation

from mediahub.names import validate_name

_SAVE_MAX_LENGTH: ContextVar[int | None] = ContextVar("mediahub_save_max_length", default=None)


def save_max_length() -> int | None:
    """The ``max_length`` of the ``Storage.save()`` in progress in this thread (or None)."""
    return _SAVE_MAX_LENGTH.get()


def alternative_name(storage: Any, name: str, max_length: int | None) -> str:
    """Another name for ``name`` (Django's random suffix), at most ``max_length`` long.

    As :meth:`django.core.files.storage.Storage.get_available_name` does: the file's
    root is shortened, never its folder or extension; :class:`SuspiciousFileOperation`
    when nothing is left to shorten.
    """
    folder, file_name = posixpath.split(name)
    root, ext = posixpath.splitext(file_name)
    candidate = posixpath.join(folder, storage.get_alternative_name(root, ext))
    if max_length is None or len(candidate) <= max_length:
        return candidate
    root = root[: len(root) - (len(candidate) - max_length)]
    if not root:
        raise SuspiciousFileOperation(
            f'Storage can not find an available filename for "{name}". Please make sure '
            'that the corresponding file field allows sufficient "max_length".'
        )
    return posixpath.join(folder, storage.get_alternative_name(root, ext))


class SaveMaxLengthMixin:
    """Keep ``save()``'s ``max_length`` for names picked later (``_save`` after a collision)."""

    def save(self, name, content, max_length=None):
        token = _SAVE_MAX_LENGTH.set(max_length)
        try:
            return super().save(name, content, max_length=max_length)
        finally:
            _SAVE_MAX_LENGTH.reset(token)


class ValidatedNamesMixin(SaveMaxLengthMixin):
    """Refuse unsafe names in the Storage API methods before the backend sees them.

    Put it before the storage class in the bases (``class S(ValidatedNamesMixin, S3Storage)``).
    """

    def _open(self, name, mode="rb"):
        validate_name(name)
        return super()._open(name, mode)

    def _save(self, name, content):
        validate_name(name)
        return super()._save(name, content)

    def delete(self, name):
        validate_name(name)
        return super().delete(name)

    def exists(self, name):
        validate_name(name)
        return super().exists(name)

    def size(self, name):
        validate_name(name)
        return super().size(name)

    def get_modified_time(self, name):
        validate_name(name)
        return super().get_modified_time(name)
