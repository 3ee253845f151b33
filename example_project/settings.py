"""Settings of mediahub's example project, in the shape of a production site.

Everything that differs between deployments comes from the environment (twelve-factor);
with nothing set it runs locally on folders under ``var/`` with ``DEBUG`` off:

    DJANGO_SECRET_KEY=...                 DJANGO_DEBUG=1 (development only)
    DJANGO_ALLOWED_HOSTS=www.example.com  DJANGO_CSRF_TRUSTED_ORIGINS=https://www.example.com
    DEFAULT_STORAGE_DSN=s3://KEY:SECRET@my-public.s3.eu-west-1.amazonaws.com
    PRIVATE_STORAGE_DSN=s3://KEY:SECRET@my-private.s3.eu-west-1.amazonaws.com
    DATABASE_URL=postgres://user:password@db:5432/site
    STATIC_STORAGE_DSN=s3://KEY:SECRET@my-public.s3.eu-west-1.amazonaws.com/static
        (optional: static files in the public bucket instead of WhiteNoise)
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from mediahub import dsn

from .database import database_from_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("MEDIAHUB_DEMO_VAR", BASE_DIR / "var"))

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-project-insecure-key-change-me")
# Off unless asked (DJANGO_DEBUG=1; `make demo` asks): the debug page shows settings.
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
# Error pages and reports hide DSNs and storage secrets (mediahub.debug).
DEFAULT_EXCEPTION_REPORTER_FILTER = "mediahub.debug.SecretsReporterFilter"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
CSRF_TRUSTED_ORIGINS = [
    origin
    for origin in os.environ.get(
        "DJANGO_CSRF_TRUSTED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000"
    ).split(",")
    if origin
]

FILER_INSTALLED = importlib.util.find_spec("filer") is not None

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "easy_thumbnails",
    "mediahub",
    "example_project.demo",
]
if FILER_INSTALLED:
    INSTALLED_APPS += ["filer", "mediahub.contrib.filer"]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files under gunicorn (or any WSGI server): compressed, hashed, cached forever.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Pick tokens of the "Choose existing" picker are bound to the user (mediahub.W030).
    "mediahub.picker.PickerMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
WSGI_APPLICATION = "example_project.wsgi.application"

DATABASES = {"default": database_from_url(os.environ.get("DATABASE_URL"), VAR_DIR / "db.sqlite3")}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"

# --- Storages: one DSN each -------------------------------------------------------
DEFAULT_STORAGE_DSN = os.environ.get("DEFAULT_STORAGE_DSN") or (
    f"file://{VAR_DIR / 'media'}?url=/media/"
)
PRIVATE_STORAGE_DSN = os.environ.get("PRIVATE_STORAGE_DSN") or f"file://{VAR_DIR / 'private'}"
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"

STORAGES = {
    "default": dsn.parse(DEFAULT_STORAGE_DSN),
    "private": dsn.parse(PRIVATE_STORAGE_DSN, visibility="private"),
    "easy_thumbnails": dsn.parse(DEFAULT_STORAGE_DSN),
    # WhiteNoise serves the output of `collectstatic` with hashed names, gzip and brotli.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
if os.environ.get("STATIC_STORAGE_DSN"):
    # The alternative: `collectstatic` uploads static files to the public bucket (or a
    # CDN in front of it) and pages link there; WhiteNoise then has nothing to serve.
    STORAGES["staticfiles"] = dsn.parse(os.environ["STATIC_STORAGE_DSN"])
# In development (DJANGO_DEBUG=1) WhiteNoise serves straight from the apps' folders,
# so `runserver` needs no collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
THUMBNAIL_CACHE_DIMENSIONS = True

if FILER_INSTALLED:
    # django-filer on mediahub's storages; private files served by signed redirect.
    from mediahub.contrib.filer import filer_servers, filer_storages

    FILER_STORAGES = filer_storages()
    FILER_SERVERS = filer_servers()
    # Shows filer's public/private switch ("Permissions" on a file): without it filer
    # hides the control and every file stays in the storage it was uploaded to.
    FILER_ENABLE_PERMISSIONS = True

MEDIAHUB = {
    "PAGE_SIZE": int(os.environ.get("MEDIAHUB_PAGE_SIZE", "100")),
}

# --- Background jobs (mediahub.jobs): Django's task framework ---------------------
# MEDIAHUB_TASKS picks the engine: "database" (default; run `manage.py db_worker`),
# "rq" (Redis at REDIS_URL; run `manage.py rqworker --with-scheduler`; the default when
# REDIS_URL is set) or "immediate" (in the web request: tests only).
TASKS_ENGINE = os.environ.get("MEDIAHUB_TASKS") or (
    "rq" if os.environ.get("REDIS_URL") else "database"
)
TASKS_BUILTIN = importlib.util.find_spec("django.tasks") is not None  # Django 6+
if not TASKS_BUILTIN:
    INSTALLED_APPS += ["django_tasks"]  # the backport (Django 5.2)
if TASKS_ENGINE == "immediate":
    TASKS_IMMEDIATE = "django.tasks" if TASKS_BUILTIN else "django_tasks"
    TASKS = {"default": {"BACKEND": f"{TASKS_IMMEDIATE}.backends.immediate.ImmediateBackend"}}
elif TASKS_ENGINE == "rq":
    INSTALLED_APPS += ["django_rq"]
    RQ_QUEUES = {"default": {"URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")}}
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
else:
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
INSTALLED_APPS += ["django_tasks_db"]

LOGIN_URL = "admin:login"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
