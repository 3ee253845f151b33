"""In-memory storages for tests, with the same listing as the others."""

from __future__ import annotations

from django.core.files.storage import InMemoryStorage, Storage
from django.utils.deconstruct import deconstructible

from mediahub.names import validate_name
from mediahub.storage.content import ActiveContentMixin
from mediahub.storage.listing import (
    FileEntry,
    FolderEntry,
    FolderPage,
    check_listing_args,
    page_from_sorted,
)
from mediahub.storage.validation import ValidatedNamesMixin


class MemoryListingMixin(ActiveContentMixin, ValidatedNamesMixin):
    visibility = "public"

    def get_available_name(self, name, max_length=None):
        # Before Django's own, which turns "a\\b.txt" into "a/b.txt" instead of refusing it.
        validate_name(name)
        return super().get_available_name(name, max_length)

    def delete(self, name):
        from mediahub.links import changing

        validate_name(name)
        with changing(self, name):  # ends the object's signed links (every path deletes here)
            super().delete(name)

    def list_folder(
        self,
        path: str = "",
        *,
        prefix: str = "",
        cursor: str | None = None,
        page_size: int | None = None,
    ) -> FolderPage:
        size = check_listing_args(path, prefix, page_size)
        try:
            folders, files = self.listdir(path)
        except (FileNotFoundError, NotADirectoryError, FileExistsError):
            # Missing, or a file: an empty folder, as on S3.
            return FolderPage(path=path, prefix=prefix, cursor=cursor)
        entries: list[tuple[str, FolderEntry | FileEntry]] = []
        for folder in folders:
            if folder.startswith(prefix):
                entries.append((path + folder + "/", FolderEntry(path + folder + "/")))
        for file in files:
            if file.startswith(prefix):
                entries.append((path + file, self.stat(path + file)))
        return page_from_sorted(path, prefix, entries, cursor, size)

    def stat(self, name: str) -> FileEntry:
        return FileEntry(name, self.size(name), self.get_modified_time(name), None)

    def copy(self, source_name: str, target_name: str, *, source: Storage | None = None) -> str:
        source = self if source is None else source
        validate_name(source_name)
        validate_name(target_name)
        self.check_write(target_name)
        if self.exists(target_name):
            self.delete(target_name)
        with source.open(source_name, "rb") as handle:
            super()._save(target_name, handle)
        return target_name


@deconstructible(path="mediahub.storage.memory.PublicMemoryStorage")
class PublicMemoryStorage(MemoryListingMixin, InMemoryStorage):
    visibility = "public"


@deconstructible(path="mediahub.storage.memory.PrivateMemoryStorage")
class PrivateMemoryStorage(MemoryListingMixin, InMemoryStorage):
    visibility = "private"

    def url(self, name: str) -> str:
        from mediahub import links
        from mediahub.storage import alias_of

        validate_name(name)
        return links.sign(name, storage=alias_of(self) or "private")
