"""Admin form widget of mediahub's model fields.

Shows the current file with its link (a signed link for private fields), a
preview for images, the upload input, the clear checkbox and a "Choose existing"
button. The button's contract with the media library's picker
(``mediahub/picker.js``): it carries ``data-picker-url`` (the library page of the
field's storage, ``?_popup=1``) and ``data-target`` (the id of a hidden input named
``<name>_existing``); the popup calls ``window.opener.mediahubPicked(targetId,
token, name)``, which puts the signed pick token (:mod:`mediahub.picker`) in that
input. Only a token validates: a bare object name typed into the form is refused,
so picking needs the library's view permission on the storage. When the
library's URL (``admin:mediahub_browse``) is not installed the button is left out.
"""

from __future__ import annotations

import mimetypes
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django import forms
from django.core import signing
from django.core.exceptions import SuspiciousFileOperation
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from mediahub.fields import ExistingObject, InvalidPick, RejectedObject, UncheckedObject
from mediahub.names import validate_name
from mediahub.picker import read_pick_token
from mediahub.storage import get_storage
from mediahub.thumbnails import preview_url

#: File extensions previewed with an ``<img>``.
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/avif")


class MediaFileWidget(forms.ClearableFileInput):
    """Current file + link, image preview, upload, clear, and "Choose existing"."""

    template_name = "mediahub/widgets/media_file.html"
    choose_label = _("Choose existing")

    class Media:
        js = ["mediahub/picker.js"]

    def __init__(
        self, attrs: dict[str, Any] | None = None, *, visibility: str = "public", kind: str = "file"
    ):
        super().__init__(attrs)
        self.visibility = visibility
        #: ``"image"`` for image fields: only picks of images are accepted (mediahub.picker).
        self.kind = kind

    def existing_name(self, name: str) -> str:
        """Name of the hidden input that receives an object chosen in the picker."""
        return f"{name}_existing"

    def picker_url(self) -> str | None:
        """The media library page of this widget's storage, or None if not installed."""
        try:
            url = reverse("admin:mediahub_browse", kwargs={"storage": self.visibility})
        except NoReverseMatch:
            return None
        return f"{url}?_popup=1"

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        widget = context["widget"]
        base_id = widget["attrs"].get("id") or f"id_{name}"
        is_initial = widget["is_initial"]
        url = self.file_url(value) if is_initial else None
        content_type = mimetypes.guess_type(str(value))[0] if is_initial else None
        widget.update(
            {
                "visibility": self.visibility,
                "file_url": url,
                "file_name": str(value) if is_initial else "",
                "is_image": url is not None and content_type in IMAGE_TYPES,
                "preview_url": preview_url(value.name, storage=self.visibility, fallback=url)
                if url is not None and content_type in IMAGE_TYPES
                else None,
                "existing_name": self.existing_name(name),
                "existing_id": f"{base_id}_existing",
                "picker_url": self.picker_url(),
                "choose_label": self.choose_label,
            }
        )
        return context

    def is_initial(self, value: Any) -> bool:
        """Django's test (``value.url`` is truthy), tolerating names the storage refuses."""
        try:
            return super().is_initial(value)
        except SuspiciousFileOperation:
            return bool(getattr(value, "name", None))

    def file_url(self, value: Any) -> str | None:
        """The current file's URL, or None for a stored name the storage refuses.

        A legacy row may hold a name mediahub refuses (``" report.pdf"``): the form
        must still render so that someone can clear or replace it.
        """
        try:
            return value.url
        except SuspiciousFileOperation:
            return None

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        token = (data.get(self.existing_name(name)) or "").strip()
        if token:
            try:
                chosen = read_pick_token(token, self.visibility, kind=self.kind)
            except signing.BadSignature:
                return InvalidPick(token[:40])
            return self.existing_object(chosen)
        return super().value_from_datadict(data, files, name)

    def existing_object(self, chosen: str) -> ExistingObject | RejectedObject:
        """Validate a name picked in the library: safe and present in this storage.

        An S3 error or timeout gives an :class:`UncheckedObject` (a form error
        saying to try again), never an exception out of form validation.
        """
        try:
            validate_name(chosen)
        except SuspiciousFileOperation:
            return RejectedObject(chosen)
        try:
            found = get_storage(self.visibility).exists(chosen)
        except (ClientError, BotoCoreError, OSError):
            return UncheckedObject(chosen)
        return ExistingObject(chosen) if found else RejectedObject(chosen)

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return super().value_omitted_from_data(data, files, name) and not data.get(
            self.existing_name(name)
        )
