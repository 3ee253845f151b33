"""Selection and bulk actions of the media library, in the Django admin's idiom.

The browse page posts the checked rows (``selected``: file names, and folder
names ending in ``/``), or "everything in this folder" (``select_across=1``,
minus ``exclude``), with an ``action``. :class:`BulkViews` answers with a
confirmation page that states the count (counted by listing, never from the
request), then, on ``confirm``, either acts in the request (a few files, at
most ``MEDIAHUB["BULK_INLINE_LIMIT"]``) or hands the work to a job
(:func:`mediahub.jobs.start`) with ``{"prefix": ...}`` and ``{"exclude": [...]}``
instead of an enumerated list, and links to its progress page.
"""

from __future__ import annotations

import logging
import posixpath
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.core.exceptions import SuspiciousFileOperation
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from mediahub.conf import app_settings
from mediahub.library import browsing, operations, signing_views, zipdownload
from mediahub.library.errors import LibraryError
from mediahub.library.forms import SignForm, TargetFolderForm
from mediahub.library.location import Location
from mediahub.library.permissions import can, check_storage, other_storage, require
from mediahub.library.views import HANDLED, error_message
from mediahub.names import validate_folder, validate_name
from mediahub.storage import get_storage

logger = logging.getLogger(__name__)

#: Bulk actions: the library permission each needs and its label in the action menu.
ACTIONS: dict[str, tuple[str, Any]] = {
    "move": ("move", gettext_lazy("Move to…")),
    "publish": ("publish", None),  # "Make public/private": labelled per storage
    "delete": ("delete", gettext_lazy("Delete")),
    "sign": ("sign", gettext_lazy("Create signed links")),
    "zip": ("view", gettext_lazy("Download as ZIP")),
}
#: Most explicitly selected rows one request takes (a page holds ``PAGE_SIZE``).
MAX_SELECTED = 1000


def action_label(action: str, storage: str) -> str:
    if action == "publish":
        return str(_("Make private") if storage == "public" else _("Make public"))
    return str(ACTIONS[action][1])


def available_actions(user, storage: str) -> list[tuple[str, str]]:
    """``(action, label)`` of the bulk actions ``user`` may run on ``storage``."""
    return [
        (action, action_label(action, storage))
        for action, (permission, _label) in ACTIONS.items()
        if can(user, permission, storage) and (action != "sign" or storage == "private")
    ]


@dataclass
class Selection:
    """What the user selected in folder ``path`` (with the name filter ``prefix``)."""

    storage: str
    path: str = ""
    prefix: str = ""
    files: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    across: bool = False
    exclude: list[str] = field(default_factory=list)

    @property
    def scope(self) -> str:
        """The key prefix "everything in this folder" stands for."""
        return self.path + self.prefix

    def hidden_fields(self) -> list[tuple[str, str]]:
        """The selection again, as hidden inputs of the confirmation form."""
        fields = [("path", self.path), ("prefix", self.prefix)]
        if self.across:
            fields.append(("select_across", "1"))
            fields += [("exclude", name) for name in self.exclude]
        else:
            fields += [("selected", name) for name in [*self.folders, *self.files]]
        return fields

    def is_excluded(self, name: str) -> bool:
        return any(name == ex or (ex.endswith("/") and name.startswith(ex)) for ex in self.exclude)


def parse_selection(data, storage: str, location: Location) -> Selection:
    """Read and validate a selection; :class:`LibraryError` says what is wrong."""
    selection = Selection(storage=storage, path=location.path, prefix=location.prefix)
    selection.across = data.get("select_across") == "1"
    names = data.getlist("exclude" if selection.across else "selected")
    if len(names) > MAX_SELECTED:
        raise LibraryError(
            _("Select at most %(max)s rows, or select everything in the folder.")
            % {"max": MAX_SELECTED}
        )
    seen = set()
    for name in names:
        if name in seen:
            continue
        seen.add(name)
        if not name.startswith(location.path) or name == location.path:
            raise LibraryError(_("The selection must be inside the current folder."))
        if name.endswith("/"):
            validate_folder(name)
            (selection.exclude if selection.across else selection.folders).append(name)
        else:
            validate_name(name)
            (selection.exclude if selection.across else selection.files).append(name)
    if not selection.across and not (selection.files or selection.folders):
        raise LibraryError(
            _(
                "Items must be selected in order to perform actions on them. No items have been changed."
            )
        )
    return selection


@dataclass
class Count:
    """Objects a selection stands for, counted by listing (up to ``limit``)."""

    files: int = 0
    bytes: int = 0
    truncated: bool = False
    names: list[str] = field(default_factory=list)  # up to SHOWN, for the confirmation page


SHOWN = 20


