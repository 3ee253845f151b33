"""Thumbnails: options, names, versions, tokens, targets and the template tag (no S3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.template import Context, Template
from django.test import override_settings

from mediahub import dsn
from mediahub.storage import UnknownStorage
from mediahub.thumbnails import naming, thumbnail, thumbnail_url, thumbnails, tokens
from mediahub.thumbnails.storages import resolve_target
from tests import thumbnail_images as images


@pytest.mark.parametrize(
    "size, expected",
    [("64x48", (64, 48)), (" 10 x 0 ", (10, 0)), ((0, 20), (0, 20)), ([5, 6], (5, 6))],
)
def test_parse_size_accepts_sizes(size, expected):
    assert naming.parse_size(size) == expected


@pytest.mark.parametrize("size", ["64", "x64", "0x0", "-1x5", "5000x10", (1, 2, 3), ("a", 1), None])
def test_parse_size_refuses_bad_sizes(size):
    with pytest.raises(ValueError, match="size"):
        naming.parse_size(size)


def test_build_options_from_alias_size_and_extras():
    assert naming.build_options(alias="admin")["size"] == (80, 80)
    assert naming.build_options(alias="admin")["crop"] == "smart"
    options = naming.build_options(size="30x20", crop=True, quality=70)
    assert options["size"] == (30, 20) and options["quality"] == 70


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "Pass alias=NAME or size="),
        ({"alias": "admin", "size": "1x1"}, "not both"),
        ({"alias": "nope"}, "Unknown thumbnail alias 'nope'"),
        ({"size": "9x9", "colour": "red"}, "Unknown thumbnail option"),
    ],
)
def test_build_options_refuses_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        naming.build_options(**kwargs)


def test_version_follows_etag_then_modified_time():
    moment = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert naming.version_of('"abc"', None) == naming.version_of("abc", moment)
    assert naming.version_of("abc", None) != naming.version_of("abd", None)
    same_moment = moment.astimezone(timezone(timedelta(hours=2)))
    assert naming.version_of(None, moment) == naming.version_of(None, same_moment)
    assert naming.version_of(None, moment.replace(tzinfo=None)) == naming.version_of(None, moment)
    assert naming.version_of(None, None) is None


def test_thumbnail_names_fit_easy_thumbnails_columns():
    options = naming.build_options(size="10x10")
    short = naming.stem("thumbnails/", "a/b.jpg", options)
    assert short == "thumbnails/a/b.jpg.10x10_q85."
    long_name = "x/" + "y" * 200 + "/" + "z" * 200 + ".jpg"
    stem = naming.stem("thumbnails/", long_name, options)
    assert len(naming.thumbnail_name(stem, "0123456789", "jpg")) <= naming.MAX_THUMBNAIL_NAME
    assert stem != naming.stem("thumbnails/", long_name.replace("z", "w"), options)
    assert len(naming.source_key(long_name)) <= 255 and naming.source_key("a.jpg") == "a.jpg"


def test_split_name_only_matches_its_own_stem():
    stem = "t/a.jpg.10x10_q85."
    assert naming.split_name(stem, "t/a.jpg.10x10_q85.abc.jpg") == ("abc", "jpg")
    assert naming.split_name(stem, "t/a.jpg.10x10_q85.x.abc.jpg") is None
    assert naming.split_name(stem, "t/a.jpg.10x10_q85_crop.abc.jpg") is None


def test_targets_keep_public_and_private_apart():
    public, private = resolve_target("public"), resolve_target("private")
    assert public.thumbnail_alias == "easy_thumbnails" and public.source_alias == "default"
    assert private.thumbnail_alias == "private" and private.thumbnail_storage is storages["private"]
    hashes = {public.source_hash, public.thumbnail_hash, private.source_hash}
    assert len(hashes) == 3  # one cache identity per alias, not per class
    with pytest.raises(UnknownStorage):
        resolve_target("nope")


def test_cache_identity_changes_with_the_bucket():
    from django.conf import settings

    def identity(bucket):
        entry = dsn.parse(f"s3+http://k:s@127.0.0.1:9/{bucket}")
        with override_settings(STORAGES={**settings.STORAGES, "default": entry}):
            storages._storages = {}
            return resolve_target("public").source_hash

    assert identity("one") != identity("two")


def test_tokens_verify_and_expire():
    url = tokens.make_url("private", "a.jpg", {"size": [1, 1]}, "v1", private=True, now=1000)
    token = url.rsplit("/", 1)[1]
    assert tokens.load(token, now=1000) == tokens.Request(
        "private", "a.jpg", {"size": [1, 1]}, "v1", expires=1000 + 3600
    )
    with pytest.raises(tokens.ExpiredToken):
        tokens.load(token, now=1000 + 3601)
    with pytest.raises(signing.BadSignature):
        tokens.load(token[:-2] + "xx")
    other_salt = signing.Signer(salt="mediahub.links.v1").sign_object({"s": "private"})
    with pytest.raises(signing.BadSignature):
        tokens.load(other_salt)


def test_public_endpoint_urls_are_stable_across_renders():
    first = tokens.make_url("default", "a.jpg", {"size": [1, 1]}, None, private=False, now=1)
    assert first == tokens.make_url("default", "a.jpg", {"size": [1, 1]}, None, private=False)


@pytest.mark.django_db
def test_memory_storage_without_etags_uses_modified_time(client):
    storages["default"].save("m.jpg", ContentFile(images.jpeg()))
    url = thumbnail_url("m.jpg", size="16x16")

    response = client.get(url)

    assert response.status_code == 302 and response["Location"].startswith("/media/thumbnails/")
    assert thumbnail_url("m.jpg", size="16x16") == response["Location"]


@pytest.mark.django_db
def test_bad_names_are_refused():
    from django.core.exceptions import SuspiciousFileOperation

    with pytest.raises(SuspiciousFileOperation):
        thumbnail_url("../etc/passwd", size="8x8")
    with pytest.raises(TypeError):
        thumbnails([42], size="8x8")


@pytest.mark.django_db
def test_template_tag_with_fieldfile_name_and_as(client):
    from example_project.demo.models import Document

    storages["private"].save("scans/s.jpg", ContentFile(images.jpeg()))
    document = Document(title="t", scan="scans/s.jpg")
    template = Template(
        "{% load mediahub %}[{% media_thumbnail doc.scan size='20x20' %}]"
        "[{% media_thumbnail doc.cover size='20x20' %}]"
        "[{% media_thumbnail 'x.jpg' alias='admin' as t %}{{ t.url|slice:':15' }}|{{ t.ready }}]"
        "[{% media_thumbnail '../bad.jpg' size='20x20' %}]"
    )

    html = template.render(Context({"doc": document}))

    private_url = html[1 : html.index("]")]
    wanted = tokens.load(private_url.rsplit("/", 1)[1])
    assert (wanted.storage, wanted.name) == ("private", "scans/s.jpg")  # the field's storage
    assert html.startswith(f"[{private_url}][]")  # an empty field renders nothing
    assert "[/media-links/t/|False]" in html
    assert "thumbnail-placeholder.svg]" in html
    assert client.get(private_url).status_code == 302


@pytest.mark.django_db
def test_template_tag_bad_size_is_an_error():
    with pytest.raises(ValueError, match="size"):
        Template("{% load mediahub %}{% media_thumbnail 'a.jpg' size='big' %}").render(Context())


@pytest.mark.django_db
def test_thumb_prints_its_url():
    thumb = thumbnail("a.jpg", size="8x8")
    assert str(thumb) == thumb.url and thumb.width is None


@pytest.mark.parametrize("prefix", ["", "thumbs", "/abs/", "../up/"])
def test_thumbnail_prefix_must_be_a_folder_of_its_own(prefix):
    from django.core.exceptions import ImproperlyConfigured

    with override_settings(MEDIAHUB={"PRIVATE_THUMBNAIL_PREFIX": prefix}):
        with pytest.raises(ImproperlyConfigured, match="PRIVATE_THUMBNAIL_PREFIX"):
            resolve_target("private")


def test_pick_accepts_naive_modified_times():
    from mediahub.thumbnails.cache import Cached, pick

    built = datetime(2024, 1, 2, tzinfo=UTC)
    candidates = [Cached("t/a.jpg.x.v1.jpg", "v1", "jpg", built, 1, 1)]
    assert pick(candidates, None, datetime(2024, 1, 1)) is candidates[0]
    assert pick(candidates, None, datetime(2024, 1, 3)) is None  # source changed after
    assert pick(candidates, "v2") is None and pick(candidates, "v1") is candidates[0]


def test_plain_django_storage_sources_are_read_without_stat(tmp_path):
    from django.core.files.storage import InMemoryStorage

    from mediahub.thumbnails.generate import _stat

    storage = InMemoryStorage()
    storage.save("a.jpg", ContentFile(b"12345"))
    size, etag, modified = _stat(storage, "a.jpg")
    assert (size, etag) == (5, None) and modified is not None


@pytest.mark.django_db
def test_admin_widget_previews_private_images_through_their_thumbnail(client):
    from example_project.demo.models import Document
    from mediahub.widgets import MediaFileWidget

    storages["private"].save("scans/w.jpg", ContentFile(images.jpeg(400, 300)))
    document = Document(title="t", scan="scans/w.jpg")

    html = MediaFileWidget(visibility="private").render("scan", document.scan)

    preview = html.split('<img src="', 1)[1].split('"', 1)[0]
    response = client.get(preview)
    assert response.status_code == 302
    assert response["Location"].startswith("/media-links/d/")  # a signed private link
    made = thumbnail("scans/w.jpg", storage="private", alias="admin")
    assert made.ready and (made.width, made.height) == (80, 80)
