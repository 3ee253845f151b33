"""One chunk of thumbnail pre-generation, on :mod:`mediahub.thumbnails.pregenerate`."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from datetime import datetime

from mediahub.library.operations import Outcome
from mediahub.names import validate_name
from mediahub.storage.listing import FileEntry


def is_source(storage: str, name: str) -> bool:
    """True when ``name`` is an image thumbnails are made of (not a thumbnail itself)."""
    from mediahub.thumbnails.pregenerate import image_extensions
    from mediahub.thumbnails.storages import resolve_target

    target = resolve_target(storage)
    ext = posixpath.splitext(name)[1].lower()
    return ext in image_extensions() and not target.is_thumbnail_name(name)


def thumbnail_objects(
    storage: str, items: list[dict], aliases: Sequence[str], *, threads: int = 2
) -> list[Outcome]:
    """Make the missing or stale thumbnails of one chunk of images."""
    from mediahub.thumbnails.pregenerate import pregenerate
    from mediahub.thumbnails.storages import resolve_target

    target = resolve_target(storage)
    outcomes: dict[str, Outcome] = {}
    entries: list[FileEntry] = []
    for item in items:
        name = item["name"]
        outcomes[name] = Outcome(name, item.get("size") or 0)
        try:
            validate_name(name)
            if item.get("etag") is None and item.get("modified") is None:
                entry = target.source_storage.stat(name)
            else:
                modified = item.get("modified")
                entry = FileEntry(
                    path=name,
                    size=item.get("size") or 0,
                    modified=datetime.fromisoformat(modified) if modified else None,
                    etag=item.get("etag"),
                )
        except Exception as exc:
            outcomes[name].error = f"{type(exc).__name__}: {exc}"
            continue
        entries.append(entry)
    report = pregenerate(target, entries, list(aliases), jobs=threads)
    for name, alias, reason in report.failures:
        outcome = outcomes[name]
        outcome.error = f"{outcome.error}; " if outcome.error else ""
        outcome.error += f"[{alias}] {reason}"
    return list(outcomes.values())
