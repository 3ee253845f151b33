"""Signed download links: stable paths on the site that redirect to a fresh presigned URL.

    from mediahub import links
    path = links.sign("reports/2024.pdf", expires_in=3600, user=request.user)
    links.revoke(path)                       # this link only
    links.revoke_all("reports/2024.pdf")     # every link of the object

**Tokens** are made with Django's ``TimestampSigner.sign_object`` (what
:func:`django.core.signing.dumps` does; salt :data:`SALT`, URL-safe) and verified
with :func:`django.core.signing.loads` (``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS``,
so keys can be rotated). The payload carries the storage alias, the object name,
an explicit expiry time (checked against :data:`clock`, never through the signer's
``max_age``), the object's link generation, a random link id, and optionally the
bound user, the download file name, inline disposition, and the object version
(ETag or version id) the link was made for.

**Revocation** needs no row per issued link. Each object that ever had its links
ended has one :class:`~mediahub.models.LinkState` row in the database (shared by
every app instance):

* ``revoke_all(name)`` increments the object's ``generation``. Every token carries
  the generation read when it was signed, so all earlier links (generation lower
  than the current one) are revoked at once and links signed afterwards are not.
  A counter, not a timestamp: clocks of different instances never matter.
* :func:`object_changed` does the same for every ``STORAGES`` alias that holds the
  object: mediahub's storages call it from ``delete()``, from a save that replaces
  an object and from copies onto an existing name, so every path that deletes,
  moves, replaces or unpublishes an object ends its links.
* ``revoke(token)`` adds the token's random link id to the row's ``revoked``
  mapping, with the token's expiry; entries are pruned once they have expired.

**Versions.** A link signed with ``etag=`` (or ``version_id=``) is bound to that
object: another object under the name answers 410. A version id is enforced by S3
itself (the presigned URL carries ``versionId``; no existence check is made).

**Redeeming** costs one indexed query (the revocation row) and, for a hot object,
no S3 request: the object's existence and ETag are cached in Django's cache
(``MEDIAHUB["OBJECT_CACHE"]``, for ``MEDIAHUB["OBJECT_CACHE_TIMEOUT"]`` seconds)
under a key that includes the generation, so mediahub's own deletes and
replacements (which bump it in the database) invalidate it at once on every
instance. The pipeline is plain functions (:func:`load`, :func:`check_expiry`,
:func:`check_revocation`, :func:`check_user`, :func:`check_object`, all run by
:func:`redeem`); ``mediahub.download`` is the thin view on top.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import posixpath
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core import signing
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.db import IntegrityError, connections, router, transaction
from django.db.models import F
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone

from mediahub.conf import app_settings
from mediahub.http import content_disposition, safe_filename
from mediahub.names import validate_name
from mediahub.storage import UnknownStorage, get_storage, resolve_alias
from mediahub.storage.content import content_type_for, safe_inline
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


class ObjectReplaced(LinkError):
    """The link was made for another version of the object (ETag or version id)."""

    status = 410
    outcome = "revoked"


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
    etag: str | None = None
    version_id: str | None = None

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


_tables: dict[str, str] = {}


def _state_table() -> tuple[Any, str]:
    """The database connection of :class:`LinkState` and ``"table" WHERE "key"`` (raw reads)."""
    from mediahub.models import LinkState

    alias = router.db_for_read(LinkState)
    connection = connections[alias]
    table = _tables.get(alias)
    if table is None:
        # Quoted table and column names (KEY is reserved in MySQL).
        quote = connection.ops.quote_name
        table = _tables[alias] = (
            f"{quote(LinkState._meta.db_table)} WHERE {quote('key')}"  # noqa: S608
        )
    return connection, table


def _read_state(alias: str, name: str) -> tuple[int, dict[str, Any]] | None:
    """``(generation, revoked)`` of an object's row, or None: one raw indexed query.

    Raw SQL because the ORM spends ~10x the query's own time building it, on a
    path (every sign and every redemption) where that is most of the cost.
    """
    from mediahub.models import LinkState

    connection, row = _state_row("generation, revoked", alias, name)
    if row is None:
        return None
    revoked = LinkState._meta.get_field("revoked").from_db_value(row[1], None, connection)
    return int(row[0]), revoked or {}


def current_generation(name: str, storage: str = "private") -> int:
    """The object's link generation (0 until its links are first ended)."""
    return _generation(resolve_alias(storage), name)


