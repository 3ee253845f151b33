"""Direct uploads: the browser sends large files straight to S3, in multipart chunks.

The app server never holds the bytes. It only

1. checks the upload (:func:`~mediahub.library.policy.check_upload`), picks a
   free name and creates the multipart upload (:func:`start`), returning a signed
   *upload token* that binds storage, name, upload id, size and user;
2. presigns ``UploadPart`` requests for that upload (:func:`sign_parts`), through
   the storage's ``presigned_url`` (the one place mediahub presigns);
3. completes it with ``If-None-Match: *`` so nothing is ever overwritten, and
   verifies the size (:func:`complete`); any failure aborts the upload so no
   partial object or invisible billed parts remain (:func:`abort`).

The bucket needs CORS for the site's origin (PUT, ``ExposeHeaders: ETag``):
``mediahub_cors --apply`` sets it up.
"""

from __future__ import annotations

import logging
import math
import os
import posixpath
import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.core import signing
from django.utils.translation import gettext as _

from mediahub.conf import app_settings
from mediahub.library.errors import LibraryError
from mediahub.library.policy import check_upload
from mediahub.storage import get_storage
from mediahub.storage.conditional import conditional_puts
from mediahub.storage.s3 import MAX_NAME_ATTEMPTS, MediaS3Storage, is_precondition_failed

logger = logging.getLogger(__name__)

SALT = "mediahub.library.upload"
#: S3's smallest part (all parts but the last) and largest part count.
MIN_PART_SIZE = 5 * 1024**2
MAX_PARTS = 10_000
#: Part URLs presigned per request, and their lifetime in seconds.
MAX_PARTS_PER_REQUEST = 100
PART_URL_EXPIRY = 3600
_ETAG = re.compile(r'^"?[0-9A-Za-z-]{1,100}"?$')


@dataclass(frozen=True)
class DirectUpload:
    """A multipart upload in progress, as carried by its signed token."""

    storage: str
    name: str
    upload_id: str
    size: int
    part_size: int
    parts: int
    user_id: Any
    #: The file name the user chose (``name`` may differ when it was taken).
    filename: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "s": self.storage,
            "n": self.name,
            "u": self.upload_id,
            "z": self.size,
            "c": self.part_size,
            "p": self.parts,
            "i": self.user_id,
            "f": self.filename,
        }


def part_size_for(size: int) -> int:
    """The part size for ``size`` bytes: the setting, within S3's limits."""
    chunk = max(int(app_settings.MULTIPART_CHUNK_SIZE), MIN_PART_SIZE)
    if math.ceil(size / chunk) > MAX_PARTS:
        chunk = math.ceil(size / MAX_PARTS / 1024**2) * 1024**2
    return chunk


def _s3_storage(storage: str) -> MediaS3Storage:
    target = get_storage(storage)
    if not isinstance(target, MediaS3Storage):
        raise LibraryError(_("Direct uploads need an S3 storage; this one takes regular uploads."))
    return target


def _free_name(target: MediaS3Storage, name: str) -> str:
    """``name``, or Django's alternative name when it exists (the final write stays atomic)."""
    root, ext = os.path.splitext(name)
    candidate = name
    for _attempt in range(MAX_NAME_ATTEMPTS):
        if not target.exists(candidate):
            return candidate
        candidate = target.get_alternative_name(root, ext)
    raise LibraryError(_("No free name found for %(name)s; rename the file.") % {"name": name})


def start(
    storage: str,
    path: str,
    filename: str,
    size: int,
    declared_type: str | None = None,
    *,
    user_id: Any = None,
) -> dict[str, Any]:
    """Create the multipart upload; returns ``{"token", "name", "part_size", "parts"}``."""
    policy = check_upload(storage, path, filename, size, declared_type)
    if size <= 0:
        raise LibraryError(_("Empty files are uploaded through the site, not directly."))
    target = _s3_storage(storage)
    name = _free_name(target, policy.name)
    key = target._key(name)
    # The Content-Type and Content-Disposition are fixed here, by the server, from the
    # name (the storage's write path: mediahub.storage.content); the browser only
    # sends the parts' bytes.
    params = {**target._get_write_parameters(key), **policy.object_parameters()}
    params.pop("ContentEncoding", None)
    answer = target.connection.meta.client.create_multipart_upload(
        Bucket=target.bucket_name, Key=key, **params
    )
    chunk = part_size_for(size)
    upload = DirectUpload(
        storage=storage,
        name=name,
        upload_id=answer["UploadId"],
        size=size,
        part_size=chunk,
        parts=max(1, math.ceil(size / chunk)),
        user_id=_user_key(user_id),
        filename=posixpath.basename(policy.name),
    )
    return {
        "token": signing.dumps(upload.as_dict(), salt=SALT, compress=True),
        "name": name,
        "part_size": chunk,
        "parts": upload.parts,
    }


def load(token: str, storage: str, *, user_id: Any = None) -> DirectUpload:
    """The upload a token stands for; :class:`LibraryError` when invalid, expired or not yours."""
    if not isinstance(token, str) or len(token) > 4096:
        raise LibraryError(_("Invalid upload token; start the upload again."))
    try:
        data = signing.loads(token, salt=SALT, max_age=app_settings.DIRECT_UPLOAD_EXPIRY)
    except signing.SignatureExpired:
        raise LibraryError(_("This upload has expired; start it again.")) from None
    except signing.BadSignature:
        raise LibraryError(_("Invalid upload token; start the upload again.")) from None
    upload = DirectUpload(
        storage=data["s"],
        name=data["n"],
        upload_id=data["u"],
        size=data["z"],
        part_size=data["c"],
        parts=data["p"],
        user_id=data["i"],
        filename=data.get("f", ""),
    )
    if upload.storage != storage or upload.user_id != _user_key(user_id):
        raise LibraryError(_("Invalid upload token; start the upload again."))
    return upload


