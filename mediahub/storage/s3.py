"""Public and private S3 storages built on django-storages' ``S3Storage``.

What they add to it:

* **SigV4 always** (boto3 and ``S3Storage.url()`` otherwise sign SigV2 URLs in
  us-east-1 and against custom endpoints) and presign lifetimes checked against
  the 7-day SigV4 limit instead of silently accepted.
* **Names validated before use** (:func:`mediahub.names.validate_name`):
  django-storages would rewrite ``a//b`` or ``x/../y`` instead of refusing them.
* **Atomic create**: with ``file_overwrite=False`` a new object is written with
  ``If-None-Match: *`` (S3 answers 412 when the key exists, and mediahub picks
  another name), so two instances saving the same name never lose a file. Where
  the endpoint ignores the header, a probe finds out and the storage checks first
  (:mod:`mediahub.storage.conditional`, option ``conditional_writes``). Large
  files go up as multipart uploads with parts in parallel, in bounded memory
  (:mod:`mediahub.storage.multipart`, option ``parallel_parts``).
* **Content types from the name**, never from the client, on every write (save,
  multipart, copy, direct upload, sync): active content (HTML, SVG, XML...) is
  stored as an attachment or refused (:mod:`mediahub.storage.content`).
* **Folder listing** (one ListObjectsV2 call per page) and **server-side copy**
  (:meth:`MediaS3Storage.copy`, and :meth:`MediaS3Storage.copy_if_absent` that never
  overwrites).

The private storage is always signed, never ``public-read``, never overwrites,
and refuses a custom domain without a CloudFront signer.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import Storage
from django.utils.deconstruct import deconstructible
from django.utils.functional import cached_property
from storages.backends.s3 import S3Storage
from storages.utils import ReadBytesWrapper, get_available_overwrite_name, is_seekable

from mediahub.dsn import MAX_PRESIGN_EXPIRY
from mediahub.names import validate_folder, validate_name
from mediahub.storage import multipart
from mediahub.storage.conditional import check_mode, conditional_copies, conditional_puts
from mediahub.storage.content import write_headers
from mediahub.storage.listing import (
    FileEntry,
    FolderEntry,
    FolderPage,
    check_listing_args,
)
from mediahub.storage.presign import Presigner
from mediahub.storage.validation import ValidatedNamesMixin, alternative_name, save_max_length

#: Part size of the create-if-absent multipart upload (``transfer_config``'s by default).
MULTIPART_PART_SIZE = 8 * 1024**2
#: Attempts at finding a free name when concurrent saves collide.
MAX_NAME_ATTEMPTS = 20
#: Canned ACLs that let someone other than the bucket owner read an object
#: (authenticated-read: any AWS account in the world).
OPEN_ACLS = ("public-read", "public-read-write", "authenticated-read")
#: Object metadata (``x-amz-meta-mediahub-visibility: private``) on every object the
#: private storage writes; ``mediahub_audit`` flags public objects that carry it (a
#: backup restored to the wrong bucket). Copies within private storage keep it; copies into
#: a public storage (make public) drop it (:meth:`MediaS3Storage.copy`).
VISIBILITY_METADATA = "mediahub-visibility"


class _KeyExists(Exception):
    """The key of a create-if-absent upload exists already."""


def is_precondition_failed(error: ClientError) -> bool:
    """True for S3's answer to a conditional write whose key exists (412, or 409 in a race)."""
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412)


_is_precondition_failed = is_precondition_failed


def check_expiry(seconds: int) -> int:
    """Return ``seconds`` if it is a valid presign lifetime, else raise ``ValueError``."""
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
        raise ValueError(f"A presigned URL lifetime must be a positive int, not {seconds!r}.")
    if seconds > MAX_PRESIGN_EXPIRY:
        raise ValueError(
            f"A presigned URL cannot live {seconds} s: SigV4 allows at most "
            f"{MAX_PRESIGN_EXPIRY} s (7 days)."
        )
    return seconds