def _generation(alias: str, name: str) -> int:
    _, row = _state_row("generation", alias, name)
    return int(row[0]) if row else 0


def _state_row(columns: str, alias: str, name: str) -> tuple[Any, tuple | None]:
    """The connection and ``columns`` of an object's :class:`LinkState` row (None: no row)."""
    connection, table = _state_table()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {table} = %s",  # noqa: S608
            [_state_key(alias, name)],
        )
        return connection, cursor.fetchone()


def generations(names: list[str], storage: str = "private") -> dict[str, int]:
    """The link generation of each of ``names`` in one query per 500 names (0 for most)."""
    alias = resolve_alias(storage)
    keys = {_state_key(alias, name): name for name in names}
    found: dict[str, int] = {}
    ordered = list(keys)
    connection, table = _state_table()
    column = connection.ops.quote_name("key")
    with connection.cursor() as cursor:
        for start in range(0, len(ordered), 500):
            part = ordered[start : start + 500]
            cursor.execute(
                f"SELECT {column}, generation FROM {table} "  # noqa: S608
                f"IN ({', '.join(['%s'] * len(part))})",
                part,
            )
            found.update((row_key, int(gen)) for row_key, gen in cursor.fetchall())
    return {name: found.get(key, 0) for key, name in keys.items()}


class LinkSigner(signing.TimestampSigner):
    """Django's ``TimestampSigner`` with its HMAC key derived once, not per token.

    ``Signer.signature()`` derives ``sha256(salt + "signer" + SECRET_KEY)`` on every
    call (Django's ``salted_hmac``); this signer keeps the keyed HMAC and copies it.
    The tokens are byte-identical to Django's (``tests/test_links_tokens.py``) and are
    verified by :func:`django.core.signing.loads` with the fallback keys.
    """

    def __init__(self, key: str, fallback_keys: list[str]) -> None:
        super().__init__(key=key, fallback_keys=fallback_keys, salt=SALT, algorithm="sha256")
        derived = hashlib.sha256(f"{self.salt}signer{key}".encode()).digest()
        self._mac = hmac.new(derived, digestmod=hashlib.sha256)

    def signature(self, value: str, key: str | None = None) -> str:
        if key is not None and key != self.key:
            return super().signature(value, key)
        mac = self._mac.copy()
        mac.update(value.encode())
        return signing.b64_encode(mac.digest()).decode()


_signer_cache: dict[tuple[str, tuple[str, ...]], LinkSigner] = {}


def _signer() -> LinkSigner:
    """The signer of link tokens for the current ``SECRET_KEY`` and fallbacks (built once)."""
    cache_key = (settings.SECRET_KEY, tuple(settings.SECRET_KEY_FALLBACKS))
    signer = _signer_cache.get(cache_key)
    if signer is None:
        signer = LinkSigner(cache_key[0], list(cache_key[1]))
        _signer_cache.clear()
        _signer_cache[cache_key] = signer
    return signer


_path_cache: dict[tuple[Any, Any, str], tuple[str, str]] = {}
_PLACEHOLDER = "mediahub-token-placeholder"


def _download_path_parts() -> tuple[str, str]:
    """The path of ``mediahub:download`` before and after its token.

    Tokens only hold characters ``reverse()`` leaves as they are (URL-safe base64,
    ``:`` and ``.``), so a link's path is the reversed path of a placeholder with the
    token put in its place. Cached per URLconf and script prefix.
    """
    cache_key = (settings.ROOT_URLCONF, get_urlconf(), get_script_prefix())
    parts = _path_cache.get(cache_key)
    if parts is None:
        path = reverse("mediahub:download", kwargs={"token": _PLACEHOLDER})
        before, _sep, after = path.partition(_PLACEHOLDER)
        parts = (before, after)
        if len(_path_cache) > 16:
            _path_cache.clear()
        _path_cache[cache_key] = parts
    return parts


