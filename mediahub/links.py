"""Signed download links: stable paths on the site that redirect to a fresh presigned URL.

    from mediahub import links
    path = links.sign("reports/2024.pdf", expires_in=3600, user=request.user)
    links.revoke(path)                       # this link only
    links.revoke_all("reports/2024.pdf")     # every link of the object

**Tokens** are made with :func:`django.core.signing.dumps` (salt :data:`SALT`,
compressed, URL-safe) and verified with ``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS``,
so keys can be rotated. The payload carries the storage alias, the object name, an
explicit expiry time (checked against :data:`clock`, never through the signer's
``max_age``), the object's link generation, a random link id, and optionally the
bound user, the download file name and inline disposition.

**Revocation** needs no row per issued link. Each object that ever had a link
revoked has one :class:`~mediahub.models.LinkState` row in the database (shared
by every app instance):

* ``revoke_all(name)`` increments the object's ``generation``. Every token carries
  the generation read when it was signed, so all earlier links (generation lower
  than the current one) are revoked at once and links signed afterwards are not.
  A counter, not a timestamp: clocks of different instances never matter.
* ``revoke(token)`` adds the token's random link id to the row's ``revoked``
  mapping, with the token's expiry; entries are pruned once they have expired
  (an expired link is refused anyway), so the mapping only ever holds revoked
  links that are still alive. Other links of the object stay valid.

Redeeming costs one indexed query for that row and one existence check in the
storage. The redeem pipeline is plain functions (:func:`load`,
:func:`check_expiry`, :func:`check_revocation`, :func:`check_user`,
:func:`check_object`, all run by :func:`redeem`); ``mediahub.download`` is the thin
view on top.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from django.core import signing
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import Storage
from django.db import transaction
from django.db.models import F
from django.urls import reverse

from mediahub.conf import app_settings
from mediahub.http import content_disposition, safe_filename
from mediahub.names import validate_name
from mediahub.storage import UnknownStorage, get_storage, resolve_alias
from mediahub.storage.s3 import check_expiry as check_presign_expiry

logger = logging.getLogger(__name__)

#: Signing salt of download links: tokens of other features never validate here.
SALT = "mediahub.links.v1"
#: Version of the token payload layout.
TOKEN_VERSION = 1
#: The current time in seconds since the epoch; replace (tests, benchmarks) to control time.
clock: Callable[[], float] = time.time


# -- errors ----------------------------------------------------------------------------
class LinkError(Exception):
    """A link that cannot be redeemed. ``status`` is the HTTP answer, ``outcome`` the log entry."""

    status = 404
    outcome: str | None = None

    def __init__(self, message: str = "", link: Link | None = None) -> None:
        super().__init__(message or type(self).__doc__)
        self.link = link


class InvalidLink(LinkError, ValueError):
    """The token is malformed, tampered with, or signed with another key."""

    status = 404


class LinkExpired(LinkError):
    """The link's lifetime is over."""

    status = 410
    outcome = "expired"


class LinkRevoked(LinkError):
    """The link (or every link of its object) was revoked."""

    status = 410
    outcome = "revoked"


class LoginRequired(LinkError):
    """The link is bound to a user and the request is anonymous."""

    status = 401
    outcome = "login"


class WrongUser(LinkError):
    """The link is bound to another user."""

    status = 403
    outcome = "forbidden"


class ObjectMissing(LinkError):
    """The object no longer exists (or its storage is no longer configured)."""

    status = 404
    outcome = "missing"


class StorageUnavailable(LinkError):
    """The storage failed to answer (S3 error or timeout)."""

    status = 503
    outcome = "unavailable"


# -- tokens ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Link:
    """The verified content of a token."""

    storage: str
    name: str
    expires: int
    issued: int
    generation: int
    link_id: str
    user: str | None = None
    filename: str | None = None
    inline: bool = False

    @property
    def download_name(self) -> str:
        """The file name of the download: the signed one, else the object's own."""
        return safe_filename(self.filename or posixpath.basename(self.name))


def _now(now: float | None) -> float:
    return clock() if now is None else now


