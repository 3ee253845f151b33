"""The folder picker's JSON endpoint: one listing request per level.

``GET ?path=a/&q=ph`` answers the sub-folders of ``a/`` whose names start with
``ph`` (one ``list_folder`` call with the delimiter: S3's CommonPrefixes), for
browsing level by level or type-ahead. ``POST {"path": "a/", "name": "new"}``
creates a folder on the way (the upload permission, as the library's "New folder").
"""

from __future__ import annotations

from django.core.exceptions import SuspiciousFileOperation
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _

from mediahub.library import browsing, operations
from mediahub.library.errors import LibraryError
from mediahub.library.forms import FolderForm
from mediahub.library.permissions import check_storage, require
from mediahub.library.views import HANDLED, _json_body, _json_error
from mediahub.names import validate_folder
from mediahub.storage import get_storage
from mediahub.storage.nesting import check_not_nested_private, without_nested_private

#: Folders answered per level (one listing page).
MAX_FOLDERS = 1000


def subfolders(storage: str, path: str, query: str = "") -> dict:
    """``{"path", "folders": [{"name", "path"}], "truncated"}`` of one level, one request."""
    validate_folder(path)
    if query:
        browsing.validate_prefix(path, query)
    target = get_storage(storage)
    check_not_nested_private(target, path)
    page = target.list_folder(path, prefix=query, page_size=MAX_FOLDERS)
    hidden = browsing.thumbnail_folder(storage)
    shown = without_nested_private(target, page.folders)  # another storage's folders
    folders = [
        {"name": folder.name, "path": folder.path}
        for folder in shown
        if folder.valid and folder.path != hidden
    ]
    return {"path": path, "folders": folders, "truncated": page.has_next}


class FolderViews:
    def __init__(self, admin_site, library_views) -> None:
        self.admin_site = admin_site
        self.library = library_views

    def folders(self, request: HttpRequest, storage: str) -> JsonResponse:
        check_storage(storage)
        require(request.user, "view", storage)
        try:
            if request.method == "POST":
                require(request.user, "upload", storage)
                data = _json_body(request)
                path = data.get("path", "")
                if not isinstance(path, str):
                    raise LibraryError(_("The folder must be a string."))
                validate_folder(path)
                form = FolderForm({"name": data.get("name", "")})
                if not form.is_valid():
                    raise LibraryError(" ".join(form.errors["name"]))
                created = operations.create_folder(storage, path, form.cleaned_data["name"])
                return JsonResponse({"path": created}, status=201)
            answer = subfolders(
                storage, request.GET.get("path", ""), request.GET.get("q", "").strip()
            )
        except SuspiciousFileOperation as exc:
            return _json_error(exc)
        except HANDLED as exc:
            return _json_error(exc)
        return JsonResponse(answer)