def download_path(token: str) -> str:
    """``reverse("mediahub:download", kwargs={"token": token})``, without reversing each time."""
    before, after = _download_path_parts()
    return before + token + after


def _normal_etag(etag: str | None) -> str | None:
    """An ETag as S3's listing and HEAD give it, without quotes or weak prefix."""
    if etag is None:
        return None
    if not isinstance(etag, str):
        raise ValueError(f"etag must be a string, not {etag!r}.")
    value = etag.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"') or None


def _payload(
    name: str,
    alias: str,
    issued: int,
    lifetime: int,
    generation: int,
    bound: str | None,
    filename: str | None,
    inline: bool,
    etag: str | None,
    version_id: str | None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "v": TOKEN_VERSION,
        "s": alias,
        "n": name,
        "i": issued,
        "e": issued + lifetime,
        "g": generation,
        "r": secrets.token_urlsafe(6),
    }
    if bound is not None:
        payload["u"] = bound
    if filename:
        payload["f"] = filename
    if inline:
        payload["d"] = 1
    if etag:
        payload["t"] = etag
    if version_id:
        if not isinstance(version_id, str):
            raise ValueError(f"version_id must be a string, not {version_id!r}.")
        payload["w"] = version_id
    return payload


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
    etag: str | None = None,
    version_id: str | None = None,
) -> str:
    """The signed token of a link (what :func:`sign` puts in the path).

    ``generation`` is the object's current link generation when the caller has
    just read it (:func:`generations`); by default it is read here (one query).
    """
    validate_name(name)
    alias = resolve_alias(storage)
    payload = _payload(
        name,
        alias,
        int(_now(now)),
        _lifetime(expires_in),
        _generation(alias, name) if generation is None else generation,
        _user_key(user),
        safe_filename(filename) if filename else None,
        inline,
        _normal_etag(etag),
        version_id,
    )
    return _signer().sign_object(payload)


def sign(
    name: str,
    *,
    storage: str = "private",
    expires_in: int | timedelta | None = None,
    user: Any = None,
    filename: str | None = None,
    inline: bool = False,
    etag: str | None = None,
    version_id: str | None = None,
    now: float | None = None,
) -> str:
    """Return a signed link (a path on this site, URL name ``mediahub:download``).

    ``storage`` is ``"private"``, ``"public"`` or a ``STORAGES`` alias;
    ``expires_in`` defaults to ``MEDIAHUB["LINK_EXPIRY"]`` and may not exceed
    ``MEDIAHUB["LINK_MAX_EXPIRY"]`` (``ValueError``); ``user`` binds the link to one
    user; ``filename`` and ``inline`` shape the download's ``Content-Disposition``.
    ``etag`` (from a listing or a HEAD) or ``version_id`` (versioned buckets) bind
    the link to that version of the object: another object under the name answers
    410. Raises ``SuspiciousFileOperation`` for an unsafe name and ``UnknownStorage``
    for an unknown storage. Signing makes no S3 request and does not check that
    the object exists; it reads the object's link generation (one indexed query).
    """
    return download_path(
        make_token(
            name,
            storage=storage,
            expires_in=expires_in,
            user=user,
            filename=filename,
            inline=inline,
            now=now,
            etag=etag,
            version_id=version_id,
        )
    )


