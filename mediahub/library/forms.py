"""Forms of the media library; every name field runs through :mod:`mediahub.names`."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousFileOperation
from django.utils.translation import gettext_lazy as _

from mediahub.conf import app_settings
from mediahub.dsn import MAX_PRESIGN_EXPIRY
from mediahub.names import validate_folder, validate_name


def _name_error(exc: SuspiciousFileOperation) -> forms.ValidationError:
    return forms.ValidationError(
        _("Unsafe name: use relative names without '..', empty segments or control characters.")
    )


class FolderForm(forms.Form):
    """A new folder, one segment, created in the current folder."""

    name = forms.CharField(label=_("Folder name"), max_length=255, strip=True)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if "/" in name:
            raise forms.ValidationError(_("A folder name cannot contain '/'."))
        try:
            validate_name(name)
        except SuspiciousFileOperation as exc:
            raise _name_error(exc) from None
        return name


class MoveForm(forms.Form):
    """The new full name of a file (``a/b.txt``) or folder (``a/b/``)."""

    new_name = forms.CharField(
        label=_("New name"),
        max_length=1024,
        strip=True,
        help_text=_("The full name inside the storage; change the folder part to move it."),
    )

    def __init__(self, *args, folder: bool = False, **kwargs) -> None:
        self.folder = folder
        super().__init__(*args, **kwargs)

    def clean_new_name(self) -> str:
        name = self.cleaned_data["new_name"]
        try:
            if self.folder:
                if not name.endswith("/"):
                    name += "/"
                validate_folder(name)
                if not name:
                    raise SuspiciousFileOperation("root")
            else:
                validate_name(name)
        except SuspiciousFileOperation as exc:
            raise _name_error(exc) from None
        return name


class SignForm(forms.Form):
    """The signed-link generator of a private file."""

    expires_in = forms.IntegerField(
        label=_("Valid for (seconds)"),
        min_value=1,
        max_value=MAX_PRESIGN_EXPIRY,
        initial=lambda: app_settings.LINK_EXPIRY,
    )
    inline = forms.BooleanField(
        label=_("Open in the browser (inline) instead of downloading"), required=False
    )
    username = forms.CharField(
        label=_("Only for user"),
        required=False,
        max_length=150,
        help_text=_("Optional: the link then works only for this logged-in user."),
    )

    def clean_username(self):
        username = self.cleaned_data["username"]
        if not username:
            return None
        model = get_user_model()
        try:
            return model._default_manager.get_by_natural_key(username)
        except model.DoesNotExist:
            raise forms.ValidationError(_("No user with this username.")) from None
