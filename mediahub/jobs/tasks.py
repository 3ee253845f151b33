"""The job's task: a thin wrapper, as the Tasks API's own examples (STYLE.md §11).

Load the job, run its chunks (:func:`mediahub.jobs.runner.work`: claim, call the
operation with the saved cursor, record progress), then re-enqueue itself or
finish. Enqueued on ``MEDIAHUB["TASK_BACKEND"]`` (:func:`enqueue`).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from mediahub.conf import app_settings
from mediahub.jobs.compat import task, task_backends

logger = logging.getLogger(__name__)


@task()
def run_job(job_id: int) -> str:
    """Work on job ``job_id`` for up to ``JOB_TASK_TIME`` seconds, then hand over."""
    from mediahub.jobs import recover, runner

    state = runner.work(job_id)
    if state == "continue":
        enqueue(job_id)
    elif state == "wait":
        # The other chunks are leased: if their worker died, take them over later.
        enqueue(job_id, delay=app_settings.JOB_LEASE_TIMEOUT + 1)
    recover()  # jobs whose every worker stopped (their tasks died with them)
    return state


def enqueue(job_id: int, *, delay: float | None = None):
    """Enqueue :func:`run_job` on the configured backend (``delay`` where supported)."""
    alias = app_settings.TASK_BACKEND
    backend = task_backends[alias]
    if delay is not None:
        if not backend.supports_defer:
            return None  # immediate/dummy backends: nothing runs later; no worker can vanish
        return run_job.using(
            backend=alias, run_after=timezone.now() + timedelta(seconds=delay)
        ).enqueue(job_id)
    return run_job.using(backend=alias).enqueue(job_id)
