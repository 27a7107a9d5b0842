from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from tenants.access import admin_required, member_required, scoped

from . import permissions, selectors, services
from .forms import ConnectionFilterForm, ConnectionForm, FeaturesForm
from .health.services import health_checks_request
from .microsoft import consent_proof, verification
from .microsoft.grants import missing_permissions
from .models import Connection, ConsentRequest

PAGE_SIZE = 50


@member_required
def connection_list(request):
    """Every connection of the organization, 50 a page: search by site or tenant, filter by status."""
    form = ConnectionFilterForm(request.GET or None)
    query, status = form.values()
    scope = form.scope()
    connections = selectors.connection_search(request.organization, query=query, status=status, **scope)
    counts = selectors.status_counts(request.organization, **scope)
    # Without a search the counts by status already say how many there are.
    page = selectors.connection_page(connections, request.GET.get("page"), size=PAGE_SIZE,
                                     counts=None if query else counts, status=status)
    return render(request, "connections/connection_list.html", {
        "form": form,
        "page": page,
        "connections": page.object_list,
        "filtered": bool(query or status or scope),
        "status_counts": counts,
        "scope_object": selectors.scope_object(request.organization, **scope),
        "status": status,
    })


@admin_required
def connection_new(request):
    form = ConnectionForm(request.POST or None, organization=request.organization, initial=request.GET.dict())
    if request.method == "POST" and form.is_valid():
        try:
            connection = services.connection_create(acting_user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"{connection} created. It needs consent before it works.")
            return redirect("connections:connection_detail", connection_id=connection.pk)
    return render(request, "connections/connection_form.html", {"form": form})


@member_required
def connection_detail(request, connection_id):
    connection = scoped(request, Connection, pk=connection_id)
    return render_connection_page(request, connection)


def render_connection_page(request, connection, *, status=200, **extra):
    """The connection page; `extra` carries a refused form back to it (its errors by the field)."""
    context = {
        **selectors.live_context(connection),
        **selectors.jobs_context(connection, schedule_refused=extra.get("schedule_refused")),
        "events": selectors.connection_events(connection),
        "features_form": FeaturesForm(initial={"features": connection.features}),
        **_consent_links_context(request, connection),
        **extra,
    }
    return render(request, "connections/connection_detail.html", context, status=status)


def _consent_links_context(request, connection):
    """An admin's view of the connection's consent links: each with its state, and the newest open
    one ready to copy (its token is read for an admin of the organization only)."""
    if not request.membership.is_admin:
        return {}
    links = list(connection.consent_requests.filter(kind=ConsentRequest.Kind.LINK).select_related("created_by")[:20])
    open_link = next((cr for cr in links if cr.is_usable and cr.token), None)
    url = (
        settings.SITE_URL + reverse("connections:microsoft:consent_link", args=[open_link.token]) if open_link else ""
    )
    return {
        "consent_links": links, "open_link": open_link, "open_link_url": url,
        **permissions.consent_screen_note(permissions.application_permissions(connection.features)),
    }


@member_required
@require_GET
def connection_live(request, connection_id):
    """The part of the connection page that changes on its own (polled by static/js/portal.js)."""
    connection = scoped(request, Connection, pk=connection_id)
    return render(request, "connections/_live.html", selectors.live_context(connection))


@admin_required
@require_POST
def connection_features(request, connection_id):
    connection = scoped(request, Connection, pk=connection_id)
    form = FeaturesForm(request.POST)
    if form.is_valid():
        try:
            connection = services.connection_set_features(
                connection=connection, features=form.cleaned_data["features"], acting_user=request.user
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("connections:connection_detail", connection_id=connection.pk)
        missing = missing_permissions(connection)
        if missing and connection.status != Connection.Status.PENDING_CONSENT:
            messages.warning(request, f"Features saved. They need more permissions: {', '.join(missing)}.")
        else:
            messages.success(request, "Features saved.")
    else:
        messages.error(request, "Choose at least one feature.")
    return redirect("connections:connection_detail", connection_id=connection.pk)


@admin_required
@require_POST
def connection_verify(request, connection_id):
    connection = scoped(request, Connection, pk=connection_id)
    verification.verify_request(connection=connection, acting_user=request.user)
    if not consent_proof.has_app_access(connection):
        reason = consent_proof.NoOwnConsent(connection)
        messages.warning(request, f"{reason} {reason.remedy}")
    else:
        messages.info(request, "Checking the grants with Microsoft; the table below updates by itself.")
    return redirect("connections:connection_detail", connection_id=connection.pk)


@admin_required
@require_POST
def connection_health_run(request, connection_id):
    connection = scoped(request, Connection, pk=connection_id)
    try:
        health_checks_request(connection=connection, acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.info(request, "Health checks are running; the results below update by themselves.")
    return redirect("connections:connection_detail", connection_id=connection.pk)
