"""Django's admin (development only, see portal/urls.py) shows the audit trail read-only:
no add, no change, no delete, for anyone, superusers included."""

from django.contrib import admin
from django.http import HttpRequest

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "organization", "actor_label", "action", "target_label", "chain_seq")
    list_filter = ("action",)
    search_fields = ("actor_label", "target_label")
    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False
