"""Thin views of the media library: parse the request, call an operation, render.

They are methods of :class:`LibraryViews`, bound to an admin site by
:class:`mediahub.library.admin.MediaLibraryAdmin` (which wraps each one in
``admin_site.admin_view``: staff login and CSRF). Every view asks
:mod:`~mediahub.library.permissions` first; storage failures and refused names
become admin messages, never a 500 page.
"""

from __future__ import annotations

import json
import logging
import posixpath
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError
from django.contrib import messages
from django.core.exceptions import SuspiciousFileOperation
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mediahub import jobs
from mediahub.conf import app_settings
from mediahub.jobs.web import announce
from mediahub.library import browsing, operations, policy, preferences, uploads
from mediahub.library.errors import LibraryError
from mediahub.library.forms import FolderForm, MoveForm, SignForm
from mediahub.library.location import STORAGE_TITLES, TARGET, Location
from mediahub.library.permissions import (
    allowed_actions,
    check_storage,
    other_storage,
    require,
)
from mediahub.names import validate_folder, validate_name
from mediahub.storage import UnknownStorage, get_storage
from mediahub.storage.s3 import MediaS3Storage

logger = logging.getLogger(__name__)

#: What the views turn into an admin message instead of an error page.
HANDLED = (
    LibraryError,
    jobs.JobError,
    SuspiciousFileOperation,
    FileNotFoundError,
    ClientError,
    BotoCoreError,
    UnknownStorage,
)


def error_message(exc: BaseException) -> str:
    """A message for the user that says what happened and what to do (never a secret)."""
    if isinstance(exc, LibraryError | jobs.JobError):
        return str(exc)
    if isinstance(exc, SuspiciousFileOperation):
        return _(
            "Refused an unsafe name: names are relative, without '..' or empty segments, "
            "control characters or backslashes, and at most 1024 bytes."
        )
    if isinstance(exc, UnknownStorage):
        return _(
            "This storage is not configured: add it to settings.STORAGES (see "
            "MEDIAHUB['PUBLIC_STORAGE'] and ['PRIVATE_STORAGE'])."
        )
    if isinstance(exc, FileNotFoundError):
        return _("That file or folder does not exist (any more); the listing is up to date.")
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 404 or error.get("Code") in ("NoSuchKey", "404"):
            return _("That file does not exist (any more).")
        return _(
            "The storage refused the request (%(code)s, HTTP %(status)s). Try again in a "
            "moment; if it persists, run manage.py mediahub_doctor."
        ) % {"code": error.get("Code", "?"), "status": status or "?"}
    return _(
        "The storage did not answer (timeout or connection error). Try again in a moment; "
        "if it persists, run manage.py mediahub_doctor."
    )


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _json_body(request: HttpRequest) -> dict:
    if len(request.body) > 512 * 1024:
        raise LibraryError(_("Request too large."))
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        raise LibraryError(_("The request body must be JSON.")) from None
    if not isinstance(data, dict):
        raise LibraryError(_("The request body must be a JSON object."))
    return data


def _json_error(exc: BaseException) -> JsonResponse:
    status = (
        400 if isinstance(exc, LibraryError | SuspiciousFileOperation | UnknownStorage) else 502
    )
    if isinstance(exc, FileNotFoundError):
        status = 404
    return JsonResponse({"error": error_message(exc)}, status=status)


