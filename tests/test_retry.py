"""mediahub.retry: what is retried, how patiently, and what the message says."""

from __future__ import annotations

import pytest
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from django.test import override_settings

from mediahub import retry


def client_error(code: str, status: int, operation: str = "PutObject", message: str = ""):
    return ClientError(
        {
            "Error": {"Code": code, "Message": message or code},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


@pytest.mark.parametrize(
    "error",
    [
        client_error("SlowDown", 503),
        client_error("InternalError", 500),
        client_error("ServiceUnavailable", 503),
        client_error("503", 503),
        client_error("RequestTimeout", 400),
        ReadTimeoutError(endpoint_url="http://s3"),
        ConnectionClosedError(endpoint_url="http://s3"),
        EndpointConnectionError(endpoint_url="http://s3"),
        ConnectionResetError(),
    ],
)
def test_transient_failures_are_retryable(error):
    assert retry.is_retryable(error)


@pytest.mark.parametrize(
    "error",
    [
        client_error("AccessDenied", 403),
        client_error("NoSuchKey", 404),
        client_error("NoSuchBucket", 404),
        client_error("PreconditionFailed", 412),
        client_error("InvalidAccessKeyId", 403),
        ValueError("bad input"),
    ],
)
def test_permanent_failures_are_not_retried(error):
    assert not retry.is_retryable(error)


def test_transfer_wrappers_are_looked_through():
    try:
        try:
            raise client_error("SlowDown", 503)
        except ClientError:
            raise S3UploadFailedError("Failed to upload /tmp/x to b/k: An error occurred") from None
    except S3UploadFailedError as wrapped:
        error = wrapped
    assert retry.is_retryable(error)
    assert retry.describe(error).startswith("PutObject failed with SlowDown (HTTP 503)")


def test_policy_retries_then_succeeds_with_growing_delays():
    slept: list[float] = []
    answers = [client_error("SlowDown", 503), ConnectionClosedError(endpoint_url="x"), "done"]

    def flaky():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    policy = retry.RetryPolicy(attempts=4, base_delay=1.0, sleep=slept.append, jitter=lambda: 1.0)
    assert policy.call(flaky) == "done"
    assert slept == [1.0, 2.0]


def test_policy_gives_up_after_the_bounded_number_of_attempts():
    calls = []

    def always_throttled():
        calls.append(1)
        raise client_error("SlowDown", 503)

    policy = retry.RetryPolicy(attempts=3, base_delay=0.1, sleep=lambda s: None)
    with pytest.raises(ClientError, match="SlowDown"):
        policy.call(always_throttled)
    assert len(calls) == 3


def test_permanent_error_is_raised_at_once():
    calls = []

    def denied():
        calls.append(1)
        raise client_error("AccessDenied", 403)

    with pytest.raises(ClientError):
        retry.RetryPolicy(attempts=5, sleep=lambda s: pytest.fail("slept")).call(denied)
    assert len(calls) == 1


def test_delay_is_capped_and_jittered():
    policy = retry.RetryPolicy(base_delay=1.0, max_delay=4.0, jitter=lambda: 0.0)
    assert [policy.delay(n) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 2.0, 2.0]


def test_attempts_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        retry.RetryPolicy(attempts=0)


@override_settings(MEDIAHUB={"RETRY_ATTEMPTS": 2, "RETRY_BACKOFF": 0.25})
def test_policy_from_settings():
    policy = retry.RetryPolicy.from_settings()
    assert (policy.attempts, policy.base_delay) == (2, 0.25)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            client_error("AccessDenied", 403, "GetObjectAcl", "Access Denied"),
            "GetObjectAcl failed with AccessDenied (HTTP 403): Access Denied; check that the "
            "storage's credentials may do this (IAM policy).",
        ),
        (
            client_error("SignatureDoesNotMatch", 403, "ListObjectsV2"),
            "ListObjectsV2 failed with SignatureDoesNotMatch (HTTP 403); check the secret key "
            "in the storage's DSN (percent-encoded).",
        ),
        (
            EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
            'cannot reach the S3 endpoint (Could not connect to the endpoint URL: "http://127.0.0.1:9"); '
            "check the DSN's host and the network.",
        ),
        (
            ReadTimeoutError(endpoint_url="http://s3"),
            "the connection to S3 failed (ReadTimeoutError); run again later.",
        ),
    ],
)
def test_describe_is_one_line_that_says_what_to_do(error, expected):
    message = retry.describe(error)
    assert message == expected
    assert "\n" not in message


def test_describe_with_action_prefix():
    message = retry.describe(client_error("NoSuchBucket", 404, "HeadBucket"), action="push")
    assert message == (
        "push: HeadBucket failed with NoSuchBucket (HTTP 404); check the bucket name in the "
        "storage's DSN."
    )


def test_module_call_uses_settings(settings):
    settings.MEDIAHUB = {"RETRY_ATTEMPTS": 1}
    calls = []

    def throttled():
        calls.append(1)
        raise client_error("SlowDown", 503)

    with pytest.raises(ClientError):
        retry.call(throttled)
    assert calls == [1]
