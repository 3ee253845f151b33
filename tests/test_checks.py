"""System checks: each fires on its mistake and stays silent on a good configuration."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core import checks
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.test.utils import isolate_apps

from mediahub import checks as mh_checks
from mediahub import dsn

GOOD_PUBLIC = dsn.parse("s3://k:s@pub-bucket.s3.eu-west-1.amazonaws.com")
GOOD_PRIVATE = dsn.parse("s3://k:s@prv-bucket.s3.eu-west-1.amazonaws.com", visibility="private")
STATIC = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}


def storages_with(**overrides):
    value = {
        "default": GOOD_PUBLIC,
        "private": GOOD_PRIVATE,
        "easy_thumbnails": GOOD_PUBLIC,
        "staticfiles": STATIC,
    }
    value.update(overrides)
    return {k: v for k, v in value.items() if v is not None}


def ids(deploy=False):
    """IDs of the core checks (mediahub.E0xx/W0xx); contrib apps test their own."""
    return sorted(
        m.id
        for m in checks.run_checks(include_deployment_checks=deploy)
        if re.fullmatch(r"mediahub\.[EW]0\d\d", m.id)
    )


@pytest.fixture
def good(settings):
    settings.STORAGES = storages_with()
    settings.THUMBNAIL_CACHE_DIMENSIONS = True
    return settings


def test_good_configuration_is_silent(good):
    assert ids() == []
    assert ids(deploy=True) == []


def test_e001_private_storage_missing(good):
    good.STORAGES = storages_with(private=None)
    assert ids() == ["mediahub.E001"]


def test_e002_private_storage_unsigned(good):
    good.STORAGES = storages_with(
        private={
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "prv",
                "querystring_auth": False,
                "signature_version": "s3v4",
            },
        }
    )
    assert ids() == ["mediahub.E002"]


def test_e002_private_storage_on_local_disk_with_public_url(good, tmp_path):
    good.STORAGES = storages_with(
        private={
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "base_url": "/private/"},
        }
    )
    assert ids() == ["mediahub.E002"]


def test_e003_private_storage_public_acl(good):
    good.STORAGES = storages_with(
        private={
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "prv",
                "default_acl": "public-read",
                "signature_version": "s3v4",
            },
        }
    )
    assert ids() == ["mediahub.E003"]


def test_e004_private_custom_domain_without_signer(good):
    good.STORAGES = storages_with(
        private={
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "prv",
                "custom_domain": "cdn.example.com",
                "signature_version": "s3v4",
            },
        }
    )
    assert ids() == ["mediahub.E004"]


def test_e005_presign_expiry_over_seven_days(good):
    good.STORAGES = storages_with(
        private={
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "prv",
                "querystring_expire": 11 * 86400,
                "signature_version": "s3v4",
            },
        }
    )
    assert ids() == ["mediahub.E005"]
    good.STORAGES = storages_with()
    good.MEDIAHUB = {"PRESIGN_EXPIRY": 8 * 86400}
    assert ids() == ["mediahub.E005"]


def test_e008_private_storage_without_sigv4(good):
    good.STORAGES = storages_with(
        private={"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {"bucket_name": "prv"}}
    )
    assert ids() == ["mediahub.E008"]


def test_e009_unbuildable_storage(good):
    good.STORAGES = storages_with(
        private={
            "BACKEND": "mediahub.storage.s3.PrivateS3Storage",
            "OPTIONS": {"bucket_name": "prv", "default_acl": "public-read"},
        }
    )
    assert ids() == ["mediahub.E009"]


@isolate_apps("mediahub")
def test_e006_model_field_with_explicit_filesystem_storage(good, tmp_path):
    class Bad(models.Model):
        doc = models.FileField(storage=FileSystemStorage(location=str(tmp_path)))

        class Meta:
            app_label = "mediahub"

    class Fine(models.Model):
        doc = models.FileField()
        other = models.FileField(storage=lambda: FileSystemStorage())

        class Meta:
            app_label = "mediahub"

    found = mh_checks.file_field_errors([Bad, Fine])
    assert [(m.id, m.obj.model.__name__) for m in found] == [("mediahub.E006", "Bad")]


def test_e007_thumbnail_storage_differs_from_public(good):
    good.STORAGES = storages_with(
        easy_thumbnails=dsn.parse("s3://k:s@other-bucket.s3.eu-west-1.amazonaws.com")
    )
    assert ids() == ["mediahub.E007"]


def test_w001_legacy_default_file_storage(good):
    good.DEFAULT_FILE_STORAGE = "storages.backends.s3.S3Storage"
    assert ids() == ["mediahub.W001"]


def test_w002_dead_thumbnail_default_storage(good):
    good.THUMBNAIL_DEFAULT_STORAGE = "storages.backends.s3.S3Storage"
    assert ids() == ["mediahub.W002"]


def test_w003_thumbnail_dimensions_not_cached(good):
    good.THUMBNAIL_CACHE_DIMENSIONS = False
    assert ids() == ["mediahub.W003"]


def test_w004_filesystem_storage_only_under_deploy(good, tmp_path):
    good.STORAGES = storages_with(
        default=dsn.parse(f"file://{tmp_path}?url=/media/"),
        easy_thumbnails=dsn.parse(f"file://{tmp_path}?url=/media/"),
    )
    assert ids() == []
    assert ids(deploy=True) == ["mediahub.W004"]


def test_w005_easy_thumbnails_storage_missing(good):
    good.STORAGES = storages_with(easy_thumbnails=None)
    assert ids() == ["mediahub.W005"]


def test_check_ids_are_unique_and_documented():
    source = Path(mh_checks.__file__).read_text()
    declared = re.findall(r'^([EW]\d{3}) = "(mediahub\.[EW]\d{3})"', source, re.M)
    assert declared and all(name == value.split(".")[1] for name, value in declared)
    values = [value for _name, value in declared]
    assert len(values) == len(set(values))
    documented = (
        Path(mh_checks.__file__).parent.parent / "docs" / "reference" / "checks.md"
    ).read_text()
    missing = [value for value in values if value not in documented]
    assert missing == []


def test_e003_private_storage_authenticated_read_acl(good):
    """authenticated-read opens the objects to every AWS account in the world."""
    good.STORAGES = storages_with(
        private={
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "prv",
                "default_acl": "authenticated-read",
                "signature_version": "s3v4",
            },
        }
    )
    assert ids() == ["mediahub.E003"]


def test_e009_public_storage_that_cannot_be_built(good):
    good.STORAGES = storages_with(
        default={
            "BACKEND": "mediahub.storage.s3.PublicS3Storage",
            "OPTIONS": {"bucket_name": "pub", "no_such_option": 1},
        },
        easy_thumbnails={
            "BACKEND": "mediahub.storage.s3.PublicS3Storage",
            "OPTIONS": {"bucket_name": "pub", "no_such_option": 1},
        },
    )
    messages = [m for m in checks.run_checks() if m.id == "mediahub.E009"]
    assert sorted(m.msg.split("]")[0] for m in messages) == [
        "STORAGES['default'",
        "STORAGES['easy_thumbnails'",
    ]


def test_storages_entry_that_is_not_a_dict_is_an_error_not_a_crash(good):
    good.STORAGES = storages_with(easy_thumbnails="mediahub.storage.s3.PublicS3Storage")
    assert "mediahub.E009" in ids()


def test_e009_never_quotes_the_secret(good):
    good.STORAGES = storages_with(
        private={
            "BACKEND": "mediahub.storage.s3.PrivateS3Storage",
            "OPTIONS": {
                "bucket_name": "prv",
                "secret_key": "TopSecretValue",
                "querystring_expire": 10**9,
            },
        }
    )
    messages = [m for m in checks.run_checks() if m.id.startswith("mediahub.")]
    assert messages and all("TopSecretValue" not in f"{m.msg} {m.hint}" for m in messages)


@isolate_apps("mediahub")
def test_e010_model_field_with_a_storage_instance_holding_credentials(good):
    from django.core.files.storage import storages

    from mediahub.storage.s3 import PrivateS3Storage

    class Bad(models.Model):
        doc = models.FileField(
            storage=PrivateS3Storage(bucket_name="prv", access_key="AK", secret_key="TopSecret")
        )

        class Meta:
            app_label = "mediahub"

    class Fine(models.Model):
        doc = models.FileField(storage=lambda: storages["private"])
        anonymous = models.FileField(storage=PrivateS3Storage(bucket_name="prv"))

        class Meta:
            app_label = "mediahub"

    found = mh_checks.file_field_errors([Bad, Fine])
    assert [(m.id, m.obj.name) for m in found] == [("mediahub.E010", "doc")]
    assert found[0].obj.model is Bad
    assert "TopSecret" not in found[0].msg and "secret_key" in found[0].msg


def test_e009_backend_that_does_not_exist(good):
    good.STORAGES = storages_with(
        private={"BACKEND": "mediahub.storage.s3.PrivatS3Storage", "OPTIONS": {}}
    )
    assert ids() == ["mediahub.E009"]


def test_e011_private_storage_in_the_same_bucket_and_prefix_as_the_public_one(good):
    same = "s3://k:s@pub-bucket.s3.eu-west-1.amazonaws.com/media"
    good.STORAGES = storages_with(private=dsn.parse(same + "/", visibility="private"))
    assert ids() == []  # different prefixes: media/ vs the root
    good.STORAGES = storages_with(
        default=dsn.parse(same),
        easy_thumbnails=dsn.parse(same),
        private=dsn.parse(same + "/", visibility="private"),
    )
    assert ids() == ["mediahub.E011"]
    other = "s3://k:s@pub-bucket.s3.eu-west-1.amazonaws.com/private"
    good.STORAGES = storages_with(
        default=dsn.parse(same),
        easy_thumbnails=dsn.parse(same),
        private=dsn.parse(other, visibility="private"),
    )
    assert ids() == []


def test_e011_same_local_folder(good, tmp_path):
    good.STORAGES = storages_with(
        default=dsn.parse(f"file://{tmp_path}?url=/media/"),
        easy_thumbnails=dsn.parse(f"file://{tmp_path}?url=/media/"),
        private=dsn.parse(f"file://{tmp_path}", visibility="private"),
    )
    assert ids() == ["mediahub.E011"]
