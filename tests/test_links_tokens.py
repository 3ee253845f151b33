"""How links are signed: Django's token format, one query, the cached path and signer."""

from __future__ import annotations

import random
from unittest import mock

import pytest
from django.core import signing
from django.test import override_settings
from django.urls import clear_script_prefix, reverse, set_script_prefix

from mediahub import links

pytestmark = pytest.mark.django_db


def test_tokens_are_byte_identical_to_django_signing_dumps():
    rng = random.Random(7)
    for _ in range(500):
        payload = {
            "v": 1,
            "s": "private",
            "n": "".join(rng.choice("ab/é 日.-_") for _ in range(rng.randint(1, 30))),
            "i": rng.randint(0, 2**33),
            "g": rng.randint(0, 5),
            "r": "x" * rng.randint(0, 9),
        }
        with mock.patch("time.time", return_value=1_800_000_000 + rng.randint(0, 10**6)):
            ours = links._signer().sign_object(payload)
            django = signing.dumps(payload, salt=links.SALT)
        assert ours == django
        assert signing.loads(ours, salt=links.SALT) == payload


def test_a_new_secret_key_gets_a_new_signer():
    token = links.make_token("a.pdf")
    with override_settings(SECRET_KEY="another-secret-key-another-secret-key-0123456789"):
        other = links.make_token("a.pdf")
        assert links.load(other).name == "a.pdf"
        with pytest.raises(links.InvalidLink):
            links.load(token)  # no fallback configured: the old key's token is refused
    with pytest.raises(links.InvalidLink):
        links.load(other)


def test_sign_is_one_query_and_sign_many_one_per_500_names(django_assert_num_queries):
    with django_assert_num_queries(1):
        links.sign("docs/a.pdf")
    names = [f"many/{i}.jpg" for i in range(1001)]
    links.revoke_all(names[700])
    with django_assert_num_queries(3):
        signed = links.sign_many(names)
    assert links.load(links.token_from(signed[names[700]])).generation == 1
    assert links.load(links.token_from(signed[names[0]])).generation == 0


def test_the_link_path_follows_the_script_prefix_and_the_urlconf():
    token = links.make_token("a.pdf")
    assert links.download_path(token) == reverse("mediahub:download", kwargs={"token": token})
    set_script_prefix("/site/")
    try:
        assert links.sign("a.pdf").startswith("/site/media-links/d/")
        assert links.download_path(token) == reverse("mediahub:download", kwargs={"token": token})
    finally:
        clear_script_prefix()
        set_script_prefix("/")
    assert links.sign("a.pdf").startswith("/media-links/d/")
