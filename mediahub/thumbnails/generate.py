"""Making thumbnails: fetch the source to a temp dir, check it, let easy-thumbnails resize.

Safety, because sources are whatever people uploaded or pushed:

* the source is streamed (1 MiB chunks) into a spooled temporary file (memory up
  to ``SPOOL_SIZE``, the instance's temp directory beyond), and refused above
  ``MEDIAHUB["THUMBNAIL_MAX_SOURCE_SIZE"]``;
* decoding is bounded: one decode slot per job (``THUMBNAIL_MAX_DECODES`` per
  process), the source decoded once per job, as small as its largest thumbnail
  allows (JPEG ``draft``, then ``reduce`` in strips);
* only formats in ``MEDIAHUB["THUMBNAIL_FORMATS"]`` are decoded (SVG and anything
  Pillow does not know are refused);
* the pixel count is checked from the header, before decoding, against
  ``MEDIAHUB["THUMBNAIL_MAX_PIXELS"]``: an **error**, where Pillow only warns below
  twice its own limit;
* only the first frame of an animated image is used (easy-thumbnails would
  convert every frame at full size);
* images are decoded strictly: a truncated file is refused (easy-thumbnails' own
  source generator switches ``LOAD_TRUNCATED_IMAGES`` on, process-wide).

A source that cannot be thumbnailed raises :class:`UnusableSource`; a storage
failure raises :class:`StorageUnavailable`. Callers show a placeholder: never a 500.

:func:`render` does the I/O and image work and touches no database (workers run it
in threads or processes); :func:`save` / :func:`save_many` record results in the cache.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from easy_thumbnails.exceptions import EasyThumbnailsError
from easy_thumbnails.options import ThumbnailOptions
from easy_thumbnails.utils import exif_orientation
from PIL import Image, UnidentifiedImageError

from mediahub.conf import app_settings
from mediahub.thumbnails import cache, naming
from mediahub.thumbnails.storages import Target, write

logger = logging.getLogger("mediahub.thumbnails")

#: Chunk size of source downloads.
CHUNK_SIZE = 1024 * 1024
#: Sources up to this size are held in memory while thumbnailed, larger ones in a temp file.
SPOOL_SIZE = 4 * 1024 * 1024


class ThumbnailError(Exception):
    """A thumbnail could not be made."""

    transient = False


class UnusableSource(ThumbnailError):
    """The source is not an image mediahub will decode (corrupt, bomb, format, size)."""


class SourceMissing(ThumbnailError):
    """The source object does not exist."""


class StorageUnavailable(ThumbnailError):
    """Reading the source or writing the thumbnail failed; try again later."""

    transient = True


@dataclass(frozen=True)
class Spec:
    """One thumbnail to make of a source: its options and name stem."""

    options: ThumbnailOptions
    stem: str


@dataclass
class Job:
    """Thumbnails to make of one source (one download for all of them)."""

    target: Target
    name: str
    specs: Sequence[Spec]
    #: Version the caller expects (from a listing), or None.
    version: str | None = None
    #: Overwrite a thumbnail already stored under the same name (``--force``).
    replace: bool = False
    #: Longest wait (s) for a decode slot, None: as long as it takes (workers).
    wait: float | None = None


@dataclass
class Made:
    """One thumbnail written (``name``) or a source found unusable (``error``)."""

    spec: Spec
    name: str
    size: tuple[int, int] | None = None
    error: str | None = None


@dataclass
class Result:
    job: Job
    version: str | None = None
    made: list[Made] = field(default_factory=list)
    #: Names already fresh in the cache (nothing was written for them).
    fresh: list[cache.Cached] = field(default_factory=list)


@dataclass(frozen=True)
class Fetched:
    """A downloaded source; ``path`` is None when ``proceed`` declined its body."""

    path: str | None
    size: int
    etag: str | None
    modified: datetime | None


def _is_not_found(error: BaseException) -> bool:
    if isinstance(error, FileNotFoundError):
        return True
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = error.response.get("Error", {}).get("Code")
        return status == 404 or code in ("NoSuchKey", "404", "NotFound")
    return False


def _too_large(size: int) -> UnusableSource:
    limit = app_settings.THUMBNAIL_MAX_SOURCE_SIZE
    return UnusableSource(f"source is {size} bytes, over THUMBNAIL_MAX_SOURCE_SIZE ({limit})")


def fetch(
    target: Target,
    name: str,
    directory: str | None,
    *,
    proceed: Callable[[str | None], bool] | None = None,
    into: Any = None,
) -> Fetched:
    """Stream ``name`` into ``directory``: one GET for S3 (its ETag comes with it).

    ``proceed(version)`` is asked once the source's version is known from the
    answer's headers, before its body is read: False closes the answer unread
    (``Fetched.path`` is None), so a request for an already-made version costs no
    download of the source.
    """
    storage = target.source_storage
    path = os.path.join(directory, "source") if directory is not None else ""
    limit = app_settings.THUMBNAIL_MAX_SOURCE_SIZE
    written = 0
    try:
        if hasattr(storage, "bucket_name") and hasattr(storage, "_key"):
            answer = storage.connection.meta.client.get_object(
                Bucket=storage.bucket_name, Key=storage._key(name)
            )
            body = answer["Body"]
            size = answer.get("ContentLength") or 0
            etag = (answer.get("ETag") or "").strip('"') or None
            modified = answer.get("LastModified")
            try:
                wanted = proceed is None or proceed(naming.version_of(etag, modified))
            except BaseException:
                body.close()  # the answer is open: never leave it half read
                raise
            if not wanted:
                body.close()
                return Fetched(None, 0, etag, modified)
            if size > limit:
                body.close()
                raise _too_large(size)
            chunks = _stream_chunks(body)
        else:
            size, etag, modified = _stat(storage, name)
            if proceed is not None and not proceed(naming.version_of(etag, modified)):
                return Fetched(None, 0, etag, modified)
            if size > limit:
                raise _too_large(size)
            chunks = _read_chunks(storage, name)
        with open(path, "wb") if into is None else nullcontext(into) as out:
            for chunk in chunks:
                written += len(chunk)
                if written > limit:
                    raise _too_large(written)
                out.write(chunk)
    except ThumbnailError:
        raise
    except (ClientError, BotoCoreError, OSError) as error:
        if _is_not_found(error):
            raise SourceMissing(f"{name!r} does not exist in {target.source_alias!r}") from None
        raise StorageUnavailable(f"reading {name!r} failed: {_describe(error)}") from error
    return Fetched(path, written, etag, modified)


def _stat(storage, name: str) -> tuple[int, str | None, datetime | None]:
    """Size, ETag and last-modified of a non-S3 source (mediahub's ``stat`` when present)."""
    if hasattr(storage, "stat"):
        entry = storage.stat(name)
        return entry.size, entry.etag, entry.modified
    try:
        modified = storage.get_modified_time(name)
    except NotImplementedError:
        modified = None
    return storage.size(name), None, modified


def _stream_chunks(body):
    try:
        yield from body.iter_chunks(CHUNK_SIZE)
    finally:
        body.close()


def _read_chunks(storage, name: str):
    with storage.open(name, "rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            yield chunk


def _describe(error: BaseException) -> str:
    from mediahub.retry import describe

    return describe(error)


def check_image(image: Image.Image) -> None:
    """Refuse formats outside the allow-list and images over the pixel limit."""
    formats = {value.upper() for value in app_settings.THUMBNAIL_FORMATS}
    if (image.format or "").upper() not in formats:
        raise UnusableSource(f"image format {image.format!r} is not in THUMBNAIL_FORMATS")
    width, height = image.size
    limit = app_settings.THUMBNAIL_MAX_PIXELS
    if width * height > limit:
        raise UnusableSource(
            f"image of {width}x{height} pixels exceeds THUMBNAIL_MAX_PIXELS ({limit}): "
            "a possible decompression bomb"
        )


def check_scaling(image: Image.Image, size: Sequence[int] | None, **options: Any) -> None:
    """Refuse an ``upscale`` whose intermediate image would exceed the pixel limit.

    easy-thumbnails scales *before* it crops: with ``upscale`` and ``crop`` (or one
    side 0) a 1x4000 sliver asked for 200x200 is first scaled by 200, to 200x800000
    pixels. Same scale as easy-thumbnails' ``scale_and_crop`` (zoom included).
    """
    if not options.get("upscale") or not size:
        return
    source_x, source_y = image.size
    scale = target_scale(image.size, size, **options)
    if scale <= 1.0:
        return
    pixels = round(source_x * scale) * round(source_y * scale)
    limit = app_settings.THUMBNAIL_MAX_PIXELS
    if pixels > limit:
        raise UnusableSource(
            f"upscaling {source_x}x{source_y} pixels by {scale:.1f} makes {pixels} pixels, "
            f"over THUMBNAIL_MAX_PIXELS ({limit})"
        )


def target_scale(image_size: Sequence[int], size: Sequence[int] | None, **options: Any) -> float:
    """The factor easy-thumbnails' ``scale_and_crop`` will scale an image of ``image_size`` by."""
    source_x, source_y = image_size
    if not size or not source_x or not source_y:
        return 1.0
    target_x, target_y = (int(value) for value in size)
    ratios = (
        target_x / source_x if target_x else 0.0,
        target_y / source_y if target_y else 0.0,
    )
    if options.get("crop") or not target_x or not target_y:
        scale = max(ratios)
    else:
        scale = min(ratios)
    zoom = options.get("zoom")
    if zoom:
        scale *= (100 + int(zoom)) / 100.0
    return scale or 1.0


#: Decode and ``reduce`` no further than this many times the size the resampling
#: needs (Pillow's own ``thumbnail()`` uses 2: the final LANCZOS pass keeps its quality).
REDUCING_GAP = 2.0


def _needed(image: Image.Image, scale: float) -> tuple[int, int]:
    width, height = image.size
    return max(1, math.ceil(width * scale * REDUCING_GAP)), max(
        1, math.ceil(height * scale * REDUCING_GAP)
    )


#: Pixels of the source converted and reduced at a time: a reduction (and a palette
#: image's conversion) never holds a second full-size copy of the source.
STRIP_PIXELS = 2_000_000


def _reduce(image: Image.Image, factor: int) -> Image.Image:
    """``image`` shrunk ``factor`` times by a box filter, strip by strip.

    ``Image.reduce`` of an RGBA image (and converting a palette image) would first
    make a full-size copy; strips of whole ``factor``-row blocks give the same
    pixels with a small fraction of that memory. A mode ``reduce`` does not handle
    is returned as it is (the LANCZOS resize then does all the work).
    """
    info = image.info
    mode = image.mode
    if mode == "P":
        mode = "RGBA" if "transparency" in info else "RGB"
    elif mode == "1":
        mode = "L"
    width, height = image.size
    rows = max(1, STRIP_PIXELS // max(width * factor, 1)) * factor
    reduced = None
    try:
        for top in range(0, height, rows):
            strip = image.crop((0, top, width, min(height, top + rows)))
            if strip.mode != mode:
                strip = strip.convert(mode)
            small = strip.reduce(factor)
            if reduced is None:
                size = (math.ceil(width / factor), math.ceil(height / factor))
                reduced = Image.new(small.mode, size)
            reduced.paste(small, (0, top // factor))
    except ValueError:
        return image
    if reduced is None:  # pragma: no cover - an image has at least one row
        return image
    reduced.info = {key: value for key, value in info.items() if key != "transparency"}
    return reduced


def _reduce_for(image: Image.Image, scale: float) -> Image.Image:
    """``image`` reduced as far as a resize by ``scale`` allows (``REDUCING_GAP`` kept)."""
    if scale >= 1.0 / REDUCING_GAP:
        return image
    width, height = image.size
    needed = _needed(image, scale)
    factor = min(width // needed[0], height // needed[1])
    return _reduce(image, factor) if factor >= 2 else image


def _decode(source: Any, wanted: Sequence[tuple[Sequence[int] | None, dict[str, Any]]]):
    """Open, check and decode the source once, as small as the largest thumbnail allows."""
    handle = source.file
    handle.seek(0)
    image = Image.open(handle)
    check_image(image)
    scale = max(target_scale(image.size, size, **options) for size, options in wanted)
    if image.format == "JPEG" and scale < 1.0 / REDUCING_GAP:
        image.draft("RGB", _needed(image, scale))
    image.load()  # LOAD_TRUNCATED_IMAGES is off: truncated data raises OSError
    if getattr(image, "is_animated", False):
        # A thumbnail is the first frame. easy-thumbnails would convert every frame at
        # full size (a frame count bomb the per-frame pixel check cannot see) and then
        # fail to write the palette result as JPEG.
        image.seek(0)
        image = image.copy()
    image = exif_orientation(image)
    # Of the drafted (and turned) image:
    scale = max(target_scale(image.size, size, **options) for size, options in wanted)
    return _reduce_for(image, scale)


def safe_source_image(source: Any, size: Sequence[int] | None = None, **options: Any):
    """easy-thumbnails source generator: open, check and strictly decode the image, small.

    ``source`` is the thumbnailer, whose ``file`` is the downloaded temp file.
    Memory stays near one decoded copy of the source, and the source is decoded
    once for all the thumbnails of a job (``mediahub_wanted`` on the thumbnailer):
    a JPEG at the smallest DCT scale (1/2 ... 1/8, ``draft``) that still gives
    ``REDUCING_GAP`` times the pixels the largest thumbnail needs, any image then
    ``reduce``-d by an integer factor (a box filter, in strips), so that
    easy-thumbnails' LANCZOS resize works on a small image instead of the full one.
    """
    base = getattr(source, "mediahub_base", None)
    if base is None:
        wanted = getattr(source, "mediahub_wanted", None) or [(size, options)]
        base = _decode(source, wanted)
        source.mediahub_base = base
    image = _reduce_for(base, target_scale(base.size, size, **options))
    check_scaling(image, size, **options)  # on the image the processors will see
    return image


#: Errors by which Pillow and easy-thumbnails say "this is not a usable image".
IMAGE_ERRORS: tuple[type[BaseException], ...] = (
    UnidentifiedImageError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,  # raised when warnings are errors
    EasyThumbnailsError,
    SyntaxError,  # some Pillow plugins signal broken headers this way
    ValueError,
    OSError,
    EOFError,
    MemoryError,
)


class Busy(ThumbnailError):
    """Every decode slot of this process stayed taken too long; try again later."""

    transient = True


_slots_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


def decode_slots() -> threading.BoundedSemaphore:
    """The process-wide semaphore of ``MEDIAHUB["THUMBNAIL_MAX_DECODES"]`` image decodes.

    One decode holds at most about one decoded copy of a source (``4 x
    THUMBNAIL_MAX_PIXELS`` bytes for RGBA): the cap bounds a process's memory
    however many requests or threads ask at once.
    """
    limit = max(1, int(app_settings.THUMBNAIL_MAX_DECODES))
    with _slots_lock:
        return _slots.setdefault(limit, threading.BoundedSemaphore(limit))


@contextmanager
def decode_slot(timeout: float | None = None) -> Iterator[None]:
    """Hold one decode slot; :class:`Busy` when none frees up within ``timeout`` seconds."""
    slots = decode_slots()
    if not slots.acquire(timeout=timeout):
        raise Busy("every thumbnail decode slot of this process is busy")
    try:
        yield
    finally:
        slots.release()


def _make_image(thumbnailer, spec: Spec) -> tuple[Spec, Any]:
    """The thumbnail file of ``spec``, or the reason it cannot be made (a ``str``)."""
    try:
        return spec, thumbnailer.generate_thumbnail(spec.options)
    except ThumbnailError as error:
        return spec, str(error)
    except IMAGE_ERRORS as error:
        return spec, f"not a usable image ({type(error).__name__}: {error})"


def _store(spec: Spec, thumbnail: Any, target: Target, job: Job) -> Made:
    if isinstance(thumbnail, str):
        return Made(spec, "", error=thumbnail)
    try:
        name = write(target.thumbnail_storage, thumbnail.name, thumbnail.file, replace=job.replace)
    except (ClientError, BotoCoreError, OSError) as error:
        raise StorageUnavailable(
            f"writing {thumbnail.name!r} failed: {_describe(error)}"
        ) from error
    return Made(spec, name, size=(thumbnail.width, thumbnail.height))


def render(
    job: Job, *, skip: Callable[[str | None], list[cache.Cached] | None] | None = None
) -> Result:
    """Download the source once and make every thumbnail of ``job`` (no database access).

    ``skip(version)`` may return the already-fresh thumbnails of the source's current
    version (read from the GET's headers, before its body); then the body is not
    downloaded and nothing is made. Raises :class:`SourceMissing` or
    :class:`StorageUnavailable`; an unusable source gives ``Made.error`` entries.
    """
    from mediahub.thumbnails.naming import MediaThumbnailer

    target = job.target
    fresh: list[list[cache.Cached]] = []

    def proceed(version: str | None) -> bool:
        found = skip(version) if skip is not None else None
        if found is None:
            return True
        fresh.append(found)
        return False

    # Small sources stay in memory, larger ones go to the instance's temp directory.
    with tempfile.SpooledTemporaryFile(SPOOL_SIZE, prefix="mediahub-thumb-") as handle:
        fetched = fetch(target, job.name, None, proceed=proceed, into=handle)
        version = naming.version_of(fetched.etag, fetched.modified)
        result = Result(job, version)
        if fetched.path is None:  # already made for this version: nothing downloaded
            result.fresh = fresh[0]
            return result
        handle.seek(0)
        thumbnailer = MediaThumbnailer(
            file=handle,
            name=job.name,
            source_storage=target.source_storage,
            thumbnail_storage=target.thumbnail_storage,
            prefix=target.prefix,
            version=version,
        )
        thumbnailer.source_generators = [safe_source_image]
        thumbnailer.mediahub_wanted = [
            (spec.options.get("size"), {k: v for k, v in spec.options.items() if k != "size"})
            for spec in job.specs
        ]
        thumbnailer.mediahub_base = None
        made = []
        with decode_slot(job.wait):  # the decoded source lives as long as the slot
            try:
                for spec in job.specs:
                    made.append(_make_image(thumbnailer, spec))
            finally:
                thumbnailer.mediahub_base = None
        for spec, thumbnail in made:
            result.made.append(_store(spec, thumbnail, target, job))
    return result


def save(result: Result) -> list[Made]:
    """Record ``result`` in the cache and delete the thumbnails it replaces."""
    save_many([result])
    return result.made


def save_many(results: Sequence[Result]) -> None:
    """Record many results (of one target) with a few queries; delete what they replace."""
    by_target: dict[int, list[Result]] = {}
    for result in results:
        by_target.setdefault(id(result.job.target), []).append(result)
    for group in by_target.values():
        target = group[0].job.target
        entries = []
        for result in group:
            job = result.job
            for made in result.made:
                if made.error:
                    logger.warning(
                        "No thumbnail for %r in storage %r: %s.",
                        job.name,
                        target.source_alias,
                        made.error,
                    )
                    name = naming.thumbnail_name(
                        made.spec.stem, result.version, naming.FAILED_EXTENSION
                    )
                    entries.append(cache.Entry(job.name, made.spec.stem, name, None))
                else:
                    entries.append(cache.Entry(job.name, made.spec.stem, made.name, made.size))
        for old in cache.record_many(target, entries):
            try:
                target.thumbnail_storage.delete(old)
            except Exception as error:  # an orphan object is harmless; say so and go on
                logger.warning("Could not delete the old thumbnail %r: %s", old, _describe(error))


#: Longest wait (s) of a web request for a decode slot before it answers 503.
REQUEST_DECODE_WAIT = 10.0


def ensure(target: Target, name: str, spec: Spec, *, version: str | None = None) -> cache.Cached:
    """The fresh thumbnail of ``name`` for ``spec``, made now if needed (the endpoint's work).

    Requests for one thumbnail are serialised within the process, and whoever
    comes second finds it in the cache. Otherwise one GET of the source tells its
    current version; if that version's thumbnail is already cached nothing else is
    done. Raises :class:`SourceMissing` or :class:`StorageUnavailable`.
    """
    key = f"{target.thumbnail_hash}:{spec.stem}"
    with _LOCKS[zlib.crc32(key.encode()) % len(_LOCKS)]:
        return _ensure(target, name, spec, version)


#: Striped locks: one thumbnail is made once per process however many requests ask.
_LOCKS = [threading.Lock() for _ in range(64)]


def _ensure(target: Target, name: str, spec: Spec, version: str | None) -> cache.Cached:
    # Without a known version, a page shows the newest thumbnail: so does this.
    cached = cache.find(target, name, spec.stem, version)
    if cached is not None:
        return cached

    def skip(current: str | None) -> list[cache.Cached] | None:
        cached = cache.find(target, name, spec.stem, current) if current else None
        return [cached] if cached else None

    result = render(Job(target, name, [spec], version, wait=REQUEST_DECODE_WAIT), skip=skip)
    if result.fresh:
        return result.fresh[0]
    save(result)
    cached = cache.find(target, name, spec.stem, result.version)
    if cached is None:  # pragma: no cover - save() just wrote it
        raise StorageUnavailable(f"the thumbnail of {name!r} was not recorded")
    return cached
