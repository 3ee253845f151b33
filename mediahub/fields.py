"""Model fields that choose public or private storage.

    from mediahub.fields import PrivateFileField, PublicImageField

    class Report(models.Model):
        pdf = PrivateFileField(upload_to="reports/")
        cover = PublicImageField(upload_to="covers/", blank=True)

The storage is looked up by visibility every time it is used
(``get_storage("public"|"private")``), never stored in the field: migrations record
only the field class (and ``visibility`` for :class:`MediaFileField`), so changing
``STORAGES`` never creates a migration, and ``override_settings`` just works.

Whatever the browser declares, the stored content type comes from the file's name,
and HTML, SVG or XML uploaded to a public field is stored as an attachment, or refused
with a form error when ``MEDIAHUB["ACTIVE_CONTENT"] = "refuse"`` (the storage's write
path enforces it too: :mod:`mediahub.storage.content`). A name the storage picks after a
collision still fits the field's ``max_length``.

A private field's ``.url`` is a mediahub signed link (``mediahub.links.sign``):
permission-checked, audited and revocable, never a public URL. The admin form
widget shows the current file with its (signed) link, an image preview, upload,
clear and a "Choose existing" button opening the media library on that storage.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.storage import Storage
from django.db import models
from django.db.models.fields.files import FieldFile, ImageFieldFile
from django.utils.translation import gettext_lazy as _

from mediahub.storage import VISIBILITIES, alias_of, get_storage


def public_storage() -> Storage:
    """The public storage (a callable storage for ``FileField(storage=...)``)."""
    return get_storage("public")


def private_storage() -> Storage:
    """The private storage (a callable storage for ``FileField(storage=...)``)."""
    return get_storage("private")


_STORAGE_CALLABLES = {"public": public_storage, "private": private_storage}


class ExistingObject(str):
    """An object already in the field's storage, chosen in the widget instead of an upload."""


class RejectedObject(str):
    """A chosen name that is unsafe or absent from the storage (a form error)."""


class UncheckedObject(RejectedObject):
    """A chosen name the storage failed to check (S3 error or timeout: a form error)."""


class InvalidPick(RejectedObject):
    """A pick whose signed token is forged, expired or from the other storage (a form error)."""


def _signed_url(file: FieldFile) -> str:
    from mediahub import links

    file._require_file()
    alias = alias_of(file.storage) or file.field.visibility
    return links.sign(file.name, storage=alias)


class MediaFieldFile(FieldFile):
    """``.url`` is a signed link for private fields, the storage's URL for public ones."""

    @property
    def url(self) -> str:
        if self.field.visibility == "private":
            return _signed_url(self)
        return super().url


class MediaImageFieldFile(ImageFieldFile):
    """:class:`MediaFieldFile` for images."""

    @property
    def url(self) -> str:
        if self.field.visibility == "private":
            return _signed_url(self)
        return super().url


class MediaFormField(forms.FileField):
    """Accepts an upload, a clear, or an :class:`ExistingObject` chosen in the picker."""

    default_error_messages = {
        "unknown_object": _(
            "“%(name)s” is not a file of this storage. Choose it again in the media library."
        ),
        "storage_unavailable": _(
            "The file store did not answer while checking “%(name)s”. Try again in a minute."
        ),
        "invalid_pick": _(
            "The chosen file could not be verified (the choice expired or was not made in "
            "the media library). Choose it again."
        ),
        "active_content": _(
            "“%(name)s” is HTML, SVG or XML, which a browser could run as a page: public "
            "files of this kind are refused. Upload it as a private file, or another format."
        ),
    }

    def __init__(self, *args: Any, visibility: str = "public", **kwargs: Any) -> None:
        self.visibility = visibility
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        if isinstance(data, InvalidPick):
            raise ValidationError(self.error_messages["invalid_pick"], code="invalid_pick")
        if isinstance(data, UncheckedObject):
            raise ValidationError(
                self.error_messages["storage_unavailable"],
                code="storage_unavailable",
                params={"name": str(data)[:200]},
            )
        if isinstance(data, RejectedObject):
            raise ValidationError(
                self.error_messages["unknown_object"],
                code="unknown_object",
                params={"name": str(data)[:200]},
            )
        if isinstance(data, ExistingObject):
            if self.max_length is not None and len(data) > self.max_length:
                # The model column is this long: uploads get shortened names, a picked
                # object cannot be renamed.
                raise ValidationError(
                    self.error_messages["max_length"],
                    code="max_length",
                    params={"max": self.max_length, "length": len(data)},
                )
            return data
        cleaned = super().clean(data, initial)
        if self.visibility == "public" and hasattr(cleaned, "chunks"):
            from mediahub.storage import content

            try:
                content.check_public_write(cleaned.name or "", *content.declared_type(cleaned))
            except content.ActiveContentRefused:
                raise ValidationError(
                    self.error_messages["active_content"],
                    code="active_content",
                    params={"name": str(cleaned.name)[:200]},
                ) from None
        return cleaned

    def has_changed(self, initial: Any, data: Any) -> bool:
        if isinstance(data, ExistingObject | RejectedObject):
            return str(data) != str(initial or "")
        return super().has_changed(initial, data)


