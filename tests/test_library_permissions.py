"""Who may do what in the media library (mediahub.library.permissions and the views)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.files.base import ContentFile
from django.urls import reverse

from mediahub.library.permissions import allowed_actions, can, check_storage, other_storage
from tests.test_library_views import make_user, put

pytestmark = pytest.mark.django_db


def test_every_action_needs_the_view_permission_of_its_storage(django_user_model):
    user = make_user(django_user_model, "upload", "delete", "publish", "sign")
    assert not any(allowed_actions(user, "public").values())
    assert not any(allowed_actions(user, "private").values())


def test_actions_need_their_own_permission(django_user_model):
    user = make_user(django_user_model, "view_public")
    assert allowed_actions(user, "public") == {
        "view": True,
        "upload": False,
        "delete": False,
        "move": False,
        "publish": False,
        "sign": False,
    }
    assert not can(user, "view", "private")


def test_publishing_needs_both_storages(django_user_model):
    user = make_user(django_user_model, "view_public", "publish", username="one")
    assert not can(user, "publish", "public")
    both = make_user(django_user_model, "view_public", "view_private", "publish", username="two")
    assert can(both, "publish", "public") and can(both, "publish", "private")


def test_non_staff_superuser_and_anonymous(django_user_model):
    assert not can(AnonymousUser(), "view", "public")
    outsider = make_user(django_user_model, "view_public", staff=False)
    assert not can(outsider, "view", "public")
    boss = django_user_model.objects.create_superuser("boss", "b@example.com", "pw")
    assert all(allowed_actions(boss, "private").values())


def test_unknown_storage_and_action():
    from django.http import Http404

    with pytest.raises(Http404):
        check_storage("default")
    with pytest.raises(ValueError):
        can(AnonymousUser(), "launch", "public")
    assert other_storage("public") == "private"


def _requests(storage: str):
    """(method, url name, data) of every library view."""
    return [
        ("get", "browse", {}),
        ("get", "details", {"name": "a.txt"}),
        ("get", "open", {"name": "a.txt"}),
        ("post", "sign", {"name": "a.txt", "expires_in": "60"}),
        ("post", "upload", {"files": [ContentFile(b"x", name="n.txt")]}),
        ("post", "upload_start", {}),
        ("post", "upload_parts", {}),
        ("post", "upload_complete", {}),
        ("post", "upload_abort", {}),
        ("post", "mkdir", {"name": "n"}),
        ("get", "move", {"name": "a.txt"}),
        ("post", "move", {"name": "a.txt", "new_name": "b.txt"}),
        ("get", "delete", {"name": "a.txt"}),
        ("post", "delete", {"name": "a.txt"}),
        ("post", "visibility", {"name": "a.txt"}),
    ]


@pytest.mark.parametrize("storage", ["public", "private"])
def test_staff_without_permissions_get_403_everywhere_and_nothing_changes(
    client, django_user_model, s3, storage, count_requests
):
    client.force_login(make_user(django_user_model))
    bucket = s3.public_bucket if storage == "public" else s3.private_bucket
    put(s3, bucket, "a.txt")
    count_requests.clear()
    for method, name, data in _requests(storage):
        url = reverse(f"admin:mediahub_{name}", args=[storage])
        response = getattr(client, method)(url, data)
        assert response.status_code == 403, (method, name)
    assert count_requests.total == 0
    assert s3.keys(bucket) == ["a.txt"]


def test_viewer_may_browse_but_not_change(client, django_user_model, s3):
    client.force_login(make_user(django_user_model, "view_public"))
    put(s3, s3.public_bucket, "a.txt")
    assert client.get(reverse("admin:mediahub_browse", args=["public"])).status_code == 200
    assert client.get(reverse("admin:mediahub_browse", args=["private"])).status_code == 403
    page = client.get(reverse("admin:mediahub_browse", args=["public"])).content.decode()
    assert "mediahub-upload" not in page and "deletelink" not in page
    for method, name, data in _requests("public")[3:]:
        url = reverse(f"admin:mediahub_{name}", args=["public"])
        assert getattr(client, method)(url, data).status_code == 403, name
    assert s3.keys(s3.public_bucket) == ["a.txt"]


def test_anonymous_users_are_sent_to_the_login_page(client, s3):
    response = client.get(reverse("admin:mediahub_browse", args=["public"]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