def count(selection: Selection, *, limit: int | None = None, keep: int = SHOWN) -> Count:
    """Count the files a selection covers (folders recursively), by listing them."""
    limit = app_settings.BULK_COUNT_LIMIT if limit is None else limit
    result = Count()

    def add(name: str, size: int) -> bool:
        if result.files >= limit:
            result.truncated = True
            return False
        result.files += 1
        result.bytes += size
        if len(result.names) < keep:
            result.names.append(name)
        return True

    target = get_storage(selection.storage)
    if selection.across:
        hidden = browsing.thumbnail_folder(selection.storage)  # never offered for actions
        for entry in operations._walk(target, selection.path):
            if entry is None or not entry.path.startswith(selection.scope):
                continue
            if selection.is_excluded(entry.path) or (hidden and entry.path.startswith(hidden)):
                continue
            if not add(entry.path, entry.size or 0):
                break
        return result
    for folder in selection.folders:
        for entry in operations._walk(target, folder):
            if entry is not None and not add(entry.path, entry.size or 0):
                return result
    for name in selection.files:
        if not add(name, 0):
            break
    return result


def expand_files(selection: Selection, limit: int) -> list[str]:
    """Every file name of a selection (folders expanded), at most ``limit`` (else an error)."""
    counted = count(selection, limit=limit, keep=limit)
    if counted.truncated:
        raise LibraryError(
            _("This action takes at most %(max)s files at once; select fewer.") % {"max": limit}
        )
    return counted.names


# -- jobs -------------------------------------------------------------------------------
JOB_KINDS = {"move": "move", "delete": "delete", "publish": "publish"}


def jobs_module():
    module = browsing.optional_module("mediahub.jobs")
    return module if module is not None and hasattr(module, "start") else None


def job_params(selection: Selection, action: str, target: str | None) -> list[dict[str, Any]]:
    """The parameters of the job(s) a bulk action becomes (see :func:`mediahub.jobs.start`).

    "Everything in this folder" is ``{"prefix": folder}`` (the job lists it, chunk by
    chunk). With exclusions, a name filter, the top level or a move into a folder
    that exists (the job never merges folders), the server lists the selection once
    and passes ``{"names": [...]}`` (with ``base``: files keep their path below it).
    """
    moving = target is not None
    if selection.across:
        simple = bool(selection.path) and not selection.prefix and not selection.exclude
        if simple and moving:
            simple = not operations.folder_exists(get_storage(selection.storage), target)
        if simple:
            params: dict[str, Any] = {"prefix": selection.path}
            if moving:
                params["target"] = target
            return [params]
        names = expand_files(selection, MAX_JOB_NAMES)
        params = {"names": names}
        if moving:
            params["target"] = target
            if selection.path:
                params["base"] = selection.path
        return [params]
    result = []
    for folder in selection.folders:
        params = {"prefix": folder}
        if moving:
            params["target"] = target + posixpath.basename(folder.rstrip("/")) + "/"
        result.append(params)
    if selection.files:
        params = {"names": selection.files}
        if moving:
            params["target"] = target
            if selection.path:
                params["base"] = selection.path
        result.append(params)
    return result


#: Most names the library lists into one job's parameters (the job's own cap is higher).
MAX_JOB_NAMES = 50_000


def start_jobs(selection: Selection, action: str, user, target: str | None = None) -> list:
    """Start the job(s) of a bulk action; :class:`LibraryError` when jobs are unavailable."""
    jobs = jobs_module()
    if jobs is None:
        raise LibraryError(
            _(
                "This selection is larger than %(max)s objects and needs background jobs "
                "(mediahub.jobs), which are not installed. Select fewer objects."
            )
            % {"max": app_settings.BULK_INLINE_LIMIT}
        )
    all_params = job_params(selection, action, target)
    started = []
    for params in all_params:
        try:
            started.append(
                jobs.start(JOB_KINDS[action], storage=selection.storage, params=params, user=user)
            )
        except ValueError as exc:  # mediahub.jobs.JobError: bad parameters, nothing started
            if started:
                messages_note = _("%(count)s job(s) started before this error.") % {
                    "count": len(started)
                }
                raise LibraryError(f"{exc} {messages_note}") from None
            raise LibraryError(str(exc)) from None
    return started


def announce_job(request, job, text: str) -> None:
    """A success message linking to the job's progress page (the jobs app's own helper)."""
    web = browsing.optional_module("mediahub.jobs.web")
    if web is not None and hasattr(web, "announce"):
        web.announce(request, job, text)
        return
    messages.success(
        request, format_html('{} <a href="{}">{}</a>', text, job_url(job), _("See its progress"))
    )


