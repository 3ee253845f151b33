"""Private objects in the public storage: a backup restored (or a folder pushed) to the wrong place.

An object of the public storage is *private by origin* when

* it carries the private mark, ``x-amz-meta-mediahub-visibility: private``
  (:data:`mediahub.storage.s3.VISIBILITY_METADATA`), which the private storage puts on
  every object it writes and server-side copies keep; or
* its name is the value of a private model field (:class:`mediahub.fields.PrivateFileField`,
  ``PrivateImageField``, ``MediaFileField(visibility="private")``) or of a private
  django-filer file, and of no public field.

Repair (:func:`move_back`): when the private storage has an identical twin (same size
and ETag) the public copy is deleted; when it has none, the object is copied there
server-side (keeping its headers, adding the private mark), the copy is verified and
the public one deleted; a *different* private object under that name is never
overwritten (reported, left for a person to decide).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from django.core.files.storage import Storage

from mediahub import retry
from mediahub.operations.objects import StoredObject, client, is_s3, key_of

#: Metadata key (``x-amz-meta-…``) and value of the private mark.
MARK_KEY = "mediahub-visibility"
MARK_VALUE = "private"
#: Headers a server-side copy with ``MetadataDirective: REPLACE`` must carry over.
_HEADERS = (
    "ContentType",
    "ContentDisposition",
    "ContentEncoding",
    "ContentLanguage",
    "CacheControl",
    "Expires",
)
#: Storage-imposed parameters kept on the private copy (the rest comes from the source).
_STORAGE_PARAMETERS = ("ServerSideEncryption", "SSEKMSKeyId", "BucketKeyEnabled", "StorageClass")


def is_marked(head: dict[str, Any]) -> bool:
    """True when a ``HeadObject`` answer carries the private mark."""
    metadata = {k.lower(): v for k, v in (head.get("Metadata") or {}).items()}
    return str(metadata.get(MARK_KEY, "")).lower() == MARK_VALUE


def head(storage: Storage, key: str) -> dict[str, Any] | None:
    """``HeadObject`` of a raw key of ``storage``'s bucket; None when it does not exist."""
    try:
        return retry.call(client(storage).head_object, Bucket=storage.bucket_name, Key=key)
    except ClientError as error:
        if retry.error_status(error) == 404:
            return None
        raise


@dataclass(frozen=True)
class Reference:
    """Where a name is referenced from: ``demo.Document.contract``, ``filer (private)``."""

    label: str
    visibility: str


#: Names looked up in the database per query (bounded memory on any table size).
LOOKUP_CHUNK = 500


def referenced_names(names: Iterable[str]) -> dict[str, list[Reference]]:
    """``{name: [references]}`` for those of ``names`` a mediahub field or filer file uses.

    One query per field (and one for filer) per :data:`LOOKUP_CHUNK` names, so memory
    stays bounded whatever the size of the tables; run by the audit (a command or a
    job), never in a request.
    """
    from django.apps import apps

    from mediahub.fields import VisibilityMixin

    fields = []
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, VisibilityMixin):
                label = f"{model._meta.label}.{field.name}"
                reference = Reference(label, getattr(field, "visibility", "public"))
                fields.append((model, field.attname, reference))
    filer = _filer_model()
    found: dict[str, list[Reference]] = {}
    wanted = list(dict.fromkeys(names))
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        chunk = wanted[start : start + LOOKUP_CHUNK]
        for model, column, reference in fields:
            rows = model._default_manager.filter(**{f"{column}__in": chunk})
            for name in rows.values_list(column, flat=True).distinct():
                found.setdefault(str(name), []).append(reference)
        if filer is not None:
            rows = filer.objects.filter(file__in=chunk).values_list("file", "is_public")
            for name, is_public in rows:
                visibility = "public" if is_public else "private"
                found.setdefault(str(name), []).append(
                    Reference(f"django-filer ({visibility})", visibility)
                )
    return found