class MediaImageFormField(MediaFormField, forms.ImageField):
    """:class:`MediaFormField` that checks uploads are images."""


class VisibilityMixin:
    """Resolves ``storage`` from ``visibility`` at every access; keeps it out of migrations."""

    visibility = "public"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("storage") is not None:
            raise TypeError(
                f"{type(self).__name__} chooses its storage by visibility: remove storage= "
                "(use PublicFileField / PrivateFileField, or MediaFileField(visibility=...))."
            )
        kwargs.pop("storage", None)
        self._storage_ready = False
        super().__init__(*args, **kwargs)
        # For Django's system checks (and mediahub.E006): the storage is a callable.
        self._storage_callable = _STORAGE_CALLABLES[self.visibility]
        self._storage_ready = True

    @property
    def storage(self) -> Storage:
        if not getattr(self, "_storage_ready", False):
            # Inside FileField.__init__: no storage lookup at import time.
            return _UNSET
        return get_storage(self.visibility)

    @storage.setter
    def storage(self, value: Any) -> None:
        """Ignored: the storage always follows the visibility."""

    @property
    def thumbnail_storage(self) -> Storage | None:
        """Where easy-thumbnails' own API (``{% thumbnail %}``, ``get_thumbnailer``) writes.

        easy-thumbnails reads this attribute of a field; without it every thumbnail
        goes to ``STORAGES["easy_thumbnails"]``, the public bucket. A private field's
        thumbnails stay in the private storage (and their URLs are presigned); a
        public field keeps easy-thumbnails' default (None).
        """
        if self.visibility == "private":
            return get_storage("private")
        return None

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("storage", None)
        if path.startswith("mediahub.fields."):
            path = f"mediahub.fields.{type(self).__name__}"
        return name, path, args, kwargs

    def formfield(self, **kwargs: Any):
        from django.contrib.admin.widgets import AdminFileWidget

        from mediahub.widgets import MediaFileWidget

        widget = kwargs.get("widget")
        if widget is None or widget in (AdminFileWidget, forms.ClearableFileInput):
            kwargs["widget"] = MediaFileWidget(
                visibility=self.visibility,
                kind="image" if isinstance(self, models.ImageField) else "file",
            )
        kwargs.setdefault("form_class", self.form_class)
        if issubclass(kwargs["form_class"], MediaFormField):
            kwargs.setdefault("visibility", self.visibility)
        return super().formfield(**kwargs)

    def save_form_data(self, instance: models.Model, data: Any) -> None:
        if isinstance(data, ExistingObject):
            # The object is already in this storage: point at it, upload nothing.
            setattr(instance, self.name, str(data))
            return
        super().save_form_data(instance, data)


class _Unset(Storage):
    """Placeholder returned while FileField.__init__ runs (never used for I/O)."""


_UNSET = _Unset()


def _check_visibility(visibility: str) -> str:
    if visibility not in VISIBILITIES:
        raise ValueError(f"visibility must be 'public' or 'private', not {visibility!r}.")
    return visibility


class MediaFileField(VisibilityMixin, models.FileField):
    """A FileField in the public or private storage: ``MediaFileField(visibility="private")``."""

    attr_class = MediaFieldFile
    form_class = MediaFormField

    def __init__(self, *args: Any, visibility: str = "public", **kwargs: Any) -> None:
        self.visibility = _check_visibility(visibility)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if type(self) is MediaFileField:
            kwargs["visibility"] = self.visibility
        return name, path, args, kwargs


class PublicFileField(MediaFileField):
    """A FileField in the public storage."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, visibility="public", **kwargs)


class PrivateFileField(MediaFileField):
    """A FileField in the private storage; ``.url`` is a signed link."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, visibility="private", **kwargs)


class MediaImageField(VisibilityMixin, models.ImageField):
    """An ImageField in the public or private storage: ``MediaImageField(visibility=...)``."""

    attr_class = MediaImageFieldFile
    form_class = MediaImageFormField

    def __init__(self, *args: Any, visibility: str = "public", **kwargs: Any) -> None:
        self.visibility = _check_visibility(visibility)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if type(self) is MediaImageField:
            kwargs["visibility"] = self.visibility
        return name, path, args, kwargs


class PublicImageField(MediaImageField):
    """An ImageField in the public storage."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, visibility="public", **kwargs)


class PrivateImageField(MediaImageField):
    """An ImageField in the private storage; ``.url`` is a signed link."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, visibility="private", **kwargs)
