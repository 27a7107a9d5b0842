"""Teams notifications: the page (which channel gets each Jira project's and Confluence space's
events, the Jira webhook, the delivery log), the picker, and the receiver Jira posts to.
Thin: the services write, the selectors read."""

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from portal.client_ip import client_ip
from tenants.access import admin_required, member_required, scoped

from .. import permissions
from ..models import Connection, NotificationTarget
from . import selectors, services
from .forms import TargetForm

MAX_BODY = 512 * 1024  # Jira's issue events are far smaller


def _back(connection):
    return redirect(reverse("connections:notifications", args=[connection.pk]))


def _picking(request, rows):
    """The row the admin is picking a channel for (?pick=source:id), or None."""
    source, _, source_id = request.GET.get("pick", "").partition(":")
    return next((r for r in rows if r["source"] == source and r["id"] == source_id), None)


@member_required
@require_GET
def notifications_page(request, connection_id):
    connection = scoped(request, Connection, pk=connection_id)
    context = {"connection": connection, "rows": [], "picking": None, "picker": None, "errors": [],
               "webhook": selectors.webhook(connection), "log": selectors.delivery_log(connection),
               "enabled": "teams_notifications" in (connection.features or []),
               "posts_as": permissions.FEATURES["teams_notifications"].posts}
    context["rows"], context["errors"] = selectors.sources(connection)
    picking = _picking(request, context["rows"])
    if picking is not None and request.membership.is_admin and context["enabled"]:
        context["picking"] = picking
        team_id = request.GET.get("team", "")
        try:
            context["picker"] = services.picker_choices(connection, team_id or None)
            context["team_id"] = team_id
        except ValidationError as exc:
            context["errors"] += exc.messages
    return render(request, "connections/notifications.html", context)


@admin_required
@require_POST
def notifications_set(request, connection_id):
    connection = scoped(request, Connection, pk=connection_id)
    form = TargetForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return _back(connection)
    try:
        target = services.target_set(connection=connection, acting_user=request.user, **form.cleaned_data)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return _back(connection)
    messages.success(request, f"{target.source_key} now notifies {target.team_name} / {target.channel_name}.")
    return _back(connection)


@admin_required
@require_POST
def notifications_clear(request, connection_id, target_id):
    connection = scoped(request, Connection, pk=connection_id)
    if not NotificationTarget.objects.filter(connection=connection, pk=target_id).exists():
        raise Http404
    try:
        services.target_clear(connection=connection, target_id=target_id, acting_user=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, "Notifications switched off for it.")
    return _back(connection)


@csrf_exempt
@require_POST
def jira_webhook(request, receiver):
    """Jira's delivery: no session and no CSRF token (Atlassian cannot send one); the signed
    JWT in its Authorization header is what the service checks."""
    if len(request.body) > MAX_BODY:
        return HttpResponse(status=413)
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        body = None
    received = services.receive(receiver=str(receiver), authorization=request.headers.get("Authorization", ""),
                                body=body, client=client_ip(request) or "")
    return HttpResponse(status=received.status)