class LibraryViews:
    """The library's views for one admin site."""

    def __init__(self, admin_site) -> None:
        self.admin_site = admin_site

    # -- helpers -------------------------------------------------------------------
    def context(self, request: HttpRequest, location: Location, **extra) -> dict:
        storage = location.storage
        context = {
            **self.admin_site.each_context(request),
            "title": STORAGE_TITLES[storage],
            "storage": storage,
            "storage_title": STORAGE_TITLES[storage],
            "other_storage": other_storage(storage),
            "location": location,
            "breadcrumbs": location.breadcrumbs(),
            "is_popup": location.popup,
            "can": allowed_actions(request.user, storage),
            "date_format": app_settings.LIBRARY_DATE_FORMAT,
            "cancel_url": location.folder_url(location.path),
            "hidden_location": [("path", location.path)]
            + ([("_popup", "1"), ("target", location.target)] if location.popup else []),
        }
        context.update(extra)
        if "title" in extra:
            context["page_title"] = extra["title"]
        return context

    def location(self, request: HttpRequest, storage: str, action: str) -> Location:
        check_storage(storage)
        require(request.user, action, storage)
        return Location.from_request(request, storage)

    @staticmethod
    def warn(request: HttpRequest):
        """``warn(message)`` for operations: a warning message on the next page."""
        return lambda message: messages.warning(request, message)

    def back_to(self, location: Location, path: str | None = None) -> HttpResponseRedirect:
        return HttpResponseRedirect(location.folder_url(location.path if path is None else path))

    def root_on_error(self, request, storage: str, exc: BaseException) -> HttpResponseRedirect:
        messages.error(request, error_message(exc))
        popup = request.GET.get("_popup") == "1" or request.POST.get("_popup") == "1"
        target = request.GET.get("target") or request.POST.get("target") or ""
        return HttpResponseRedirect(
            Location(
                storage, popup=popup, target=target if TARGET.match(target) else ""
            ).folder_url("")
        )

    def _location_or_redirect(self, request, storage, action):
        try:
            return self.location(request, storage, action), None
        except (LibraryError, SuspiciousFileOperation) as exc:
            return None, self.root_on_error(request, storage, exc)

    # -- browse and details ------------------------------------------------------------
    def browse(self, request: HttpRequest, storage: str) -> HttpResponse:
        """A folder page: sub-folders then files, one listing request per page."""
        if request.method not in ("GET", "HEAD"):
            return HttpResponse(status=405)
        location, redirect = self._location_or_redirect(request, storage, "view")
        if redirect:
            return redirect
        listing, status = None, 200
        try:
            listing = browsing.list_page(
                storage,
                location.path,
                prefix=location.prefix,
                cursor=location.cursor,
                page_size=app_settings.PAGE_SIZE,
            )
        except HANDLED as exc:
            messages.error(request, error_message(exc))
            status = 502 if isinstance(exc, ClientError | BotoCoreError) else 400
        try:
            direct_upload = isinstance(get_storage(storage), MediaS3Storage)
        except UnknownStorage:
            direct_upload = False
        parent = posixpath.dirname(location.path.rstrip("/"))
        from mediahub.library import bulk  # bulk builds on these views

        prefs = preferences.get(request)
        hidden_count = 0
        if listing and not prefs["hidden"]:
            hidden_count = preferences.hide_dot_files(listing)
        context = self.context(
            request,
            location,
            listing=listing,
            folders=[
                {"entry": folder, "url": location.folder_url(folder.path)}
                for folder in (listing.folders if listing else ())
            ],
            parent_url=location.folder_url(parent + "/" if parent else ""),
            prefs=prefs,
            hidden_count=hidden_count,
            row_count=len(listing.folders) + len(listing.files) if listing else 0,
            bulk_actions=bulk.available_actions(request.user, storage),
            page_url=location.url(),
            # Reversed and translated once per page, not once per row.
            urls={
                action: reverse(f"admin:mediahub_{action}", kwargs={"storage": storage})
                for action in ("details", "open", "move", "delete", "visibility", "bulk")
            },
            labels={
                "details": _("Details"),
                "move": _("Rename/move"),
                "delete": _("Delete"),
                "folder": _("Folder"),
                "choose": _("Choose"),
                "actions": _("Actions"),
                "sign": _("Signed link"),
                "select": _("Select"),
                "visibility": _("Make private") if storage == "public" else _("Make public"),
            },
            here=quote(location.path, safe=""),
            clear_filter_url=location.folder_url(location.path),
            pages=location.pagination(listing.page.next_cursor if listing else None),
            folder_form=FolderForm(),
            direct_upload=direct_upload,
            upload_settings={
                "threshold": app_settings.DIRECT_UPLOAD_THRESHOLD,
                "maxSize": app_settings.UPLOAD_MAX_SIZE,
            },
        )
        return render(request, "mediahub/library/browse.html", context, status=status)

    def _file_location(self, request, storage, action):
        location, redirect = self._location_or_redirect(request, storage, action)
        if redirect:
            return None, None, redirect
        data = request.POST if request.method == "POST" else request.GET
        name = data.get("name", "")
        try:
            validate_name(name)
        except SuspiciousFileOperation as exc:
            return None, None, self.root_on_error(request, storage, exc)
        location.path = posixpath.dirname(name) + "/" if "/" in name else ""
        return location, name, None

    def details(self, request: HttpRequest, storage: str) -> HttpResponse:
        """Metadata of one file, its public URL or the signed-link generator."""
        location, name, redirect = self._file_location(request, storage, "view")
        if redirect:
            return redirect
        return self._details(request, location, name, SignForm())

    def _details(self, request, location, name, form, link=None, status=200):
        try:
            row = browsing.details(location.storage, name)
        except HANDLED as exc:
            messages.error(request, error_message(exc))
            return self.back_to(location)
        context = self.context(
            request,
            location,
            title=row.entry.name,
            row=row,
            name=name,
            sign_form=form,
            link=link,
            links_available=browsing.optional_module("mediahub.links") is not None,
        )
        return render(request, "mediahub/library/details.html", context, status=status)

    def open(self, request: HttpRequest, storage: str) -> HttpResponse:
        """Open a file: its public URL, or a fresh short signed link bound to the user."""
        location, name, redirect = self._file_location(request, storage, "view")
        if redirect:
            return redirect
        url = browsing.file_url(
            storage,
            name,
            user=request.user,
            expires_in=app_settings.PRESIGN_EXPIRY,
            inline=request.GET.get("inline") == "1",
        )
        if url is None:
            messages.error(request, _("No link can be made for this file (signed links off)."))
            return self.back_to(location)
        return HttpResponseRedirect(url)

    def sign(self, request: HttpRequest, storage: str) -> HttpResponse:
        """Generate a signed link to a private file (POST from the details page)."""
        if request.method != "POST":
            return HttpResponse(status=405)
        check_storage(storage)
        require(request.user, "sign", storage)
        if storage != "private":
            return self.root_on_error(
                request,
                storage,
                LibraryError(_("Public files have a public URL; nothing to sign.")),
            )
        location, name, redirect = self._file_location(request, storage, "sign")
        if redirect:
            return redirect
        form = SignForm(request.POST)
        if not form.is_valid():
            return self._details(request, location, name, form, status=400)
        from mediahub.library.signing_views import sign_and_redirect

        try:
            # Post/redirect/get: the link is shown on a GET page; a reload signs nothing.
            return sign_and_redirect(
                request,
                storage,
                [name],
                expires_in=form.cleaned_data["expires_in"],
                inline=form.cleaned_data["inline"],
                user=form.cleaned_data["username"],
                # The version shown on the details page: the link serves that object only.
                etags={name: request.POST.get("etag", "")[:200] or None},
            )
        except HANDLED as exc:
            messages.error(request, error_message(exc))
            return self._details(request, location, name, form, status=400)

    # -- organise --------------------------------------------------------------------
    def mkdir(self, request: HttpRequest, storage: str) -> HttpResponse:
        """Create a sub-folder of the current folder."""
        location, redirect = self._location_or_redirect(request, storage, "upload")
        if redirect:
            return redirect
        form = FolderForm(request.POST)
        if not form.is_valid():
            for error in form.errors.get("name", []):
                messages.error(request, error)
            return self.back_to(location)
        try:
            folder = operations.create_folder(storage, location.path, form.cleaned_data["name"])
        except HANDLED as exc:
            messages.error(request, error_message(exc))
            return self.back_to(location)
        messages.success(request, _("Folder %(name)s created.") % {"name": folder})
        return self.back_to(location)

    def _target(self, request, storage, action):
        """``(location, name, folder, redirect)`` for views acting on a file or a folder."""
        location, redirect = self._location_or_redirect(request, storage, action)
        if redirect:
            return None, None, None, redirect
        data = request.POST if request.method == "POST" else request.GET
        folder = data.get("folder", "")
        name = data.get("name", "")
        try:
            if folder:
                validate_folder(folder)
                if not folder:
                    raise LibraryError(_("The root folder cannot be changed."))
            elif name:
                validate_name(name)
            else:
                raise LibraryError(_("Choose a file or folder first."))
        except HANDLED as exc:
            return None, None, None, self.root_on_error(request, storage, exc)
        return location, name or None, folder or None, None

    def move(self, request: HttpRequest, storage: str) -> HttpResponse:
        """Rename or move a file or folder: copy, verify, then delete the original."""
        location, name, folder, redirect = self._target(request, storage, "move")
        if redirect:
            return redirect
        current = folder or name
        if request.method == "POST":
            form = MoveForm(request.POST, folder=bool(folder))
            if form.is_valid():
                new_name = form.cleaned_data["new_name"]
                try:
                    if folder:  # any size: a job (mediahub.jobs), the request only enqueues
                        job = jobs.start(
                            "move",
                            storage=storage,
                            params={"prefix": folder, "target": new_name},
                            user=request.user,
                        )
                        announce(
                            request,
                            job,
                            _("Moving %(old)s to %(new)s.") % {"old": folder, "new": new_name},
                        )
                        return self.back_to(location)
                    else:
                        operations.move_file(storage, name, new_name, warn=self.warn(request))
                        messages.success(
                            request, _("Moved %(old)s to %(new)s.") % {"old": name, "new": new_name}
                        )
                        parent = posixpath.dirname(new_name)
                    return self.back_to(location, parent + "/" if parent else "")
                except HANDLED as exc:
                    messages.error(request, error_message(exc))
        else:
            form = MoveForm(initial={"new_name": current}, folder=bool(folder))
        context = self.context(
            request,
            location,
            title=_("Rename or move %(name)s") % {"name": current},
            form=form,
            name=name,
            folder=folder,
        )
        status = 400 if request.method == "POST" else 200
        return render(request, "mediahub/library/move.html", context, status=status)

    def delete(self, request: HttpRequest, storage: str) -> HttpResponse:
        """Delete a file or a folder, after a confirmation page (with a count for folders)."""
        location, name, folder, redirect = self._target(request, storage, "delete")
        if redirect:
            return redirect
        try:
            if request.method == "POST":
                if folder:  # any size: a job (mediahub.jobs), the request only enqueues
                    job = jobs.start(
                        "delete", storage=storage, params={"prefix": folder}, user=request.user
                    )
                    announce(request, job, _("Deleting folder %(name)s.") % {"name": folder})
                else:
                    operations.delete_file(storage, name, warn=self.warn(request))
                    messages.success(request, _("Deleted %(name)s.") % {"name": name})
                return self.back_to(location)
            contents = operations.folder_contents(storage, folder) if folder else None
            row = None if folder else browsing.details(storage, name)
        except HANDLED as exc:
            messages.error(request, error_message(exc))
            return self.back_to(location)
        context = self.context(
            request,
            location,
            title=_("Delete %(name)s?") % {"name": folder or name},
            name=name,
            folder=folder,
            contents=contents,
            row=row,
            limit=app_settings.FOLDER_OPERATION_LIMIT,
        )
        return render(request, "mediahub/library/delete.html", context)

    def visibility(self, request: HttpRequest, storage: str) -> HttpResponse:
        """Make a file public (from the private storage) or private (from the public one)."""
        if request.method != "POST":
            return HttpResponse(status=405)
        location, name, folder, redirect = self._target(request, storage, "publish")
        if redirect:
            return redirect
        if folder:  # every file of the folder: a job (mediahub.jobs)
            try:
                job = jobs.start(
                    "publish", storage=storage, params={"prefix": folder}, user=request.user
                )
            except HANDLED as exc:
                messages.error(request, error_message(exc))
                return self.back_to(location)
            announce(
                request,
                job,
                _("Moving the files of %(name)s to the %(storage)s files.")
                % {"name": folder, "storage": other_storage(storage)},
            )
            return self.back_to(location)
        try:
            destination = operations.change_visibility(storage, name, warn=self.warn(request))
        except HANDLED as exc:
            messages.error(request, error_message(exc))
            return self.back_to(location)
        messages.success(
            request,
            _("%(name)s is now in the %(storage)s files.") % {"name": name, "storage": destination},
        )
        return self.back_to(location)

    # -- uploads -------------------------------------------------------------------------
    def upload(self, request: HttpRequest, storage: str) -> HttpResponse:
        """Upload small files through the site (several at once); never overwrites."""
        if request.method != "POST":
            return HttpResponse(status=405)
        location, redirect = self._location_or_redirect(request, storage, "upload")
        if redirect:
            return redirect
        results, errors = [], []
        files = request.FILES.getlist("files")
        if not files:
            errors.append(_("Choose one or more files to upload."))
        for uploaded in files:
            try:
                final = policy.save_upload(storage, location.path, uploaded)
            except HANDLED as exc:
                errors.append(error_message(exc))
                continue
            results.append({"name": uploaded.name, "stored_as": final})
        return self._upload_answer(request, location, results, errors)

    def _upload_answer(self, request, location, results, errors):
        for result in results:
            if posixpath.basename(result["stored_as"]) != result["name"]:
                messages.success(
                    request,
                    _("Uploaded %(name)s as %(final)s (that name was taken).")
                    % {"name": result["name"], "final": result["stored_as"]},
                )
            else:
                messages.success(request, _("Uploaded %(stored_as)s.") % result)
        for error in errors:
            messages.error(request, error)
        if _wants_json(request):
            return JsonResponse(
                {"files": results, "errors": [str(e) for e in errors]},
                status=400 if errors and not results else 200,
            )
        return self.back_to(location)

    def _direct(self, request, storage):
        check_storage(storage)
        require(request.user, "upload", storage)
        return _json_body(request)

    def upload_start(self, request: HttpRequest, storage: str) -> JsonResponse:
        """Start a direct (browser to S3) multipart upload."""
        try:
            data = self._direct(request, storage)
            path = validate_folder(
                data.get("path", "") if isinstance(data.get("path"), str) else ""
            )
            answer = uploads.start(
                storage,
                path,
                data.get("filename"),
                data.get("size"),
                data.get("type") if isinstance(data.get("type"), str) else None,
                user_id=request.user.pk,
            )
        except HANDLED as exc:
            messages.error(request, error_message(exc))
            return _json_error(exc)
        return JsonResponse(answer)

    def upload_parts(self, request: HttpRequest, storage: str) -> JsonResponse:
        """Presigned URLs for some parts of a direct upload."""
        try:
            data = self._direct(request, storage)
            upload = uploads.load(data.get("token"), storage, user_id=request.user.pk)
            urls = uploads.sign_parts(upload, data.get("parts"))
        except HANDLED as exc:
            return _json_error(exc)
        return JsonResponse({"urls": urls})

    def upload_complete(self, request: HttpRequest, storage: str) -> JsonResponse:
        """Complete a direct upload (never overwriting); reports the final name."""
        try:
            data = self._direct(request, storage)
            upload = uploads.load(data.get("token"), storage, user_id=request.user.pk)
            final = uploads.complete(upload, data.get("parts"))
        except HANDLED as exc:
            messages.error(request, error_message(exc))
            return _json_error(exc)
        location = Location(storage=storage)
        answer = [{"name": upload.filename or posixpath.basename(final), "stored_as": final}]
        return self._upload_answer(request, location, answer, [])

    def upload_abort(self, request: HttpRequest, storage: str) -> JsonResponse:
        """Abort a direct upload (the browser gave up); its parts are deleted."""
        try:
            data = self._direct(request, storage)
            upload = uploads.load(data.get("token"), storage, user_id=request.user.pk)
            uploads.abort(upload)
        except HANDLED as exc:
            return _json_error(exc)
        return JsonResponse({"aborted": True})


# Method restrictions, applied when the admin binds the views.
METHODS = {
    "browse": require_GET,
    "details": require_GET,
    "open": require_GET,
    "sign": require_POST,
    "mkdir": require_POST,
    "move": require_http_methods(["GET", "HEAD", "POST"]),
    "delete": require_http_methods(["GET", "HEAD", "POST"]),
    "visibility": require_POST,
    "upload": require_POST,
    "upload_start": require_POST,
    "upload_parts": require_POST,
    "upload_complete": require_POST,
    "upload_abort": require_POST,
}
