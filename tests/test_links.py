"""mediahub.links and its view: signed links, redeemed against a live S3 server over HTTP."""

from __future__ import annotations

import datetime as dt
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.template import Context, Template
from django.test import override_settings

from mediahub import links
from mediahub.http import content_disposition
from mediahub.models import DownloadLog, LinkState
from mediahub.storage import UnknownStorage, get_storage
from mediahub.testing import sigv4

pytestmark = pytest.mark.django_db

PAYLOAD = bytes(range(256)) * 40  # every byte value: proves a binary-exact round trip


def put_private(name: str = "docs/report.pdf", data: bytes = PAYLOAD) -> str:
    return get_storage("private").save(name, ContentFile(data))


def follow(response) -> requests.Response:
    """GET the presigned Location as a browser would (no cookies, no credentials)."""
    assert response.status_code == 302, response.status_code
    return requests.get(response["Location"], timeout=10)


def recomputed_signature(s3, location: str, method: str) -> str:
    """The SigV4 signature botocore computes for ``location``'s own parameters."""
    return sigv4.recomputed_signature(
        location,
        method,
        access_key=s3.endpoint.access_key,
        secret_key=s3.endpoint.secret_key,
        region=s3.endpoint.region,
    )


@pytest.fixture
def users(db):
    model = get_user_model()
    return (
        model.objects.create_user("alice", password="pw"),
        model.objects.create_user("bob", password="pw"),
    )


@pytest.fixture
def clock(monkeypatch):
    """A clock the test moves by hand: ``clock.now = ...``."""

    class Clock:
        now = 1_800_000_000.0

        def __call__(self) -> float:
            return self.now

    instance = Clock()
    monkeypatch.setattr(links, "clock", instance)
    return instance


# -- redirect to S3 -------------------------------------------------------------------
@pytest.mark.s3semantics
def test_redirect_serves_the_exact_bytes_with_the_signed_file_name(s3, client):
    name = put_private()
    url = links.sign(name, filename="Résumé 2024.pdf")

    response = client.get(url)

    location = response["Location"]
    assert location.startswith(f"{s3.endpoint.url}/{s3.private_bucket}/docs/report.pdf?")
    served = follow(response)
    assert served.status_code == 200
    assert served.content == PAYLOAD
    assert served.headers["Content-Disposition"] == content_disposition("Résumé 2024.pdf")
    # The object itself stays private: only the presigned URL reads it.
    assert s3.anonymous_get(s3.private_bucket, name).status_code == 403


def test_inline_links_are_served_inline_under_the_object_name(s3, client):
    name = put_private("photos/cat.png", b"\x89PNG fake")
    served = follow(client.get(links.sign(name, inline=True)))
    assert served.headers["Content-Disposition"] == 'inline; filename="cat.png"'


@pytest.mark.s3semantics
@override_settings(MEDIAHUB={"PRESIGN_EXPIRY": 123})
def test_presigned_url_is_sigv4_with_the_presign_expiry_and_a_valid_signature(s3, client):
    name = put_private()
    location = client.get(links.sign(name))["Location"]
    parts = urlsplit(location)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}

    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Expires"] == "123"
    assert query["X-Amz-SignedHeaders"] == "host"
    assert query["X-Amz-Credential"].startswith(f"{s3.endpoint.access_key}/")
    assert "Signature" not in query and "AWSAccessKeyId" not in query  # no SigV2

    assert recomputed_signature(s3, location, "GET") == query["X-Amz-Signature"]
    # Now the same URL with one signature character changed.
    tampered = location[:-1] + ("0" if location[-1] != "0" else "1")
    answer = requests.get(tampered, timeout=10)
    if s3.endpoint.is_real:
        assert answer.status_code == 403
    assert requests.get(location, timeout=10).status_code == 200


@pytest.mark.s3semantics
@pytest.mark.parametrize(
    "filename",
    [
        'quote".pdf',
        "crlf\r\nSet-Cookie: stolen=1.pdf",
        "../../etc/passwd",
        "C:\\evil\\name.exe",
        "日本語.pdf",
        "x" * 3000 + ".pdf",
    ],
)
def test_hostile_file_names_cannot_inject_headers(s3, client, filename):
    name = put_private()
    response = client.get(links.sign(name, filename=filename))
    assert "\r" not in response["Location"] and "\n" not in response["Location"]
    served = follow(response)
    assert served.headers["Content-Disposition"] == content_disposition(filename)
    assert "Set-Cookie" not in served.headers and "stolen" not in served.cookies
    assert served.content == PAYLOAD


