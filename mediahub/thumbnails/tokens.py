"""Signed URLs of the thumbnail endpoint (``mediahub:thumbnail``).

A page that shows a thumbnail not generated yet links to the endpoint with a
token signed by :class:`django.core.signing.Signer` (its own salt): the storage alias,
the source name, the options and the expected source version. Nobody can make
the endpoint generate thumbnails of other objects or options, or read private
images through it. Tokens of private sources carry an expiry
(``MEDIAHUB["THUMBNAIL_LINK_EXPIRY"]``); public ones do not (the image is public
anyway, and cached pages keep working).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.urls import reverse

from mediahub.conf import app_settings

#: Signing salt: tokens of other features never validate here.
SALT = "mediahub.thumbnails.v1"


#: Query string of an endpoint URL over a page's budget: show the placeholder and let
#: a worker make the thumbnail (202) instead of making it in the request.
PENDING_PARAM = "pending"
PENDING_QUERY = f"?{PENDING_PARAM}=1"


class ExpiredToken(Exception):
    """The token was valid but has expired."""


@dataclass(frozen=True)
class Request:
    """What a token asks the endpoint to make."""

    storage: str
    name: str
    options: dict[str, Any]
    version: str | None
    #: Expiry (seconds since the epoch) of a private source's token; None for public ones.
    expires: int | None = None


def make_url(
    storage: str,
    name: str,
    options: dict[str, Any],
    version: str | None,
    *,
    private: bool,
    now: float | None = None,
) -> str:
    """The endpoint URL (a path on the site) that makes this thumbnail and redirects to it."""
    payload: dict[str, Any] = {"s": storage, "n": name, "o": options}
    if version:
        payload["v"] = version
    if private:
        payload["e"] = int(
            (time.time() if now is None else now) + app_settings.THUMBNAIL_LINK_EXPIRY
        )
    # A plain Signer (no timestamp): the same thumbnail gets the same URL on every render.
    token = signing.Signer(salt=SALT).sign_object(payload, compress=True)
    return reverse("mediahub:thumbnail", kwargs={"token": token})


def load(token: str, *, now: float | None = None) -> Request:
    """Verify ``token``. Raises ``signing.BadSignature`` or :class:`ExpiredToken`."""
    data = signing.Signer(salt=SALT).unsign_object(token)
    if not isinstance(data, dict) or not {"s", "n", "o"} <= data.keys():
        raise signing.BadSignature("malformed thumbnail token")
    expires = data.get("e")
    if expires is not None and (time.time() if now is None else now) > expires:
        raise ExpiredToken("thumbnail link expired")
    return Request(data["s"], data["n"], data["o"], data.get("v"), expires)
