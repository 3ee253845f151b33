"""Running a job: claim a chunk, do it, record it; many workers, no chunk done twice.

Every change a worker makes to a :class:`~mediahub.models.Job` is a
compare-and-swap on its ``version`` column (:func:`update`), which works the same
on SQLite and PostgreSQL and needs no lock held across S3 requests. A worker
*claims* a chunk by writing it into ``job.leases`` under a random token with an
expiry; a heartbeat thread pushes the expiry forward while it works; the result
is recorded only if the worker still holds its lease. A worker that vanished
(SIGKILL, OOM, a container stopped) stops heart-beating: once its lease expires
another worker claims the same items and does them again, which the operations
make idempotent (a move whose verified copy exists only deletes the original).
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import close_old_connections, connection
from django.utils import timezone

from mediahub.conf import app_settings
from mediahub.jobs.kinds import END, ChunkResult, get_kind

logger = logging.getLogger(__name__)

#: Fields a worker may change (``update`` writes them all at once).
FIELDS = (
    "state",
    "done_objects",
    "total_objects",
    "done_bytes",
    "total_bytes",
    "cursor",
    "leases",
    "errors",
    "error_count",
    "failed_items",
    "result",
    "cancel_requested",
    "started",
    "finished",
    "heartbeat",
)


class Conflict(Exception):
    """Another worker changed the job first; read it again and retry."""


def update(job_id: int, change: Callable[[Any], Any]) -> Any:
    """Apply ``change(job)`` to a fresh copy of the job and save it if nobody else did.

    ``change`` mutates the job and returns a value (returned here); it may raise
    :class:`NoChange` to save nothing. Retries on a conflicting write.
    """
    from mediahub.models import Job

    for attempt in range(200):
        job = Job.objects.get(pk=job_id)
        try:
            value = change(job)
        except NoChange as stop:
            return stop.value
        saved = Job.objects.filter(pk=job_id, version=job.version).update(
            version=job.version + 1, **{name: getattr(job, name) for name in FIELDS}
        )
        if saved:
            job.version += 1
            return value
        time.sleep(random.uniform(0.005, 0.02 * (1 + attempt % 10)))  # noqa: S311
    raise Conflict(f"Job {job_id} kept changing under this worker.")


class NoChange(Exception):  # noqa: N818 - a control-flow signal, as StopIteration
    def __init__(self, value: Any = None) -> None:
        self.value = value


def _now() -> float:
    return time.time()


def _expiry() -> float:
    return _now() + app_settings.JOB_LEASE_TIMEOUT


# -- claiming --------------------------------------------------------------------------
@dataclass
class Claim:
    items: list[dict]
    #: The chunk was claimed from a worker whose lease expired.
    resumed: bool = False


@dataclass
class Wait:
    """Nothing to claim now: other workers hold the rest until ``until`` (epoch s)."""

    until: float


def _finalize(job) -> None:
    """The job's end state once no chunk is left (cancelled, failed or succeeded)."""
    from mediahub.models import Job

    if job.cancel_requested:
        job.state = Job.State.CANCELLED
    elif job.failed_items or job.error_count:
        job.state = Job.State.FAILED
    else:
        job.state = Job.State.SUCCEEDED
    job.finished = timezone.now()
    job.leases = {}


def claim(job_id: int, token: str) -> Claim | Wait | None:
    """Claim the next chunk of the job for ``token``; ``None`` when there is none left."""
    from mediahub.models import Job

    def take_expired(job):
        if job.finished_state:
            raise NoChange(None)
        now = _now()
        for other, lease in job.leases.items():
            if lease["expires"] < now and other != token:
                logger.warning("Job %s: resuming a chunk whose worker stopped.", job_id)
                del job.leases[other]
                job.leases[token] = {"items": lease["items"], "expires": _expiry()}
                job.heartbeat = timezone.now()
                return Claim(lease["items"], resumed=True)
        if job.cancel_requested or job.cursor == END:
            if not job.leases:
                finished = job.state
                _finalize(job)
                return ("finished", finished)
            raise NoChange(Wait(min(lease["expires"] for lease in job.leases.values())))
        raise NoChange(("list", job.cursor))

    kind = None
    while True:
        outcome = update(job_id, take_expired)
        if isinstance(outcome, Claim | Wait):
            return outcome
        if isinstance(outcome, tuple) and outcome[0] == "finished":
            job = Job.objects.get(pk=job_id)
            if outcome[1] != job.state:  # this worker ended it: the kind's last step
                try:
                    get_kind(job.kind).finish(job)
                except Exception:
                    logger.exception("Job %s: its last step failed.", job_id)
            return None
        if outcome is None:
            return None
        cursor = outcome[1]
        job = Job.objects.get(pk=job_id)
        kind = kind or get_kind(job.kind)
        if cursor is None and job.total_objects is None:  # before the first chunk: count
            _count(job_id, kind, job)
        items, after = kind.next_chunk(job, cursor, app_settings.JOB_CHUNK_SIZE)

        def advance(job, cursor=cursor, items=items, after=after):
            if job.cursor != cursor or job.finished_state or job.cancel_requested:
                raise NoChange(None)  # another worker listed first: list again
            job.cursor = after
            if job.state == Job.State.QUEUED:
                job.state = Job.State.RUNNING
                job.started = timezone.now()
            job.heartbeat = timezone.now()
            if items:
                job.leases[token] = {"items": items, "expires": _expiry()}
            return Claim(items)

        claimed = update(job_id, advance)
        if claimed is not None and claimed.items:
            return claimed
        # Lost the race, or an empty chunk (a folder of non-images): go on.