def test_missing_object_is_404_and_logged(s3, client):
    url = links.sign("docs/never-uploaded.pdf")
    response = client.get(url)
    assert response.status_code == 404
    assert DownloadLog.objects.get().outcome == "missing"


def test_head_answers_like_get_without_a_body(s3, client):
    name = put_private()
    response = client.head(links.sign(name, filename="r.pdf"))
    assert response.status_code == 302
    assert response["Location"].startswith(f"{s3.endpoint.url}/{s3.private_bucket}/")
    assert response["Cache-Control"] == "private, no-store"
    assert response.content == b""
    # The redirect is signed for HEAD (SigV4 signs the method), so following it works.
    location = response["Location"]
    signature = parse_qs(urlsplit(location).query)["X-Amz-Signature"][0]
    assert recomputed_signature(s3, location, "HEAD") == signature
    assert recomputed_signature(s3, location, "GET") != signature
    followed = requests.head(location, timeout=10)
    assert followed.status_code == 200
    assert followed.headers["Content-Length"] == str(len(PAYLOAD))
    if s3.endpoint.is_real:  # moto ignores response-* overrides on HEAD
        assert followed.headers["Content-Disposition"] == 'attachment; filename="r.pdf"'


def test_post_is_refused(client):
    put_private()
    response = client.post(links.sign("docs/report.pdf"))
    assert response.status_code == 405
    # The refusal of a method is an answer of this view too: never cacheable.
    assert response["Cache-Control"] == "private, no-store"
    assert response["Allow"] == "GET, HEAD"
    assert not DownloadLog.objects.exists()


def test_storage_failure_on_redeem_gives_a_clean_503_page(s3, client, fail_s3):
    name = put_private()
    url = links.sign(name)
    fail_s3("HeadObject", status=503)

    response = client.get(url)

    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    assert response["Cache-Control"] == "private, no-store"
    body = response.content.decode()
    assert "Temporarily unavailable" in body and "Traceback" not in body
    assert "SlowDown" not in body and s3.private_bucket not in body
    assert DownloadLog.objects.get().outcome == "unavailable"


def test_storage_timeout_on_redeem_gives_503(s3, client, fail_s3):
    name = put_private()
    url = links.sign(name)
    fail_s3("HeadObject", timeout=True)
    assert client.get(url).status_code == 503


# -- tokens ---------------------------------------------------------------------------
def bad_token_responses(client, token: str):
    """Every single-character change, every truncation and a few extensions of ``token``."""
    alphabet = "AaZz09-_:."
    for index, char in enumerate(token):
        replacement = next(c for c in alphabet if c != char)
        yield client.get(f"/media-links/d/{token[:index]}{replacement}{token[index + 1 :]}")
    for length in range(1, len(token)):
        yield client.get(f"/media-links/d/{token[:length]}")
    for extra in ("A", "=", ":", "/", "%00", "/x", "." + token):
        yield client.get(f"/media-links/d/{token}{extra}")


def test_every_byte_change_truncation_and_extension_gives_the_same_404(client):
    put_private()
    token = links.make_token("docs/report.pdf", filename="a.pdf", expires_in=60)
    assert client.get(f"/media-links/d/{token}").status_code == 200
    logged = DownloadLog.objects.count()
    baseline = client.get("/media-links/d/not-a-token")
    assert baseline.status_code == 404

    count = 0
    for response in bad_token_responses(client, token):
        count += 1
        assert response.status_code == 404
        assert response.content == baseline.content
        assert response["Cache-Control"] == "private, no-store"
    assert count > 2 * len(token)
    assert DownloadLog.objects.count() == logged  # nothing for a stranger to write into


def test_tokens_of_another_salt_or_key_are_invalid(client, settings):
    put_private()
    payload = signing.loads(links.make_token("docs/report.pdf"), salt=links.SALT)
    forged = signing.dumps(payload, salt="another.feature", compress=True)
    assert client.get(f"/media-links/d/{forged}").status_code == 404
    with override_settings(SECRET_KEY="another-key-another-key-another-key-0123456789"):
        foreign = links.make_token("docs/report.pdf")
    assert client.get(f"/media-links/d/{foreign}").status_code == 404


