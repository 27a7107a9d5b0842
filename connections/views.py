from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from portal import outbox
from tenants.access import admin_required, member_required, scoped

from . import permissions, services
from .forms import ConnectionForm, FeaturesForm
from .health.services import earlier_runs, health_checks_request, latest_results
from .microsoft import consent_proof
from .microsoft.grants import missing_permissions
from .models import Connection, ConsentRequest, Credential, Provider
from .status import connection_status_evaluate, delegated_sign_in_missing
from .tasks import verify_microsoft_grants


@member_required
def connection_list(request):
    connections = Connection.objects.filter(organization=request.organization).select_related("site", "tenant")
    return render(request, "connections/connection_list.html", {"connections": connections})


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


def live_context(connection):
    """What _live.html shows: status and why, consent requests, grants, credentials, checks
    (the member's connection page, and support's read-only view of it)."""
    required = {(p.kind, p.name) for p in permissions.graph_permissions(connection.features)}
    grants = list(connection.grants.filter(provider=Provider.MICROSOFT).select_related("requested_by"))
    for grant in grants:
        grant.required = (grant.kind, grant.name) in required
    consent_requests = list(connection.consent_requests.select_related("created_by")[:10])
    # The callback URL a consent came back to is kept on its grants; shown once per consent.
    callbacks = {g.consent_request_id: (g.redirect_uri, g.cloud) for g in grants if g.redirect_uri}
    for cr in consent_requests:
        cr.callback_uri, cr.callback_cloud = callbacks.get(cr.pk, ("", ""))
    return {
        "connection": connection,
        "grants": grants,
        "missing": missing_permissions(connection),
        "consent_requests": consent_requests,
        "app_access_proof": consent_proof.app_access_proof(connection),
        "feature_list": permissions.features(connection.features),
        **_health_context(connection),
    }


def _health_context(connection):
    """Why the status is what it is, both sides' credential health, the latest checks."""
    results = latest_results(connection)
    app_token = next((r for r in results if r.check_name == "microsoft_app_token"), None)
    return {
        "status_reasons": connection_status_evaluate(connection).reasons,
        "delegated_missing": delegated_sign_in_missing(connection),
        "delegated_credential": connection.credentials.filter(kind=Credential.Kind.MICROSOFT_DELEGATED).first(),
        "app_token_result": app_token,
        "site_credential": Credential.objects.filter(site=connection.site_id).order_by("pk").first(),
        "health_results": results,
        "health_checked_at": max((r.checked_at for r in results), default=None),
        "health_history": earlier_runs(connection),
    }


@member_required
def connection_detail(request, connection_id):
    connection = scoped(request, Connection, pk=connection_id)
    return render_connection_page(request, connection)


def render_connection_page(request, connection, *, status=200, **extra):
    """The connection page; `extra` carries a refused form back to it (its errors by the field)."""
    events = request.organization.audit_events.filter(
        target_type="connection", target_id=str(connection.pk)
    ).select_related("actor_user")[:20]
    context = live_context(connection)
    context.update(
        events=events,
        features_form=FeaturesForm(initial={"features": connection.features}),
        **_consent_links_context(request, connection),
        **extra,
    )
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
    return render(request, "connections/_live.html", live_context(connection))


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
    outbox.enqueue(verify_microsoft_grants, connection_id=connection.pk, acting_user_id=request.user.pk)
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
