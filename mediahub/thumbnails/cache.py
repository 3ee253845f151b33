"""The thumbnail cache: easy-thumbnails' ``Source``/``Thumbnail``/``ThumbnailDimensions`` rows.

Rows are keyed by mediahub's per-alias ``storage_hash`` (:mod:`.storages`), and a
thumbnail's name carries its source version (:mod:`.naming`), so one query tells
whether a fresh thumbnail exists and what its size is: no storage request.
A source that cannot be thumbnailed (corrupt, bomb, not an image) is remembered
by a row named ``<stem><version>.invalid`` so pages show the placeholder at once
instead of asking the generator again, until the source changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone
from easy_thumbnails.models import Source, Thumbnail, ThumbnailDimensions

from mediahub.thumbnails import naming
from mediahub.thumbnails.storages import Target

#: Source names per query (stays under every database's parameter limit).
CHUNK = 500


@dataclass(frozen=True)
class Cached:
    """A cache row of one thumbnail."""

    name: str
    version: str
    extension: str
    modified: datetime
    width: int | None
    height: int | None

    @property
    def failed(self) -> bool:
        return self.extension == naming.FAILED_EXTENSION


def rows_for(target: Target, names: Iterable[str]) -> dict[str, list[tuple]]:
    """Every cached thumbnail row of ``names`` in ``target``, newest first, by source key."""
    keys = list(dict.fromkeys(naming.source_key(name) for name in names))
    found: dict[str, list[tuple]] = {}
    for start in range(0, len(keys), CHUNK):
        rows = (
            Thumbnail.objects.filter(
                storage_hash=target.thumbnail_hash,
                source__storage_hash=target.source_hash,
                source__name__in=keys[start : start + CHUNK],
            )
            .order_by("-modified", "-pk")
            .values_list(
                "source__name", "name", "modified", "dimensions__width", "dimensions__height"
            )
        )
        for key, *row in rows:
            found.setdefault(key, []).append(tuple(row))
    return found


def match(rows: list[tuple], stem: str) -> list[Cached]:
    """The rows (newest first) that are thumbnails of ``stem``, parsed."""
    matched = []
    for name, modified, width, height in rows:
        parts = naming.split_name(stem, name)
        if parts:
            matched.append(Cached(name, parts[0], parts[1], modified, width, height))
    return matched


def pick(
    candidates: list[Cached], version: str | None, modified: datetime | None = None
) -> Cached | None:
    """The fresh thumbnail among ``candidates``, if any.

    With a known source ``version`` only a thumbnail built from it is fresh. With
    only a last-modified time, a thumbnail built after it is fresh too. With
    neither, the newest one is (a page that knows nothing costs no request).
    """
    if modified is not None and modified.tzinfo is None:
        modified = modified.replace(tzinfo=UTC)
    for cached in candidates:
        if version is not None and cached.version == version:
            return cached
        if version is None and (modified is None or cached.modified >= modified):
            return cached
    return None


def find(target: Target, name: str, stem: str, version: str | None) -> Cached | None:
    """The cached thumbnail of ``name`` for ``version`` (one query)."""
    rows = rows_for(target, [name]).get(naming.source_key(name), [])
    return pick(match(rows, stem), version)


@transaction.atomic
def record(
    target: Target,
    source_name: str,
    stem: str,
    thumbnail_name: str,
    size: tuple[int, int] | None,
) -> list[str]:
    """Remember a thumbnail just written; return the names of the ones it replaces.

    The replaced rows are deleted; the caller deletes their objects.
    """
    now = timezone.now()
    source, _ = Source.objects.get_or_create(
        storage_hash=target.source_hash,
        name=naming.source_key(source_name),
        defaults={"modified": now},
    )
    thumb, created = Thumbnail.objects.get_or_create(
        storage_hash=target.thumbnail_hash,
        name=thumbnail_name,
        source=source,
        defaults={"modified": now},
    )
    if not created:
        Thumbnail.objects.filter(pk=thumb.pk).update(modified=now)
    if size is not None:
        ThumbnailDimensions.objects.update_or_create(
            thumbnail=thumb, defaults={"width": size[0], "height": size[1]}
        )
    older = [
        (pk, name)
        for pk, name in Thumbnail.objects.filter(
            storage_hash=target.thumbnail_hash, source=source, name__startswith=stem
        )
        .exclude(pk=thumb.pk)
        .values_list("pk", "name")
        if naming.split_name(stem, name)
    ]
    Thumbnail.objects.filter(pk__in=[pk for pk, _name in older]).delete()
    return [name for _pk, name in older if not name.endswith("." + naming.FAILED_EXTENSION)]


def _rows_of(target: Target, source_name: str):
    return Thumbnail.objects.filter(
        storage_hash=target.thumbnail_hash,
        source__storage_hash=target.source_hash,
        source__name=naming.source_key(source_name),
    )


def names_of(target: Target, source_name: str) -> list[str]:
    """Object names of every cached thumbnail of ``source_name``."""
    names = _rows_of(target, source_name).values_list("name", flat=True)
    return [name for name in names if not name.endswith("." + naming.FAILED_EXTENSION)]


@transaction.atomic
def forget(target: Target, source_name: str) -> None:
    """Delete every cache row of ``source_name``'s thumbnails."""
    _rows_of(target, source_name).delete()
    Source.objects.filter(
        storage_hash=target.source_hash, name=naming.source_key(source_name)
    ).delete()
