"""Pre-generating thumbnails: a whole storage (``manage.py mediahub_thumbnails``) or a batch.

The listing (one ``ListObjectsV2`` per page, recursively) gives every source's
ETag, so fresh thumbnails are skipped with one database query per 100 sources and
no storage request. Stale or missing ones are made by :func:`generate.render`
(I/O and image work, no database) and recorded in batches by the calling thread
(:func:`generate.save_many`: a handful of queries per batch, whatever its size).

Parallelism: ``jobs`` threads overlap S3 requests inside one process (image
decodes stay capped by ``MEDIAHUB["THUMBNAIL_MAX_DECODES"]``); ``processes`` worker
processes use more cores (the image work holds the GIL). A job worker is already a
process of its own and uses threads; the command uses processes for ``--jobs N``.

For workers: :func:`generate_batch` makes the thumbnails of named sources,
:func:`pregenerate_step` walks a storage one chunk at a time with a cursor.
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
from mediahub.storage.nesting import is_nested_private, nested_private_prefixes
from mediahub.thumbnails import cache, generate, naming
from mediahub.thumbnails.storages import Target, resolve_target

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
    # A private storage nested in this one (public at the bucket root, private under
    # private/) is not this storage's: never make public thumbnails of its images.
    nested = nested_private_prefixes(storage)
    if nested and (folder.startswith(nested) or is_nested_private(storage, folder)):
        return
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
                sub.path
                for sub in page.folders
                if sub.valid
                and (not skip or sub.path != skip)
                and not (nested and sub.path.startswith(nested))
            ]
            if not page.has_next:
                break
            cursor = page.next_cursor
        stack.extend((sub, "") for sub in reversed(subfolders))


def walk_order(name: str) -> tuple[tuple[int, str], ...]:
    """Sort key of :func:`walk`'s order: a folder's files (by name), then its sub-folders.

    Folders compare with their trailing ``/`` as S3 lists them (``b-x/`` before ``b/``).
    """
    *folders, file = name.split("/")
    return (*((1, folder + "/") for folder in folders), (0, file))


def options_for(aliases: Sequence[str]) -> list[tuple[str, ThumbnailOptions]]:
    """``(alias, options)`` of each alias (``ValueError`` for an unknown one)."""
    return [(alias, naming.build_options(alias)) for alias in aliases]


#: Results recorded in the database with one batch of queries.
SAVE_BATCH = 50


def pregenerate(
    target: Target,
    entries: Sequence[FileEntry],
    aliases: Sequence[str],
    *,
    jobs: int = 1,
    processes: int = 0,
    force: bool = False,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Make the missing or stale thumbnails of ``entries`` for ``aliases``.

    ``jobs`` threads (S3 requests in parallel within this process) or, when
    ``processes`` > 1, that many worker processes (image work on several cores), each
    rendering one source at a time.
    """
    options = options_for(aliases)
    report = Report(sources=len(entries))
    total, done = len(entries), 0
    alias_of_stem: dict[str, str] = {}
    unsaved: list[generate.Result] = []

    def advance() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total)

    def flush() -> None:
        generate.save_many(unsaved)
        for result in unsaved:
            for made in result.made:
                if made.error:
                    report.failures.append(
                        (result.job.name, alias_of_stem[made.spec.stem], made.error)
                    )
                else:
                    report.generated += 1
        unsaved.clear()

    def finish(get: Callable[[], generate.Result], job: generate.Job) -> None:
        try:
            unsaved.append(get())
        except generate.ThumbnailError as error:
            for spec in job.specs:
                report.failures.append((job.name, alias_of_stem[spec.stem], str(error)))
        if len(unsaved) >= SAVE_BATCH:
            flush()
        advance()

    def todo_jobs() -> Iterator[generate.Job]:
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
                    advance()
                    continue
                yield generate.Job(target, entry.path, todo, version, replace=force)

    try:
        if processes > 1:
            _run_in_processes(todo_jobs(), processes, finish)
        elif jobs > 1:
            _run_in_threads(todo_jobs(), jobs, finish)
        else:
            for job in todo_jobs():
                finish(lambda job=job: generate.render(job), job)
    finally:
        flush()  # what was made is recorded, even when the run stops half-way
    if not dry_run:
        _done(target, [entry.path for entry in entries], aliases)
    return report


def _done(target: Target, names: list[str], aliases: Sequence[str]) -> None:
    """Clear :func:`mediahub.thumbnails.schedule`'s marks of sources just handled."""
    from mediahub.thumbnails import unschedule

    try:
        unschedule(target.source_alias, names, aliases=aliases)
    except Exception:  # a cache outage only delays the next schedule() of these names
        import logging

        logging.getLogger("mediahub.thumbnails").warning(
            "Could not clear the schedule marks of %d source(s).", len(names), exc_info=True
        )