def _lifetime(expires_in: int | timedelta | None) -> int:
    seconds = app_settings.LINK_EXPIRY if expires_in is None else expires_in
    if isinstance(seconds, timedelta):
        seconds = int(seconds.total_seconds())
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
        raise ValueError(f"expires_in must be a positive number of seconds, not {seconds!r}.")
    limit = app_settings.LINK_MAX_EXPIRY
    if seconds > limit:
        raise ValueError(
            f"A link cannot live {seconds} s: the limit is {limit} s "
            "(MEDIAHUB['LINK_MAX_EXPIRY']). Sign a shorter link."
        )
    return seconds


def _user_key(user: Any) -> str | None:
    if user is None:
        return None
    if not getattr(user, "is_authenticated", False) or getattr(user, "pk", None) is None:
        raise ValueError("A link can only be bound to an authenticated, saved user.")
    if not getattr(user, "is_active", True):
        raise ValueError("A link cannot be bound to an inactive user.")
    return str(user.pk)


def _state_key(alias: str, name: str) -> str:
    return hashlib.sha256(f"{alias}\0{name}".encode("utf-8", "surrogatepass")).hexdigest()


def current_generation(name: str, storage: str = "private") -> int:
    """The object's link generation (0 until :func:`revoke_all` is first called)."""
    from mediahub.models import LinkState

    alias = resolve_alias(storage)
    value = (
        LinkState.objects.filter(key=_state_key(alias, name))
        .values_list("generation", flat=True)
        .first()
    )
    return value or 0


def generations(names: list[str], storage: str = "private") -> dict[str, int]:
    """The link generation of each of ``names`` in one query (0 for most objects)."""
    from mediahub.models import LinkState

    alias = resolve_alias(storage)
    keys = {_state_key(alias, name): name for name in names}
    found = dict(LinkState.objects.filter(key__in=list(keys)).values_list("key", "generation"))
    return {name: found.get(key, 0) for key, name in keys.items()}


def make_token(
    name: str,
    *,
    storage: str = "private",
    expires_in: int | timedelta | None = None,
    user: Any = None,
    filename: str | None = None,
    inline: bool = False,
    now: float | None = None,
    generation: int | None = None,
) -> str:
    """The signed token of a link (what :func:`sign` puts in the path).

    ``generation`` is the object's current link generation when the caller has
    just read it (:func:`generations`); by default it is read here (one query).
    """
    validate_name(name)
    alias = resolve_alias(storage)
    issued = int(_now(now))
    payload: dict[str, Any] = {
        "v": TOKEN_VERSION,
        "s": alias,
        "n": name,
        "i": issued,
        "e": issued + _lifetime(expires_in),
        "g": current_generation(name, alias) if generation is None else generation,
        "r": secrets.token_urlsafe(6),
    }
    bound = _user_key(user)
    if bound is not None:
        payload["u"] = bound
    if filename:
        payload["f"] = safe_filename(filename)
    if inline:
        payload["d"] = 1
    return signing.dumps(payload, salt=SALT, compress=True)


def sign(
    name: str,
    *,
    storage: str = "private",
    expires_in: int | timedelta | None = None,
    user: Any = None,
    filename: str | None = None,
    inline: bool = False,
    now: float | None = None,
) -> str:
    """Return a signed link (a path on this site, URL name ``mediahub:download``).

    ``storage`` is ``"private"``, ``"public"`` or a ``STORAGES`` alias;
    ``expires_in`` defaults to ``MEDIAHUB["LINK_EXPIRY"]`` and may not exceed
    ``MEDIAHUB["LINK_MAX_EXPIRY"]`` (``ValueError``); ``user`` binds the link to one
    user; ``filename`` and ``inline`` shape the download's ``Content-Disposition``.
    Raises ``SuspiciousFileOperation`` for an unsafe name and ``UnknownStorage``
    for an unknown storage. Signing does not check that the object exists.
    """
    token = make_token(
        name,
        storage=storage,
        expires_in=expires_in,
        user=user,
        filename=filename,
        inline=inline,
        now=now,
    )
    return reverse("mediahub:download", kwargs={"token": token})