def _user_key(user_id: Any) -> str | None:
    """A user's primary key as the token carries it (UUID keys are not JSON)."""
    return None if user_id is None else str(user_id)


def sign_parts(upload: DirectUpload, numbers: list[Any]) -> dict[str, str]:
    """Presigned ``UploadPart`` URLs for the given part numbers (``{"1": url, ...}``)."""
    if not isinstance(numbers, list) or not 1 <= len(numbers) <= MAX_PARTS_PER_REQUEST:
        raise LibraryError(
            _("Ask for 1 to %(max)s parts at a time.") % {"max": MAX_PARTS_PER_REQUEST}
        )
    target = _s3_storage(upload.storage)
    urls = {}
    for number in numbers:
        if isinstance(number, bool) or not isinstance(number, int):
            raise LibraryError(_("Part numbers must be integers."))
        if not 1 <= number <= upload.parts:
            raise LibraryError(
                _("This upload has parts 1 to %(parts)s only.") % {"parts": upload.parts}
            )
        urls[str(number)] = target.presigned_url(
            upload.name,
            method="upload_part",
            params={
                "UploadId": upload.upload_id,
                "PartNumber": number,
                # Signed: S3 refuses a part of any other size (no over-size upload).
                "ContentLength": part_length(upload, number),
            },
            expires_in=PART_URL_EXPIRY,
        )
    return urls


def part_length(upload: DirectUpload, number: int) -> int:
    """The exact byte length of part ``number`` (the last part takes the remainder)."""
    if number < upload.parts:
        return upload.part_size
    return upload.size - upload.part_size * (upload.parts - 1)


def _clean_parts(upload: DirectUpload, parts: Any) -> list[dict[str, Any]]:
    if not isinstance(parts, list) or len(parts) != upload.parts:
        raise LibraryError(_("The upload must list its %(parts)s parts.") % {"parts": upload.parts})
    cleaned = []
    for expected, part in enumerate(parts, start=1):
        if not isinstance(part, dict):
            raise LibraryError(_("Each part needs a PartNumber and an ETag."))
        number, etag = part.get("PartNumber"), part.get("ETag")
        if number != expected or not isinstance(etag, str) or not _ETAG.match(etag):
            raise LibraryError(
                _(
                    "Part %(n)s is missing or has no valid ETag (the bucket's CORS rules must "
                    "expose the ETag header)."
                )
                % {"n": expected}
            )
        cleaned.append({"PartNumber": number, "ETag": etag})
    return cleaned


def complete(upload: DirectUpload, parts: Any) -> str:
    """Finish the upload without overwriting anything; returns the final name.

    Aborts the upload on any failure, and deletes the result if its size is not
    the one announced at :func:`start`.
    """
    target = _s3_storage(upload.storage)
    client = target.connection.meta.client
    key = target._key(upload.name)
    try:
        cleaned = _clean_parts(upload, parts)
        # S3 answers the completion below with 412 if the name was taken meanwhile;
        # Ceph RGW 16 ignores If-None-Match there, so look first as well.
        if target._key_exists(client, key):
            raise ClientError(
                {
                    "Error": {"Code": "PreconditionFailed"},
                    "ResponseMetadata": {"HTTPStatusCode": 412},
                },
                "CompleteMultipartUpload",
            )
        client.complete_multipart_upload(
            Bucket=target.bucket_name,
            Key=key,
            UploadId=upload.upload_id,
            MultipartUpload={"Parts": cleaned},
            # Not sent where the provider rejects it (conditional_writes="off").
            **({"IfNoneMatch": "*"} if conditional_puts(target) else {}),
        )
    except ClientError as error:
        abort(upload)
        if is_precondition_failed(error):
            raise LibraryError(
                _(
                    "%(name)s was created by someone else meanwhile; upload the file again "
                    "(nothing was overwritten)."
                )
                % {"name": upload.name}
            ) from None
        raise
    except BaseException:
        abort(upload)
        raise
    stored = target.stat(upload.name)
    if stored.size != upload.size:
        target.delete(upload.name)
        raise LibraryError(
            _("%(name)s arrived with %(got)s bytes instead of %(want)s; it was removed.")
            % {"name": upload.name, "got": stored.size, "want": upload.size}
        )
    from mediahub.library.operations import schedule_thumbnails

    schedule_thumbnails(upload.storage, [upload.name])  # made by a worker, not by a page
    return upload.name


def abort(upload: DirectUpload) -> None:
    """Abort the multipart upload (its parts are deleted); errors are only logged."""
    target = _s3_storage(upload.storage)
    try:
        target.connection.meta.client.abort_multipart_upload(
            Bucket=target.bucket_name, Key=target._key(upload.name), UploadId=upload.upload_id
        )
    except (ClientError, BotoCoreError):
        logger.warning("Could not abort the upload of %r; S3 lifecycle rules will.", upload.name)