def job_url(job) -> str:
    for name, args in (
        ("admin:mediahub_job_change", [job.pk]),
        ("admin:mediahub_job_changelist", []),
    ):
        try:
            return reverse(name, args=args)
        except NoReverseMatch:
            continue
    return reverse("admin:index")


# -- acting in the request -------------------------------------------------------------
def run_inline(
    selection: Selection, action: str, *, target: str | None, warn
) -> tuple[int, list[str]]:
    """Run a small bulk action now; returns ``(done, errors)``. Each object on its own."""
    storage = selection.storage
    done, errors = 0, []
    for folder in selection.folders:
        try:
            if action == "move":
                new = target + posixpath.basename(folder.rstrip("/")) + "/"
                operations.move_folder(storage, folder, new, warn=warn)
            elif action == "delete":
                operations.delete_folder(storage, folder, warn=warn)
            else:
                raise LibraryError(
                    _("%(name)s is a folder: select its files to make them public or private.")
                    % {"name": folder}
                )
            done += 1
        except HANDLED as exc:
            errors.append(f"{folder}: {error_message(exc)}")
    for name in selection.files:
        try:
            if action == "move":
                operations.move_file(storage, name, target + posixpath.basename(name), warn=warn)
            elif action == "delete":
                operations.delete_file(storage, name, warn=warn)
            elif action == "publish":
                operations.change_visibility(storage, name, warn=warn)
            done += 1
        except HANDLED as exc:
            errors.append(f"{name}: {error_message(exc)}")
    return done, errors