def sign_many(
    names: list[str],
    *,
    storage: str = "private",
    expires_in: int | timedelta | None = None,
    user: Any = None,
    filename: str | None = None,
    inline: bool = False,
    etags: Mapping[str, str | None] | None = None,
    now: float | None = None,
) -> dict[str, str]:
    """:func:`sign` for many objects of one storage with one database query.

    Takes the keyword arguments of :func:`sign` (``etags`` maps names to the
    ETags of a listing, to bind each link to its object); returns
    ``{name: path}``. For pages that show many private files (a gallery of
    signed thumbnails, the library's "sign selected").
    """
    for name in names:
        validate_name(name)
    alias = resolve_alias(storage)
    current = generations(names, alias)
    issued = int(_now(now))
    lifetime = _lifetime(expires_in)
    bound = _user_key(user)
    shown = safe_filename(filename) if filename else None
    signer = _signer()
    etags = etags or {}
    before, after = _download_path_parts()
    return {
        name: before
        + signer.sign_object(
            _payload(
                name,
                alias,
                issued,
                lifetime,
                current[name],
                bound,
                shown,
                inline,
                _normal_etag(etags.get(name)),
                None,
            )
        )
        + after
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
        data = _signer().unsign_object(token)  # what signing.loads(token, salt=SALT) does
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
            etag=data.get("t"),
            version_id=data.get("w"),
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


def check_revocation(link: Link) -> int:
    """Raise :class:`LinkRevoked` if the link or all links of its object were revoked.

    Returns the object's current generation (part of the object cache's key).
    """
    state = _read_state(link.storage, link.name)
    if state is None:
        return 0
    generation, revoked = state
    if link.generation < generation or link.link_id in revoked:
        raise LinkRevoked(link=link)
    return generation


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


def _object_cache() -> tuple[Any, int]:
    """The cache of objects' existence and ETag, and its timeout (None, 0: off)."""
    timeout = app_settings.OBJECT_CACHE_TIMEOUT
    if not timeout:
        return None, 0
    alias = app_settings.OBJECT_CACHE
    if alias not in settings.CACHES:
        raise ImproperlyConfigured(
            f"MEDIAHUB['OBJECT_CACHE'] is {alias!r}, which is not a key of settings.CACHES: "
            "name a configured cache, or set MEDIAHUB['OBJECT_CACHE_TIMEOUT'] = 0."
        )
    return caches[alias], int(timeout)


def _object_cache_key(storage: Storage, alias: str, name: str, generation: int) -> str:
    # The generation is in the key: mediahub's deletes and replacements bump it in
    # the database, so every instance stops using the entry at once. So is the
    # storage's identity (endpoint, bucket, prefix): an alias pointed elsewhere
    # never reads the entries of its former bucket.
    digest = hashlib.sha256(
        f"{_identity(storage)!r}\0{alias}\0{name}".encode("utf-8", "surrogatepass")
    ).hexdigest()
    return f"mediahub.object:{digest}:{generation}"


def _look_up(storage: Storage, link: Link) -> str:
    """The object's ETag ("" when the storage has none); :class:`ObjectMissing` if absent."""
    stat = getattr(storage, "stat", None)
    try:
        if callable(stat):
            try:
                return stat(link.name).etag or ""
            except (FileNotFoundError, NotADirectoryError):
                raise ObjectMissing(link=link) from None
        if not storage.exists(link.name):
            raise ObjectMissing(link=link)
        return ""
    except (ClientError, BotoCoreError, OSError) as error:
        logger.warning(
            "Storage %r failed while redeeming a link: %s", link.storage, type(error).__name__
        )
        raise StorageUnavailable(link=link) from error


def check_object(link: Link, generation: int = 0) -> Storage:
    """Return the link's storage once the object is known to exist there (in the link's version).

    * Bound to a version id, on a storage that presigns: no request at all; the
      presigned URL names the version and S3 serves that version or nothing.
    * Otherwise the object's ETag comes from the object cache, or from one HEAD
      (``stat``) whose answer is cached for ``MEDIAHUB["OBJECT_CACHE_TIMEOUT"]``
      seconds. Only existing objects are cached: a missing object is looked up
      again on every redemption, so an upload is found at once.
    * Bound to an ETag: another ETag raises :class:`ObjectReplaced` (410).
    """
    try:
        storage = get_storage(link.storage)
    except UnknownStorage:
        raise ObjectMissing(link=link) from None
    if link.version_id and callable(getattr(storage, "presigned_url", None)):
        return storage
    cache, timeout = _object_cache()
    key = _object_cache_key(storage, link.storage, link.name, generation)
    etag = None
    if cache is not None:
        try:
            etag = cache.get(key)
        except Exception:  # a cache that fails is a cache miss, never a refusal
            logger.warning("The object cache failed; looking the object up.", exc_info=True)
    if etag is None:
        etag = _look_up(storage, link)
        if cache is not None:
            try:
                cache.set(key, etag, timeout)
            except Exception:
                logger.warning("The object cache failed to store an entry.", exc_info=True)
    if link.etag and etag and etag != link.etag:
        raise ObjectReplaced(link=link)
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
        client that follows a HEAD redirect needs one. An inline download is served
        with the type of its name (``response-content-type``), whatever type the
        object was stored with by a path outside mediahub.
        """
        inline = self.inline
        if inline and content_type is None:
            from mediahub.storage.content import content_type_for

            content_type = content_type_for(self.link.name)
        return presigned_download_url(
            self.storage,
            self.link.name,
            filename=self.link.download_name,
            inline=inline,
            content_type=content_type,
            method=method,
            version_id=self.link.version_id,
        )

    @property
    def inline(self) -> bool:
        """Inline as signed, unless the object or its download name is active content.

        HTML, SVG or XML opened inline would run its scripts (on the bucket's
        origin, or on this site's for a streamed file): those are always attachments.
        """
        from mediahub.storage.content import safe_inline

        link = self.link
        return safe_inline(link.name, link.inline) and safe_inline(link.download_name, link.inline)


def redeem(token: str, *, user: Any = None, now: float | None = None) -> Redemption:
    """Run every check on ``token`` and return the :class:`Redemption`.

    Order: signature (404), expiry (410), revocation (410), bound user (login /
    403), object existence (404; 503 when the storage fails) and version (410).
    Raises the matching :class:`LinkError`.
    """
    link = load(token)
    check_expiry(link, now=now)
    generation = check_revocation(link)
    check_user(link, user)
    storage = check_object(link, generation)
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


def _bump(alias: str, name: str) -> int:
    """Increment the generation of ``name`` in ``alias`` (creating its row); return it."""
    from mediahub.models import LinkState

    key = _state_key(alias, name)
    rows = LinkState.objects.filter(key=key)
    changes = {"generation": F("generation") + 1, "revoked": {}, "updated": timezone.now()}
    with transaction.atomic(using=router.db_for_write(LinkState)):
        if not rows.update(**changes):
            try:
                with transaction.atomic(using=router.db_for_write(LinkState)):
                    LinkState.objects.create(key=key, storage=alias, name=name, generation=1)
                return 1
            except IntegrityError:  # created by another instance meanwhile
                rows.update(**changes)
        return rows.values_list("generation", flat=True).get()


def revoke_all(name: str, storage: str = "private") -> int:
    """Revoke every link issued so far for ``name``; return the new generation."""
    validate_name(name)
    return _bump(resolve_alias(storage), name)


def _identity(storage: Storage) -> tuple[Any, ...]:
    """What makes two configured storages hold the same objects under the same names."""
    bucket = getattr(storage, "bucket_name", None)
    if bucket is not None:
        return (
            "s3",
            getattr(storage, "endpoint_url", None) or "",
            bucket,
            (getattr(storage, "location", "") or "").strip("/"),
        )
    if isinstance(storage, FileSystemStorage):
        return ("file", os.path.realpath(storage.location))
    return ("instance", id(storage))


def aliases_of(storage: Storage) -> list[str]:
    """Every ``STORAGES`` alias whose objects are ``storage``'s (same bucket and prefix,
    or same folder), ``storage``'s own alias included.

    Links are signed per alias, and two aliases may name one bucket (the public
    storage and easy-thumbnails' storage, typically). Remembered on the instance
    for the current ``settings.STORAGES``.
    """
    configured = settings.STORAGES
    memo = storage.__dict__.get("_mediahub_aliases")
    if memo is not None and memo[0] is configured:
        return memo[1]
    identity = _identity(storage)
    found = []
    for alias in configured:
        try:
            instance = storages[alias]
        except Exception:  # noqa: S112 - an alias that cannot be built holds no links
            continue
        if instance is storage or _identity(instance) == identity:
            found.append(alias)
    storage.__dict__["_mediahub_aliases"] = (configured, found)
    return found


def objects_changed(storage: Storage | str, names: list[str]) -> None:
    """End every signed link of ``names`` and forget their cached state: they were
    deleted, replaced, moved away or unpublished.

    ``storage`` is a storage instance (every alias holding the same objects is
    covered: :func:`aliases_of`) or a visibility/alias. A few queries per 500
    names. mediahub's storages call it from ``delete()``, from saves that replace
    an object and from copies onto a name, and bulk deletes (folders, sync, jobs)
    for their batches; call it yourself after changing objects behind mediahub's
    back (boto3). A database failure raises: links that could not be ended must
    not look ended.
    """
    from mediahub.models import LinkState

    names = list(dict.fromkeys(name for name in names if name and not name.endswith("/")))
    if not names:
        return
    aliases = [resolve_alias(storage)] if isinstance(storage, str) else aliases_of(storage)
    database = router.db_for_write(LinkState)
    changes = {"generation": F("generation") + 1, "revoked": {}, "updated": timezone.now()}
    for alias in aliases:
        keys = {_state_key(alias, name): name for name in names}
        ordered = list(keys)
        for start in range(0, len(ordered), 500):
            part = ordered[start : start + 500]
            with transaction.atomic(using=database):
                rows = LinkState.objects.filter(key__in=part)
                existing = set(rows.values_list("key", flat=True))
                if existing:
                    rows.update(**changes)
                missing = [key for key in part if key not in existing]
                if not missing:
                    continue
                try:
                    with transaction.atomic(using=database):
                        LinkState.objects.bulk_create(
                            LinkState(key=key, storage=alias, name=keys[key], generation=1)
                            for key in missing
                        )
                except IntegrityError:  # some were created meanwhile: bump one by one
                    for key in missing:
                        _bump(alias, keys[key])


def object_changed(storage: Storage | str, name: str) -> None:
    """:func:`objects_changed` for one object."""
    objects_changed(storage, [name])


@contextmanager
def changing(storage: Storage | str, *names: str) -> Iterator[None]:
    """Around a delete or an overwrite of ``names``: end their links before and after.

    Before: if the database cannot record it, the objects are not touched. After:
    a link signed while the change was under way (with the generation of the
    first bump) ends too.
    """
    objects_changed(storage, list(names))
    yield
    objects_changed(storage, list(names))


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
    version_id: str | None = None,
) -> str:
    """A presigned GET (or HEAD) URL that downloads ``name`` under a safe file name.

    S3 answers with ``Content-Disposition`` (attachment, or inline) for
    ``filename`` (default: the object's own name), and ``Content-Type`` when
    ``content_type`` is given. Lifetime ``expires_in`` seconds, default
    ``MEDIAHUB["PRESIGN_EXPIRY"]``; over 7 days raises ``ValueError``. ``version_id``
    pins one version of the object (S3 answers 404 once it is gone). The storage
    must presign (``presigned_url``): a local folder cannot (``TypeError``).
    """
    presign = getattr(storage, "presigned_url", None)
    if not callable(presign):
        raise TypeError(
            f"{type(storage).__name__} cannot presign URLs: serve its files through "
            "mediahub.links.sign() instead."
        )
    # HTML, SVG, XML... are never opened inline, whatever the object's stored type.
    inline = safe_inline(name, inline, content_type) and safe_inline(filename or name, inline)
    params = {
        "ResponseContentDisposition": content_disposition(
            filename or posixpath.basename(name), inline=inline
        )
    }
    if inline and not content_type:
        # Inline: the type of the name the link is for, not the stored one (an object
        # stored as text/html under "report.pdf" must not render as a page).
        content_type = content_type_for(filename or name)
    if content_type:
        params["ResponseContentType"] = content_type
    if version_id:
        params["VersionId"] = version_id
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
