"""Signed links made in the library: post/redirect/get, a list or CSV, user autocomplete.

Creating links (one from the details page, many from a selection) is a POST
that signs them with :func:`mediahub.links.sign_many`, keeps the result in the
user's session and redirects to a GET page (``admin:mediahub_signed``) that
shows them with their expiry time and a copy button, or as CSV. Reloading that
page shows the same links; nothing is signed again.
"""

from __future__ import annotations

import csv
import secrets
import time
from datetime import UTC, datetime

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from mediahub.library import browsing
from mediahub.library.errors import LibraryError
from mediahub.library.location import Location
from mediahub.library.permissions import check_storage, require

#: Session key of the recent batches of signed links, and how many are kept.
SESSION_KEY = "mediahub_signed_links"
KEEP = 5
#: Most usernames the autocomplete answers with.
MAX_USERS = 10


def sign_and_redirect(
    request: HttpRequest,
    storage: str,
    names: list[str],
    *,
    expires_in: int,
    inline: bool = False,
    user=None,
    back: str = "",
    etags: dict[str, str | None] | None = None,
) -> HttpResponseRedirect:
    """Sign ``names``, keep the links in the session and redirect to the page showing them."""
    links = browsing.optional_module("mediahub.links")
    if links is None:
        raise LibraryError(_("Signed links are not available (mediahub.links is not installed)."))
    if not names:
        raise LibraryError(_("Select at least one file to sign."))
    try:
        signed = links.sign_many(
            names, storage=storage, expires_in=expires_in, inline=inline, user=user, etags=etags
        )
    except ValueError as exc:
        raise LibraryError(str(exc)) from None
    batch = {
        "storage": storage,
        "links": [[name, request.build_absolute_uri(signed[name])] for name in names],
        "expires": time.time() + expires_in,
        "user": user.get_username() if user is not None else "",
        "back": back,
    }
    batches = dict(request.session.get(SESSION_KEY, {}))
    key = secrets.token_urlsafe(8)
    batches[key] = batch
    request.session[SESSION_KEY] = dict(list(batches.items())[-KEEP:])
    messages.success(
        request,
        _("Created %(count)s signed link(s).") % {"count": len(names)}
        if len(names) > 1
        else _("Created a signed link to %(name)s.") % {"name": names[0]},
    )
    url = reverse("admin:mediahub_signed", kwargs={"storage": storage})
    return HttpResponseRedirect(f"{url}?batch={key}")


class SigningViews:
    """The signed-links result page and the user autocomplete."""

    def __init__(self, admin_site, library_views) -> None:
        self.admin_site = admin_site
        self.library = library_views

    def signed(self, request: HttpRequest, storage: str) -> HttpResponse:
        """GET: the links of one batch (``?batch=``), as a page or ``&format=csv``."""
        check_storage(storage)
        require(request.user, "sign", storage)
        batch = request.session.get(SESSION_KEY, {}).get(request.GET.get("batch", ""))
        if not batch or batch.get("storage") != storage:
            messages.error(
                request, _("Those links are no longer shown here; create them again if needed.")
            )
            return HttpResponseRedirect(Location(storage).folder_url(""))
        expires = datetime.fromtimestamp(batch["expires"], tz=UTC)
        if request.GET.get("format") == "csv":
            response = HttpResponse(content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = 'attachment; filename="signed-links.csv"'
            response["Cache-Control"] = "private, no-store"
            writer = csv.writer(response)
            writer.writerow(["name", "link", "expires"])
            for name, link in batch["links"]:
                writer.writerow([_csv_safe(name), link, expires.isoformat()])
            return response
        location = Location(storage)
        first = batch["links"][0][0]
        location.path = first.rsplit("/", 1)[0] + "/" if "/" in first else ""
        context = self.library.context(
            request,
            location,
            title=_("Signed links"),
            links=batch["links"],
            expires=expires,
            bound_user=batch["user"],
            batch=request.GET["batch"],
            all_links="\n".join(link for _name, link in batch["links"]),
        )
        response = render(request, "mediahub/library/signed.html", context)
        response["Cache-Control"] = "private, no-store"
        return response

    def users(self, request: HttpRequest, storage: str) -> JsonResponse:
        """GET ``?q=``: up to :data:`MAX_USERS` active usernames starting with ``q``."""
        check_storage(storage)
        require(request.user, "sign", storage)
        query = request.GET.get("q", "").strip()
        if not query or len(query) > 150:
            return JsonResponse({"users": []})
        model = get_user_model()
        field = model.USERNAME_FIELD
        names = (
            model._default_manager.filter(is_active=True, **{f"{field}__istartswith": query})
            .order_by(field)
            .values_list(field, flat=True)[:MAX_USERS]
        )
        return JsonResponse({"users": list(names)})


def _csv_safe(value: str) -> str:
    """Keep spreadsheet programs from running a cell as a formula (object names are user data)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
