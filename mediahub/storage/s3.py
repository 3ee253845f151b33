"""Public and private S3 storages built on django-storages' ``S3Storage``.

What they add to it:

* **SigV4 always** (boto3 and ``S3Storage.url()`` otherwise sign SigV2 URLs in
  us-east-1 and against custom endpoints) and presign lifetimes checked against
  the 7-day SigV4 limit instead of silently accepted.
* **Names validated before use** (:func:`mediahub.names.validate_name`):
  django-storages would rewrite ``a//b`` or ``x/../y`` instead of refusing them.
* **Atomic create**: with ``file_overwrite=False`` a new object is written with
  ``If-None-Match: *`` (S3 answers 412 when the key exists, and mediahub picks
  another name), so two instances saving the same name never lose a file.
* **Folder listing** (one ListObjectsV2 call per page) and **server-side copy**.

The private storage is always signed, never ``public-read``, never overwrites,
and refuses a custom domain without a CloudFront signer.
"""

from __future__ import annotations

import os
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import Storage
from django.utils.deconstruct import deconstructible
from storages.backends.s3 import S3Storage
from storages.utils import ReadBytesWrapper, get_available_overwrite_name, is_seekable

from mediahub.dsn import MAX_PRESIGN_EXPIRY
from mediahub.names import validate_folder, validate_name
from mediahub.storage.listing import (
    FileEntry,
    FolderEntry,
    FolderPage,
    check_listing_args,
)
from mediahub.storage.validation import ValidatedNamesMixin

#: Part size of the create-if-absent multipart upload.
MULTIPART_PART_SIZE = 8 * 1024**2
#: Attempts at finding a free name when concurrent saves collide.
MAX_NAME_ATTEMPTS = 20
#: Canned ACLs that let someone other than the bucket owner read an object
#: (authenticated-read: any AWS account in the world).
OPEN_ACLS = ("public-read", "public-read-write", "authenticated-read")
#: ``object_parameters`` a server-side copy must carry over (the rest is metadata).
COPY_PARAMETERS = frozenset(
    {"ACL", "ServerSideEncryption", "SSEKMSKeyId", "BucketKeyEnabled", "StorageClass"}
)


class _KeyExists(Exception):
    """The key of a create-if-absent upload exists already."""


def _is_precondition_failed(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412)


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
        defaults.update(signature_version="s3v4", file_overwrite=False)
        return defaults

    def __init__(self, **settings: Any) -> None:
        if settings.get("signature_version", "s3v4") != "s3v4":
            raise ImproperlyConfigured(
                f"{type(self).__name__} signs with SigV4 only "
                f"(signature_version={settings['signature_version']!r} given)."
            )
        super().__init__(**settings)
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
        return super().url(name, parameters=parameters, expire=expire, http_method=http_method)

    def get_available_name(self, name, max_length=None):
        validate_name(name)
        if self.file_overwrite:
            return super().get_available_name(name, max_length)
        # No HEAD request: _save() creates atomically and picks another name on 412.
        return get_available_overwrite_name(name, max_length)

    # -- atomic create -----------------------------------------------------------
    def _save(self, name, content):
        validate_name(name)
        if self.file_overwrite:
            return super()._save(name, content)
        if is_seekable(content):
            content.seek(0, os.SEEK_SET)
        data = ReadBytesWrapper(content)
        root, ext = os.path.splitext(name)
        candidate = name
        for _attempt in range(MAX_NAME_ATTEMPTS):
            if self._create(candidate, data, content):
                return candidate
            if is_seekable(content):
                content.seek(0, os.SEEK_SET)
            else:
                raise FileExistsError(f"{name!r} exists and the content cannot be re-read.")
            candidate = self.get_alternative_name(root, ext)
        raise FileExistsError(f"No free name found for {name!r}.")

    def _create(self, name: str, data: ReadBytesWrapper, original: Any) -> bool:
        """Write ``name`` only if absent. False when the key already exists."""
        key = self._key(name)
        params = self._get_write_parameters(key, original)
        if (
            self.gzip
            and params["ContentType"] in self.gzip_content_types
            and "ContentEncoding" not in params
        ):
            data = ReadBytesWrapper(self._compress_content(data))
            params["ContentEncoding"] = "gzip"
        client = self.connection.meta.client
        first = data.read(MULTIPART_PART_SIZE)
        try:
            if len(first) < MULTIPART_PART_SIZE:
                client.put_object(
                    Bucket=self.bucket_name, Key=key, Body=first, IfNoneMatch="*", **params
                )
                return True
            return self._create_multipart(client, key, first, data, params)
        except ClientError as error:
            if _is_precondition_failed(error):
                return False
            raise

    def _create_multipart(self, client, key, first, data, params) -> bool:
        upload = client.create_multipart_upload(Bucket=self.bucket_name, Key=key, **params)
        upload_id = upload["UploadId"]
        try:
            parts = []
            chunk, number = first, 1
            while chunk:
                answer = client.upload_part(
                    Bucket=self.bucket_name,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=chunk,
                )
                parts.append({"ETag": answer["ETag"], "PartNumber": number})
                chunk, number = data.read(MULTIPART_PART_SIZE), number + 1
            # S3 refuses the completion below with 412 if the key appeared meanwhile;
            # some S3-compatible servers (Ceph RGW 16) ignore If-None-Match there, so
            # look first: that narrows their race to the completion itself.
            if self._key_exists(client, key):
                raise _KeyExists
            client.complete_multipart_upload(
                Bucket=self.bucket_name,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                IfNoneMatch="*",
            )
            return True
        except _KeyExists:
            self._abort(client, key, upload_id)
            return False
        except BaseException:
            self._abort(client, key, upload_id)
            raise

    def _abort(self, client, key: str, upload_id: str) -> None:
        """Abort a multipart upload; never leave a partial upload behind (billed, invisible).

        A failed abort must not replace the error that made it necessary (botocore has
        already retried it; a bucket lifecycle rule for incomplete uploads is the backstop).
        """
        try:
            client.abort_multipart_upload(Bucket=self.bucket_name, Key=key, UploadId=upload_id)
        except Exception:  # noqa: S110
            pass

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
        Returns ``target_name``.
        """
        source = self if source is None else source
        validate_name(source_name)
        target_key = self._key(target_name)
        if not self.can_copy_from(source):
            with source.open(source_name, "rb") as handle:
                self.connection.meta.client.upload_fileobj(
                    handle,
                    self.bucket_name,
                    target_key,
                    ExtraArgs=self._get_write_parameters(target_key, handle),
                    Config=self.transfer_config,
                )
            return target_name
        # The object keeps its metadata; what this storage imposes on its objects
        # (ACL, encryption, storage class) must still apply to the copy.
        extra: dict[str, Any] = {"MetadataDirective": "COPY"}
        extra.update(
            (option, value)
            for option, value in self.object_parameters.items()
            if option in COPY_PARAMETERS
        )
        if self.default_acl and "ACL" not in extra:
            extra["ACL"] = self.default_acl
        self.connection.meta.client.copy(
            {"Bucket": source.bucket_name, "Key": source._key(source_name)},
            self.bucket_name,
            target_key,
            ExtraArgs=extra,
            Config=self.transfer_config,
        )
        return target_name

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
        all_params = {**(params or {}), "Bucket": self.bucket_name, "Key": key}
        return self.connection.meta.client.generate_presigned_url(
            method, Params=all_params, ExpiresIn=expires
        )


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
