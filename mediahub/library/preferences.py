"""Per-user display preferences of the library, kept in the session (no table needed).

``view`` (``list`` or ``grid``) and ``hidden`` (show dot files) are remembered for
the user's session; a POST to ``admin:mediahub_prefs`` changes them and returns to
the folder. The session, rather than a model, because mediahub adds no table for
this and the admin already depends on sessions.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseRedirect

from mediahub.library.permissions import check_storage, require

SESSION_KEY = "mediahub_library_prefs"
DEFAULTS = {"view": "list", "hidden": False}
VIEWS = ("list", "grid")


def get(request: HttpRequest) -> dict:
    """The user's preferences, defaults filled in."""
    saved = request.session.get(SESSION_KEY, {}) if hasattr(request, "session") else {}
    prefs = dict(DEFAULTS)
    if saved.get("view") in VIEWS:
        prefs["view"] = saved["view"]
    prefs["hidden"] = bool(saved.get("hidden", False))
    return prefs


class PreferenceViews:
    def __init__(self, admin_site, library_views) -> None:
        self.admin_site = admin_site
        self.library = library_views

    def prefs(self, request: HttpRequest, storage: str) -> HttpResponseRedirect:
        """POST ``view=list|grid`` and/or ``hidden=0|1``; back to the folder."""
        check_storage(storage)
        require(request.user, "view", storage)
        prefs = get(request)
        if request.POST.get("view") in VIEWS:
            prefs["view"] = request.POST["view"]
        if request.POST.get("hidden") in ("0", "1"):
            prefs["hidden"] = request.POST["hidden"] == "1"
        request.session[SESSION_KEY] = prefs
        location, redirect = self.library._location_or_redirect(request, storage, "view")
        if redirect:
            return redirect
        return HttpResponseRedirect(location.url())


def hide_dot_files(listing) -> int:
    """Drop dot files and dot folders (``.loaded`` markers) from a listing page; the count."""
    before = len(listing.folders) + len(listing.files)
    listing.folders = [folder for folder in listing.folders if not folder.name.startswith(".")]
    listing.files = [row for row in listing.files if not row.entry.name.startswith(".")]
    return before - len(listing.folders) - len(listing.files)
