"""What views that start jobs share: the message that links to the job's progress."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _


def progress_url(job) -> str:
    """The admin page of ``job`` (live progress, errors, cancel, retry)."""
    return reverse("admin:mediahub_job_change", args=[job.pk])


def announce(request: HttpRequest, job, text: str) -> None:
    """A success message: ``text`` and a link to the job's progress page."""
    messages.success(
        request,
        format_html(
            '{} <a href="{}">{}</a>',
            text,
            progress_url(job),
            _("Follow job #%(id)s") % {"id": job.pk},
        ),
    )
