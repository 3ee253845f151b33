"""The one place that decides what a user may do in the media library.

``admin_site.admin_view`` only checks ``is_staff``; every library view also asks
:func:`require` for the model permission of its action (403 otherwise).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from mediahub.storage import VISIBILITIES

#: Actions of the library and the permission (``mediahub.<codename>``) each needs,
#: besides the permission to view the storage it acts on.
ACTION_PERMISSIONS: dict[str, str | None] = {
    "view": None,
    "upload": "upload",
    "delete": "delete",
    "move": "delete",  # moving removes the original
    "publish": "publish",
    "sign": "sign",
}


def check_storage(storage: str) -> str:
    """Return ``storage`` if it is ``"public"`` or ``"private"``, else raise 404."""
    if storage not in VISIBILITIES:
        raise Http404("Unknown storage.")
    return storage


def view_permission(storage: str) -> str:
    """The permission needed to browse ``storage`` (``mediahub.view_public``/``_private``)."""
    return f"mediahub.view_{check_storage(storage)}"


def can(user, action: str, storage: str) -> bool:
    """True when ``user`` may perform ``action`` on the files of ``storage``.

    Every action needs the view permission of the storage it acts on;
    ``publish`` also needs the view permission of the other storage, since it
    moves files there.
    """
    if action not in ACTION_PERMISSIONS:
        raise ValueError(f"Unknown library action {action!r}.")
    if not (user.is_active and user.is_staff):
        return False
    needed = [view_permission(storage)]
    if action == "publish":
        needed.append(view_permission(other_storage(storage)))
    extra = ACTION_PERMISSIONS[action]
    if extra:
        needed.append(f"mediahub.{extra}")
    return user.has_perms(needed)


def require(user, action: str, storage: str) -> None:
    """Raise :class:`PermissionDenied` (403) unless :func:`can` allows the action."""
    if not can(user, action, storage):
        raise PermissionDenied


def allowed_actions(user, storage: str) -> dict[str, bool]:
    """``{"upload": True, ...}`` for templates: which buttons to show."""
    return {action: can(user, action, storage) for action in ACTION_PERMISSIONS}


def other_storage(storage: str) -> str:
    """``"private"`` for ``"public"`` and the reverse."""
    return "private" if check_storage(storage) == "public" else "public"
