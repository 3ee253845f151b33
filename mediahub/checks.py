"""System checks for storage configuration (``manage.py check``).

IDs are stable and documented in the README. Nothing here touches the network:
live checks belong to ``manage.py mediahub_doctor``.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.files.storage import (
    FileSystemStorage,
    default_storage,
    storages,
)
from django.db import models

from mediahub.dsn import MAX_PRESIGN_EXPIRY

#: Canned ACLs that let someone other than the bucket owner read an object
#: (authenticated-read: any AWS account in the world).
OPEN_ACLS = ("public-read", "public-read-write", "authenticated-read")

E001 = "mediahub.E001"  # STORAGES["private"] missing
E002 = "mediahub.E002"  # private storage unsigned / has a public URL
E003 = "mediahub.E003"  # private storage uses a public ACL
E004 = "mediahub.E004"  # private storage on a custom domain without signer
E005 = "mediahub.E005"  # presign lifetime over 7 days
E006 = "mediahub.E006"  # model field with an explicit FileSystemStorage
E007 = "mediahub.E007"  # easy-thumbnails storage differs from the public storage
E008 = "mediahub.E008"  # private S3 storage not signing with SigV4
E009 = "mediahub.E009"  # a storage cannot be built from its settings
E010 = "mediahub.E010"  # model field with a storage instance holding credentials
E011 = "mediahub.E011"  # private and public storage are the same bucket and prefix
W001 = "mediahub.W001"  # legacy DEFAULT_FILE_STORAGE
W002 = "mediahub.W002"  # dead THUMBNAIL_DEFAULT_STORAGE
W003 = "mediahub.W003"  # THUMBNAIL_CACHE_DIMENSIONS off
W004 = "mediahub.W004"  # FileSystemStorage in production (--deploy)
W005 = "mediahub.W005"  # STORAGES["easy_thumbnails"] missing
W030 = "mediahub.W030"  # pick tokens not bound to users (PickerMiddleware missing)
W031 = "mediahub.W031"  # DEBUG on with S3 DSNs, error pages not filtered (mediahub.debug)


def _s3_class():
    try:
        from storages.backends.s3 import S3Storage
    except ImportError:  # pragma: no cover - django-storages is a dependency
        return None
    return S3Storage


def _entry(alias: str) -> dict[str, Any] | None:
    """``STORAGES[alias]``; None when missing or not a dict (E009 reports the latter)."""
    entry = settings.STORAGES.get(alias)
    return entry if isinstance(entry, dict) else None


def _instance(alias: str, errors: list) -> Any:
    if alias not in settings.STORAGES:
        return None
    try:
        return storages[alias]
    except Exception as exc:  # InvalidStorageError (BACKEND not found), ImproperlyConfigured...
        errors.append(
            Error(
                f"STORAGES[{alias!r}] cannot be built: {type(exc).__name__}: {exc}",
                hint="Fix the storage's BACKEND/OPTIONS (or its DSN).",
                id=E009,
            )
        )
        return None


@register(Tags.compatibility)
def check_private_storage(app_configs=None, **kwargs) -> list:
    """E001-E005, E008: the private storage is signed, private and SigV4."""
    from mediahub.conf import app_settings

    errors: list = []
    alias = app_settings.PRIVATE_STORAGE
    if alias not in settings.STORAGES:
        return [
            Error(
                f"STORAGES[{alias!r}] (mediahub's private storage) is not defined.",
                hint="Add it, e.g. STORAGES['private'] = mediahub.dsn.parse("
                "PRIVATE_STORAGE_DSN, visibility='private').",
                id=E001,
            )
        ]
    storage = _instance(alias, errors)
    if storage is None:
        return errors
    s3 = _s3_class()
    if s3 is not None and isinstance(storage, s3):
        if not storage.querystring_auth:
            errors.append(
                Error(
                    f"STORAGES[{alias!r}] does not sign its URLs (querystring_auth=False): "
                    "private files would be served by plain, public URLs.",
                    hint="Use mediahub.storage.s3.PrivateS3Storage (or querystring_auth=True).",
                    id=E002,
                )
            )
        acl = storage.default_acl or storage.object_parameters.get("ACL") or ""
        if str(acl) in OPEN_ACLS:
            errors.append(
                Error(
                    f"STORAGES[{alias!r}] writes objects with the public ACL {acl!r}.",
                    hint="Remove default_acl / ACL (or use acl=private in the DSN).",
                    id=E003,
                )
            )
        if storage.custom_domain and not storage.cloudfront_signer:
            errors.append(
                Error(
                    f"STORAGES[{alias!r}] uses the custom domain {storage.custom_domain!r} "
                    "without a CloudFront signer: its URLs are not signed.",
                    hint="Remove custom_domain or set cloudfront_key_id and cloudfront_key.",
                    id=E004,
                )
            )
        if storage.signature_version != "s3v4":
            errors.append(
                Error(
                    f"STORAGES[{alias!r}] does not sign with SigV4 "
                    f"(signature_version={storage.signature_version!r}); boto3 then issues "
                    "SigV2 URLs with unchecked lifetimes.",
                    hint="Set signature_version='s3v4' or use mediahub's PrivateS3Storage.",
                    id=E008,
                )
            )
    elif isinstance(storage, FileSystemStorage) and getattr(storage, "visibility", None) != (
        "private"
    ):
        if storage.base_url:
            errors.append(
                Error(
                    f"STORAGES[{alias!r}] is a FileSystemStorage with a public URL "
                    f"({storage.base_url!r}).",
                    hint="Use mediahub.storage.local.PrivateFileSystemStorage "
                    "(file:// DSN with visibility='private').",
                    id=E002,
                )
            )
    errors.extend(_same_place_as_public(alias, storage))
    return errors


def _same_place_as_public(alias: str, private: Any) -> list:
    """E011: the private storage's objects would be the public storage's objects."""
    from mediahub.conf import app_settings

    public_alias = app_settings.PUBLIC_STORAGE
    if public_alias == alias:
        same = True
    else:
        public = _instance(public_alias, [])
        if public is None or public is private:
            same = public is private
        elif hasattr(private, "bucket_name") and hasattr(public, "bucket_name"):
            same = (
                private.bucket_name == public.bucket_name
                and getattr(private, "endpoint_url", None) == getattr(public, "endpoint_url", None)
                and str(getattr(private, "location", "") or "").strip("/")
                == str(getattr(public, "location", "") or "").strip("/")
            )
        elif isinstance(private, FileSystemStorage) and isinstance(public, FileSystemStorage):
            same = private.location == public.location
        else:
            same = False
    if not same:
        return []
    return [
        Error(
            f"STORAGES[{alias!r}] (private) and STORAGES[{public_alias!r}] (public) are the "
            "same bucket and prefix: private files would be served like public ones.",
            hint="Give the private storage its own bucket (recommended) or its own prefix "
            "that the public bucket policy does not cover.",
            id=E011,
        )
    ]


@register(Tags.compatibility)
def check_presign_expiry(app_configs=None, **kwargs) -> list:
    """E005: no presigned URL may be asked to live longer than SigV4's 7 days (E009 too)."""
    from mediahub.conf import app_settings

    errors: list = []
    s3 = _s3_class()
    for alias in settings.STORAGES:
        # E009 for the private storage comes from check_private_storage.
        storage = _instance(alias, [] if alias == app_settings.PRIVATE_STORAGE else errors)
        if s3 is not None and isinstance(storage, s3):
            expire = storage.querystring_expire
            if isinstance(expire, int) and expire > MAX_PRESIGN_EXPIRY:
                errors.append(
                    Error(
                        f"STORAGES[{alias!r}] presigns URLs for {expire} s, more than "
                        f"SigV4's limit of {MAX_PRESIGN_EXPIRY} s.",
                        hint="Lower querystring_expire (expiry= in the DSN) to 604800 or less.",
                        id=E005,
                    )
                )
    presign = app_settings.PRESIGN_EXPIRY
    if not isinstance(presign, int) or not 0 < presign <= MAX_PRESIGN_EXPIRY:
        errors.append(
            Error(
                f"MEDIAHUB['PRESIGN_EXPIRY'] is {presign!r}; it must be 1..{MAX_PRESIGN_EXPIRY}.",
                hint="Presigned URLs are short-lived: a few minutes is the norm.",
                id=E005,
            )
        )
    return errors