def test_secret_key_rotation_keeps_links_valid_through_fallbacks(client, settings):
    put_private()
    url = links.sign("docs/report.pdf")
    old = settings.SECRET_KEY
    with override_settings(SECRET_KEY="rotated-" + old, SECRET_KEY_FALLBACKS=[old]):
        assert client.get(url).status_code == 200
    with override_settings(SECRET_KEY="rotated-" + old, SECRET_KEY_FALLBACKS=[]):
        assert client.get(url).status_code == 404


def test_token_carries_what_was_signed(users):
    token = links.make_token(
        "a/b.pdf", expires_in=90, user=users[0], filename="x/y.pdf", inline=True, now=1000
    )
    link = links.load(token)
    assert (link.storage, link.name, link.issued, link.expires) == (
        "private",
        "a/b.pdf",
        1000,
        1090,
    )
    assert (link.user, link.filename, link.inline) == (str(users[0].pk), "y.pdf", True)
    assert links.sign("a/b.pdf").startswith("/media-links/d/")


# -- sign() arguments --------------------------------------------------------------------
@pytest.mark.parametrize("expires_in", [0, -5, 7 * 24 * 3600 + 1, True, 1.5, "60"])
def test_sign_refuses_bad_lifetimes(expires_in):
    with pytest.raises(ValueError):
        links.sign("a.pdf", expires_in=expires_in)


@override_settings(MEDIAHUB={"LINK_MAX_EXPIRY": 30 * 24 * 3600})
def test_link_lifetime_limit_is_a_setting():
    link = links.load(links.make_token("a.pdf", expires_in=timedelta(days=30), now=0))
    assert link.expires == 30 * 24 * 3600


def test_sign_refuses_unsafe_names_and_unknown_storages():
    with pytest.raises(SuspiciousFileOperation):
        links.sign("../secret.pdf")
    with pytest.raises(UnknownStorage):
        links.sign("a.pdf", storage="nowhere")


def test_sign_refuses_binding_to_an_anonymous_user():
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(ValueError, match="authenticated"):
        links.sign("a.pdf", user=AnonymousUser())


# -- expiry -----------------------------------------------------------------------------
def test_link_works_until_its_expiry_then_answers_410(client, clock):
    put_private()
    url = links.sign("docs/report.pdf", expires_in=60)
    clock.now += 59
    assert client.get(url).status_code == 200
    clock.now += 1
    response = client.get(url)
    assert response.status_code == 410
    assert response["Cache-Control"] == "private, no-store"
    assert DownloadLog.objects.latest("id").outcome == "expired"


def test_default_lifetime_comes_from_settings(clock):
    with override_settings(MEDIAHUB={"LINK_EXPIRY": 77}):
        link = links.load(links.make_token("a.pdf"))
    assert link.expires - link.issued == 77


