"""Signed links bound to a version, the object cache of redemptions, and the view's methods.

Against moto's server over HTTP; S3 requests counted with botocore's event hooks.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.test import Client, override_settings

from mediahub import links
from mediahub.models import DownloadLog
from mediahub.storage import get_storage

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_object_cache")]

OLD = b"%PDF-1.4 the original"
NEW = b"%PDF-1.4 SOMETHING ELSE"


def put(name: str, data: bytes = OLD) -> str:
    saved = get_storage("private").save(name, ContentFile(data))
    assert saved == name
    return saved


def etag_of(name: str) -> str:
    return get_storage("private").stat(name).etag


def replace_behind_mediahubs_back(s3, name: str, data: bytes) -> None:
    """Overwrite the object with boto3 directly: no mediahub hook runs."""
    storage = get_storage("private")
    storage.connection.meta.client.put_object(
        Bucket=storage.bucket_name, Key=storage._key(name), Body=data
    )


# -- bound to an ETag ----------------------------------------------------------------------
def test_a_link_bound_to_an_etag_refuses_another_object_under_the_name(s3, client):
    name = put("docs/report.pdf")
    url = links.sign(name, etag=f'"{etag_of(name)}"')  # quoted, as S3 sends it
    assert links.load(links.token_from(url)).etag == etag_of(name)
    assert client.get(url).status_code == 302

    replace_behind_mediahubs_back(s3, name, NEW)
    cache.clear()  # past the cache's lifetime

    response = client.get(url)
    assert response.status_code == 410
    assert response["Cache-Control"] == "private, no-store"
    assert DownloadLog.objects.latest("id").outcome == "revoked"
    assert client.get(links.sign(name)).status_code == 302  # unbound: the name's object


def test_sign_many_binds_each_link_to_its_listed_etag(s3, client):
    names = [put(f"gallery/{i}.pdf", f"{i}".encode() * 10) for i in range(3)]
    page = get_storage("private").list_folder("gallery/")
    signed = links.sign_many(names, etags={entry.path: entry.etag for entry in page.files})
    for entry in page.files:
        assert links.load(links.token_from(signed[entry.path])).etag == entry.etag
        assert client.get(signed[entry.path]).status_code == 302
    replace_behind_mediahubs_back(s3, names[0], NEW)
    cache.clear()
    assert client.get(signed[names[0]]).status_code == 410
    assert client.get(signed[names[1]]).status_code == 302


def test_signing_makes_no_s3_request(s3, count_requests):
    name = put("docs/report.pdf")
    count_requests.clear()
    links.sign(name)
    links.sign(name, etag="abc")
    links.sign_many([name, "docs/other.pdf"])
    assert sum(count_requests.values()) == 0


# -- bound to a version id ------------------------------------------------------------------
def test_a_link_bound_to_a_version_id_names_it_and_makes_no_request(s3, client, count_requests):
    storage = get_storage("private")
    s3_client = storage.connection.meta.client
    s3_client.put_bucket_versioning(
        Bucket=storage.bucket_name, VersioningConfiguration={"Status": "Enabled"}
    )
    name = "docs/versioned.pdf"
    first = s3_client.put_object(Bucket=storage.bucket_name, Key=storage._key(name), Body=OLD)
    url = links.sign(name, version_id=first["VersionId"])
    replace_behind_mediahubs_back(s3, name, NEW)

    count_requests.clear()
    response = client.get(url)
    assert sum(count_requests.values()) == 0  # no HEAD: S3 enforces the version
    location = response["Location"]
    assert parse_qs(urlsplit(location).query)["versionId"] == [first["VersionId"]]
    assert requests.get(location, timeout=10).content == OLD  # the version it was made for

    storage.delete(name)  # through mediahub: ended at once
    assert client.get(url).status_code == 410


# -- the object cache ---------------------------------------------------------------------------
def test_a_hot_object_is_redeemed_without_any_s3_request(s3, client, count_requests):
    name = put("docs/hot.pdf")
    url = links.sign(name)
    count_requests.clear()
    assert client.get(url).status_code == 302
    assert count_requests == {"HeadObject": 1}
    count_requests.clear()
    for _ in range(5):
        assert client.get(url).status_code == 302
        assert client.get(links.sign(name)).status_code == 302
    assert sum(count_requests.values()) == 0


def test_a_delete_through_mediahub_is_seen_at_once_despite_the_cache(s3, client):
    name = put("docs/hot.pdf")
    later = links.sign(name, expires_in=600)
    assert client.get(later).status_code == 302  # cached now
    get_storage("private").delete(name)
    assert client.get(later).status_code == 410
    fresh = links.sign(name)  # signed after the delete: new generation, new cache key
    assert client.get(fresh).status_code == 404
    put(name, NEW)
    assert client.get(fresh).status_code == 302  # a missing object is never cached


def test_a_delete_behind_mediahubs_back_is_404_once_the_cache_expires(s3, client, monkeypatch):
    name = put("docs/hot.pdf")
    url = links.sign(name)
    assert client.get(url).status_code == 302
    storage = get_storage("private")
    storage.connection.meta.client.delete_object(Bucket=storage.bucket_name, Key=storage._key(name))
    assert client.get(url).status_code == 302  # within the window: documented
    cache.clear()  # the window is over
    assert client.get(url).status_code == 404


@override_settings(MEDIAHUB={"OBJECT_CACHE_TIMEOUT": 0})
def test_the_cache_can_be_turned_off(s3, client, count_requests):
    name = put("docs/cold.pdf")
    url = links.sign(name)
    count_requests.clear()
    for _ in range(3):
        assert client.get(url).status_code == 302
    assert count_requests == {"HeadObject": 3}


def test_the_cache_is_shared_by_instances_through_djangos_cache(s3, count_requests, settings):
    # Two "instances" = two processes sharing one cache backend and one database: here
    # a database cache, so an entry written by one is read by the other.
    from django.core.management import call_command

    settings.CACHES = {
        **settings.CACHES,
        "objects": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "mediahub_test_objects",
        },
    }
    call_command("createcachetable", "mediahub_test_objects", verbosity=0)
    with override_settings(MEDIAHUB={"OBJECT_CACHE": "objects"}):
        name = put("docs/shared.pdf")
        url = links.sign(name)
        assert Client().get(url).status_code == 302
        count_requests.clear()
        assert Client().get(url).status_code == 302
        assert sum(count_requests.values()) == 0


def test_a_failing_cache_is_a_miss_not_an_error(s3, client, monkeypatch, count_requests):
    name = put("docs/report.pdf")
    url = links.sign(name)

    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get", broken)
    monkeypatch.setattr(cache, "set", broken)
    count_requests.clear()
    assert client.get(url).status_code == 302
    assert count_requests == {"HeadObject": 1}


# -- the view: methods and headers ---------------------------------------------------------------
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
def test_other_methods_answer_405_even_with_csrf_checks_on(s3, method):
    name = put("docs/report.pdf")
    client = Client(enforce_csrf_checks=True)
    response = getattr(client, method)(links.sign(name))
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert response["Cache-Control"] == "private, no-store"
    assert not DownloadLog.objects.exists()


def test_active_content_is_never_opened_inline(s3, client):
    for name, filename in [("pages/x.html", None), ("pages/x.txt", "x.svg")]:
        put(name, b"<script>alert(1)</script>")
        response = client.get(links.sign(name, inline=True, filename=filename))
        query = parse_qs(urlsplit(response["Location"]).query)
        assert query["response-content-disposition"][0].startswith("attachment;")
    put("pages/ok.pdf")
    response = client.get(links.sign("pages/ok.pdf", inline=True))
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["response-content-disposition"][0].startswith("inline;")


def test_bad_etag_and_version_arguments_are_refused():
    with pytest.raises(ValueError):
        links.sign("a.pdf", etag=123)
    with pytest.raises(ValueError):
        links.sign("a.pdf", version_id=5)


def test_the_media_librarys_link_is_bound_to_the_version_its_page_showed(
    s3, client, django_user_model
):
    import re

    from django.urls import reverse

    client.force_login(django_user_model.objects.create_superuser("boss", "b@x.org", "pw"))
    name = put("lib/report.pdf")
    page = client.get(reverse("admin:mediahub_details", args=["private"]), {"name": name})
    shown = re.search(r'name="etag" value="([^"]+)"', page.content.decode()).group(1)
    assert shown == etag_of(name)
    data = {"name": name, "etag": shown, "lifetime": "custom", "amount": "10", "unit": "minutes"}
    response = client.get(
        client.post(reverse("admin:mediahub_sign", args=["private"]), data)["Location"]
    )
    link = re.search(r'id="mediahub-link" value="([^"]+)"', response.content.decode()).group(1)
    assert links.load(links.token_from(link)).etag == shown
    assert Client().get(link).status_code == 302

    replace_behind_mediahubs_back(s3, name, NEW)
    cache.clear()
    assert Client().get(link).status_code == 410


@override_settings(MEDIAHUB={"OBJECT_CACHE": "nowhere"})
def test_an_unknown_object_cache_alias_is_a_clear_configuration_error(s3):
    from django.core.exceptions import ImproperlyConfigured

    name = put("docs/report.pdf")
    with pytest.raises(ImproperlyConfigured, match="OBJECT_CACHE"):
        links.redeem(links.token_from(links.sign(name)))


def test_inline_is_served_with_the_type_of_the_name_not_the_stored_one(s3, client):
    # Stored as text/html behind mediahub's back, opened inline as a .txt: plain text.
    storage = get_storage("private")
    storage.connection.meta.client.put_object(
        Bucket=storage.bucket_name,
        Key=storage._key("notes/a.txt"),
        Body=b"<script>alert(1)</script>",
        ContentType="text/html",
    )
    location = client.get(links.sign("notes/a.txt", inline=True))["Location"]
    assert parse_qs(urlsplit(location).query)["response-content-type"] == ["text/plain"]
    served = requests.get(location, timeout=10)
    assert served.headers["Content-Type"].startswith("text/plain")
    assert served.headers["Content-Disposition"].startswith("inline;")
