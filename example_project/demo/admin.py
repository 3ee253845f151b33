from __future__ import annotations

from django.contrib import admin

from example_project.demo.models import Document


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ("title", "attachment", "contract", "cover", "scan")
    search_fields = ("title",)
