"""Fault handling shared by mediahub's commands and the workspace.

S3 answers some requests with transient failures: ``503 SlowDown`` when a prefix is
throttled, ``500 InternalError``, timeouts and connection resets. botocore already
retries a few times inside one call; :func:`call` adds a second, slower layer with
exponential backoff and a bounded number of attempts, so a bulk operation survives a
throttling episode instead of failing at object 7,312. Only errors that are safe to
repeat are retried (every request mediahub retries is idempotent: a full PUT from a
file, a GET, a copy, a delete, an ACL write); anything else fails at once with one
clear line (:func:`describe`) that says what to do, and never carries a secret.

    from mediahub import retry
    retry.call(client.put_object_acl, Bucket=b, Key=k, ACL="private")
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

T = TypeVar("T")

#: HTTP statuses S3 uses for transient failures.
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
#: S3 error codes that mean "try again later".
RETRYABLE_CODES = frozenset(
    {
        "SlowDown",
        "InternalError",
        "ServiceUnavailable",
        "RequestTimeout",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "OperationAborted",
    }
)
#: Network-level failures worth repeating (timeouts, resets, refused connections).
RETRYABLE_EXCEPTIONS: tuple[type[BaseException], ...] = (
    ReadTimeoutError,
    ConnectTimeoutError,
    ConnectionClosedError,
    EndpointConnectionError,
    BotoConnectionError,
    ResponseStreamingError,
    ConnectionResetError,
    TimeoutError,
)

#: What to do about the S3 error codes people meet most.
HINTS = {
    "AccessDenied": "check that the storage's credentials may do this (IAM policy)",
    "AllAccessDisabled": "the bucket is disabled; check the account",
    "InvalidAccessKeyId": "check the access key in the storage's DSN",
    "SignatureDoesNotMatch": "check the secret key in the storage's DSN (percent-encoded)",
    "NoSuchBucket": "check the bucket name in the storage's DSN",
    "PermanentRedirect": "the bucket is in another region: set ?region= in the DSN",
    "AuthorizationHeaderMalformed": "the region is wrong: set ?region= in the DSN",
    "RequestTimeTooSkewed": "this machine's clock is off: synchronise it (NTP)",
    "SlowDown": "S3 is throttling requests: run again later or with fewer --jobs",
    "InternalError": "S3 failed repeatedly: run again later",
    "ServiceUnavailable": "S3 is unavailable: run again later",
    "AccessControlListNotSupported": "the bucket has ACLs disabled (bucket owner enforced)",
    "NotImplemented": "this S3 provider does not support the request",
}


class OperationError(Exception):
    """An S3 failure that a command reports as one line (``str(error)``)."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


#: Wrappers s3transfer/boto3 put around the real error (kept in ``__context__``).
_WRAPPERS = ("S3UploadFailedError", "S3TransferFailedError", "RetriesExceededError")


def unwrap(error: BaseException) -> BaseException:
    """The S3 error inside boto3's transfer wrappers (``S3UploadFailedError``...)."""
    seen = 0
    while type(error).__name__ in _WRAPPERS and seen < 5:
        inner = error.__cause__ or error.__context__ or getattr(error, "last_exception", None)
        if inner is None:
            break
        error, seen = inner, seen + 1
    return error


def error_code(error: BaseException) -> str:
    """The S3 error code of a ``ClientError`` (``""`` for anything else)."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


def error_status(error: BaseException) -> int | None:
    """The HTTP status of a ``ClientError`` (None for anything else)."""
    if isinstance(error, ClientError):
        return error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return None


def is_retryable(error: BaseException) -> bool:
    """True for failures that may succeed if the same request is sent again."""
    error = unwrap(error)
    if isinstance(error, OperationError):
        return error.retryable
    if isinstance(error, ClientError):
        return error_code(error) in RETRYABLE_CODES or error_status(error) in RETRYABLE_STATUSES
    return isinstance(error, RETRYABLE_EXCEPTIONS)


def describe(error: BaseException, *, action: str = "") -> str:
    """One line saying what failed and what to do, with no secret in it."""
    prefix = f"{action}: " if action else ""
    error = unwrap(error)
    if isinstance(error, OperationError):
        return prefix + str(error)
    if isinstance(error, ClientError):
        code = error_code(error) or "error"
        status = error_status(error)
        operation = getattr(error, "operation_name", "") or "S3 request"
        message = error.response.get("Error", {}).get("Message", "")
        line = f"{prefix}{operation} failed with {code}" + (f" (HTTP {status})" if status else "")
        if message and message != code:
            line += f": {message.rstrip('.')}"
        hint = HINTS.get(code)
        return line + (f"; {hint}." if hint else ".")
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError):
        return (
            f"{prefix}cannot reach the S3 endpoint ({error}); check the DSN's host and the network."
        )
    if isinstance(error, RETRYABLE_EXCEPTIONS):
        return f"{prefix}the connection to S3 failed ({type(error).__name__}); run again later."
    if isinstance(error, BotoCoreError):
        return f"{prefix}{error}"
    return f"{prefix}{type(error).__name__}: {error}"


@dataclass
class RetryPolicy:
    """How often and how patiently to repeat a failed S3 request.

    ``attempts`` counts every try (1 means no retry). The delay before retry ``n`` is
    ``base_delay * 2**(n-1)`` capped at ``max_delay``, with full jitter.
    """

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    #: None: ``time.sleep``, looked up at call time (tests patch it).
    sleep: Callable[[float], None] | None = field(default=None, repr=False)
    jitter: Callable[[], float] = field(default=random.random, repr=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1.")

    @classmethod
    def from_settings(cls) -> RetryPolicy:
        """The policy configured by ``MEDIAHUB["RETRY_ATTEMPTS"]`` / ``["RETRY_BACKOFF"]``."""
        from mediahub.conf import app_settings

        return cls(attempts=app_settings.RETRY_ATTEMPTS, base_delay=app_settings.RETRY_BACKOFF)

    def delay(self, retry_number: int) -> float:
        """Seconds to wait before retry number ``retry_number`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (retry_number - 1))
        # Full jitter, but never less than half the step: parallel jobs spread out.
        return ceiling * (0.5 + 0.5 * self.jitter())

    def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``function(*args, **kwargs)``, retrying transient S3 failures."""
        for attempt in range(1, self.attempts + 1):
            try:
                return function(*args, **kwargs)
            except Exception as error:
                if attempt >= self.attempts or not is_retryable(error):
                    raise
                (self.sleep or time.sleep)(self.delay(attempt))
        raise AssertionError("unreachable")  # pragma: no cover


def call(
    function: Callable[..., T], *args: Any, policy: RetryPolicy | None = None, **kwargs: Any
) -> T:
    """``function(*args, **kwargs)`` with the configured retries (see :class:`RetryPolicy`)."""
    return (policy or RetryPolicy.from_settings()).call(function, *args, **kwargs)
