"""Pick tokens: bound to the user who opened the picker and to the field's kind."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission
from django.core import signing
from django.core.checks import run_checks
from django.core.files.base import ContentFile
from django.test import RequestFactory
from django.urls import reverse

from mediahub import picker
from mediahub.storage import get_storage

pytestmark = pytest.mark.django_db


def make_staff(django_user_model, username: str, *, library: bool):
    user = django_user_model.objects.create_user(username, password="pw", is_staff=True)
    perms = Permission.objects.filter(codename__in=["add_document", "change_document"])
    if library:
        perms = perms | Permission.objects.filter(
            content_type__app_label="mediahub", codename__in=["view_public", "view_private"]
        )
    user.user_permissions.set(perms)
    return user


def as_user(user, function):
    """Run ``function`` inside a request of ``user`` (through PickerMiddleware)."""
    request = RequestFactory().post("/")
    request.user = user
    result = {}

    def view(request):
        result["value"] = function()
        return None

    picker.PickerMiddleware(view)(request)
    return result["value"]


def popup_token(client, storage: str, path: str, name: str) -> str:
    url = reverse("admin:mediahub_browse", kwargs={"storage": storage})
    body = client.get(url, {"_popup": "1", "target": "id_x_existing", "path": path}).content
    match = re.search(rf'data-name="{re.escape(name)}" data-token="([^"]+)"', body.decode())
    assert match, body.decode()[:2000]
    return match.group(1)


def test_a_token_is_refused_for_another_user(django_user_model):
    alice = make_staff(django_user_model, "alice", library=True)
    bob = make_staff(django_user_model, "bob", library=False)
    token = as_user(alice, lambda: picker.pick_token("private", "contracts/a.pdf"))
    assert as_user(alice, lambda: picker.read_pick_token(token, "private")) == "contracts/a.pdf"
    with pytest.raises(signing.BadSignature, match="another user"):
        as_user(bob, lambda: picker.read_pick_token(token, "private"))


def test_anonymous_request_cannot_use_a_bound_token(django_user_model):
    from django.contrib.auth.models import AnonymousUser

    alice = make_staff(django_user_model, "alice", library=True)
    token = picker.pick_token("public", "a.txt", user=alice)
    with pytest.raises(signing.BadSignature):
        picker.read_pick_token(token, "public", user=AnonymousUser())


def test_admin_form_post_with_a_token_handed_over_by_another_user_is_refused(
    client, django_user_model
):
    from example_project.demo.models import Document

    get_storage("private").save("contracts/nda.pdf", ContentFile(b"%PDF secret"))
    alice = make_staff(django_user_model, "alice", library=True)
    bob = make_staff(django_user_model, "bob", library=False)
    client.force_login(alice)
    token = popup_token(client, "private", "contracts/", "contracts/nda.pdf")

    client.force_login(bob)
    add = reverse("admin:demo_document_add")
    answer = client.post(add, {"title": "stolen", "contract_existing": token})
    assert answer.status_code == 200  # the form again, with the error
    assert "could not be verified" in answer.content.decode()
    assert not Document.objects.exists()

    client.force_login(alice)
    answer = client.post(add, {"title": "mine", "contract_existing": token})
    assert answer.status_code == 302, answer.content.decode()[:3000]
    assert Document.objects.get().contract.name == "contracts/nda.pdf"


def test_an_image_field_refuses_a_pdf_pick(client, django_user_model):
    from example_project.demo.models import Document

    private = get_storage("private")
    private.save("scans/doc.pdf", ContentFile(b"%PDF"))
    private.save("scans/photo.png", ContentFile(b"\x89PNG"))
    alice = make_staff(django_user_model, "alice", library=True)
    client.force_login(alice)
    pdf = popup_token(client, "private", "scans/", "scans/doc.pdf")
    png = popup_token(client, "private", "scans/", "scans/photo.png")
    add = reverse("admin:demo_document_add")

    answer = client.post(add, {"title": "t", "scan_existing": pdf})
    assert "could not be verified" in answer.content.decode()
    assert not Document.objects.exists()
    # The same PDF is fine for a file field.
    answer = client.post(add, {"title": "t", "contract_existing": pdf, "scan_existing": png})
    assert answer.status_code == 302
    document = Document.objects.get()
    assert (document.contract.name, document.scan.name) == ("scans/doc.pdf", "scans/photo.png")


@pytest.mark.parametrize(
    ("name", "kind"),
    [("a.png", "image"), ("a.JPG", "image"), ("a.pdf", "file"), ("a.svg", "file"), ("a", "file")],
)
def test_kind_of_names(name, kind):
    assert picker.kind_of(name) == kind


def test_an_image_token_is_refused_when_renamed_kind_is_forged():
    # A "file" token naming an image is still not an image token.
    file_token = signing.dumps(
        {"v": "public", "n": "a.png", "u": None, "k": "file"}, salt=picker.SALT, compress=True
    )
    with pytest.raises(signing.BadSignature):
        picker.read_pick_token(file_token, "public", kind="image")
    assert picker.read_pick_token(file_token, "public") == "a.png"
    with pytest.raises(ValueError):
        picker.read_pick_token(file_token, "public", kind="video")


def test_tokens_of_the_old_format_are_refused():
    old = signing.dumps(["public", "a.png"], salt="mediahub.picker.v1", compress=True)
    with pytest.raises(signing.BadSignature):
        picker.read_pick_token(old, "public")


def test_missing_middleware_is_a_warning(settings):
    ids = {message.id for message in run_checks()}
    assert "mediahub.W030" not in ids
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "PickerMiddleware" not in m]
    found = [m for m in run_checks() if m.id == "mediahub.W030"]
    assert found and "PickerMiddleware" in found[0].hint


def test_debug_with_s3_and_no_secrets_filter_is_a_warning(settings):
    from mediahub import dsn

    settings.STORAGES = {
        **settings.STORAGES,
        "default": dsn.parse("s3://K:S@s3.example.com/pub?region=eu-west-1"),
    }
    settings.DEBUG = True
    assert "mediahub.W031" not in {m.id for m in run_checks()}
    settings.DEFAULT_EXCEPTION_REPORTER_FILTER = "django.views.debug.SafeExceptionReporterFilter"
    assert "mediahub.W031" in {m.id for m in run_checks()}
    settings.DEBUG = False
    assert "mediahub.W031" not in {m.id for m in run_checks()}
