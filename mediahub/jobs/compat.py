"""Django's task framework: ``django.tasks`` (Django 6.x) or the ``django_tasks`` backport.

The only module of mediahub that knows where the Tasks API comes from; the rest
imports :func:`task`, :data:`task_backends` and friends from here.
"""

from __future__ import annotations

try:  # Django 6.0+
    from django.tasks import TaskResultStatus, task, task_backends
    from django.tasks.base import DEFAULT_TASK_BACKEND_ALIAS
    from django.tasks.exceptions import InvalidTask as InvalidTaskError
    from django.tasks.exceptions import InvalidTaskBackend as InvalidTaskBackendError

    SOURCE = "django.tasks"
except ImportError:  # Django 5.2: the backport (pip install django-tasks)
    from django_tasks import (  # type: ignore[no-redef]
        DEFAULT_TASK_BACKEND_ALIAS,
        TaskResultStatus,
        task,
        task_backends,
    )
    from django_tasks.exceptions import (  # type: ignore[no-redef]
        InvalidTaskBackendError,
        InvalidTaskError,
    )

    SOURCE = "django_tasks"

__all__ = [
    "DEFAULT_TASK_BACKEND_ALIAS",
    "InvalidTaskBackendError",
    "InvalidTaskError",
    "SOURCE",
    "TaskResultStatus",
    "task",
    "task_backends",
]
