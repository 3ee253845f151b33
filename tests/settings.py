"""Test settings: the example project with in-memory storages and a fast hasher.

Tests that cross HTTP point STORAGES at a live S3 server through fixtures
(``s3`` in conftest.py). ``DATABASE_URL`` selects PostgreSQL.
"""

import os

from example_project.database import database_from_url
from example_project.settings import *  # noqa: F403
from mediahub import dsn

DATABASES = {"default": database_from_url(os.environ.get("DATABASE_URL"), ":memory:")}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": dsn.parse("memory://?url=/media/"),
    "private": dsn.parse("memory://", visibility="private"),
    "easy_thumbnails": dsn.parse("memory://?url=/media/"),
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
DEBUG = False
# The suite serves no static files; WhiteNoise would warn that STATIC_ROOT (filled by
# collectstatic, which tests do not run) does not exist. tests/test_serve.py covers it.
MIDDLEWARE = [m for m in MIDDLEWARE if not m.startswith("whitenoise.")]  # noqa: F405
# Jobs run in the test's own thread (tests/test_jobs_workers.py starts real workers).
TASKS = {
    "default": {
        "BACKEND": ("django.tasks" if TASKS_BUILTIN else "django_tasks")  # noqa: F405
        + ".backends.immediate.ImmediateBackend"
    }
}
SECRET_KEY = "tests-secret-key-not-for-production"  # noqa: S105
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
