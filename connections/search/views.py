"""The Microsoft Search section of a connection: the six setup steps and the status."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from tenants.access import admin_required, member_required, scoped

from ..models import Connection
from . import selectors, services
from .forms import STEP_FORMS, DisconnectForm, FilterStepForm, PermissionsStepForm, initial_for


def _connection(request, connection_id) -> Connection:
    connection = scoped(request, Connection, pk=connection_id)
    if services.FEATURE not in (connection.features or []):
        raise Http404("Microsoft Search is not a feature of this connection.")
    return connection


def _page(request, connection, *, status=200, refused=None, preview=None, identity_preview=None):
    context = selectors.status_context(connection)
    search = context["search"]
    forms = {step: form_class(initial=initial_for(step, search), prefix=step)
             for step, form_class in STEP_FORMS.items()}
    if refused is not None:
        forms[refused[0]] = refused[1]
    context.update({"connection": connection, "forms": forms, "disconnect_form": DisconnectForm(prefix="disconnect"),
                    "preview": preview, "identity_preview": identity_preview})
    return render(request, "connections/search/search.html", context, status=status)


@member_required
@require_GET
def search_page(request, connection_id):
    return _page(request, _connection(request, connection_id))


@admin_required
@require_POST
def search_step(request, connection_id, step):
    connection = _connection(request, connection_id)
    form_class = STEP_FORMS.get(step)
    if form_class is None:
        raise Http404("No such step.")
    form = form_class(request.POST, prefix=step)
    if not form.is_valid():
        return _page(request, connection, status=400, refused=(step, form))
    values = {name: form.cleaned_data[name] for name in services.STEP_FIELDS[step]}
    try:
        services.search_save_step(connection=connection, step=step, values=values, acting_user=request.user)
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            for field, problems in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, problems)
        else:
            form.add_error(None, exc.messages)
        return _page(request, connection, status=400, refused=(step, form))
    messages.success(request, "Saved.")
    return redirect(reverse("connections:search", args=[connection.pk]) + f"#step-{step}")


@admin_required
@require_POST
def search_preview(request, connection_id):
    """The filter step's Preview: the filter as typed (not yet saved)."""
    connection = _connection(request, connection_id)
    form = FilterStepForm(request.POST, prefix="filter")
    if not form.is_valid():
        return _page(request, connection, status=400, refused=("filter", form))
    search = services.search_get_or_default(connection)
    result = selectors.preview(connection, search, space_keys=form.cleaned_data["space_keys"],
                               cql=form.cleaned_data["cql"])
    return _page(request, connection, refused=("filter", form), preview=result)


@admin_required
@require_POST
def search_identity_preview(request, connection_id):
    """Step 4's preview of the non-Entra rule on five random Confluence users."""
    connection = _connection(request, connection_id)
    form = PermissionsStepForm(request.POST, prefix="permissions")
    if not form.is_valid():
        return _page(request, connection, status=400, refused=("permissions", form))
    rows = selectors.identity_preview(connection, pattern=form.cleaned_data["upn_pattern"],
                                      formula=form.cleaned_data["upn_formula"])
    return _page(request, connection, refused=("permissions", form), identity_preview=rows)


@admin_required
@require_POST
def search_publish(request, connection_id):
    connection = _connection(request, connection_id)
    try:
        services.search_publish(connection=connection, acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _page(request, connection, status=400)
    messages.success(request, "Published: the portal creates the Microsoft Search connection, then crawls.")
    return redirect("connections:search", connection_id=connection.pk)


@admin_required
@require_POST
def search_run(request, connection_id, what):
    connection = _connection(request, connection_id)
    try:
        services.search_run_start(connection=connection, what=what, acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _page(request, connection, status=400)
    messages.success(request, "Crawl queued.")
    return redirect("connections:search", connection_id=connection.pk)


@admin_required
@require_POST
def search_disconnect(request, connection_id):
    connection = _connection(request, connection_id)
    form = DisconnectForm(request.POST, prefix="disconnect")
    form.is_valid()  # a checkbox: always valid
    try:
        services.search_disconnect(connection=connection, remove_index=form.cleaned_data.get("remove_index", False),
                                   acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _page(request, connection, status=400)
    messages.success(request, "Microsoft Search disconnected" + (
        " and its index removed." if form.cleaned_data.get("remove_index") else "; the index stays."))
    return redirect("connections:search", connection_id=connection.pk)