def record(job_id: int, token: str, result: ChunkResult) -> bool:
    """Record a chunk's outcomes if ``token`` still holds it; True when recorded."""

    def save(job):
        if token not in job.leases:
            raise NoChange(False)  # the lease expired and another worker took the chunk
        del job.leases[token]
        limit = app_settings.JOB_MAX_ERRORS
        for outcome in result.outcomes:
            if outcome.error:
                job.error_count += 1
                job.failed_items.append(outcome.name)
                if len(job.errors) < limit:
                    job.errors.append({"name": outcome.name, "error": outcome.error})
            else:
                job.done_objects += 1
                job.done_bytes += outcome.size or 0
        if result.result is not None:
            job.result = result.result
        job.heartbeat = timezone.now()
        if (job.cursor == END or job.cancel_requested) and not job.leases:
            _finalize(job)
            return "finished"
        return True

    recorded = update(job_id, save)
    if recorded == "finished":
        from mediahub.models import Job

        job = Job.objects.get(pk=job_id)
        try:
            get_kind(job.kind).finish(job)
        except Exception:
            logger.exception("Job %s: its last step failed.", job_id)
    return bool(recorded)


class Heartbeat:
    """Keeps a claimed chunk's lease alive from a thread while the chunk runs."""

    def __init__(self, job_id: int, token: str) -> None:
        self.job_id, self.token = job_id, token
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, name=f"job-{job_id}-heartbeat", daemon=True)

    def run(self) -> None:
        interval = max(0.2, app_settings.JOB_LEASE_TIMEOUT / 3)
        try:
            while not self.stop.wait(interval):

                def beat(job):
                    if self.token not in job.leases:
                        raise NoChange(None)
                    job.leases[self.token]["expires"] = _expiry()
                    job.heartbeat = timezone.now()

                try:
                    update(self.job_id, beat)
                except Exception:
                    logger.warning("Job %s: heartbeat failed.", self.job_id, exc_info=True)
        finally:
            connection.close()

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop.set()
        self.thread.join()


# -- the worker's loop -----------------------------------------------------------------
def work(job_id: int) -> str:
    """Do chunks of the job until none is left or this task's time is up.

    Returns what the task should do next: ``"done"`` (nothing left for anyone),
    ``"continue"`` (re-enqueue: time is up) or ``"wait"`` (other workers hold the
    remaining chunks; check again once their leases could have expired).
    """
    from mediahub.models import Job

    try:
        job = Job.objects.get(pk=job_id)
    except Job.DoesNotExist:
        logger.warning("Job %s does not exist (deleted?): nothing to do.", job_id)
        return "done"
    if job.finished_state:
        return "done"
    kind = get_kind(job.kind)
    deadline = time.monotonic() + app_settings.JOB_TASK_TIME
    token = uuid.uuid4().hex
    while True:
        if not connection.in_atomic_block:
            # A long-running worker drops broken or expired connections between chunks
            # (as Django does between requests). Never inside a transaction: a task run
            # by the immediate backend in an atomic request (or a test) would lose it.
            close_old_connections()
        try:
            claimed = claim(job_id, token)
        except Exception as exc:
            _fail_listing(job_id, exc)
            return "done"
        if claimed is None:
            return "done"
        if isinstance(claimed, Wait):
            return "wait"
        job = Job.objects.get(pk=job_id)
        with Heartbeat(job_id, token):
            try:
                result = kind.process(job, claimed.items, app_settings.JOB_THREADS)
            except Exception as exc:  # a bug or an unexpected failure: the chunk fails
                logger.exception("Job %s: a chunk failed.", job_id)
                result = ChunkResult(
                    [
                        _failed(item["name"], f"{type(exc).__name__}: {exc}")
                        for item in claimed.items
                    ]
                )
        record(job_id, token, result)
        if time.monotonic() > deadline:
            return "continue"


def _failed(name: str, error: str):
    from mediahub.library.operations import Outcome

    return Outcome(name, 0, error)


def _count(job_id: int, kind, job) -> None:
    try:
        objects, size = kind.count(job)
    except Exception:
        logger.warning("Job %s: could not count its objects.", job_id, exc_info=True)
        return

    def save(job):
        if job.total_objects is not None or job.cursor is not None:
            raise NoChange(None)
        job.total_objects, job.total_bytes = objects, size

    update(job_id, save)


def _fail_listing(job_id: int, exc: BaseException) -> None:
    """The listing failed even after retries: the job fails with the reason."""
    from mediahub import retry

    logger.warning("Job %s: listing failed.", job_id, exc_info=True)
    message = retry.describe(exc) if retry.error_code(exc) or retry.is_retryable(exc) else str(exc)

    def save(job):
        if job.finished_state:
            raise NoChange(None)
        job.error_count += 1
        job.errors.append({"name": "", "error": message})
        job.cursor = END
        if not job.leases:
            _finalize(job)

    update(job_id, save)


def stalled(now: float | None = None) -> list[int]:
    """Ids of running jobs nobody works on: every lease expired, no heartbeat lately.

    Queued jobs are left alone: their tasks may just be waiting behind others (a
    re-enqueue per poll would pile up duplicates in a backlog).
    """
    from mediahub.models import Job

    now = _now() if now is None else now
    timeout = app_settings.JOB_LEASE_TIMEOUT
    quiet_since = timezone.now() - timedelta(seconds=timeout * 2)
    ids = []
    for job in Job.objects.filter(state=Job.State.RUNNING).only(
        "id", "leases", "heartbeat", "created"
    ):
        last = job.heartbeat or job.created
        if last < quiet_since and all(lease["expires"] < now for lease in job.leases.values()):
            ids.append(job.pk)
    return ids
