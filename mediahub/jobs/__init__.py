"""Background jobs on Django's task framework.

    from mediahub import jobs
    job = jobs.start("move", storage="public",
                     params={"prefix": "photos/2024/", "target": "archive/2024/"}, user=request.user)

:func:`start` validates, records a :class:`~mediahub.models.Job`, enqueues its
task on ``MEDIAHUB["TASK_BACKEND"]`` and returns at once. Kinds:
``move``, ``delete``, ``publish``, ``thumbnails``, ``audit`` (see
:mod:`mediahub.jobs.kinds`). :func:`cancel` and :func:`retry_failed` are what the
admin's actions call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mediahub.jobs.kinds import JobError

if TYPE_CHECKING:
    from mediahub.models import Job

__all__ = [
    "JobError",
    "can_run",
    "cancel",
    "recover",
    "retry_failed",
    "start",
    "visible_to",
]


def can_run(user: Any, kind: str, storage: str) -> bool:
    """True when ``user`` may start (cancel, retry) a job of ``kind`` on ``storage``."""
    from mediahub.jobs.kinds import get_kind
    from mediahub.library.permissions import can

    action = get_kind(kind).action
    if action is None:
        return bool(user.is_active and user.is_staff and user.has_perm("mediahub.run_operations"))
    try:
        return can(user, action, storage)
    except Exception:  # not a library storage: no library permission applies
        return False


def visible_to(user: Any) -> Any:
    """A ``Q`` of the jobs ``user`` may see: their parameters, errors and results name
    objects, so a job shows only to who may browse its storage (``view_public`` /
    ``view_private``); jobs on other ``STORAGES`` aliases (audits, thumbnails) to who
    may run operations."""
    from django.db.models import Q

    from mediahub.library.permissions import can
    from mediahub.storage import VISIBILITIES

    if not (user.is_active and user.is_staff):
        return Q(pk__in=[])
    visible = Q(storage__in=[storage for storage in VISIBILITIES if can(user, "view", storage)])
    if user.has_perm("mediahub.run_operations"):
        visible |= ~Q(storage__in=VISIBILITIES)
    return visible


def start(kind: str, *, storage: str, params: dict, user: Any = None) -> Job:
    """Validate, record and enqueue a job; returns the :class:`Job` (state ``queued``).

    Raises :class:`JobError` (a ``ValueError``) for bad parameters and
    ``PermissionDenied`` when ``user`` is given and may not run it; nothing is
    recorded or enqueued then. ``user=None`` is the code's own authority
    (commands, scheduled jobs).
    """
    from django.core.exceptions import PermissionDenied

    from mediahub.conf import app_settings
    from mediahub.jobs.kinds import get_kind
    from mediahub.jobs.tasks import enqueue
    from mediahub.models import Job

    definition = get_kind(kind)
    if not isinstance(storage, str):
        raise JobError("storage must be a string ('public', 'private' or a STORAGES alias).")
    cleaned = definition.clean(storage, params)
    if user is not None and not can_run(user, kind, storage):
        raise PermissionDenied
    job = Job.objects.create(
        kind=kind,
        storage=storage,
        params=cleaned,
        requested_by=user if getattr(user, "pk", None) else None,
        total_objects=len(cleaned["names"])
        if "prefix" not in cleaned and "names" in cleaned
        else None,
    )
    tasks = max(1, app_settings.JOB_PARALLEL_TASKS)
    if kind == "audit" or ("prefix" not in cleaned and job.total_objects is not None):
        # One chunk or one step: a second task would only find the job done.
        chunks = -(-(job.total_objects or 1) // max(1, app_settings.JOB_CHUNK_SIZE))
        tasks = min(tasks, chunks)
    for _runner in range(tasks):
        enqueue(job.pk)
        job.refresh_from_db()
        if job.finished_state:  # an immediate backend ran it all
            break
    recover()  # a new job also revives those whose workers all stopped
    return job


def cancel(job: Job) -> bool:
    """Ask the job to stop after its current chunks; True if it was still unfinished."""
    from django.utils import timezone

    from mediahub.jobs.runner import NoChange, update

    def change(job):
        if job.finished_state:
            raise NoChange(False)
        job.cancel_requested = True
        if not job.leases:  # nobody works on it right now: it ends here
            job.state = job.State.CANCELLED
            job.finished = timezone.now()
        return True

    done = update(job.pk, change)
    job.refresh_from_db()
    return done


def retry_failed(job: Job, *, user: Any = None) -> Job:
    """A new job doing only the failed items of ``job`` (which must be finished)."""
    from mediahub.jobs.kinds import get_kind

    if not job.finished_state:
        raise JobError("Only a finished job can be retried.")
    if not job.failed_items:
        raise JobError("This job has no failed items.")
    params = get_kind(job.kind).retry_params(job.params, list(job.failed_items))
    new = start(job.kind, storage=job.storage, params=params, user=user)
    type(new).objects.filter(pk=new.pk).update(retry_of=job)
    new.retry_of = job
    return new


def recover() -> list[int]:
    """Re-enqueue every unfinished job nobody works on (its workers vanished).

    Workers recover each other's chunks on their own; this covers the case where
    every worker of a job stopped (a redeploy that killed them all). Called by
    :func:`start`, at the end of every job task, and by the Jobs admin page while
    it polls; a scheduler may call it too.
    """
    from django.utils import timezone

    from mediahub.jobs.runner import NoChange, stalled, update
    from mediahub.jobs.tasks import enqueue

    recovered = []
    for job_id in stalled():

        def touch(job):
            if job.finished_state:
                raise NoChange(False)
            job.heartbeat = timezone.now()  # one poller re-enqueues, not every one
            return True

        if update(job_id, touch):
            enqueue(job_id)
            recovered.append(job_id)
    return recovered
