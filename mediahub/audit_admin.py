"""Read-only admin of the download audit log."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.http import HttpRequest

from mediahub.models import DownloadLog


@admin.register(DownloadLog)
class DownloadLogAdmin(admin.ModelAdmin):
    """Browse and filter downloads; nothing can be added, changed or deleted here."""

    list_display = ("created", "outcome", "storage", "name", "user", "ip", "method")
    list_filter = ("outcome", "storage", "method", ("created", admin.DateFieldListFilter))
    search_fields = ("name", "ip", f"user__{get_user_model().USERNAME_FIELD}")
    date_hierarchy = "created"
    list_select_related = ("user",)
    readonly_fields = (
        "created",
        "outcome",
        "storage",
        "name",
        "user",
        "ip",
        "user_agent",
        "method",
    )
    fields = readonly_fields
    show_full_result_count = False

    class Media:
        css = {"all": ["mediahub/audit_admin.css"]}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