def _run_in_threads(jobs_: Iterator[generate.Job], threads: int, finish) -> None:
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="thumbs") as pool:
        pending: dict[Future, generate.Job] = {}
        for job in jobs_:
            pending[pool.submit(generate.render, job)] = job
            while len(pending) >= threads * 2:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    finish(future.result, pending.pop(future))
        for future in list(pending):
            finish(future.result, pending.pop(future))


def _run_in_processes(jobs_: Iterator[generate.Job], processes: int, finish) -> None:
    from mediahub.thumbnails import workers

    with workers.pool(processes) as pool:
        pending: dict[Future, generate.Job] = {}
        for job in jobs_:
            pending[pool.submit(workers.render, workers.describe(job))] = job
            while len(pending) >= processes * 2:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    job = pending.pop(future)
                    finish(lambda future=future, job=job: workers.result(job, future.result()), job)
        for future in list(pending):
            job = pending.pop(future)
            finish(lambda future=future, job=job: workers.result(job, future.result()), job)


def generate_batch(
    storage: str, names: Sequence[str], aliases: Sequence[str] | None = None
) -> Report:
    """Make the missing or stale thumbnails of the sources ``names`` of ``storage``.

    What a worker runs for :func:`mediahub.thumbnails.schedule`. Costs one database
    query for the freshness of all of them, one GET per source (its version comes
    with the answer: a source whose thumbnails are fresh is not downloaded, and an
    unchanged, known-bad source is not decoded again), one PUT per thumbnail made and
    a few queries to record them. Unsafe names and names that are not images (or
    are thumbnails) are failures of the report; a missing source is a failure too.
    """
    from mediahub.names import validate_name

    target = resolve_target(storage)
    aliases = list(aliases or app_settings.THUMBNAIL_ALIASES or {})
    options = options_for(aliases)
    names = list(dict.fromkeys(names))
    report = Report(sources=len(names))
    alias_of_stem: dict[str, str] = {}
    extensions = image_extensions()
    wanted: list[str] = []
    for name in names:
        try:
            validate_name(name)
        except Exception as error:
            report.failures.extend((name, alias, f"unsafe name: {error}") for alias in aliases)
            continue
        ext = posixpath.splitext(name)[1].lower()
        if ext not in extensions or target.is_thumbnail_name(name):
            report.failures.extend((name, alias, "not an image source") for alias in aliases)
            continue
        wanted.append(name)
    rows = cache.rows_for(target, wanted)
    results: list[generate.Result] = []
    for name in wanted:
        candidates = rows.get(naming.source_key(name), [])
        specs = []
        for alias, opts in options:
            spec = generate.Spec(opts, naming.stem(target.prefix, name, opts))
            alias_of_stem[spec.stem] = alias
            specs.append(spec)

        def skip(version: str | None, candidates=candidates, specs=specs):
            if version is None:
                return None
            found = [cache.pick(cache.match(candidates, spec.stem), version) for spec in specs]
            return found if all(found) else None

        job = generate.Job(target, name, specs)
        try:
            result = generate.render(job, skip=skip)
        except generate.ThumbnailError as error:
            report.failures.extend((name, alias_of_stem[s.stem], str(error)) for s in specs)
            continue
        if result.fresh:
            for found, spec in zip(result.fresh, specs, strict=True):
                if found.failed:
                    report.failures.append((name, alias_of_stem[spec.stem], "not a usable image"))
                else:
                    report.fresh += 1
            continue
        results.append(result)
        if len(results) >= SAVE_BATCH:
            _record(results, report, alias_of_stem)
    _record(results, report, alias_of_stem)
    _done(target, names, aliases)
    return report


def _record(results: list[generate.Result], report: Report, alias_of_stem: dict[str, str]) -> None:
    generate.save_many(results)
    for result in results:
        for made in result.made:
            if made.error:
                report.failures.append((result.job.name, alias_of_stem[made.spec.stem], made.error))
            else:
                report.generated += 1
    results.clear()


def pregenerate_step(
    storage: str,
    prefix: str = "",
    cursor: str | None = None,
    limit: int = 100,
    aliases: Sequence[str] | None = None,
) -> tuple[Report, str | None]:
    """One chunk of a storage's pre-generation: at most ``limit`` images after ``cursor``.

    Returns the report of the chunk and the cursor of the next one (None: done).
    The cursor is the name of the last image handled: :func:`walk` goes in a fixed
    order (:func:`walk_order`), so a resumed walk neither repeats nor skips one.
    Idempotent: fresh thumbnails cost no request.
    """
    target = resolve_target(storage)
    aliases = list(aliases or app_settings.THUMBNAIL_ALIASES or {})
    entries: list[FileEntry] = []
    more = False
    after = walk_order(cursor) if cursor is not None else None
    for entry in walk(target, prefix):
        if after is not None and walk_order(entry.path) <= after:
            continue
        if len(entries) >= limit:
            more = True
            break
        entries.append(entry)
    report = pregenerate(target, entries, aliases)
    return report, (entries[-1].path if more and entries else None)
