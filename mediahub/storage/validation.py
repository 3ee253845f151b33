"""Every name a storage method receives goes through :func:`mediahub.names.validate_name`."""

from __future__ import annotations

from mediahub.names import validate_name


class ValidatedNamesMixin:
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