def sign_many(names: list[str], *, storage: str = "private", **options: Any) -> dict[str, str]:
    """:func:`sign` for many objects of one storage with one database query.

    Takes the keyword arguments of :func:`sign`; returns ``{name: path}``. For
    pages that show many private files (a gallery of signed thumbnails).
    """
    current = generations(names, storage)
    alias = resolve_alias(storage)
    return {
        name: reverse(
            "mediahub:download",
            kwargs={"token": make_token(name, storage=alias, generation=current[name], **options)},
        )
        for name in names
    }


def token_from(url_or_token: str) -> str:
    """The token inside a link (absolute URL, path, or the bare token)."""
    if not isinstance(url_or_token, str):
        raise InvalidLink("A link must be a string.")
    path = unquote(urlsplit(url_or_token).path)
    return path.rstrip("/").rsplit("/", 1)[-1]


def load(token: str) -> Link:
    """Verify a token's signature and decode it. Raises :class:`InvalidLink`."""
    try:
        data = signing.loads(token, salt=SALT)
        if not isinstance(data, dict) or data.get("v") != TOKEN_VERSION:
            raise ValueError("unknown token layout")
        link = Link(
            storage=str(data["s"]),
            name=validate_name(data["n"]),
            expires=int(data["e"]),
            issued=int(data["i"]),
            generation=int(data["g"]),
            link_id=str(data["r"]),
            user=data.get("u"),
            filename=data.get("f"),
            inline=bool(data.get("d")),
        )
    except (signing.BadSignature, ValueError, TypeError, KeyError, SuspiciousFileOperation):
        # One answer whatever was wrong: nothing to learn by probing.
        raise InvalidLink() from None
    return link


# -- the redeem pipeline ---------------------------------------------------------------
def check_expiry(link: Link, *, now: float | None = None) -> None:
    """Raise :class:`LinkExpired` once the link's lifetime is over."""
    if _now(now) >= link.expires:
        raise LinkExpired(link=link)


def check_revocation(link: Link) -> None:
    """Raise :class:`LinkRevoked` if the link or all links of its object were revoked."""
    from mediahub.models import LinkState

    state = (
        LinkState.objects.filter(key=_state_key(link.storage, link.name))
        .values_list("generation", "revoked")
        .first()
    )
    if state is None:
        return
    generation, revoked = state
    if link.generation < generation or link.link_id in (revoked or {}):
        raise LinkRevoked(link=link)


def check_user(link: Link, user: Any) -> None:
    """Raise :class:`LoginRequired` / :class:`WrongUser` when the link is bound elsewhere.

    A deactivated user is refused too: some authentication backends
    (``AllowAllUsersModelBackend``) keep inactive users logged in.
    """
    if link.user is None:
        return
    if user is None or not getattr(user, "is_authenticated", False):
        raise LoginRequired(link=link)
    if str(user.pk) != link.user or not getattr(user, "is_active", True):
        raise WrongUser(link=link)


def check_object(link: Link) -> Storage:
    """Return the link's storage once the object is known to exist there."""
    try:
        storage = get_storage(link.storage)
    except UnknownStorage:
        raise ObjectMissing(link=link) from None
    try:
        found = storage.exists(link.name)
    except (ClientError, BotoCoreError, OSError) as error:
        logger.warning(
            "Storage %r failed while redeeming a link: %s", link.storage, type(error).__name__
        )
        raise StorageUnavailable(link=link) from error
    if not found:
        raise ObjectMissing(link=link)
    return storage


@dataclass(frozen=True)
class Redemption:
    """A link that passed every check, with the storage that holds its object."""

    link: Link
    storage: Storage

    @property
    def can_redirect(self) -> bool:
        """True when the storage presigns URLs (S3); False means stream the file."""
        return callable(getattr(self.storage, "presigned_url", None))

    def presigned_url(self, *, content_type: str | None = None, method: str = "GET") -> str:
        """A fresh presigned URL of the object (lifetime ``MEDIAHUB["PRESIGN_EXPIRY"]``).

        ``method="HEAD"`` signs a HeadObject URL: SigV4 signs the HTTP method, so a
        client that follows a HEAD redirect needs one.
        """
        return presigned_download_url(
            self.storage,
            self.link.name,
            filename=self.link.download_name,
            inline=self.link.inline,
            content_type=content_type,
            method=method,
        )