class MediaS3Storage(ValidatedNamesMixin, S3Storage):
    """Common base of :class:`PublicS3Storage` and :class:`PrivateS3Storage`."""

    visibility = "public"

    def get_default_settings(self) -> dict[str, Any]:
        defaults = super().get_default_settings()
        defaults.update(
            signature_version="s3v4",
            file_overwrite=False,
            # "auto" (probe the endpoint once), "on" or "off": see mediahub.storage.conditional.
            conditional_writes="auto",
            # Parts of one large save in flight at once (None: transfer_config's max_concurrency).
            parallel_parts=None,
        )
        return defaults

    def __init__(self, **settings: Any) -> None:
        if settings.get("signature_version", "s3v4") != "s3v4":
            raise ImproperlyConfigured(
                f"{type(self).__name__} signs with SigV4 only "
                f"(signature_version={settings['signature_version']!r} given)."
            )
        super().__init__(**settings)
        try:
            check_mode(self.conditional_writes)
        except ValueError as exc:
            raise ImproperlyConfigured(str(exc)) from None
        if self.parallel_parts is not None and (
            isinstance(self.parallel_parts, bool)
            or not isinstance(self.parallel_parts, int)
            or not 1 <= self.parallel_parts <= 64
        ):
            raise ImproperlyConfigured(
                f"parallel_parts must be an int from 1 to 64, not {self.parallel_parts!r}."
            )
        self.signature_version = "s3v4"
        # A user-supplied client_config must not bring SigV2 back.
        self.client_config = self.client_config.merge(Config(signature_version="s3v4"))
        try:
            check_expiry(self.querystring_expire)
        except ValueError as exc:
            raise ImproperlyConfigured(f"querystring_expire: {exc}") from None

    # -- names ---------------------------------------------------------------
    def _key(self, name: str) -> str:
        """The bucket key of a validated object name."""
        validate_name(name)
        return self._normalize_name(name)

    def _folder_key(self, path: str) -> str:
        validate_folder(path)
        base = self.location.strip("/")
        base = f"{base}/" if base else ""
        return base + path

    def _relative(self, key: str) -> str:
        base = self.location.strip("/")
        return key[len(base) + 1 :] if base else key

    def listdir(self, name):
        validate_folder(name if not name or name.endswith("/") else name + "/")
        return super().listdir(name)

    def url(self, name, parameters=None, expire=None, http_method=None):
        validate_name(name)
        if expire is not None:
            check_expiry(expire)
        if not self.custom_domain and http_method in (None, "GET"):
            # The same URL django-storages would give, from mediahub's fast presigner.
            if self.querystring_auth:
                return self.presigned_url(name, expires_in=expire, params=parameters)
            if not parameters:
                client = self.unsigned_connection.meta.client
                return self.presigner.unsigned_url(client, self._key(name))
        return super().url(name, parameters=parameters, expire=expire, http_method=http_method)

    def delete(self, name):
        from mediahub.links import changing

        validate_name(name)
        with changing(self, name):  # ends the object's signed links (every path deletes here)
            super().delete(name)

    def get_available_name(self, name, max_length=None):
        validate_name(name)
        if self.file_overwrite:
            return super().get_available_name(name, max_length)
        # No HEAD request: _save() creates atomically and picks another name on 412.
        return get_available_overwrite_name(name, max_length)

    # -- write parameters --------------------------------------------------------
    def _get_write_parameters(self, name, content=None):
        """django-storages' parameters, with the type and disposition from the name.

        Every write goes through here (save, multipart, ``open(..., "w")``, copies,
        direct uploads, sync push): what the client declared is never stored, active
        content gets ``attachment`` (or is refused by a public storage).
        """
        params = super()._get_write_parameters(name, content)
        declared = getattr(content, "content_type", None) if content is not None else None
        params.update(
            write_headers(
                name,
                visibility=self.visibility,
                declared=(declared,) if isinstance(declared, str) else (),
            )
        )
        return params

    @property
    def part_concurrency(self) -> int:
        """Parts of one multipart upload in flight at once."""
        return self.parallel_parts or max(1, int(self.transfer_config.max_concurrency))

    # -- atomic create -----------------------------------------------------------
    def _save(self, name, content):
        validate_name(name)
        if self.file_overwrite:
            from mediahub.links import changing

            with changing(self, name):  # may replace an object: end its signed links
                return super()._save(name, content)
        if is_seekable(content):
            content.seek(0, os.SEEK_SET)
        data = ReadBytesWrapper(content)
        max_length = save_max_length()
        candidate = name
        for _attempt in range(MAX_NAME_ATTEMPTS):
            if self._create(candidate, data, content):
                return candidate
            if is_seekable(content):
                content.seek(0, os.SEEK_SET)
            else:
                raise FileExistsError(f"{name!r} exists and the content cannot be re-read.")
            # The field's max_length holds for the new name too.
            candidate = alternative_name(self, name, max_length)
        raise FileExistsError(f"No free name found for {name!r}.")

    def _create(self, name: str, data: ReadBytesWrapper, original: Any) -> bool:
        """Write ``name`` only if absent. False when the key already exists."""
        key = self._key(name)
        params = self._get_write_parameters(key, original)
        fd = multipart.real_file(original)
        if (
            self.gzip
            and params["ContentType"] in self.gzip_content_types
            and "ContentEncoding" not in params
        ):
            data = ReadBytesWrapper(self._compress_content(data))
            params["ContentEncoding"] = "gzip"
            fd = None  # the bytes to send are the compressed ones
        client = self.connection.meta.client
        conditional = conditional_puts(self)
        part_size = multipart.part_size_for(
            _size_of(original), self.transfer_config.multipart_chunksize or MULTIPART_PART_SIZE
        )
        first = data.read(part_size)
        try:
            if len(first) < part_size:
                if not conditional and self._key_exists(client, key):
                    return False
                client.put_object(
                    Bucket=self.bucket_name,
                    Key=key,
                    Body=first,
                    **_if_absent(conditional),
                    **params,
                )
                return True
            return self._create_multipart(
                client, key, first, data, params, part_size, conditional, fd
            )
        except ClientError as error:
            if is_precondition_failed(error):
                return False
            raise

    def _create_multipart(
        self, client, key, first, data, params, part_size, conditional, fd=None
    ) -> bool:
        """A multipart upload, parts in parallel (``fd``: a real file, read by the threads)."""
        if fd is not None:
            bodies = multipart.file_windows(fd, os.fstat(fd).st_size, part_size)
            first = None  # read again by its thread, as a window
        else:
            bodies = multipart.chunks(first, data.read, part_size)
        checksum = multipart.checksum_algorithm(client, params)
        if checksum:
            params = {**params, "ChecksumAlgorithm": checksum}
        upload = client.create_multipart_upload(Bucket=self.bucket_name, Key=key, **params)
        upload_id = upload["UploadId"]
        return self._complete_multipart(
            client,
            key,
            upload_id,
            lambda: multipart.upload_parts(
                client,
                self.bucket_name,
                key,
                upload_id,
                bodies,
                concurrency=self.part_concurrency,
                checksum_algorithm=checksum,
            ),
            check_absent=True,
            conditional=lambda: conditional,
        )

    def _complete_multipart(
        self,
        client,
        key: str,
        upload_id: str,
        send_parts: Callable[[], list[dict[str, Any]]],
        *,
        check_absent: bool,
        conditional: Callable[[], bool],
    ) -> bool:
        """Send the parts and complete the upload; ``False`` (aborted) if ``key`` appeared.

        Any error aborts the upload and is raised again.
        """
        try:
            parts = send_parts()
            # S3 refuses the completion below with 412 if the key appeared meanwhile;
            # some S3-compatible servers (Ceph RGW 16) ignore If-None-Match there, so
            # look first: that narrows their race to the completion itself.
            if check_absent and self._key_exists(client, key):
                raise _KeyExists
            client.complete_multipart_upload(
                Bucket=self.bucket_name,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                **_if_absent(conditional()),
            )
            return True
        except _KeyExists:
            self._abort(client, key, upload_id)
            return False
        except BaseException:
            self._abort(client, key, upload_id)
            raise

    def _abort(self, client, key: str, upload_id: str) -> None:
        """Abort a multipart upload (errors logged, never raised: see :func:`multipart.abort`)."""
        multipart.abort(client, self.bucket_name, key, upload_id)

    def _key_exists(self, client, key: str) -> bool:
        try:
            client.head_object(Bucket=self.bucket_name, Key=key)
        except ClientError as error:
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return False
            raise
        return True

    # -- listing and copy ---------------------------------------------------------
    def list_folder(
        self,
        path: str = "",
        *,
        prefix: str = "",
        cursor: str | None = None,
        page_size: int | None = None,
    ) -> FolderPage:
        """One page of ``path``'s sub-folders and files: exactly one ListObjectsV2 call."""
        size = check_listing_args(path, prefix, page_size)
        folder_key = self._folder_key(path)
        kwargs: dict[str, Any] = {
            "Bucket": self.bucket_name,
            "Prefix": folder_key + prefix,
            "Delimiter": "/",
            "MaxKeys": size,
        }
        if cursor:
            kwargs["ContinuationToken"] = cursor
        answer = self.connection.meta.client.list_objects_v2(**kwargs)
        page = FolderPage(path=path, prefix=prefix, cursor=cursor)
        for common in answer.get("CommonPrefixes", ()):
            page.folders.append(FolderEntry(self._relative(common["Prefix"])))
        for item in answer.get("Contents", ()):
            if item["Key"] == folder_key:  # the folder's own marker object
                continue
            page.files.append(
                FileEntry(
                    path=self._relative(item["Key"]),
                    size=item["Size"],
                    modified=item.get("LastModified"),
                    etag=item.get("ETag", "").strip('"') or None,
                )
            )
        if answer.get("IsTruncated") and answer.get("NextContinuationToken"):
            page.next_cursor = answer["NextContinuationToken"]
        return page

    def stat(self, name: str) -> FileEntry:
        """Size, last-modified and ETag of one object (one HEAD request)."""
        key = self._key(name)
        try:
            head = self.connection.meta.client.head_object(Bucket=self.bucket_name, Key=key)
        except ClientError as error:
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                raise FileNotFoundError(f"File does not exist: {name}") from None
            raise
        return FileEntry(
            path=name,
            size=head["ContentLength"],
            modified=head.get("LastModified"),
            etag=head.get("ETag", "").strip('"') or None,
        )

    def can_copy_from(self, source: Storage) -> bool:
        """True when ``source`` lives on the same S3 endpoint with the same credentials."""
        return isinstance(source, MediaS3Storage) and all(
            getattr(source, option, None) == getattr(self, option, None)
            for option in (
                "endpoint_url",
                "access_key",
                "secret_key",
                "security_token",
                "session_profile",
            )
        )

    def copy(self, source_name: str, target_name: str, *, source: Storage | None = None) -> str:
        """Copy ``source_name`` (of ``source``, default this storage) to ``target_name`` here.

        Server-side (no byte passes through the app) when both storages share an
        endpoint and credentials; streamed otherwise. Overwrites ``target_name``.
        The copy is written as this storage writes: content type and disposition
        from ``target_name`` (a ``text/html`` source never becomes an inline public
        page), this storage's ACL, encryption and metadata; the source's own metadata
        is kept, except mediahub's private mark when the target is public.
        Returns ``target_name``.
        """
        from mediahub.links import changing

        with changing(self, target_name):  # may replace an object: end its signed links
            self._copy(
                self if source is None else source, source_name, target_name, if_absent=False
            )
        return target_name

    def copy_if_absent(
        self, source_name: str, target_name: str, *, source: Storage | None = None
    ) -> bool:
        """Like :meth:`copy`, but never overwrites: False (nothing written) when taken.

        A conditional copy (``CopyObject If-None-Match: *``) where the endpoint honours
        it, else check-then-copy (see :mod:`mediahub.storage.conditional`).
        """
        return self._copy(
            self if source is None else source, source_name, target_name, if_absent=True
        )

    def _copy(
        self, source: Storage, source_name: str, target_name: str, *, if_absent: bool
    ) -> bool:
        validate_name(source_name)
        target_key = self._key(target_name)
        client = self.connection.meta.client
        if not self.can_copy_from(source):
            with source.open(source_name, "rb") as handle:
                if if_absent:
                    return self._create(target_name, ReadBytesWrapper(handle), None)
                client.upload_fileobj(
                    handle,
                    self.bucket_name,
                    target_key,
                    ExtraArgs=self._get_write_parameters(target_key),
                    Config=self.transfer_config,
                )
            return True
        params = self._get_write_parameters(target_key)
        copy_source = {"Bucket": source.bucket_name, "Key": source._key(source_name)}
        head = client.head_object(**copy_source)
        if head.get("ContentEncoding") and "ContentEncoding" not in params:
            params["ContentEncoding"] = head["ContentEncoding"]
        kept = {
            key: value
            for key, value in (head.get("Metadata") or {}).items()
            if key != VISIBILITY_METADATA
        }
        if kept or params.get("Metadata"):
            params["Metadata"] = {**kept, **(params.get("Metadata") or {})}
        conditional = if_absent and conditional_copies(self)
        if if_absent and not conditional and self._key_exists(client, target_key):
            return False
        try:
            if head["ContentLength"] > multipart.MAX_COPY_SIZE:
                return self._copy_multipart(
                    client, copy_source, head["ContentLength"], target_key, params, if_absent
                )
            client.copy_object(
                CopySource=copy_source,
                Bucket=self.bucket_name,
                Key=target_key,
                MetadataDirective="REPLACE",
                **_if_absent(conditional),
                **params,
            )
        except ClientError as error:
            if if_absent and is_precondition_failed(error):
                return False
            raise
        return True

    def _copy_multipart(self, client, copy_source, size, key, params, if_absent) -> bool:
        """A copy over 5 GiB: ``UploadPartCopy`` ranges, completed only if absent when asked."""
        upload_id = client.create_multipart_upload(Bucket=self.bucket_name, Key=key, **params)[
            "UploadId"
        ]
        return self._complete_multipart(
            client,
            key,
            upload_id,
            lambda: multipart.copy_parts(
                client,
                self.bucket_name,
                key,
                upload_id,
                copy_source,
                size,
                part_size=multipart.COPY_PART_SIZE,
                concurrency=min(self.part_concurrency, 8),
            ),
            check_absent=if_absent,
            conditional=lambda: if_absent and conditional_puts(self),
        )

    # -- presigning -----------------------------------------------------------------
    def presigned_url(
        self,
        name: str,
        *,
        expires_in: int | None = None,
        method: str = "get_object",
        params: dict[str, Any] | None = None,
    ) -> str:
        """A SigV4 presigned URL for ``name`` (the one place mediahub presigns)."""
        key = self._key(name)
        expires = check_expiry(self.querystring_expire if expires_in is None else expires_in)
        if params and ({"Bucket", "Key"} & params.keys()):
            raise ValueError(
                "presigned_url() signs the object 'name': params may not set Bucket/Key."
            )
        # mediahub.storage.presign: botocore's URL, byte for byte, ~10x faster.
        return self.presigner.url(
            self.connection.meta.client, key, operation=method, params=params, expires_in=expires
        )

    @cached_property
    def presigner(self) -> Presigner:
        return Presigner(self.bucket_name)


