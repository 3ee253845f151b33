"""Canned S3 answers for tests that inject faults into botocore's requests."""

from __future__ import annotations

from botocore.awsrequest import AWSResponse


def canned_response(url: str, status: int, body: bytes) -> AWSResponse:
    """An HTTP answer with ``status`` and ``body``, as if the server had sent it."""
    return AWSResponse(url, status, {}, _Raw(body))


class _Raw:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **kwargs):
        yield self._body

    def read(self, *args):
        body, self._body = self._body, b""
        return body
