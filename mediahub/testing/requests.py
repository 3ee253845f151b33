"""Counting S3 requests through botocore, for tests and benchmarks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager


class RequestCounter(Counter):
    """S3 operations made, by name (``counter["ListObjectsV2"]``)."""

    @property
    def total(self) -> int:
        return sum(self.values())


@contextmanager
def counting_requests() -> Iterator[RequestCounter]:
    """Count every S3 API call any botocore client makes inside the block."""
    from botocore.client import BaseClient

    counter = RequestCounter()
    original = BaseClient._make_api_call

    def counting(self, operation_name, api_params):
        counter[operation_name] += 1
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = counting
    try:
        yield counter
    finally:
        BaseClient._make_api_call = original