def redeem(token: str, *, user: Any = None, now: float | None = None) -> Redemption:
    """Run every check on ``token`` and return the :class:`Redemption`.

    Order: signature (404), expiry (410), revocation (410), bound user (login /
    403), object existence (404; 503 when the storage fails). Raises the matching
    :class:`LinkError`.
    """
    link = load(token)
    check_expiry(link, now=now)
    check_revocation(link)
    check_user(link, user)
    storage = check_object(link)
    return Redemption(link=link, storage=storage)


# -- revocation ------------------------------------------------------------------------
def revoke(url_or_token: str, *, now: float | None = None) -> bool:
    """Revoke one link (URL, path or token). True if it was live and is now revoked.

    Raises :class:`InvalidLink` (a ``ValueError``) for something that is not a link.
    An expired or already revoked link is left alone (False).
    """
    from mediahub.models import LinkState

    link = load(token_from(url_or_token))
    moment = _now(now)
    if moment >= link.expires:
        return False
    with transaction.atomic():
        state, _created = LinkState.objects.select_for_update().get_or_create(
            key=_state_key(link.storage, link.name),
            defaults={"storage": link.storage, "name": link.name},
        )
        if link.generation < state.generation or link.link_id in state.revoked:
            return False
        alive = {key: exp for key, exp in (state.revoked or {}).items() if exp > moment}
        alive[link.link_id] = link.expires
        state.revoked = alive
        state.save(update_fields=["revoked", "updated"])
    return True


def revoke_all(name: str, storage: str = "private") -> int:
    """Revoke every link issued so far for ``name``; return the new generation."""
    from mediahub.models import LinkState

    validate_name(name)
    alias = resolve_alias(storage)
    key = _state_key(alias, name)
    with transaction.atomic():
        LinkState.objects.get_or_create(key=key, defaults={"storage": alias, "name": name})
        LinkState.objects.filter(key=key).update(generation=F("generation") + 1, revoked={})
        return LinkState.objects.values_list("generation", flat=True).get(key=key)


# -- permissions and presigning -------------------------------------------------------
def can_sign(user: Any) -> bool:
    """Whether ``user`` may create signed links in the admin (``mediahub.sign``)."""
    return bool(user is not None and user.has_perm("mediahub.sign"))


def presigned_download_url(
    storage: Storage,
    name: str,
    *,
    filename: str | None = None,
    inline: bool = False,
    content_type: str | None = None,
    expires_in: int | None = None,
    method: str = "GET",
) -> str:
    """A presigned GET (or HEAD) URL that downloads ``name`` under a safe file name.

    S3 answers with ``Content-Disposition`` (attachment, or inline) for
    ``filename`` (default: the object's own name), and ``Content-Type`` when
    ``content_type`` is given. Lifetime ``expires_in`` seconds, default
    ``MEDIAHUB["PRESIGN_EXPIRY"]``; over 7 days raises ``ValueError``. The storage
    must presign (``presigned_url``): a local folder cannot (``TypeError``).
    """
    presign = getattr(storage, "presigned_url", None)
    if not callable(presign):
        raise TypeError(
            f"{type(storage).__name__} cannot presign URLs: serve its files through "
            "mediahub.links.sign() instead."
        )
    params = {
        "ResponseContentDisposition": content_disposition(
            filename or posixpath.basename(name), inline=inline
        )
    }
    if content_type:
        params["ResponseContentType"] = content_type
    operations = {"GET": "get_object", "HEAD": "head_object"}
    if method not in operations:
        raise ValueError(f"method must be 'GET' or 'HEAD', not {method!r}.")
    lifetime = app_settings.PRESIGN_EXPIRY if expires_in is None else expires_in
    return presign(
        name,
        expires_in=check_presign_expiry(lifetime),
        method=operations[method],
        params=params,
    )
