"""Pages for disconnecting and reconnecting, and the per-project Teams switches. Thin: the
work is in lifecycle.py and projects.py."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from tenants.access import admin_required, scoped
from tenants.models import AtlassianSite, MicrosoftTenant

from . import lifecycle, projects
from .models import Connection, ConnectionProject


def _back(connection):
    return redirect("connections:connection_detail", connection_id=connection.pk)


@admin_required
def connection_disconnect(request, connection_id):
    connection = scoped(request, Connection, pk=connection_id)
    if request.method == "POST":
        outcome = lifecycle.connection_disconnect(connection=connection, acting_user=request.user)
        (messages.success if outcome.changed else messages.info)(request, outcome.message)
        return _back(connection)
    if connection.status == Connection.Status.DISCONNECTED:
        messages.info(request, f"{connection} is already disconnected.")
        return _back(connection)
    return render(request, "connections/disconnect_confirm.html", {
        "connection": connection,
        "remaining": lifecycle.remaining_access(connection),
        "microsoft_app_id": settings.MICROSOFT_CLIENT_ID,
    })


@admin_required
@require_POST
def connection_reconnect(request, connection_id):
    connection = scoped(request, Connection, pk=connection_id)
    try:
        outcome = lifecycle.connection_reconnect(connection=connection, acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        level = messages.success if outcome.connection.status == Connection.Status.ACTIVE else messages.warning
        (level if outcome.changed else messages.info)(request, outcome.message)
    return _back(connection)


def _disconnect_all(request, obj, disconnect, back):
    connections = obj.connections.exclude(status=Connection.Status.DISCONNECTED).select_related("site", "tenant")
    if request.method == "POST":
        done = disconnect(request.user)
        messages.success(request, f"{obj}: {len(done)} connection{'s' if len(done) != 1 else ''} disconnected.")
        return redirect(back, obj.pk)
    return render(request, "connections/disconnect_all_confirm.html", {
        "object": obj, "connections": connections, "microsoft_app_id": settings.MICROSOFT_CLIENT_ID,
        "is_tenant": isinstance(obj, MicrosoftTenant),
    })


@admin_required
def tenant_disconnect(request, tenant_id):
    tenant = scoped(request, MicrosoftTenant, pk=tenant_id)
    def disconnect(user):
        return lifecycle.tenant_disconnect(tenant=tenant, acting_user=user)

    return _disconnect_all(request, tenant, disconnect, "tenants:tenant_detail")


@admin_required
def site_disconnect(request, site_id):
    site = scoped(request, AtlassianSite, pk=site_id)
    def disconnect(user):
        return lifecycle.site_disconnect(site=site, acting_user=user)

    return _disconnect_all(request, site, disconnect, "tenants:site_detail")


@admin_required
@require_POST
def projects_refresh(request, connection_id):
    connection = scoped(request, Connection, pk=connection_id)
    try:
        listed = projects.projects_refresh(connection=connection, acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        current = [p for p in listed if not p.gone_at]
        messages.success(request, f"{len(current)} service project{'s' if len(current) != 1 else ''} read from Jira.")
    return _back(connection)


@admin_required
@require_POST
def project_teams(request, project_id):
    project = get_object_or_404(ConnectionProject, connection__organization=request.organization, pk=project_id)
    enabled = request.POST.get("teams") == "on"
    try:
        projects.project_set_teams(project=project, enabled=enabled, acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Teams is {'on' if enabled else 'off'} for {project.key}.")
    return _back(project.connection)