def _filer_model() -> Any:
    from django.apps import apps

    if not apps.is_installed("filer"):
        return None
    from filer.models import File

    return File


def private_references(references: list[Reference]) -> list[Reference]:
    """The private references of a name, or none when a public field uses it too."""
    if any(reference.visibility == "public" for reference in references):
        return []
    return [reference for reference in references if reference.visibility == "private"]


@dataclass
class MoveResult:
    fixed: bool
    change: str


def move_back(
    public: Storage, private: Storage, item: StoredObject, source_head: dict[str, Any]
) -> MoveResult:
    """Give the private storage its object back and remove the public copy (idempotent)."""
    if not item.valid:
        return MoveResult(False, "not moved: the key is not a valid object name; move it by hand")
    if not is_s3(private):
        return MoveResult(False, "not moved: the private storage is not on S3")
    target_key = key_of(private, item.name)
    twin = head(private, target_key)
    if twin is not None:
        if _identical(source_head, twin):
            _delete(public, item.key)
            return MoveResult(True, "deleted the public copy: the private storage has it")
        return MoveResult(
            False,
            "not changed: the private storage holds a different object under this name; "
            "compare them and delete one by hand",
        )
    if hasattr(private, "copy_if_absent"):
        # The storage's own copy: written as the private storage writes (its mark, its
        # content-type rules), and never over an object that appeared meanwhile.
        if not private.copy_if_absent(item.name, item.name, source=public):
            return MoveResult(False, "not moved: an object appeared under this name meanwhile")
    else:
        _copy_to_private(public, private, item, source_head, target_key)
    copied = head(private, target_key)
    if copied is None or not _copied(source_head, copied):
        return MoveResult(False, "could not verify the private copy: the public one was kept")
    _delete(public, item.key)
    return MoveResult(True, "moved to the private storage (server-side copy, verified)")


def _etag(head: dict[str, Any]) -> str:
    return str(head.get("ETag", "")).strip('"')


def _identical(first: dict[str, Any], second: dict[str, Any]) -> bool:
    """Same size and same ETag: the twin test that allows deleting the public copy."""
    return first.get("ContentLength") == second.get("ContentLength") and bool(
        _etag(first) and _etag(first) == _etag(second)
    )


def _copied(source: dict[str, Any], copy: dict[str, Any]) -> bool:
    """Our own copy arrived whole: same size, and same ETag unless multipart (``…-N``)."""
    if source.get("ContentLength") != copy.get("ContentLength"):
        return False
    if "-" in _etag(source) or "-" in _etag(copy):
        return True  # a copy's part layout may differ from the source's
    return _etag(source) == _etag(copy)


def _copy_to_private(
    public: Storage,
    private: Storage,
    item: StoredObject,
    source_head: dict[str, Any],
    target_key: str,
) -> None:
    extra: dict[str, Any] = {
        header: source_head[header] for header in _HEADERS if source_head.get(header)
    }
    extra["Metadata"] = {**(source_head.get("Metadata") or {}), MARK_KEY: MARK_VALUE}
    own = private.get_object_parameters(item.name)
    extra.update((name, own[name]) for name in _STORAGE_PARAMETERS if name in own)
    s3 = client(private)
    if private.can_copy_from(public):
        extra["MetadataDirective"] = "REPLACE"
        retry.call(
            s3.copy,
            {"Bucket": public.bucket_name, "Key": item.key},
            private.bucket_name,
            target_key,
            ExtraArgs=extra,
            Config=private.transfer_config,
        )
        return
    # Different endpoint or credentials: stream it through this machine.
    body = retry.call(client(public).get_object, Bucket=public.bucket_name, Key=item.key)["Body"]
    try:
        s3.upload_fileobj(
            body, private.bucket_name, target_key, ExtraArgs=extra, Config=private.transfer_config
        )
    finally:
        body.close()


def _delete(storage: Storage, key: str) -> None:
    retry.call(client(storage).delete_object, Bucket=storage.bucket_name, Key=key)
