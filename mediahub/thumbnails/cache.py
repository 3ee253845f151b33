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


@dataclass(frozen=True)
class Entry:
    """A thumbnail just written (``size`` None: the row of a source found unusable)."""

    source_name: str
    stem: str
    name: str
    size: tuple[int, int] | None


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
    return record_many(target, [Entry(source_name, stem, thumbnail_name, size)])


@transaction.atomic
def record_many(target: Target, entries: Iterable[Entry]) -> list[str]:
    """Remember many thumbnails in a handful of queries, whatever their number.

    Returns the object names of the thumbnails they replace (other versions of
    the same stems); their rows are deleted, the caller deletes the objects.
    Concurrent recorders of the same names (two instances, two workers) converge:
    rows are created with ``ignore_conflicts`` and read back.
    """
    entries = list({(entry.source_name, entry.name): entry for entry in entries}.values())
    if not entries:
        return []
    now = timezone.now()
    keys = list(dict.fromkeys(naming.source_key(entry.source_name) for entry in entries))
    sources: dict[str, int] = {}
    for start in range(0, len(keys), CHUNK):
        sources.update(_source_ids(target, keys[start : start + CHUNK], now))
    rows: dict[tuple[int, str], int] = {}  # (source id, thumbnail name) -> thumbnail id
    wanted = {(sources[naming.source_key(e.source_name)], e.name) for e in entries}
    existing = _thumbnail_rows(target, list(sources.values()))
    stored = {(source, name) for _pk, source, name in existing}
    missing = [
        Thumbnail(storage_hash=target.thumbnail_hash, name=name, source_id=source, modified=now)
        for source, name in wanted
        if (source, name) not in stored
    ]
    if missing:
        Thumbnail.objects.bulk_create(missing, ignore_conflicts=True, batch_size=CHUNK)
        existing = _thumbnail_rows(target, list(sources.values()))
    for pk, source, name in existing:
        rows[(source, name)] = pk
    touched = [rows[key] for key in wanted]
    for start in range(0, len(touched), CHUNK):
        Thumbnail.objects.filter(pk__in=touched[start : start + CHUNK]).update(modified=now)
    sized = {
        rows[(sources[naming.source_key(e.source_name)], e.name)]: e.size
        for e in entries
        if e.size is not None
    }
    have = set(
        ThumbnailDimensions.objects.filter(thumbnail_id__in=list(sized)).values_list(
            "thumbnail_id", flat=True
        )
    )
    ThumbnailDimensions.objects.bulk_create(
        [
            ThumbnailDimensions(thumbnail_id=pk, width=size[0], height=size[1])
            for pk, size in sized.items()
            if pk not in have
        ],
        ignore_conflicts=True,
        batch_size=CHUNK,
    )
    # Other versions of the same stems are replaced.
    stems: dict[int, set[str]] = {}
    for entry in entries:
        stems.setdefault(sources[naming.source_key(entry.source_name)], set()).add(entry.stem)
    older = [
        (pk, name)
        for pk, source, name in existing
        if (source, name) not in wanted
        and any(naming.split_name(stem, name) for stem in stems.get(source, ()))
    ]
    for start in range(0, len(older), CHUNK):
        Thumbnail.objects.filter(pk__in=[pk for pk, _ in older[start : start + CHUNK]]).delete()
    return [name for _pk, name in older if not name.endswith("." + naming.FAILED_EXTENSION)]


def _source_ids(target: Target, keys: list[str], now: datetime) -> dict[str, int]:
    def read() -> dict[str, int]:
        return dict(
            Source.objects.filter(storage_hash=target.source_hash, name__in=keys).values_list(
                "name", "pk"
            )
        )

    found = read()
    if len(found) < len(keys):
        Source.objects.bulk_create(
            [
                Source(storage_hash=target.source_hash, name=key, modified=now)
                for key in keys
                if key not in found
            ],
            ignore_conflicts=True,
        )
        found = read()
    return found


def _thumbnail_rows(target: Target, source_ids: list[int]) -> list[tuple[int, int, str]]:
    rows: list[tuple[int, int, str]] = []
    for start in range(0, len(source_ids), CHUNK):
        rows += Thumbnail.objects.filter(
            storage_hash=target.thumbnail_hash, source_id__in=source_ids[start : start + CHUNK]
        ).values_list("pk", "source_id", "name")
    return rows


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
