"""The "Jobs" part of the connection page: recent runs with live progress, Start / Cancel /
Retry and schedules for admins (through the services), read-only for viewers."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from tenants.access import admin_required, member_required, scoped

from ..models import Connection, SyncRun
from ..selectors import jobs_context
from ..views import render_connection_page
from . import schedules, services


class StartForm(forms.Form):
    kind = forms.ChoiceField(choices=SyncRun.Kind.choices)
    mode = forms.ChoiceField(choices=SyncRun.Mode.choices)


class ScheduleForm(forms.Form):
    kind = forms.ChoiceField(choices=SyncRun.Kind.choices)
    enabled = forms.BooleanField(required=False)
    full_every_minutes = forms.IntegerField(min_value=0, max_value=60 * 24 * 90)
    incremental_every_minutes = forms.IntegerField(min_value=0, max_value=60 * 24 * 90)


def _schedule_refused(request, connection, form, errors):
    """The page again, at the schedule's row, with what was typed and each error by its field."""
    refused = {
        "kind": form.data.get("kind", ""),
        "values": {name: form.data.get(name, "") for name in ("full_every_minutes", "incremental_every_minutes")},
        "enabled": form.data.get("enabled") in ("on", "true", "1"),
        # Errors not about one field ("__all__") show under the row as "whole".
        "errors": {("whole" if k == "__all__" else k): v for k, v in errors.items()},
    }
    return render_connection_page(request, connection, status=400, schedule_refused=refused)


def _back(connection):
    return redirect(reverse("connections:connection_detail", args=[connection.pk]) + "#jobs")


@member_required
@require_GET
def jobs_live(request, connection_id):
    """The runs table alone, polled every few seconds by static/js/portal.js."""
    connection = scoped(request, Connection, pk=connection_id)
    return render(request, "connections/_sync_runs_live.html", jobs_context(connection))


@admin_required
@require_POST
def job_start(request, connection_id):
    connection = scoped(request, Connection, pk=connection_id)
    form = StartForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a job and a mode (full or incremental).")
        return _back(connection)
    try:
        run = services.sync_run_start(
            connection=connection,
            kind=form.cleaned_data["kind"],
            mode=form.cleaned_data["mode"],
            acting_user=request.user,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{run.get_kind_display()} ({run.get_mode_display().lower()}) queued.")
    return _back(connection)


@admin_required
@require_POST
def job_cancel(request, connection_id, run_id):
    connection = scoped(request, Connection, pk=connection_id)
    run = scoped(request, SyncRun, pk=run_id, connection=connection)
    try:
        services.sync_run_cancel(run=run, acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.info(request, f"Cancelling run #{run.pk}; it stops after its current step.")
    return _back(connection)


@admin_required
@require_POST
def job_retry(request, connection_id, run_id):
    connection = scoped(request, Connection, pk=connection_id)
    run = scoped(request, SyncRun, pk=run_id, connection=connection)
    try:
        retry = services.sync_run_retry(run=run, acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Run #{retry.pk} goes on from where run #{run.pk} stopped.")
    return _back(connection)


@admin_required
@require_POST
def schedule_save(request, connection_id):
    connection = scoped(request, Connection, pk=connection_id)
    form = ScheduleForm(request.POST)
    if not form.is_valid():
        return _schedule_refused(request, connection, form, {k: " ".join(v) for k, v in form.errors.items()})
    try:
        schedule = schedules.sync_schedule_save(connection=connection, acting_user=request.user, **form.cleaned_data)
    except ValidationError as exc:
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        return _schedule_refused(request, connection, form, {k: " ".join(v) for k, v in errors.items()})
    else:
        state = "on" if schedule.enabled else "off"
        messages.success(request, f"Schedule for {schedule.get_kind_display().lower()} saved ({state}).")
    return _back(connection)
