"""Pre-generating thumbnails of a whole storage (``manage.py mediahub_thumbnails``).

The listing (one ``ListObjectsV2`` per page, recursively) gives every source's
ETag, so fresh thumbnails are skipped with one database query per 100 sources and
no storage request. Stale or missing ones are made by ``--jobs`` worker threads
that only do I/O and image work (:func:`generate.render`); the calling thread
records results in the database (:func:`generate.save`), so no worker needs a
database connection.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from easy_thumbnails.options import ThumbnailOptions
from PIL import Image

from mediahub.conf import app_settings
from mediahub.storage.listing import FileEntry
from mediahub.thumbnails import cache, generate, naming
from mediahub.thumbnails.storages import Target

#: Sources whose cache rows are read with one query.
BATCH = 100


@dataclass
class Report:
    """What a run did, counted in thumbnails (sources x aliases)."""

    sources: int = 0
    generated: int = 0
    fresh: int = 0
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # name, alias, reason

    @property
    def failed(self) -> int:
        return len(self.failures)


def image_extensions() -> frozenset[str]:
    """File extensions of the formats in ``MEDIAHUB["THUMBNAIL_FORMATS"]``."""
    Image.init()
    formats = {value.upper() for value in app_settings.THUMBNAIL_FORMATS}
    return frozenset(ext for ext, fmt in Image.registered_extensions().items() if fmt in formats)


def walk(target: Target, prefix: str = "") -> Iterator[FileEntry]:
    """Every image of ``target``'s source storage under ``prefix``, page by page.

    ``prefix`` is a folder (``photos/``) optionally followed by the start of a
    name (``photos/2024-``). mediahub's own thumbnail folder is skipped, and so
    are raw keys mediahub refuses to act on.
    """
    storage = target.source_storage
    folder, _, name_prefix = prefix.rpartition("/")
    folder = f"{folder}/" if folder else ""
    extensions = image_extensions()
    skip = target.prefix if target.same_storage else None
    stack = [(folder, name_prefix)]
    while stack:
        path, start = stack.pop()
        cursor = None
        subfolders = []
        while True:
            page = storage.list_folder(path, prefix=start, cursor=cursor)
            for entry in page.files:
                ext = posixpath.splitext(entry.path)[1].lower()
                if entry.valid and ext in extensions and not target.is_thumbnail_name(entry.path):
                    yield entry
            subfolders += [
                sub.path for sub in page.folders if sub.valid and (not skip or sub.path != skip)
            ]
            if not page.has_next:
                break
            cursor = page.next_cursor
        stack.extend((sub, "") for sub in reversed(subfolders))


def options_for(aliases: Sequence[str]) -> list[tuple[str, ThumbnailOptions]]:
    """``(alias, options)`` of each alias (``ValueError`` for an unknown one)."""
    return [(alias, naming.build_options(alias)) for alias in aliases]


def pregenerate(
    target: Target,
    entries: Sequence[FileEntry],
    aliases: Sequence[str],
    *,
    jobs: int = 1,
    force: bool = False,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Make the missing or stale thumbnails of ``entries`` for ``aliases``."""
    options = options_for(aliases)
    report = Report(sources=len(entries))
    total, done = len(entries), 0
    alias_of_stem: dict[str, str] = {}

    def finish(future: Future, job: generate.Job) -> None:
        nonlocal done
        try:
            result = future.result()
            for made in generate.save(result):
                if made.error:
                    report.failures.append((job.name, alias_of_stem[made.spec.stem], made.error))
                else:
                    report.generated += 1
        except generate.ThumbnailError as error:
            for spec in job.specs:
                report.failures.append((job.name, alias_of_stem[spec.stem], str(error)))
        done += 1
        if progress:
            progress(done, total)

    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="thumbs") as pool:
        pending: dict[Future, generate.Job] = {}
        for start in range(0, total, BATCH):
            batch = entries[start : start + BATCH]
            rows = cache.rows_for(target, [entry.path for entry in batch])
            for entry in batch:
                version = naming.version_of(entry.etag, entry.modified)
                candidates = rows.get(naming.source_key(entry.path), [])
                todo = []
                for alias, opts in options:
                    spec = generate.Spec(opts, naming.stem(target.prefix, entry.path, opts))
                    alias_of_stem[spec.stem] = alias
                    fresh = (
                        None if force else cache.pick(cache.match(candidates, spec.stem), version)
                    )
                    if fresh is None:
                        todo.append(spec)
                    elif fresh.failed:  # known bad (and unchanged) source: still a failure
                        report.failures.append((entry.path, alias, "not a usable image"))
                    else:
                        report.fresh += 1
                if not todo or dry_run:
                    report.generated += len(todo)  # in a dry run: would be generated
                    done += 1
                    if progress:
                        progress(done, total)
                    continue
                job = generate.Job(target, entry.path, todo, version)
                pending[pool.submit(generate.render, job)] = job
                while len(pending) >= max(1, jobs) * 2:
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        finish(future, pending.pop(future))
        for future in list(pending):
            finish(future, pending.pop(future))
    return report