@deconstructible(path="mediahub.storage.s3.PublicS3Storage")
class PublicS3Storage(MediaS3Storage):
    """Public media: plain (unsigned) URLs, optional custom domain, ACL only if asked."""

    visibility = "public"

    def get_default_settings(self) -> dict[str, Any]:
        defaults = super().get_default_settings()
        defaults["querystring_auth"] = False
        return defaults


@deconstructible(path="mediahub.storage.s3.PrivateS3Storage")
class PrivateS3Storage(MediaS3Storage):
    """Private media: always signed, never public-read, never overwritten."""

    visibility = "private"

    def get_default_settings(self) -> dict[str, Any]:
        defaults = super().get_default_settings()
        defaults.update(querystring_auth=True, querystring_expire=300, default_acl=None)
        return defaults

    def get_object_parameters(self, name: str) -> dict[str, Any]:
        """The storage's write parameters, with the private mark (:data:`VISIBILITY_METADATA`)."""
        params = super().get_object_parameters(name)
        params["Metadata"] = {**(params.get("Metadata") or {}), VISIBILITY_METADATA: "private"}
        return params

    def __init__(self, **settings: Any) -> None:
        for option, safe in (("querystring_auth", True), ("file_overwrite", False)):
            if option in settings and settings[option] != safe:
                raise ImproperlyConfigured(f"PrivateS3Storage requires {option}={safe!r}.")
        if settings.get("default_acl") in OPEN_ACLS:
            raise ImproperlyConfigured(
                "PrivateS3Storage cannot use a public ACL (default_acl="
                f"{settings['default_acl']!r})."
            )
        super().__init__(**settings)
        if self.object_parameters.get("ACL", "") in OPEN_ACLS:
            raise ImproperlyConfigured(
                "PrivateS3Storage cannot set a public ACL in object_parameters."
            )
        if self.custom_domain and not self.cloudfront_signer:
            raise ImproperlyConfigured(
                "PrivateS3Storage cannot use a custom domain without a CloudFront signer "
                "(its URLs would be unsigned): remove 'custom_domain' or set "
                "'cloudfront_key_id' and 'cloudfront_key'."
            )


def _if_absent(conditional: bool) -> dict[str, str]:
    """The create-if-absent argument of a write, when the endpoint honours it."""
    return {"IfNoneMatch": "*"} if conditional else {}


def _size_of(content: Any) -> int | None:
    """The byte size of ``content`` when it is known without reading it."""
    try:
        size = getattr(content, "size", None)
    except (AttributeError, OSError, ValueError):
        return None
    return size if isinstance(size, int) else None