class BulkViews:
    """The confirmation page and the execution of bulk actions."""

    def __init__(self, admin_site, library_views) -> None:
        self.admin_site = admin_site
        self.library = library_views

    def bulk(self, request: HttpRequest, storage: str) -> HttpResponse:
        """GET or POST without ``confirm``: the confirmation page; POST with it: act."""
        check_storage(storage)
        data = request.POST if request.method == "POST" else request.GET
        action = data.get("action", "")
        if action not in ACTIONS:
            require(request.user, "view", storage)
            return self._refuse(request, storage, LibraryError(_("Choose an action first.")))
        permission = ACTIONS[action][0]
        require(request.user, permission, storage)
        if action == "sign" and storage != "private":
            return self._refuse(
                request,
                storage,
                LibraryError(_("Public files have a public URL; nothing to sign.")),
            )
        try:
            location = Location.from_request(request, storage)
            selection = parse_selection(data, storage, location)
        except (LibraryError, SuspiciousFileOperation) as exc:
            return self._refuse(request, storage, exc)
        confirmed = request.method == "POST" and data.get("confirm") == "1"
        form = self._form(action, data if confirmed else None, location)
        if confirmed and (form is None or form.is_valid()):
            try:
                return getattr(self, f"run_{action}")(request, location, selection, form)
            except HANDLED as exc:
                messages.error(request, error_message(exc))
        try:
            counted = count(selection)
        except HANDLED as exc:
            messages.error(request, error_message(exc))
            return self.library.back_to(location)
        context = self.library.context(
            request,
            location,
            title=self._title(action, storage, counted),
            action=action,
            action_label=action_label(action, storage),
            selection=selection,
            hidden_fields=selection.hidden_fields(),
            counted=counted,
            more=counted.files - len(counted.names),
            form=form,
            runs_as_job=self._needs_job(selection, counted),
            zip_caps={"files": app_settings.ZIP_MAX_FILES, "size": app_settings.ZIP_MAX_SIZE},
            zip_over=action == "zip"
            and (
                counted.files > app_settings.ZIP_MAX_FILES
                or counted.bytes > app_settings.ZIP_MAX_SIZE
                or counted.truncated
            ),
        )
        status = 400 if confirmed else 200
        return render(request, "mediahub/library/bulk_confirm.html", context, status=status)

    # -- helpers ---------------------------------------------------------------------
    def _refuse(self, request, storage, exc) -> HttpResponse:
        return (
            self.library.root_on_error(request, storage, exc)
            if not _path_ok(request)
            else (_back(request, storage, exc))
        )

    @staticmethod
    def _form(action, data, location):
        if action == "move":
            return TargetFolderForm(data, initial={"target": location.path})
        if action == "sign":
            return SignForm(data)
        return None

    @staticmethod
    def _title(action: str, storage: str, counted: Count) -> str:
        n = counted.files
        more = _("more than %(count)s") % {"count": n} if counted.truncated else str(n)
        titles = {
            "move": ngettext("Move %(n)s file?", "Move %(n)s files?", n),
            "delete": ngettext("Delete %(n)s file?", "Delete %(n)s files?", n),
            "sign": ngettext(
                "Create a signed link for %(n)s file", "Create signed links for %(n)s files", n
            ),
            "zip": ngettext("Download %(n)s file as a ZIP", "Download %(n)s files as a ZIP", n),
            "publish": (
                ngettext("Make %(n)s file private?", "Make %(n)s files private?", n)
                if storage == "public"
                else ngettext("Make %(n)s file public?", "Make %(n)s files public?", n)
            ),
        }
        return titles[action] % {"n": more}

    @staticmethod
    def _needs_job(selection: Selection, counted: Count) -> bool:
        return bool(
            selection.across or selection.folders or counted.files > app_settings.BULK_INLINE_LIMIT
        )

    def _act(self, request, location, selection, action, target=None):
        warn = self.library.warn(request)
        counted_files = len(selection.files)
        if selection.across or selection.folders or counted_files > app_settings.BULK_INLINE_LIMIT:
            if jobs_module() is None and not selection.across:
                # No job engine: small folders still work in the request (as before).
                done, errors = run_inline(selection, action, target=target, warn=warn)
                return self._report(request, location, action, done, errors)
            started = start_jobs(selection, action, request.user, target=target)
            for job in started:
                announce_job(
                    request,
                    job,
                    _("Started a background job: %(action)s.")
                    % {"action": action_label(action, location.storage)},
                )
            return self.library.back_to(location)
        done, errors = run_inline(selection, action, target=target, warn=warn)
        return self._report(request, location, action, done, errors)

    def _report(self, request, location, action, done, errors):
        if done:
            messages.success(
                request,
                {
                    "move": ngettext("Moved %(n)s item.", "Moved %(n)s items.", done),
                    "delete": ngettext("Deleted %(n)s item.", "Deleted %(n)s items.", done),
                    "publish": (
                        ngettext("%(n)s file is now private.", "%(n)s files are now private.", done)
                        if location.storage == "public"
                        else ngettext(
                            "%(n)s file is now public.", "%(n)s files are now public.", done
                        )
                    ),
                }[action]
                % {"n": done},
            )
        for error in errors:
            messages.error(request, error)
        return self.library.back_to(location)

    # -- the actions ---------------------------------------------------------------------
    def run_move(self, request, location, selection, form):
        target = form.cleaned_data["target"]
        if target == location.path:
            raise LibraryError(_("The files are in this folder already; choose another one."))
        for folder in selection.folders:
            if target.startswith(folder):
                raise LibraryError(_("A folder cannot be moved into itself."))
        return self._act(request, location, selection, "move", target=target)

    def run_delete(self, request, location, selection, form):
        return self._act(request, location, selection, "delete")

    def run_publish(self, request, location, selection, form):
        require(request.user, "view", other_storage(location.storage))
        return self._act(request, location, selection, "publish")

    def run_sign(self, request, location, selection, form):
        names = expand_files(selection, app_settings.SIGN_MANY_LIMIT)
        return signing_views.sign_and_redirect(
            request,
            location.storage,
            names,
            expires_in=form.cleaned_data["expires_in"],
            inline=form.cleaned_data["inline"],
            user=form.cleaned_data["username"],
        )

    def run_zip(self, request, location, selection, form):
        if selection.across or selection.folders:
            names = expand_files(selection, app_settings.ZIP_MAX_FILES)
            target = get_storage(location.storage)
            members = [
                zipdownload.ZipMember(
                    name=name, arcname=name[len(location.path) :], size=target.stat(name).size
                )
                for name in names
            ]
        else:
            members = zipdownload.members_for(location.storage, selection.files, location.path)
        zipdownload.check_caps(members)
        if location.storage == "private":
            # Private files leave through this ZIP as through a signed link: log each one.
            from mediahub.audit import record_download
            from mediahub.storage import resolve_alias

            alias = resolve_alias("private")
            for member in members:
                record_download(request, storage=alias, name=member.name, outcome="streamed")
        folder = posixpath.basename(location.path.rstrip("/")) or location.storage
        response = StreamingHttpResponse(
            zipdownload.stream_zip(location.storage, members), content_type="application/zip"
        )
        response["Content-Disposition"] = f'attachment; filename="{_ascii(folder)}.zip"'
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response


def _ascii(name: str) -> str:
    return (
        "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name) or "files"
    )


def _path_ok(request) -> bool:
    data = request.POST if request.method == "POST" else request.GET
    try:
        validate_folder(data.get("path", ""))
    except SuspiciousFileOperation:
        return False
    return True


def _back(request, storage, exc) -> HttpResponseRedirect:
    """Back to the folder the selection came from, with the error as a message."""
    messages.error(request, error_message(exc))
    data = request.POST if request.method == "POST" else request.GET
    return HttpResponseRedirect(Location(storage).folder_url(validate_folder(data.get("path", ""))))
