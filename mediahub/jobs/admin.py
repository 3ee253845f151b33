"""The Jobs admin: live progress, details with errors, cancel, retry failed items, run.

Registered under "Media library" (the ``mediahub`` app). The changelist's progress
bars poll :meth:`JobAdmin.progress_view` (small JSON, no reload). Cancel and
retry are admin actions and buttons on the job's page; each checks, per job,
that the user may run that kind of job on its storage (:func:`mediahub.jobs.can_run`).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from mediahub import jobs
from mediahub.jobs.kinds import KIND_TITLES
from mediahub.models import Job

#: Kinds an admin may launch from the Jobs page (the others start from the library).
RUNNABLE = ("audit", "thumbnails")


def progress_text(job: Job) -> str:
    """ "1,200 / 10,000 objects" (or "1,200 objects" while the total is unknown)."""
    done = number_format(job.done_objects, force_grouping=True)
    if job.total_objects is not None:
        total = number_format(job.total_objects, force_grouping=True)
        text = _("%(done)s / %(total)s objects") % {"done": done, "total": total}
    else:
        text = ngettext("%(done)s object", "%(done)s objects", job.done_objects) % {"done": done}
    if job.error_count:
        text += " · " + ngettext("%(count)s error", "%(count)s errors", job.error_count) % {
            "count": job.error_count
        }
    return text


def progress_data(job: Job) -> dict:
    return {
        "state": job.state,
        "state_display": job.get_state_display(),
        "percent": job.percent,
        "done": job.done_objects,
        "total": job.total_objects,
        "errors": job.error_count,
        "finished": job.finished_state,
        "text": progress_text(job),
    }


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("title", "storage", "state_label", "progress", "requested_by", "created")
    list_filter = ("state", "kind", "storage")
    list_select_related = ("requested_by",)
    actions = ["cancel_selected", "retry_selected"]
    change_list_template = "admin/mediahub/job/change_list.html"
    change_form_template = "admin/mediahub/job/change_form.html"
    show_full_result_count = False
    readonly_fields = (
        "kind_label",
        "storage",
        "parameters",
        "requested_by",
        "state_label",
        "progress",
        "bytes_done",
        "created",
        "started",
        "finished",
        "heartbeat",
        "retry_of",
        "error_table",
        "result_display",
    )
    fields = readonly_fields

    # -- columns -----------------------------------------------------------------------
    @admin.display(description=gettext_lazy("job"), ordering="-id")
    def title(self, job: Job) -> str:
        return str(job)

    @admin.display(description=gettext_lazy("kind"), ordering="kind")
    def kind_label(self, job: Job) -> str:
        return job.get_kind_display()

    @admin.display(description=gettext_lazy("state"), ordering="state")
    def state_label(self, job: Job) -> str:
        return format_html(
            '<span data-mediahub-job-state="{}">{}</span>', job.pk, job.get_state_display()
        )

    @admin.display(description=gettext_lazy("progress"))
    def progress(self, job: Job) -> str:
        percent = job.percent
        bar = (
            format_html('<progress max="100" value="{}">{} %</progress>', percent, percent)
            if percent is not None
            else mark_safe('<progress max="100"></progress>')  # noqa: S308
        )
        return format_html(
            '<span class="mediahub-job" data-mediahub-job="{}" data-state="{}">{} '
            '<span class="mediahub-job-text">{}</span></span>',
            job.pk,
            job.state,
            bar,
            progress_text(job),
        )

    @admin.display(description=gettext_lazy("bytes done"))
    def bytes_done(self, job: Job) -> str:
        from django.template.defaultfilters import filesizeformat

        if job.total_bytes:
            return f"{filesizeformat(job.done_bytes)} / {filesizeformat(job.total_bytes)}"
        return filesizeformat(job.done_bytes)

    @admin.display(description=gettext_lazy("parameters"))
    def parameters(self, job: Job) -> str:
        rows = []
        for key, value in job.params.items():
            if isinstance(value, list):
                shown = ", ".join(map(str, value[:20]))
                if len(value) > 20:
                    shown += " " + _("… and %(count)s more") % {"count": len(value) - 20}
                value = shown
            rows.append((key, value))
        return format_html_join(mark_safe("<br>"), "{}: {}", rows) or "-"  # noqa: S308

    @admin.display(description=gettext_lazy("errors"))
    def error_table(self, job: Job) -> str:
        if not job.errors:
            return "-"
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td></tr>", ((e["name"], e["error"]) for e in job.errors)
        )
        more = ""
        if job.error_count > len(job.errors):
            more = format_html(
                "<p>{}</p>",
                _("%(count)s more errors (all failed items are kept for a retry).")
                % {"count": job.error_count - len(job.errors)},
            )
        return format_html(
            '<table class="mediahub-job-errors"><thead><tr><th>{}</th><th>{}</th></tr></thead>'
            "<tbody>{}</tbody></table>{}",
            _("Object"),
            _("Error"),
            rows,
            more,
        )

    @admin.display(description=gettext_lazy("result"))
    def result_display(self, job: Job) -> str:
        if not job.result:
            return "-"
        import json

        return format_html("<pre>{}</pre>", json.dumps(job.result, indent=2, default=str)[:20000])

    # -- permissions ---------------------------------------------------------------------
    def get_queryset(self, request: HttpRequest):
        """Only jobs on storages the user may browse: parameters and errors name objects."""
        return super().get_queryset(request).filter(jobs.visible_to(request.user))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_manage_permission(self, request: HttpRequest) -> bool:
        """Cancel/retry actions are offered to users who see jobs; each job is checked."""
        return self.has_view_permission(request)

    def can_run_operations(self, request: HttpRequest) -> bool:
        return jobs.can_run(request.user, "audit", "")

    # -- actions -------------------------------------------------------------------------
    @admin.action(description=gettext_lazy("Cancel selected jobs"), permissions=["manage"])
    def cancel_selected(self, request: HttpRequest, queryset) -> None:
        cancelled = refused = 0
        for job in queryset:
            if not jobs.can_run(request.user, job.kind, job.storage):
                refused += 1
            elif jobs.cancel(job):
                cancelled += 1
        self._report(request, cancelled, refused, _("Cancelled %(count)s jobs."))

    @admin.action(description=gettext_lazy("Retry failed items"), permissions=["manage"])
    def retry_selected(self, request: HttpRequest, queryset) -> None:
        started = refused = 0
        for job in queryset:
            if not jobs.can_run(request.user, job.kind, job.storage):
                refused += 1
                continue
            try:
                jobs.retry_failed(job, user=request.user)
                started += 1
            except (jobs.JobError, PermissionDenied) as exc:
                messages.warning(request, f"{job}: {exc}")
        self._report(request, started, refused, _("Started %(count)s retry jobs."))

    def _report(self, request, done: int, refused: int, text: str) -> None:
        if done:
            messages.success(request, text % {"count": done})
        if refused:
            messages.error(
                request,
                ngettext(
                    "%(count)s job was skipped: you may not run jobs of its kind.",
                    "%(count)s jobs were skipped: you may not run jobs of their kind.",
                    refused,
                )
                % {"count": refused},
            )

    # -- views ---------------------------------------------------------------------------
    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("progress/", wrap(self.progress_view), name="mediahub_job_progress"),
            path("run/", wrap(self.run_view), name="mediahub_job_run"),
            path("<int:job_id>/cancel/", wrap(self.cancel_view), name="mediahub_job_cancel"),
            path("<int:job_id>/retry/", wrap(self.retry_view), name="mediahub_job_retry"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra = {"can_run_operations": self.can_run_operations(request), **(extra_context or {})}
        return super().changelist_view(request, extra)

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        job = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if job is not None:
            allowed = jobs.can_run(request.user, job.kind, job.storage)
            extra["can_cancel"] = allowed and not job.finished_state
            extra["can_retry"] = allowed and job.finished_state and bool(job.failed_items)
            extra["failed_count"] = len(job.failed_items)
        return super().change_view(request, object_id, form_url, extra)

    def progress_view(self, request: HttpRequest) -> JsonResponse:
        """``?ids=1,2``: state and progress of those jobs (what the bars poll)."""
        if request.method != "GET":
            return JsonResponse({"error": "GET only"}, status=405)
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            ids = [int(i) for i in request.GET.get("ids", "").split(",") if i][:200]
        except ValueError:
            return JsonResponse({"error": _("ids must be numbers.")}, status=400)
        jobs.recover()  # a job whose workers all vanished gets new ones
        visible = self.get_queryset(request).filter(pk__in=ids)
        answer = {str(job.pk): progress_data(job) for job in visible}
        response = JsonResponse({"jobs": answer})
        response["Cache-Control"] = "no-store"
        return response

    def _job_for_action(self, request: HttpRequest, job_id: int) -> Job:
        if not self.has_view_permission(request):
            raise PermissionDenied
        job = get_object_or_404(self.get_queryset(request), pk=job_id)
        if not jobs.can_run(request.user, job.kind, job.storage):
            raise PermissionDenied
        return job

    def cancel_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponse(status=405)
        job = self._job_for_action(request, job_id)
        if jobs.cancel(job):
            messages.success(
                request, _("%(job)s will stop after its current chunk.") % {"job": job}
            )
        else:
            messages.warning(request, _("%(job)s had finished already.") % {"job": job})
        return HttpResponseRedirect(reverse("admin:mediahub_job_change", args=[job.pk]))

    def retry_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponse(status=405)
        job = self._job_for_action(request, job_id)
        try:
            new = jobs.retry_failed(job, user=request.user)
        except jobs.JobError as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(reverse("admin:mediahub_job_change", args=[job.pk]))
        messages.success(
            request,
            _("%(new)s retries the %(count)s failed items of %(job)s.")
            % {"new": new, "count": len(job.failed_items), "job": job},
        )
        return HttpResponseRedirect(reverse("admin:mediahub_job_change", args=[new.pk]))

    def run_view(self, request: HttpRequest) -> HttpResponse:
        """ "Run audit" / "Generate thumbnails": a small form, then a job."""
        if not self.can_run_operations(request):
            raise PermissionDenied
        data = request.POST if request.method == "POST" else request.GET
        kind = data.get("kind", "audit")
        if kind not in RUNNABLE:
            raise Http404("Unknown kind of job.")
        error = None
        if request.method == "POST":
            storage = data.get("storage", "public")
            if kind == "audit":
                params = {
                    "fix": data.get("fix") == "on",
                    "fix_policy": data.get("fix_policy") == "on",
                }
            else:
                params = {"prefix": data.get("prefix", "")}
            try:
                job = jobs.start(kind, storage=storage, params=params, user=request.user)
            except jobs.JobError as exc:
                error = str(exc)
            else:
                messages.success(request, _("Started %(job)s.") % {"job": job})
                return HttpResponseRedirect(reverse("admin:mediahub_job_change", args=[job.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": KIND_TITLES[kind],
            "kind": kind,
            "error": error,
            "storages": (("public", _("Public files")), ("private", _("Private files"))),
        }
        return render(request, "admin/mediahub/job/run.html", context, status=400 if error else 200)
