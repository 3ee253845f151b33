"""Where the user is in the library, read from and written to the query string.

Pagination follows S3's continuation tokens: the current page's ``cursor`` and
the cursors of the pages before it (``back``, the last :data:`MAX_BACK`) ride
along in the URL, so "previous" needs no server state and costs one listing
request like any other page. Popup mode (``_popup=1&target=ID``, the picker)
is kept on every link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from mediahub.library.browsing import validate_prefix
from mediahub.library.errors import LibraryError
from mediahub.names import validate_folder

#: Earlier cursors kept in the query string for "previous" (older ones: "first page").
MAX_BACK = 50
MAXCURSOR = 1024
CURSOR = re.compile(r"^[\x21-\x7e]{1,1024}$")
TARGET = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
STORAGE_TITLES = {"public": _("Public files"), "private": _("Private files")}


@dataclass
class Location:
    """Where the user is: storage, folder, filter, page cursor and the cursors before it."""

    storage: str
    path: str = ""
    prefix: str = ""
    cursor: str | None = None
    back: list[str] = field(default_factory=list)
    page: int = 1
    popup: bool = False
    target: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest, storage: str) -> Location:
        """Read the location from GET (or POST) parameters, validating each one."""
        data = request.POST if request.method == "POST" else request.GET
        location = cls(storage=storage)
        location.popup = data.get("_popup") == "1"
        target = data.get("target", "")
        location.target = target if TARGET.match(target or "") else ""
        location.path = validate_folder(data.get("path", ""))
        prefix = data.get("prefix", "").strip()
        if prefix:
            location.prefix = validate_prefix(location.path, prefix)
        cursor = data.get("cursor") or None
        back = data.getlist("back")[-MAX_BACK:]
        for token in [cursor, *back]:
            if token and not CURSOR.match(token):
                raise LibraryError(_("Invalid page cursor; start again from the first page."))
        location.cursor = cursor
        location.back = back
        try:
            location.page = max(1, min(int(data.get("page", "1")), 10**7))
        except ValueError:
            location.page = 1
        return location

    def query(self, **changes) -> str:
        """The query string of this location with ``changes`` applied."""
        values = {
            "path": self.path,
            "prefix": self.prefix,
            "cursor": self.cursor,
            "back": self.back,
            "page": self.page,
        }
        values.update(changes)
        params: list[tuple[str, str]] = []
        if self.popup:
            params.append(("_popup", "1"))
            if self.target:
                params.append(("target", self.target))
        if values["path"]:
            params.append(("path", values["path"]))
        if values["prefix"]:
            params.append(("prefix", values["prefix"]))
        if values["cursor"]:
            params.extend(("back", token) for token in values["back"])
            params.append(("cursor", values["cursor"]))
            params.append(("page", str(values["page"])))
        return urlencode(params)

    def folder_url(self, path: str, *, keep_filter: bool = False) -> str:
        """Browse URL of ``path`` (first page), keeping popup mode."""
        base = reverse("admin:mediahub_browse", kwargs={"storage": self.storage})
        query = self.query(path=path, prefix=self.prefix if keep_filter else "", cursor=None)
        return f"{base}?{query}" if query else base

    def url(self, **changes) -> str:
        base = reverse("admin:mediahub_browse", kwargs={"storage": self.storage})
        query = self.query(**changes)
        return f"{base}?{query}" if query else base

    def pagination(self, next_cursor: str | None) -> dict[str, str | None]:
        """URLs of the first, previous and next pages (None where there is none)."""
        links: dict[str, str | None] = {"first": None, "previous": None, "next": None}
        if self.cursor:
            links["first"] = self.url(cursor=None, back=[])
            if self.back or self.page <= 2:
                previous = self.back[-1] if self.back else ""
                links["previous"] = self.url(
                    cursor=previous or None, back=self.back[:-1], page=self.page - 1
                )
        if next_cursor:
            back = [*self.back, self.cursor or ""][-MAX_BACK:] if self.cursor else []
            links["next"] = self.url(cursor=next_cursor, back=back, page=self.page + 1)
        return links

    def breadcrumbs(self) -> list[tuple[str, str]]:
        """``(label, url)`` for each folder from the root to the current one."""
        crumbs = [(str(STORAGE_TITLES[self.storage]), self.folder_url(""))]
        walked = ""
        for segment in self.path.rstrip("/").split("/") if self.path else ():
            walked += segment + "/"
            crumbs.append((segment, self.folder_url(walked)))
        return crumbs