@register(Tags.models)
def check_model_fields(app_configs=None, **kwargs) -> list:
    """E006, E010: FileFields bound to an explicit local or credential-holding storage."""
    configs = app_configs or apps.get_app_configs()
    return file_field_errors(model for config in configs for model in config.get_models())


def file_field_errors(model_classes) -> list:
    """E006 and E010 errors for the FileFields of ``model_classes``."""
    errors: list = []
    for model in model_classes:
        for field in model._meta.get_fields():
            if not isinstance(field, models.FileField) or field.model is not model:
                continue
            if hasattr(field, "_storage_callable") or field.storage is default_storage:
                continue
            secrets = _credential_arguments(field.storage)
            if secrets:
                errors.append(
                    Error(
                        f"{model._meta.label}.{field.name} uses a storage instance built with "
                        f"{', '.join(secrets)}: makemigrations would write them into a "
                        "migration file.",
                        hint="Pass a callable (storage=lambda: storages['private']) or use "
                        "mediahub.fields.PublicFileField/PrivateFileField.",
                        obj=field,
                        id=E010,
                    )
                )
            if isinstance(field.storage, FileSystemStorage):
                errors.append(
                    Error(
                        f"{model._meta.label}.{field.name} uses a FileSystemStorage "
                        "explicitly: its files stay on one instance's local disk.",
                        hint="Use mediahub.fields.PublicFileField/PrivateFileField or a "
                        "callable storage returning storages[alias].",
                        obj=field,
                        id=E006,
                    )
                )
    return errors


