"""Worker processes for ``mediahub_thumbnails --jobs N``: image work on N cores.

Decoding and resizing hold the GIL, so threads do not add cores: processes do.
Each worker is a fresh interpreter (``spawn``: no inherited sockets, locks or
database connections) that sets Django up with the parent's storage and thumbnail
settings, then only renders (:func:`generate.render`: S3 and Pillow, no database);
the parent records the results. Each worker holds at most
``MEDIAHUB["THUMBNAIL_MAX_DECODES"]`` decodes, so memory is bounded per process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

#: Settings a worker takes from its parent (tests and scripts override them in-process).
PASSED_SETTINGS = ("STORAGES", "MEDIAHUB")


def _settings_to_pass() -> dict[str, Any]:
    """The parent's values of those settings (a value that cannot be pickled stays behind)."""
    import pickle

    from django.conf import settings

    names = [name for name in dir(settings) if name.startswith("THUMBNAIL_")]
    values = {}
    for name in (*PASSED_SETTINGS, *names):
        value = getattr(settings, name, None)
        try:
            pickle.dumps(value)
        except Exception:  # noqa: S112 - the worker reads it from its settings module then
            continue
        values[name] = value
    return values


def _start(module: str | None, values: dict[str, Any]) -> None:
    """Worker initializer: Django set up with the parent's settings."""
    if module:
        os.environ["DJANGO_SETTINGS_MODULE"] = module
    import django
    from django.conf import settings

    django.setup()
    import django.test.signals  # noqa: F401 - its receivers reset what settings cache
    from django.core.signals import setting_changed

    for name, value in values.items():
        setattr(settings, name, value)
        setting_changed.send(sender=type(settings), setting=name, value=value, enter=True)


@contextmanager
def pool(processes: int) -> Iterator[ProcessPoolExecutor]:
    """A pool of ``processes`` thumbnail workers."""
    context = multiprocessing.get_context("spawn")
    module = os.environ.get("DJANGO_SETTINGS_MODULE")
    with ProcessPoolExecutor(
        max_workers=processes,
        mp_context=context,
        initializer=_start,
        initargs=(module, _settings_to_pass()),
    ) as executor:
        yield executor


def describe(job) -> dict[str, Any]:
    """A picklable description of a :class:`generate.Job` (storages are not sent)."""
    from mediahub.thumbnails import naming

    return {
        "storage": job.target.source_alias,
        "name": job.name,
        "specs": [(spec.stem, naming.options_payload(spec.options)) for spec in job.specs],
        "version": job.version,
        "replace": job.replace,
    }


def render(description: dict[str, Any]) -> dict[str, Any]:
    """In a worker: make the thumbnails of one described job; a picklable answer."""
    from mediahub.thumbnails import generate, naming
    from mediahub.thumbnails.storages import resolve_target

    target = resolve_target(description["storage"])
    specs = [
        generate.Spec(naming.options_from_payload(payload), stem)
        for stem, payload in description["specs"]
    ]
    job = generate.Job(
        target, description["name"], specs, description["version"], replace=description["replace"]
    )
    try:
        result = generate.render(job)
    except generate.ThumbnailError as error:
        return {"error": (type(error).__name__, str(error))}
    return {
        "version": result.version,
        "made": [(made.spec.stem, made.name, made.size, made.error) for made in result.made],
    }


def result(job, answer: dict[str, Any]):
    """The :class:`generate.Result` of ``job`` from a worker's answer (raises its error)."""
    from mediahub.thumbnails import generate

    if "error" in answer:
        kind, message = answer["error"]
        raise getattr(generate, kind, generate.ThumbnailError)(message)
    specs = {spec.stem: spec for spec in job.specs}
    made = [
        generate.Made(specs[stem], name, tuple(size) if size else None, error)
        for stem, name, size, error in answer["made"]
    ]
    return generate.Result(job, answer["version"], made)
