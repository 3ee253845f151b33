"""Thumbnails through the correct storage, never blocking a page.

    from mediahub.thumbnails import thumbnail_url
    thumbnail_url("photos/cat.jpg", storage="private", size="64x64")

easy-thumbnails does the image work; mediahub supplies the storages (public
thumbnails in ``STORAGES["easy_thumbnails"]``, private ones in the private storage,
served signed), a cache identity per storage alias, freshness by source version,
and safety. Rendering costs one database query per thumbnail (or one per page with
:func:`thumbnails`) and **no storage request**; a thumbnail that is missing or
stale is rendered as a URL of mediahub's endpoint, which makes it once and
redirects to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mediahub.names import validate_name

__all__ = [
    "SourceRef",
    "Thumb",
    "delete_thumbnails",
    "placeholder_url",
    "preview_url",
    "schedule",
    "schedule_on_commit",
    "thumbnail",
    "thumbnail_url",
    "thumbnails",
]


@dataclass(frozen=True)
class SourceRef:
    """A source image and what the caller knows of its version (from a listing)."""

    name: str
    etag: str | None = None
    modified: datetime | None = None


@dataclass(frozen=True)
class Thumb:
    """A thumbnail to show: ``str(thumb)`` is its URL.

    ``ready`` is False when ``url`` points to the endpoint that will make it;
    ``width``/``height`` come from the cache (None until made).
    """

    url: str
    width: int | None = None
    height: int | None = None
    ready: bool = False
    failed: bool = False
    #: Over the page's in-request budget: ``url`` shows the placeholder (and has the
    #: thumbnail made by a worker) until the thumbnail exists, then redirects to it.
    #: Mark such ``<img>`` with ``data-mediahub-thumbnail="pending"`` and load
    #: ``mediahub/thumbnails.js`` to swap the image in once it is ready.
    pending: bool = False

    def __str__(self) -> str:
        return self.url


def placeholder_url() -> str:
    """URL of the image shown for sources that cannot be thumbnailed."""
    from django.templatetags.static import static

    return static("mediahub/thumbnail-placeholder.svg")


def thumbnails(
    sources: Iterable[str | SourceRef | Any],
    *,
    storage: str = "public",
    alias: str | None = None,
    size: Any = None,
    budget: int | None = None,
    **options: Any,
) -> list[Thumb]:
    """Thumbnails of many sources of one storage with one database query, no storage request.

    ``sources`` are names, :class:`SourceRef` or listing entries (anything with
    ``path``, ``etag`` and ``modified``, e.g. :class:`mediahub.storage.listing.FileEntry`).
    Of the missing thumbnails, the first ``budget`` (default
    ``MEDIAHUB["THUMBNAIL_REQUEST_BUDGET"]``) get a URL that makes them in its own
    request; the others are :attr:`Thumb.pending`: their URL shows the placeholder
    and hands the work to a worker (:func:`schedule`), then redirects to the
    thumbnail once it exists.
    Raises ``ValueError`` for bad options, ``SuspiciousFileOperation`` for unsafe names,
    :class:`mediahub.storage.UnknownStorage` for an unknown storage.
    """
    from mediahub.thumbnails import cache, naming, tokens
    from mediahub.thumbnails.storages import resolve_target

    spec_options = naming.build_options(alias, size, **options)
    target = resolve_target(storage)
    refs = [_ref(source) for source in sources]
    for ref in refs:
        validate_name(ref.name)
    rows = cache.rows_for(target, [ref.name for ref in refs])
    payload = naming.options_payload(spec_options)
    if budget is None:
        from mediahub.conf import app_settings

        budget = app_settings.THUMBNAIL_REQUEST_BUDGET
    result = []
    for ref in refs:
        if target.is_thumbnail_name(ref.name):  # already a thumbnail: show it as it is
            result.append(Thumb(target.source_storage.url(ref.name), ready=True))
            continue
        stem = naming.stem(target.prefix, ref.name, spec_options)
        version = naming.version_of(ref.etag, None)
        candidates = cache.match(rows.get(naming.source_key(ref.name), []), stem)
        found = cache.pick(candidates, version, ref.modified)
        if found is not None and found.failed:
            result.append(Thumb(placeholder_url(), ready=True, failed=True))
        elif found is not None:
            url = target.thumbnail_storage.url(found.name)
            result.append(Thumb(url, found.width, found.height, ready=True))
        else:
            url = tokens.make_url(
                target.source_alias,
                ref.name,
                payload,
                version,
                private=target.visibility == "private",
            )
            if budget > 0:
                budget -= 1
                result.append(Thumb(url))
            else:
                result.append(Thumb(url + tokens.PENDING_QUERY, pending=True))
    return result


def thumbnail(
    name: str | SourceRef | Any,
    *,
    storage: str = "public",
    alias: str | None = None,
    size: Any = None,
    source_etag: str | None = None,
    source_modified: datetime | None = None,
    budget: int | None = None,
    **options: Any,
) -> Thumb:
    """The :class:`Thumb` of one source (see :func:`thumbnails`)."""
    if isinstance(name, str) and (source_etag or source_modified):
        name = SourceRef(name, source_etag, source_modified)
    return thumbnails([name], storage=storage, alias=alias, size=size, budget=budget, **options)[0]


def thumbnail_url(
    name: str,
    *,
    storage: str = "public",
    alias: str | None = None,
    size: Any = None,
    source_etag: str | None = None,
    source_modified: datetime | None = None,
    **options: Any,
) -> str:
    """URL of the thumbnail of ``name`` in ``storage`` (``"public"``, ``"private"`` or an alias).

    Give ``alias=`` (``MEDIAHUB["THUMBNAIL_ALIASES"]``) or ``size="WxH"`` plus
    easy-thumbnails options (``crop="smart"``, ...). Pass ``source_etag`` /
    ``source_modified`` from a listing when known: a thumbnail built from another
    version of the source is stale and gets remade. A private source's thumbnail
    URL is signed. Never makes a storage request.
    """
    return thumbnail(
        name,
        storage=storage,
        alias=alias,
        size=size,
        source_etag=source_etag,
        source_modified=source_modified,
        **options,
    ).url


def preview_url(name: str, *, storage: str, fallback: str | None = None) -> str | None:
    """An admin preview of an image: its ``admin`` alias thumbnail, else ``fallback``.

    Never raises: a widget must render even when thumbnails cannot be had.
    """
    try:
        return thumbnail_url(name, storage=storage, alias="admin")
    except Exception as error:
        import logging

        logging.getLogger("mediahub.thumbnails").warning(
            "No preview thumbnail for %r: %s", name, error
        )
        return fallback


def delete_thumbnails(name: str, *, storage: str) -> int:
    """Delete every thumbnail of ``name`` in ``storage`` (objects and cache rows).

    Call it when a source is deleted or moves to the other storage. Returns the
    number of thumbnail objects deleted.
    """
    from mediahub.thumbnails import cache
    from mediahub.thumbnails.storages import resolve_target

    validate_name(name)
    target = resolve_target(storage)
    names = cache.names_of(target, name)
    for thumb_name in names:  # objects first: a failure leaves the rows to try again
        target.thumbnail_storage.delete(thumb_name)
    cache.forget(target, name)
    return len(names)


#: Cache key prefix of :func:`schedule`'s "already enqueued" marks.
SCHEDULE_KEY = "mediahub:thumbnails:scheduled:"


def _schedule_key(storage: str, name: str, aliases: tuple[str, ...]) -> str:
    import hashlib

    text = "\0".join((storage, name, *aliases))
    return SCHEDULE_KEY + hashlib.sha256(text.encode()).hexdigest()[:40]


def schedule(storage: str, names: Iterable[str], *, aliases: Iterable[str] | None = None):
    """Have workers make the thumbnails of ``names`` (new or changed images of ``storage``).

    Enqueues one ``"thumbnails"`` job (:func:`mediahub.jobs.start`) for the names
    that are image sources and were not scheduled in the last
    ``MEDIAHUB["THUMBNAIL_SCHEDULE_TTL"]`` seconds (marks in Django's cache, set
    atomically with ``cache.add``: with a shared cache, Redis or the database, two
    instances never enqueue the same name twice). Returns the
    :class:`~mediahub.models.Job`, or None when there was nothing new to enqueue.
    Makes no storage request. With the immediate task backend the thumbnails are
    made before this returns. Raises :class:`mediahub.storage.UnknownStorage` for
    an unknown storage and ``SuspiciousFileOperation`` for an unsafe name.
    """
    import posixpath

    from django.core.cache import cache

    from mediahub.conf import app_settings
    from mediahub.thumbnails.pregenerate import image_extensions
    from mediahub.thumbnails.storages import resolve_target

    target = resolve_target(storage)
    extensions = image_extensions()
    wanted = []
    for name in dict.fromkeys(names):
        validate_name(name)
        if posixpath.splitext(name)[1].lower() in extensions and not target.is_thumbnail_name(name):
            wanted.append(name)
    alias_list = tuple(aliases) if aliases is not None else ()
    ttl = app_settings.THUMBNAIL_SCHEDULE_TTL
    keys = {name: _schedule_key(target.source_alias, name, alias_list) for name in wanted}
    fresh = [name for name in wanted if cache.add(keys[name], 1, ttl)]
    if not fresh:
        return None
    from mediahub import jobs

    params: dict[str, Any] = {"names": fresh}
    if alias_list:
        params["aliases"] = list(alias_list)
    try:
        return jobs.start("thumbnails", storage=storage, params=params, user=None)
    except BaseException:
        cache.delete_many([keys[name] for name in fresh])  # not enqueued: may be asked again
        raise


def schedule_on_commit(storage: str, names: Iterable[str]) -> None:
    """:func:`schedule` once the current database transaction commits; never raises.

    What mediahub's write paths call (uploads, moves, publish, sync): an image just
    stored gets its thumbnails from a worker, and a failure to enqueue (no task
    backend, a bad name) is logged, never turned into a failed upload. Outside a
    transaction the job is enqueued at once.
    """
    import logging

    from django.db import transaction

    names = list(names)
    if not names:
        return

    def enqueue() -> None:
        try:
            schedule(storage, names)
        except Exception as error:
            logging.getLogger("mediahub.thumbnails").warning(
                "Could not schedule the thumbnails of %d image(s) of %r: %s",
                len(names),
                storage,
                error,
            )

    transaction.on_commit(enqueue)


def unschedule(storage: str, names: Iterable[str], *, aliases: Iterable[str] = ()) -> None:
    """Forget :func:`schedule`'s marks of ``names``: for all aliases and for each of ``aliases``.

    Workers call it once they have made (or given up on) the thumbnails, so that a
    source changed again soon after is scheduled again at once.
    """
    from django.core.cache import cache

    from mediahub.thumbnails.storages import resolve_target

    alias = resolve_target(storage).source_alias
    variants = [(), *((one,) for one in aliases)]
    cache.delete_many(
        [_schedule_key(alias, name, variant) for name in names for variant in variants]
    )


def _ref(source: Any) -> SourceRef:
    if isinstance(source, SourceRef):
        return source
    if isinstance(source, str):
        return SourceRef(source)
    path = getattr(source, "path", None)
    if isinstance(path, str) and hasattr(source, "etag"):
        return SourceRef(path, getattr(source, "etag", None), getattr(source, "modified", None))
    raise TypeError(f"A thumbnail source must be a name or a listing entry, not {source!r}.")