#: Storage constructor arguments that are secrets (django-storages' S3 options).
CREDENTIAL_OPTIONS = (
    "access_key",
    "secret_key",
    "security_token",
    "session_token",
    "cloudfront_key",
    "account_key",
    "sas_token",
    "connection_string",
)


def _credential_arguments(storage: Any) -> list[str]:
    """Names of the secret arguments a deconstructible storage instance was built with."""
    try:
        _path, _args, kwargs = storage.deconstruct()
    except Exception:
        return []
    return [name for name in CREDENTIAL_OPTIONS if kwargs.get(name)]


@register(Tags.compatibility)
def check_legacy_settings(app_configs=None, **kwargs) -> list:
    """W001, W002: settings Django and easy-thumbnails no longer read."""
    warnings: list = []
    if hasattr(settings, "DEFAULT_FILE_STORAGE"):
        warnings.append(
            Warning(
                "DEFAULT_FILE_STORAGE is set; Django 5.1+ ignores it.",
                hint="Move it to STORAGES['default'] (e.g. mediahub.dsn.parse(...)).",
                id=W001,
            )
        )
    if hasattr(settings, "THUMBNAIL_DEFAULT_STORAGE"):
        warnings.append(
            Warning(
                "THUMBNAIL_DEFAULT_STORAGE is set; easy-thumbnails 2.9+ ignores it.",
                hint="Define STORAGES['easy_thumbnails'] equal to STORAGES['default'].",
                id=W002,
            )
        )
    return warnings


