"""Shared fixtures.

* ``s3_server`` (session): the S3 endpoint. moto's server on 127.0.0.1 by default;
  a real S3 implementation (Ceph RGW, ``make test-rgw``) when
  ``MEDIAHUB_TEST_S3_ENDPOINT`` is set. Tests are shared, the fixture picks.
* ``s3`` (function): a fresh public/private bucket pair in mediahub's layout with
  ``STORAGES`` pointed at it (through DSNs, as a user would configure it).
* ``count_requests``: counts S3 requests via botocore event hooks.
* ``browser_page``: a Playwright page in Debian's headless Chromium.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from django.core.files.storage import storages

from mediahub import dsn
from mediahub.testing.requests import RequestCounter, counting_requests
from mediahub.testing.s3server import Layout, MotoServer, create_layout

CHROMIUM = os.environ.get("MEDIAHUB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@dataclass
class S3Endpoint:
    url: str
    kind: str  # "moto" or "rgw"
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    @property
    def is_real(self) -> bool:
        return self.kind != "moto"


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Endpoint]:
    endpoint = os.environ.get("MEDIAHUB_TEST_S3_ENDPOINT")
    if endpoint:
        yield S3Endpoint(
            url=endpoint,
            kind=os.environ.get("MEDIAHUB_TEST_S3", "rgw"),
            access_key=os.environ["MEDIAHUB_TEST_S3_ACCESS_KEY"],
            secret_key=os.environ["MEDIAHUB_TEST_S3_SECRET_KEY"],
            region=os.environ.get("MEDIAHUB_TEST_S3_REGION", "us-east-1"),
        )
        return
    with MotoServer() as server:
        from mediahub.testing.s3server import ACCESS_KEY, SECRET_KEY

        yield S3Endpoint(
            url=server.endpoint, kind="moto", access_key=ACCESS_KEY, secret_key=SECRET_KEY
        )


@dataclass
class S3Fixture:
    """The live buckets of one test, with helpers to look at them from outside."""

    endpoint: S3Endpoint
    layout: Layout

    @property
    def public_bucket(self) -> str:
        return self.layout.public_bucket

    @property
    def private_bucket(self) -> str:
        return self.layout.private_bucket

    def client(self):
        return self.layout.client()

    def object_url(self, bucket: str, key: str) -> str:
        return f"{self.endpoint.url}/{bucket}/{key}"

    def anonymous_get(self, bucket: str, key: str) -> requests.Response:
        """GET the object with no credentials at all, as a stranger would."""
        return requests.get(self.object_url(bucket, key), timeout=10)

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        paginator = self.client().get_paginator("list_objects_v2")
        return [
            item["Key"]
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", ())
        ]


def make_bucket_name(role: str) -> str:
    return f"t-{role}-{uuid.uuid4().hex[:16]}"


@pytest.fixture
def s3(s3_server: S3Endpoint, settings) -> Iterator[S3Fixture]:
    layout = create_layout(
        s3_server.url,
        make_bucket_name("pub"),
        make_bucket_name("prv"),
        access_key=s3_server.access_key,
        secret_key=s3_server.secret_key,
        region=s3_server.region,
    )
    _remember_conditional_writes(s3_server, layout)
    public = dsn.parse(layout.public_dsn)
    # Through pytest-django's ``settings`` rather than a nested override_settings: a test
    # that also sets ``settings.X`` then has both undone in the right order (a nested
    # override made ``settings`` restore a snapshot holding these STORAGES, leaking them
    # into every later test).
    settings.STORAGES = {
        "default": public,
        "private": dsn.parse(layout.private_dsn, visibility="private"),
        "easy_thumbnails": public,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    yield S3Fixture(endpoint=s3_server, layout=layout)


_conditional_support: dict[str, object] = {}


def _remember_conditional_writes(endpoint: S3Endpoint, layout: Layout) -> None:
    """Probe the endpoint's conditional writes once per process, not for every test's buckets.

    The storages' automatic probe (``mediahub.storage.conditional``) would otherwise run
    in each test and add its requests to the test's request counts.
    """
    from mediahub.storage import conditional

    if endpoint.url not in _conditional_support:
        _conditional_support[endpoint.url] = conditional.probe_bucket(
            layout.client(), layout.public_bucket
        )
    for bucket in (layout.public_bucket, layout.private_bucket):
        conditional.remember(endpoint.url, bucket, _conditional_support[endpoint.url])


@pytest.fixture
def count_requests() -> Iterator[RequestCounter]:
    """Count every S3 request any botocore client makes while the test runs."""
    with counting_requests() as counter:
        yield counter


@pytest.fixture
def fail_s3(monkeypatch):
    """``fail_s3("ListObjectsV2", status=503)`` makes the next matching S3 calls fail.

    ``timeout=True`` raises a read timeout, ``reset=True`` a dropped connection instead.

    The fault is raised in botocore's ``before-send`` stage, i.e. as a real HTTP
    answer would be parsed (retries included), never by patching mediahub.
    """
    from botocore.client import BaseClient
    from botocore.exceptions import ConnectionClosedError, ReadTimeoutError

    from tests.responses import canned_response

    rules: list[dict] = []
    original = BaseClient._make_api_call

    def install(
        operation: str = "*",
        *,
        status: int = 503,
        timeout: bool = False,
        reset: bool = False,
        times: int = 10**6,
    ):
        rules.append(
            {"op": operation, "status": status, "timeout": timeout, "reset": reset, "left": times}
        )

    def hook(request, **kwargs):
        op = kwargs.get("event_name", "").rsplit(".", 1)[-1]
        for rule in rules:
            if rule["left"] > 0 and rule["op"] in ("*", op):
                rule["left"] -= 1
                if rule["timeout"]:
                    raise ReadTimeoutError(endpoint_url=request.url)
                if rule["reset"]:  # the connection dropped mid-request
                    raise ConnectionClosedError(endpoint_url=request.url)
                body = (
                    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>"
                    + (b"SlowDown" if rule["status"] == 503 else b"InternalError")
                    + b"</Code><Message>injected</Message></Error>"
                )
                return canned_response(request.url, rule["status"], body)
        return None

    def patched(self, operation_name, api_params):
        events = self.meta.events
        if not getattr(events, "_mediahub_fault_hook", False):
            events.register("before-send.s3", hook)
            events._mediahub_fault_hook = True
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", patched)
    return install


@pytest.fixture
def nested_private(s3, settings):
    """The private storage nested under ``private/`` of the public bucket (one bucket)."""
    public = dsn.parse(s3.layout.dsn(s3.public_bucket))
    settings.STORAGES = {
        **settings.STORAGES,
        "default": public,
        "easy_thumbnails": public,
        "private": dsn.parse(s3.layout.dsn(s3.public_bucket, "private"), visibility="private"),
    }
    return s3


@pytest.fixture
def empty_object_cache() -> Iterator[None]:
    """Django's cache (where redemptions cache object state) emptied before and after."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _reset_storages():
    """Storages are per-settings singletons; start every test from a clean cache."""
    yield
    storages._storages = {}


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if shutil.which(CHROMIUM) or os.path.exists(CHROMIUM):
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: CI must install it (apt-get install chromium)."
        )
    pytest.skip(f"Browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium).")


@pytest.fixture(scope="session")
def browser(chromium_path):
    # Playwright's sync API runs an event loop in this thread; Django's ORM must still work.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("playwright is not installed (pip install -e .[dev]).")
        pytest.skip("Browser tests need playwright (pip install -e .[dev]).")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


@pytest.fixture
def browser_page(browser, request):
    """A fresh browser page; a screenshot is saved in ``var/screenshots`` after the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    shots = os.path.join(os.path.dirname(os.path.dirname(__file__)), "var", "screenshots")
    os.makedirs(shots, exist_ok=True)
    try:
        page.screenshot(path=os.path.join(shots, f"{request.node.name}.png"), full_page=True)
    finally:
        context.close()


@pytest.fixture
def click_closing():
    """``click_closing(popup, selector)``: click a button that closes its own window.

    The picker's "Choose" closes the popup, sometimes before Playwright's click
    returns; that is the expected outcome, not an error.
    """
    from playwright.sync_api import Error as PlaywrightError

    def click(popup, selector: str) -> None:
        try:
            popup.click(selector, no_wait_after=True)
        except PlaywrightError:
            if not popup.is_closed():
                raise

    return click
