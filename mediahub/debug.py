"""An exception reporter filter that keeps storage secrets off error pages and reports.

Django's :class:`~django.views.debug.SafeExceptionReporterFilter` hides settings whose
*name* looks secret (``SECRET_KEY``, ``PASSWORD``...), but a storage DSN carries its
secret key inside its *value*: ``DEFAULT_STORAGE_DSN`` (a setting, and under
``runserver`` an environment variable copied into ``request.META``) shows on the
technical 500 page in full. Use this filter instead::

    DEFAULT_EXCEPTION_REPORTER_FILTER = "mediahub.debug.SecretsReporterFilter"

It hides, in settings, ``request.META``, POST data and the traceback's local variables
(even with ``DEBUG`` on, where Django's filter shows local variables unfiltered):

* every setting or variable whose name ends in ``DSN`` (``DEFAULT_STORAGE_DSN``, ``SENTRY_DSN``);
* the secret keys configured in ``STORAGES`` (``secret_key``, ``security_token``...);
* the password of any URL with credentials (``s3://KEY:SECRET@...``, ``DATABASE_URL``);
* any other value that contains a configured secret, raw or percent-encoded.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, unquote_plus, urlsplit

from django.conf import settings
from django.views.debug import SafeExceptionReporterFilter

#: Names whose values are always hidden (on top of Django's KEY, SECRET, PASS, TOKEN...).
HIDDEN_NAMES = re.compile(r"DSN|CREDENTIAL|PRIVATE_KEY", re.IGNORECASE)
#: Storage options that hold a secret.
SECRET_OPTIONS = ("secret_key", "security_token", "session_token", "cloudfront_key")
#: Shorter "secrets" would hide innocent values that happen to contain them.
MIN_SECRET_LENGTH = 6
#: ``scheme://user:password@host``: a URL carrying credentials.
_CREDENTIALS_URL = re.compile(r"[a-z][a-z0-9+.\-]*://[^\s/@:]*:[^\s/@]+@", re.IGNORECASE)


def configured_secrets() -> frozenset[str]:
    """The secrets of this site's configuration: storage keys, DSN and URL passwords."""
    found: set[str] = set()
    for entry in _storage_entries():
        options = entry.get("OPTIONS") or {}
        for option in SECRET_OPTIONS:
            value = options.get(option)
            if isinstance(value, str):
                found.add(value)
    with warnings.catch_warnings():
        # Reading every setting reads the deprecated ones too (Django 6.1 warns on each
        # EMAIL_* read: RemovedInDjango2028Warning); an error report must not fail on it.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        for name in dir(settings):
            if name.isupper():
                found.update(_url_passwords(getattr(settings, name, None)))
    for value in os.environ.values():
        found.update(_url_passwords(value))
    return frozenset(secret for secret in found if len(secret) >= MIN_SECRET_LENGTH)


def _storage_entries() -> Iterable[dict[str, Any]]:
    for setting in ("STORAGES", "FILER_STORAGES"):
        value = getattr(settings, setting, None)
        yield from _dicts_with_options(value)


def _dicts_with_options(value: Any) -> Iterable[dict[str, Any]]:
    if isinstance(value, dict):
        if isinstance(value.get("OPTIONS"), dict):
            yield value
        for item in value.values():
            yield from _dicts_with_options(item)


def _url_passwords(value: Any) -> Iterable[str]:
    """Passwords (raw and as written) of the credential URLs in a string."""
    if not isinstance(value, str) or "@" not in value:
        return
    for match in _CREDENTIALS_URL.finditer(value):
        try:
            password = urlsplit(match.group(0) + "host").password
        except ValueError:
            continue
        if password:
            yield password
            yield unquote(password)


class SecretsReporterFilter(SafeExceptionReporterFilter):
    """Hide DSNs, storage secret keys and any value containing a configured secret."""

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        if isinstance(key, str) and HIDDEN_NAMES.search(key):
            return self.cleansed_substitute
        cleansed = super().cleanse_setting(key, value)
        if isinstance(cleansed, str) and self.is_secret(cleansed):
            return self.cleansed_substitute
        return cleansed

    def get_post_parameters(self, request):
        """POST values as Django filters them, and any holding a secret hidden (DEBUG too)."""
        parameters = super().get_post_parameters(request)
        if not parameters or not any(
            isinstance(value, str) and self.is_secret(value)
            for key in parameters
            for value in parameters.getlist(key)
        ):
            return parameters
        cleansed = parameters.copy()
        for key in cleansed:
            values = cleansed.getlist(key)
            if any(isinstance(value, str) and self.is_secret(value) for value in values):
                cleansed.setlist(key, [self.cleansed_substitute] * len(values))
        return cleansed

    def get_traceback_frame_variables(self, request, tb_frame):
        variables = super().get_traceback_frame_variables(request, tb_frame)
        safe = []
        for name, value in variables:
            if isinstance(name, str) and HIDDEN_NAMES.search(name):
                value = self.cleansed_substitute
            elif self._shows_secret(value):
                value = self.cleansed_substitute
            safe.append((name, value))
        return safe

    def is_secret(self, value: str) -> bool:
        """True when ``value`` contains a configured secret or a URL's password."""
        if _CREDENTIALS_URL.search(value):
            return True
        secrets = _secrets()
        if not secrets:
            return False
        forms = {value}
        if "%" in value or "+" in value:
            forms |= {unquote(value), unquote_plus(value)}
        return any(secret in form for secret in secrets for form in forms)

    def _shows_secret(self, value: Any) -> bool:
        if value == self.cleansed_substitute:
            return False
        try:
            text = value if isinstance(value, str) else repr(value)
        except Exception:  # a repr that fails is shown as such by Django, not by us
            return False
        return self.is_secret(text)


_last: tuple[Any, int, frozenset[str]] | None = None


def _secrets() -> frozenset[str]:
    """:func:`configured_secrets`, read again when settings or the environment change."""
    global _last
    wrapped = getattr(settings, "_wrapped", None)
    environment = hash(tuple(sorted(os.environ.items())))
    last = _last
    if last is not None and last[0] is wrapped and last[1] == environment:
        return last[2]
    secrets = configured_secrets()
    _last = (wrapped, environment, secrets)
    return secrets