@register(Tags.compatibility)
def check_thumbnail_storage(app_configs=None, **kwargs) -> list:
    """E007, W003, W005: easy-thumbnails writes where the public storage is."""
    from mediahub.conf import app_settings

    if not apps.is_installed("easy_thumbnails"):
        return []
    messages: list = []
    thumbs = _entry("easy_thumbnails")
    public = _entry(app_settings.PUBLIC_STORAGE)
    if "easy_thumbnails" not in settings.STORAGES:
        messages.append(
            Warning(
                "STORAGES['easy_thumbnails'] is not defined; easy-thumbnails falls back to "
                "the default storage implicitly.",
                hint="Define STORAGES['easy_thumbnails'] = STORAGES['default'].",
                id=W005,
            )
        )
    elif (
        thumbs is not None
        and public is not None
        and (
            thumbs.get("BACKEND") != public.get("BACKEND")
            or (thumbs.get("OPTIONS") or {}) != (public.get("OPTIONS") or {})
        )
    ):
        messages.append(
            Error(
                "STORAGES['easy_thumbnails'] differs from the public storage "
                f"STORAGES[{app_settings.PUBLIC_STORAGE!r}]: thumbnails would be written "
                "somewhere else than their images.",
                hint="Set STORAGES['easy_thumbnails'] to the same BACKEND and OPTIONS.",
                id=E007,
            )
        )
    if not getattr(settings, "THUMBNAIL_CACHE_DIMENSIONS", False):
        messages.append(
            Warning(
                "THUMBNAIL_CACHE_DIMENSIONS is off: every thumbnail's width/height costs "
                "S3 requests.",
                hint="Set THUMBNAIL_CACHE_DIMENSIONS = True.",
                id=W003,
            )
        )
    return messages


@register(Tags.compatibility, deploy=True)
def check_deploy_storages(app_configs=None, **kwargs) -> list:
    """W004: local-disk storages do not survive ephemeral instances."""
    from mediahub.conf import app_settings

    warnings: list = []
    for alias in dict.fromkeys((app_settings.PUBLIC_STORAGE, app_settings.PRIVATE_STORAGE)):
        storage = _instance(alias, [])
        if isinstance(storage, FileSystemStorage):
            warnings.append(
                Warning(
                    f"STORAGES[{alias!r}] is a FileSystemStorage: files on an instance's "
                    "disk are lost when it stops and invisible to the other instances.",
                    hint="Use an s3:// DSN in production.",
                    id=W004,
                )
            )
    return warnings


@register(Tags.security)
def check_picker_middleware(app_configs=None, **kwargs) -> list:
    """W030: pick tokens are bound to the user who opened the picker only with the middleware."""
    if not apps.is_installed("django.contrib.admin"):
        return []
    if "mediahub.picker.PickerMiddleware" in (getattr(settings, "MIDDLEWARE", None) or []):
        return []
    return [
        Warning(
            'Pick tokens of the "Choose existing" picker are not bound to the user who '
            "opened it: a token handed to another staff user would work for them.",
            hint="Add 'mediahub.picker.PickerMiddleware' to MIDDLEWARE (after "
            "AuthenticationMiddleware).",
            id=W030,
        )
    ]


@register(Tags.security)
def check_error_page_secrets(app_configs=None, **kwargs) -> list:
    """W031: with DEBUG on, Django's error page shows DSN values (secret keys included)."""
    if not settings.DEBUG:
        return []
    from django.utils.module_loading import import_string

    from mediahub.debug import SecretsReporterFilter

    path = getattr(settings, "DEFAULT_EXCEPTION_REPORTER_FILTER", "")
    try:
        filter_class = import_string(path)
    except ImportError:
        filter_class = None
    if isinstance(filter_class, type) and issubclass(filter_class, SecretsReporterFilter):
        return []
    s3 = [
        alias
        for alias in settings.STORAGES
        if isinstance(_entry(alias), dict)
        and str(_entry(alias).get("BACKEND", "")).startswith("mediahub.storage.s3.")
    ]
    if not s3:
        return []
    return [
        Warning(
            "DEBUG is on and error pages would show the S3 storages' DSNs and secret keys "
            f"({', '.join(s3)}): Django's filter does not hide *_DSN values.",
            hint="Set DEFAULT_EXCEPTION_REPORTER_FILTER = "
            "'mediahub.debug.SecretsReporterFilter' (or turn DEBUG off).",
            id=W031,
        )
    ]
