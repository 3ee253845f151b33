"""A ZIP of a few files, streamed to the browser with bounded memory.

Nothing is buffered beyond one read chunk and zipfile's own headers: each file
is read from storage in :data:`CHUNK` pieces and written into a ZIP whose output
is a non-seekable sink that hands its bytes to the response as they come
(zipfile then writes data descriptors, which every unzip tool reads). The caps
(``MEDIAHUB["ZIP_MAX_FILES"]`` and ``["ZIP_MAX_SIZE"]``) are checked before the
first byte is sent, from the sizes the listing already gave.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.utils.translation import gettext as _

from mediahub.conf import app_settings
from mediahub.library.errors import LibraryError
from mediahub.names import validate_name
from mediahub.storage import get_storage
from mediahub.storage.nesting import check_not_nested_private
from mediahub.storage.s3 import MediaS3Storage

#: Bytes read from storage (and handed to the response) at a time.
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ZipMember:
    """A file of the archive: its object name, its name inside the ZIP and its size."""

    name: str
    arcname: str
    size: int


def check_caps(members: list[ZipMember]) -> None:
    """Raise :class:`LibraryError` when the selection is over the ZIP caps."""
    if not members:
        raise LibraryError(_("Select at least one file to download."))
    if len(members) > app_settings.ZIP_MAX_FILES:
        raise LibraryError(
            _(
                "A ZIP holds at most %(max)s files; %(count)s are selected. Select fewer files "
                "or download them from a shell (manage.py mediahub_sync pull)."
            )
            % {"max": app_settings.ZIP_MAX_FILES, "count": len(members)}
        )
    total = sum(member.size for member in members)
    if total > app_settings.ZIP_MAX_SIZE:
        raise LibraryError(
            _(
                "A ZIP holds at most %(max)s bytes; the selection has %(size)s. Select fewer "
                "files or download them from a shell (manage.py mediahub_sync pull)."
            )
            % {"max": app_settings.ZIP_MAX_SIZE, "size": total}
        )


def members_for(storage: str, names: Iterable[str], base: str) -> list[ZipMember]:
    """One :class:`ZipMember` per name (one HEAD each), named relative to folder ``base``."""
    target = get_storage(storage)
    members = []
    for name in names:
        validate_name(name)
        check_not_nested_private(target, name)
        entry = target.stat(name)
        arcname = name[len(base) :] if base and name.startswith(base) else posixpath.basename(name)
        members.append(ZipMember(name=name, arcname=arcname, size=entry.size))
    return members


class _Sink(io.RawIOBase):
    """A write-only, non-seekable file whose bytes are collected until taken."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._written = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        self._written += len(data)
        return len(data)

    def tell(self) -> int:  # zipfile asks for offsets; it never seeks on an unseekable sink
        return self._written

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def read_chunks(target, name: str) -> Iterator[bytes]:
    """The bytes of ``name`` in :data:`CHUNK` pieces.

    On S3 straight from the GetObject body: django-storages' ``S3File`` would first
    copy the whole object into a SpooledTemporaryFile (held in memory by default).
    """
    if isinstance(target, MediaS3Storage):
        body = target.connection.meta.client.get_object(
            Bucket=target.bucket_name, Key=target._key(name)
        )["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()
        return
    with target.open(name, "rb") as source:
        while data := source.read(CHUNK):
            yield data


def stream_zip(storage: str, members: list[ZipMember]) -> Iterator[bytes]:
    """The ZIP's bytes, chunk by chunk; memory stays within a few :data:`CHUNK`."""
    target = get_storage(storage)
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for member in members:
            info = zipfile.ZipInfo(member.arcname)
            info.compress_type = zipfile.ZIP_STORED
            with archive.open(info, mode="w", force_zip64=member.size > 2**31) as dest:
                for data in read_chunks(target, member.name):
                    dest.write(data)
                    yield sink.take()
            yield sink.take()
    yield sink.take()
