"""Signed picks: the "Choose existing" popup hands the form a token, not a bare name.

Only a user allowed to browse a storage in the media library gets its pick tokens,
so a staff user who may edit a model with a private field cannot attach (and then
read through the field's signed link) a private object by typing its name.

A token is bound

* to the **user** who opened the picker: a token handed to (or leaked to) another
  user is refused when that user posts it. The user is known through
  :class:`PickerMiddleware` (add it to ``MIDDLEWARE``; ``mediahub.W030`` says when it is
  missing): without it, tokens carry no user and nothing is checked;
* to the object's **kind**: a token for ``report.pdf`` says ``file``, one for
  ``photo.jpg`` says ``image``, and an image field refuses anything but ``image``
  (and checks the name again), so an image field never takes a PDF.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.core import signing
from django.http import HttpRequest, HttpResponse

#: Salt of pick tokens: no other mediahub token validates here (v2: user and kind).
SALT = "mediahub.picker.v2"
#: A pick must be used in the form within this many seconds.
MAX_AGE = 24 * 3600
#: Kinds of object a field takes.
KINDS = ("file", "image")
#: Image types an image field accepts by name (what Pillow and browsers show).
IMAGE_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/bmp",
        "image/tiff",
        "image/avif",
    }
)

_request: ContextVar[HttpRequest | None] = ContextVar("mediahub_picker_request", default=None)
#: ``current_user()`` when no request is known (outside requests, or no middleware).
UNKNOWN = object()


class PickerMiddleware:
    """Makes the request's user known to pick tokens (issued in the popup, read by the form)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        reset = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(reset)


def current_user() -> Any:
    """The user of the request being served, or :data:`UNKNOWN`."""
    request = _request.get()
    if request is None or not hasattr(request, "user"):
        return UNKNOWN
    return request.user


def _user_key(user: Any) -> str | None:
    if user is UNKNOWN or user is None or not getattr(user, "is_authenticated", False):
        return None
    return str(user.pk)


def kind_of(name: str) -> str:
    """``"image"`` when the name is an image an image field takes, else ``"file"``."""
    return "image" if mimetypes.guess_type(name)[0] in IMAGE_TYPES else "file"


def pick_token(visibility: str, name: str, *, user: Any = UNKNOWN) -> str:
    """A token naming ``name`` of the ``visibility`` storage, for the model-field widget.

    Bound to ``user`` (default: the current request's user, see :class:`PickerMiddleware`)
    and to the object's kind (:func:`kind_of`).
    """
    if user is UNKNOWN:
        user = current_user()
    payload = {"v": visibility, "n": name, "u": _user_key(user), "k": kind_of(name)}
    return signing.dumps(payload, salt=SALT, compress=True)


def read_pick_token(token: str, visibility: str, *, kind: str = "file", user: Any = UNKNOWN) -> str:
    """The object name a pick token carries; ``signing.BadSignature`` when it is not valid here.

    Refused like a forged token: an expired token (``signing.SignatureExpired``), one
    picked in the other storage, one issued to another user than ``user`` (default: the
    current request's user; not compared outside a request), and, for ``kind="image"``,
    one that does not name an image.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}.")
    data = signing.loads(token, salt=SALT, max_age=MAX_AGE)
    if (
        not isinstance(data, dict)
        or data.get("v") != visibility
        or not isinstance(data.get("n"), str)
    ):
        raise signing.BadSignature("Pick token for another storage.")
    name = data["n"]
    if kind == "image" and (data.get("k") != "image" or kind_of(name) != "image"):
        raise signing.BadSignature("Pick token for a file that is not an image.")
    if user is UNKNOWN:
        user = current_user()
    bound = data.get("u")
    # Outside a request (shell, tests, no middleware) nobody posts a form: nothing to compare.
    if bound is not None and user is not UNKNOWN and _user_key(user) != bound:
        raise signing.BadSignature("Pick token of another user.")
    return name
