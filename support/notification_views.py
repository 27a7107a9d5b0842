"""Support staff: a connection's Teams notification delivery log, read-only and audited like
every other look inside an organization (under a support access with a ticket and a reason)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from connections.models import Connection
from connections.notifications import selectors as notification_selectors
from tenants.access import staff_required
from tenants.audit import audit_record
from tenants.models import AuditAction

from .staff_views import _access_or_redirect, _look


@staff_required
def connection_notifications(request: HttpRequest, connection_id: int) -> HttpResponse:
    connection = get_object_or_404(Connection.objects.select_related("organization", "site", "tenant"),
                                   pk=connection_id)
    access, refused = _access_or_redirect(request, connection.organization)
    if refused:
        return refused
    assert access is not None
    audit_record(organization=connection.organization, action=AuditAction.SUPPORT_VIEWED, actor=request.user,
                 target=connection, details=_look(access, page="notification deliveries"))
    return render(request, "support/connection_notifications.html", {
        "connection": connection, "org": connection.organization, "access": access,
        "targets": notification_selectors.targets(connection), "webhook": notification_selectors.webhook(connection),
        "log": notification_selectors.delivery_log(connection, limit=200),
    })
