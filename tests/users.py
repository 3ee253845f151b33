"""Users for the tests: staff members holding some of mediahub's permissions."""

from __future__ import annotations

from django.contrib.auth.models import Permission


def make_user(django_user_model, *perms: str, username: str = "editor", staff: bool = True):
    """A user (password ``pw``) with the mediahub permissions named by codename."""
    user = django_user_model.objects.create_user(username, password="pw", is_staff=staff)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="mediahub", codename__in=perms)
    )
    return user
