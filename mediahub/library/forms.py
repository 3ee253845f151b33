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


#: Lifetime presets of the signed-link form (seconds, label).
LIFETIME_PRESETS = [
    (3600, _("1 hour")),
    (86400, _("1 day")),
    (7 * 86400, _("7 days")),
]
#: Units of a custom lifetime, in seconds.
UNITS = {"minutes": 60, "hours": 3600, "days": 86400}


class SignForm(forms.Form):
    """The signed-link generator: a preset lifetime or a custom one in human units."""

    lifetime = forms.ChoiceField(
        label=_("Valid for"),
        choices=[(str(seconds), label) for seconds, label in LIFETIME_PRESETS]
        + [("custom", _("Custom"))],
        initial="86400",
        widget=forms.RadioSelect,
    )
    amount = forms.IntegerField(
        label=_("Custom lifetime"), required=False, min_value=1, max_value=10_080
    )
    unit = forms.ChoiceField(
        label=_("Unit"),
        required=False,
        initial="hours",
        choices=[("minutes", _("minutes")), ("hours", _("hours")), ("days", _("days"))],
    )
    inline = forms.BooleanField(
        label=_("Open in the browser (inline) instead of downloading"), required=False
    )
    username = forms.CharField(
        label=_("Only for user"),
        required=False,
        max_length=150,
        help_text=_("Optional: the link then works only for this logged-in user."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "list": "mediahub-users"}),
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

    def clean(self):
        cleaned = super().clean()
        lifetime = cleaned.get("lifetime")
        if lifetime is None:
            return cleaned
        if lifetime == "custom":
            amount, unit = cleaned.get("amount"), cleaned.get("unit")
            if not amount or unit not in UNITS:
                raise forms.ValidationError(
                    _("Enter a custom lifetime: a number and a unit (minutes, hours or days).")
                )
            seconds = amount * UNITS[unit]
        else:
            seconds = int(lifetime)
        longest = min(int(app_settings.LINK_MAX_EXPIRY), MAX_PRESIGN_EXPIRY)
        if seconds > longest:
            raise forms.ValidationError(
                _("A link can be valid for at most %(days)s days.")
                % {"days": round(longest / 86400, 1)}
            )
        cleaned["expires_in"] = seconds
        return cleaned


class TargetFolderForm(forms.Form):
    """The folder a selection is moved to (``a/b/``; empty for the top level)."""

    target = forms.CharField(
        label=_("Move to folder"),
        max_length=1024,
        required=False,
        strip=True,
        help_text=_("Browse or type a folder name; a folder that does not exist yet is created."),
        widget=forms.TextInput(
            attrs={"class": "vLargeTextField mediahub-folder-input", "autocomplete": "off"}
        ),
    )

    def clean_target(self) -> str:
        name = self.cleaned_data["target"].strip("/")
        if not name:
            return ""
        try:
            return validate_folder(name + "/")
        except SuspiciousFileOperation as exc:
            raise _name_error(exc) from None