# -- user binding -------------------------------------------------------------------------
def test_bound_link_serves_its_user_only(client, users):
    alice, bob = users
    put_private()
    url = links.sign("docs/report.pdf", user=alice)

    anonymous = client.get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/admin/login/?next=/media-links/d/")
    assert anonymous["Cache-Control"] == "private, no-store"

    client.force_login(bob)
    assert client.get(url).status_code == 403
    client.force_login(alice)
    assert client.get(url).status_code == 200
    outcomes = list(DownloadLog.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["login", "forbidden", "streamed"]


@override_settings(
    AUTHENTICATION_BACKENDS=["django.contrib.auth.backends.AllowAllUsersModelBackend"]
)
def test_bound_link_refuses_its_user_once_deactivated(client, users):
    # With a backend that keeps inactive users logged in, a deactivated account
    # must not keep downloading through the links it was given.
    alice, _bob = users
    put_private()
    url = links.sign("docs/report.pdf", user=alice)
    alice.is_active = False
    alice.save()
    client.force_login(alice)
    assert client.get(url).status_code == 403
    with pytest.raises(links.WrongUser):
        links.check_user(links.load(links.token_from(url)), alice)
    with pytest.raises(ValueError, match="active"):
        links.sign("docs/report.pdf", user=alice)


# -- revocation ---------------------------------------------------------------------------
def test_revoke_one_link_leaves_the_others_valid(client):
    put_private()
    first, second = links.sign("docs/report.pdf"), links.sign("docs/report.pdf")

    assert links.revoke("http://testserver" + first) is True

    assert client.get(first).status_code == 410
    assert client.get(second).status_code == 200
    assert links.revoke(first) is False  # already revoked
    assert DownloadLog.objects.filter(outcome="revoked").count() == 1


def test_revoke_all_revokes_every_earlier_link_but_not_later_ones(client):
    put_private()
    earlier = [links.sign("docs/report.pdf") for _ in range(3)]
    other_object = (put_private("docs/other.pdf"), links.sign("docs/other.pdf"))[1]

    assert links.revoke_all("docs/report.pdf") == 1

    for url in earlier:
        assert client.get(url).status_code == 410
    assert client.get(other_object).status_code == 200
    assert client.get(links.sign("docs/report.pdf")).status_code == 200
    assert links.revoke_all("docs/report.pdf") == 2


def test_revocation_needs_no_row_per_link_and_prunes_expired_entries(clock):
    urls = [links.sign("docs/report.pdf", expires_in=60) for _ in range(50)]
    assert LinkState.objects.count() == 0
    links.revoke(urls[0])
    clock.now += 120
    fresh = links.sign("docs/report.pdf", expires_in=60)
    links.revoke(fresh)
    state = LinkState.objects.get()
    assert len(state.revoked) == 1  # the first, expired entry was pruned
    assert links.revoke(urls[1]) is False  # expired: nothing to do


def test_sign_many_reads_all_generations_in_one_query(client, django_assert_num_queries):
    names = [put_private(f"gallery/{i}.jpg", b"x") for i in range(20)]
    links.revoke_all(names[3])
    with django_assert_num_queries(1):
        signed = links.sign_many(names, expires_in=60, inline=True)
    assert list(signed) == names
    assert links.load(links.token_from(signed[names[3]])).generation == 1
    assert client.get(signed[names[3]]).status_code == 200
    assert links.load(links.token_from(signed[names[0]])).inline is True


def test_revocation_lives_in_the_database_not_in_process_memory(client):
    put_private()
    url = links.sign("docs/report.pdf")
    links.revoke(url)
    # What another instance would see: only the database row.
    state = LinkState.objects.get()
    assert (state.storage, state.name) == ("private", "docs/report.pdf")
    assert list(state.revoked) == [links.load(links.token_from(url)).link_id]


def test_revoke_rejects_what_is_not_a_link():
    with pytest.raises(links.InvalidLink):
        links.revoke("/media-links/d/garbage")
    with pytest.raises(ValueError):
        links.revoke("")


# -- headers on every answer ----------------------------------------------------------------
def test_every_answer_is_private_no_store_nosniff(client, users, clock):
    put_private()
    alice, _bob = users
    expired = links.sign("docs/report.pdf", expires_in=1)
    bound = links.sign("docs/report.pdf", user=alice)
    revoked = links.sign("docs/report.pdf")
    links.revoke(revoked)
    clock.now += 5
    answers = [
        client.get(links.sign("docs/report.pdf")),  # 200 streamed
        client.head(links.sign("docs/report.pdf")),
        client.get(links.sign("docs/missing.pdf")),  # 404
        client.get("/media-links/d/bogus"),  # 404
        client.get(expired),  # 410
        client.get(revoked),  # 410
        client.get(bound),  # login redirect
    ]
    client.force_login(_bob)
    answers.append(client.get(bound))  # 403
    assert [a.status_code for a in answers] == [200, 200, 404, 404, 410, 410, 302, 403]
    for answer in answers:
        assert answer["Cache-Control"] == "private, no-store"
        assert answer["X-Content-Type-Options"] == "nosniff"
        assert answer["Content-Security-Policy"].startswith("default-src 'none'")


# -- streaming (local folders) -----------------------------------------------------------------
def test_private_local_folder_url_is_a_signed_link_that_streams(tmp_path, client):
    private = {
        "BACKEND": "mediahub.storage.local.PrivateFileSystemStorage",
        "OPTIONS": {"location": str(tmp_path)},
    }
    with override_settings(STORAGES={**_storages(), "private": private}):
        storage = get_storage("private")
        name = storage.save("letters/hello.html", ContentFile(b"<script>alert(1)</script>"))
        url = storage.url(name)
        assert url.startswith("/media-links/d/")
        response = client.get(url)
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == b"<script>alert(1)</script>"
    assert response["Content-Disposition"] == 'attachment; filename="hello.html"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'"


def test_link_to_a_local_folder_is_404_not_500(tmp_path, client):
    private = {
        "BACKEND": "mediahub.storage.local.PrivateFileSystemStorage",
        "OPTIONS": {"location": str(tmp_path)},
    }
    with override_settings(STORAGES={**_storages(), "private": private}):
        get_storage("private").save("letters/hello.txt", ContentFile(b"x"))
        response = client.get(links.sign("letters"))  # a folder: exists() says True
    assert response.status_code == 404
    assert response["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize("failing", ["audit", "revocation"])
def test_database_failure_on_redeem_gives_503_not_500(client, monkeypatch, failing):
    from django.db import OperationalError

    put_private()
    url = links.sign("docs/report.pdf")

    def broken(*args, **kwargs):
        raise OperationalError("database is locked")

    if failing == "audit":
        monkeypatch.setattr(DownloadLog.objects, "create", broken)
    else:
        monkeypatch.setattr(links, "check_revocation", broken)
    response = client.get(url)
    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    assert response["Cache-Control"] == "private, no-store"


def _storages():
    from django.conf import settings

    return dict(settings.STORAGES)


# -- presigned_download_url -----------------------------------------------------------------------
def test_presigned_download_url_checks_lifetime_and_storage(s3):
    storage = get_storage("private")
    with pytest.raises(ValueError, match="7 days"):
        links.presigned_download_url(storage, "a.pdf", expires_in=7 * 24 * 3600 + 1)
    url = links.presigned_download_url(
        storage, "a.pdf", filename="b.pdf", content_type="application/pdf", expires_in=60
    )
    query = parse_qs(urlsplit(url).query)
    assert query["response-content-disposition"] == ['attachment; filename="b.pdf"']
    assert query["response-content-type"] == ["application/pdf"]
    assert query["X-Amz-Expires"] == ["60"]
    with override_settings(
        STORAGES={
            **_storages(),
            "default": {"BACKEND": "mediahub.storage.memory.PublicMemoryStorage"},
        }
    ):
        with pytest.raises(TypeError, match="cannot presign"):
            links.presigned_download_url(get_storage("public"), "a.pdf")


def test_can_sign_needs_the_sign_permission(users):
    from django.contrib.auth.models import Permission

    alice, _bob = users
    assert links.can_sign(alice) is False
    alice.user_permissions.add(Permission.objects.get(codename="sign"))
    alice = get_user_model().objects.get(pk=alice.pk)
    assert links.can_sign(alice) is True


# -- template tag ------------------------------------------------------------------------------------
def test_signed_url_tag_signs_names_and_field_files(client, users):
    put_private()
    template = Template(
        "{% load mediahub %}"
        '{% signed_url name expires=60 filename="Report.pdf" inline=True %}|'
        "{% signed_url empty %}|{% signed_url name user=anonymous %}|"
        "{% signed_url name user=alice as link %}[{{ link }}]"
    )
    from django.contrib.auth.models import AnonymousUser

    rendered = template.render(
        Context(
            {
                "name": "docs/report.pdf",
                "empty": "",
                "anonymous": AnonymousUser(),
                "alice": users[0],
            }
        )
    )
    first, empty, anonymous, bound = rendered.split("|")
    assert empty == "" and anonymous == ""
    link = links.load(links.token_from(first))
    assert (link.filename, link.inline, link.expires - link.issued) == ("Report.pdf", True, 60)
    response = client.get(first)
    assert response["Content-Disposition"] == 'inline; filename="Report.pdf"'
    assert links.load(links.token_from(bound.strip("[]"))).user == str(users[0].pk)


def test_signed_url_tag_takes_a_field_file():
    from example_project.demo.models import Document

    document = Document(title="t")
    document.contract.save("c.pdf", ContentFile(b"pdf"), save=False)
    rendered = Template("{% load mediahub %}{% signed_url doc.contract %}").render(
        Context({"doc": document})
    )
    link = links.load(links.token_from(rendered))
    assert (link.storage, link.name) == ("private", document.contract.name)


def test_signed_url_tag_gives_nothing_for_an_unsafe_name(caplog):
    # Like {% media_thumbnail %}: one bad stored name (a legacy row) must not turn the
    # whole page into a 400; it gets no link and a logged warning.
    from example_project.demo.models import Document

    document = Document(title="t", contract="docs/ bad.pdf")
    template = Template("{% load mediahub %}[{% signed_url doc.contract %}|{% signed_url n %}]")
    with caplog.at_level("WARNING", logger="mediahub.links"):
        rendered = template.render(Context({"doc": document, "n": "../etc/passwd"}))
    assert rendered == "[|]"
    assert len(caplog.records) == 2


def test_clock_is_real_time_by_default():
    link = links.load(links.make_token("a.pdf"))
    assert abs(link.issued - dt.datetime.now(dt.UTC).timestamp()) < 5
