"""mediahub's models.

:class:`MediaLibrary` has no table: it carries the permissions of the admin
media library (Django's auth permissions need a model). :class:`LinkState` holds
link revocations, :class:`DownloadLog` the download audit log.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class MediaLibrary(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        verbose_name = _("media library")
        verbose_name_plural = _("media library")
        permissions = [
            ("view_public", _("Can browse public files")),
            ("view_private", _("Can browse private files")),
            ("upload", _("Can upload files and create folders")),
            ("delete", _("Can delete, rename and move files")),
            ("publish", _("Can make files public or private")),
            ("sign", _("Can create signed links to private files")),
        ]

    def __str__(self) -> str:
        return str(self._meta.verbose_name)


class PublicFiles(MediaLibrary):
    """The "Public files" entry of the admin index (no table; see mediahub.library)."""

    class Meta:
        proxy = True
        default_permissions = ()
        verbose_name = _("public files")
        verbose_name_plural = _("public files")


class PrivateFiles(MediaLibrary):
    """The "Private files" entry of the admin index (no table; see mediahub.library)."""

    class Meta:
        proxy = True
        default_permissions = ()
        verbose_name = _("private files")
        verbose_name_plural = _("private files")


class LinkState(models.Model):
    """Revocation state of the signed links of one object (``mediahub.links``).

    One row per object that ever had a link revoked, never one per issued link.
    ``generation`` is copied into every link at signing time; bumping it revokes
    every earlier link of the object. ``revoked`` lists the ids (and expiry times)
    of single links revoked since, pruned once they have expired.
    """

    #: sha256 of "storage alias NUL object name": names may exceed index limits.
    key = models.CharField(max_length=64, unique=True, editable=False)
    storage = models.CharField(_("storage"), max_length=64)
    name = models.TextField(_("object name"))
    generation = models.PositiveBigIntegerField(_("generation"), default=0)
    revoked = models.JSONField(_("revoked links"), default=dict, blank=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("link state")
        verbose_name_plural = _("link states")

    def __str__(self) -> str:
        return f"{self.storage}:{self.name} (generation {self.generation})"


class DownloadLog(models.Model):
    """One redeemed (or refused) signed link: the download audit log."""

    class Outcome(models.TextChoices):
        REDIRECTED = "redirected", _("Redirected to storage")
        STREAMED = "streamed", _("Streamed")
        EXPIRED = "expired", _("Expired")
        REVOKED = "revoked", _("Revoked")
        FORBIDDEN = "forbidden", _("Other user")
        LOGIN = "login", _("Login required")
        MISSING = "missing", _("Object missing")
        UNAVAILABLE = "unavailable", _("Storage unavailable")

    created = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    storage = models.CharField(_("storage"), max_length=64)
    name = models.TextField(_("object name"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    method = models.CharField(_("method"), max_length=8, default="GET")
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=512, blank=True)

    class Meta:
        verbose_name = _("download")
        verbose_name_plural = _("download log")
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.storage}:{self.name} ({self.outcome})"


class Job(models.Model):
    """One background job (``mediahub.jobs``): what to do, who asked, how far it got.

    The work runs as tasks of Django's task framework; this row is the job's own
    record whatever the backend: its parameters, state and progress, the cursor
    the next chunk starts from, the chunks being worked on (``leases``: who holds
    them until when) and the items that failed. Every update by a worker is a
    compare-and-swap on ``version``, so two workers never take the same chunk.
    """

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    kind = models.CharField(_("kind"), max_length=32)
    storage = models.CharField(_("storage"), max_length=64)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.QUEUED, db_index=True
    )
    done_objects = models.PositiveBigIntegerField(_("objects done"), default=0)
    total_objects = models.PositiveBigIntegerField(_("objects in total"), null=True, blank=True)
    done_bytes = models.PositiveBigIntegerField(_("bytes done"), default=0)
    total_bytes = models.PositiveBigIntegerField(_("bytes in total"), null=True, blank=True)
    #: Where the next chunk starts (``None``: at the beginning; ``{"end": true}``: no more).
    cursor = models.JSONField(_("cursor"), null=True, blank=True)
    #: Chunks being worked on: ``{token: {"items": [...], "expires": epoch seconds}}``.
    leases = models.JSONField(_("chunks in progress"), default=dict, blank=True)
    #: The first errors: ``[{"name": ..., "error": ...}]``.
    errors = models.JSONField(_("errors"), default=list, blank=True)
    error_count = models.PositiveIntegerField(_("errors in total"), default=0)
    #: Every item that failed, for "retry failed items".
    failed_items = models.JSONField(_("failed items"), default=list, blank=True)
    #: Summary of a finished job (e.g. an audit's findings).
    result = models.JSONField(_("result"), null=True, blank=True)
    retry_of = models.ForeignKey(
        "self",
        verbose_name=_("retry of"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="retries",
    )
    cancel_requested = models.BooleanField(_("cancel requested"), default=False)
    version = models.PositiveBigIntegerField(default=0, editable=False)
    created = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    started = models.DateTimeField(_("started"), null=True, blank=True)
    finished = models.DateTimeField(_("finished"), null=True, blank=True)
    heartbeat = models.DateTimeField(_("last heartbeat"), null=True, blank=True)

    class Meta:
        verbose_name = _("job")
        verbose_name_plural = _("jobs")
        ordering = ["-created", "-id"]
        default_permissions = ("view",)
        permissions = [
            ("run_operations", _("Can run audits and thumbnail generation as jobs")),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    def get_kind_display(self) -> str:
        from mediahub.jobs.kinds import KIND_TITLES

        return str(KIND_TITLES.get(self.kind, self.kind))

    @property
    def finished_state(self) -> bool:
        return self.state in (self.State.SUCCEEDED, self.State.FAILED, self.State.CANCELLED)

    @property
    def percent(self) -> int | None:
        """Progress in percent, ``None`` while the total is unknown."""
        if self.state == self.State.SUCCEEDED:
            return 100
        if not self.total_objects:
            return None
        return min(100, int(100 * self.done_objects / self.total_objects))
