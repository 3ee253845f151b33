"""The media library in the admin site.

:class:`MediaLibraryAdmin` (on the table-less :class:`~mediahub.models.MediaLibrary`)
owns the library's URLs (``admin:mediahub_browse`` and ``admin:mediahub_<action>``),
each view wrapped in ``admin_site.admin_view`` (staff login, CSRF). It is hidden
from the index; the two proxies ``PublicFiles`` / ``PrivateFiles`` put "Public
files" and "Private files" under "Media library" there, for users who may view them.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.i18n import JavaScriptCatalog

from mediahub.library.bulk import BulkViews
from mediahub.library.folders import FolderViews
from mediahub.library.permissions import can
from mediahub.library.preferences import PreferenceViews
from mediahub.library.signing_views import SigningViews
from mediahub.library.views import METHODS, LibraryViews
from mediahub.models import MediaLibrary, PrivateFiles, PublicFiles

#: (URL path, view name): the URL name is ``admin:mediahub_<view name>``.
ROUTES = [
    ("<str:storage>/", "browse"),
    ("<str:storage>/details/", "details"),
    ("<str:storage>/open/", "open"),
    ("<str:storage>/sign/", "sign"),
    ("<str:storage>/upload/", "upload"),
    ("<str:storage>/upload/start/", "upload_start"),
    ("<str:storage>/upload/parts/", "upload_parts"),
    ("<str:storage>/upload/complete/", "upload_complete"),
    ("<str:storage>/upload/abort/", "upload_abort"),
    ("<str:storage>/folder/", "mkdir"),
    ("<str:storage>/move/", "move"),
    ("<str:storage>/delete/", "delete"),
    ("<str:storage>/visibility/", "visibility"),
    ("<str:storage>/bulk/", "bulk"),
    ("<str:storage>/folders/", "folders"),
    ("<str:storage>/signed/", "signed"),
    ("<str:storage>/users/", "users"),
    ("<str:storage>/prefs/", "prefs"),
]

#: The views of the selection, picker, signed-links and preference modules.
EXTRA_VIEWS = {
    "bulk": (BulkViews, require_http_methods(["GET", "HEAD", "POST"])),
    "folders": (FolderViews, require_http_methods(["GET", "HEAD", "POST"])),
    "signed": (SigningViews, require_GET),
    "users": (SigningViews, require_GET),
    "prefs": (PreferenceViews, require_POST),
}


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(MediaLibrary)
class MediaLibraryAdmin(_ReadOnly):
    """Owns the library's views; not listed on the index itself."""

    def get_model_perms(self, request: HttpRequest) -> dict[str, bool]:
        return {}

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return can(request.user, "view", "public") or can(request.user, "view", "private")

    def get_urls(self):
        views = LibraryViews(self.admin_site)
        wrap = self.admin_site.admin_view
        helpers = {cls: cls(self.admin_site, views) for cls, _method in EXTRA_VIEWS.values()}

        def bound(name: str):
            if name in EXTRA_VIEWS:
                cls, method = EXTRA_VIEWS[name]
                return method(getattr(helpers[cls], name))
            return METHODS[name](getattr(views, name))

        library = [
            path(route, wrap(bound(name)), name=f"mediahub_{name}") for route, name in ROUTES
        ]
        # The library's JavaScript strings (gettext() in library.js), before "<storage>/".
        catalog = path(
            "jsi18n/",
            wrap(JavaScriptCatalog.as_view(packages=["mediahub"])),
            name="mediahub_jsi18n",
        )
        # Only the changelist of ModelAdmin's URLs: the model has no table, so its
        # object pages (change, history, delete) would query one that does not exist.
        changelist = path(
            "",
            wrap(self.changelist_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_changelist",
        )
        return [catalog, *library, changelist]

    def changelist_view(self, request: HttpRequest, extra_context=None):
        storage = "public" if can(request.user, "view", "public") else "private"
        return HttpResponseRedirect(reverse("admin:mediahub_browse", args=[storage]))


class _StorageEntry(_ReadOnly):
    """An index entry that opens the library on one storage."""

    storage = "public"

    def get_urls(self):
        return [
            path(
                "",
                self.admin_site.admin_view(self.changelist_view),
                name=f"{self.opts.app_label}_{self.opts.model_name}_changelist",
            )
        ]

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return can(request.user, "view", self.storage)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        return HttpResponseRedirect(reverse("admin:mediahub_browse", args=[self.storage]))


@admin.register(PublicFiles)
class PublicFilesAdmin(_StorageEntry):
    storage = "public"


@admin.register(PrivateFiles)
class PrivateFilesAdmin(_StorageEntry):
    storage = "private"
