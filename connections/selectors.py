"""Reads: the queries and page contexts of connections, for this app's pages and the pages
above it (dashboard, site, tenant and support pages). Nothing here writes."""

from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, QuerySet

from tenants.models import AtlassianSite, AuditEvent, MicrosoftTenant, Organization

from . import permissions
from .health.services import earlier_runs, latest_results
from .microsoft import consent_proof
from .microsoft.grants import missing_permissions
from .models import Connection, Credential, Provider, SyncRun, TeamsChannel, TeamsTeam
from .status import connection_status_evaluate, delegated_sign_in_missing
from .sync import schedules

RECENT_RUNS = 10

# Worst first: what needs someone's attention before what works.
PROBLEM_STATUSES = [
    Connection.Status.NEEDS_REAUTH,
    Connection.Status.DEGRADED,
    Connection.Status.PENDING_CONSENT,
    Connection.Status.DISCONNECTED,
]


# --- lists ------------------------------------------------------------------------------------


# What a connection's row in a list shows (its link, site, tenant, status, dates): the rest (the
# features, the sites' products and tenants' domains, decoded from JSON for each row) is left in
# the database.
ROW_FIELDS = ("id", "organization_id", "site_id", "tenant_id", "status", "created_at", "updated_at",
              "site__name", "tenant__display_name")


def connection_search(
    organization: Organization, *, query: str = "", status: str = "", site_id: int | None = None,
    tenant_id: int | None = None,
) -> QuerySet[Connection]:
    """An organization's connections matching a search (site name or address, tenant name or
    id), a status and a site or tenant, in the list's order (site, then tenant)."""
    # The site's organization is the connection's; saying so lets PostgreSQL read the sites in
    # name order from their index and stop after a page, instead of sorting every connection.
    connections = Connection.objects.filter(organization=organization, site__organization=organization)
    connections = connections.select_related("site", "tenant").only(*ROW_FIELDS)
    if query:
        # The search runs over the organization's sites and tenants (about the square root of its
        # connections each), then picks their connections by index: the text is never matched
        # against every connection's joined row.
        sites = AtlassianSite.objects.filter(organization=organization).filter(
            Q(name__icontains=query) | Q(url__icontains=query)
        )
        tenants = MicrosoftTenant.objects.filter(organization=organization).filter(
            Q(display_name__icontains=query) | Q(tenant_id__icontains=query)
        )
        connections = connections.filter(Q(site__in=sites.values("pk")) | Q(tenant__in=tenants.values("pk")))
    if status:
        connections = connections.filter(status=status)
    if site_id is not None:
        connections = connections.filter(site_id=site_id)
    if tenant_id is not None:
        connections = connections.filter(tenant_id=tenant_id)
    return connections


def status_counts(organization: Organization, **filters: Any) -> list[dict[str, Any]]:
    """How many of the organization's connections have each status, problems first, every
    status listed (zero included): one GROUP BY, whatever the number of connections."""
    rows = (
        Connection.objects.filter(organization=organization, **filters)
        .order_by()
        .values("status")
        .annotate(n=Count("id"))
    )
    counts = {row["status"]: row["n"] for row in rows}
    order = [*PROBLEM_STATUSES, Connection.Status.ACTIVE]
    return [{"status": s.value, "label": s.label, "count": counts.get(s.value, 0), "problem": s != "active"}
            for s in order]


def connection_page(connections: QuerySet[Connection], number: str | None, *, size: int,
                    counts: list[dict[str, Any]] | None = None, status: str = "") -> Page:
    """One page of `connections`. When `counts` (status_counts of the same connections) are given,
    the total comes from them instead of another COUNT(*) over every connection."""
    paginator = Paginator(connections, size)
    if counts is not None:
        total = sum(row["count"] for row in counts if not status or row["status"] == status)
        paginator.__dict__["count"] = total  # Paginator.count is a cached property: it is known
    return paginator.get_page(number)


def problem_connections(organization: Organization, *, limit: int) -> list[Connection]:
    """Up to `limit` connections that need attention: the worst status first, within a status the
    most recently changed first. One short indexed query per status (index connection_org_status),
    however many connections the organization has."""
    found: list[Connection] = []
    for status in PROBLEM_STATUSES:
        found += connection_search(organization, status=status).order_by("-updated_at", "-pk")[:limit]
    return found[:limit]


def connection_events(connection: Connection, *, limit: int = 20) -> QuerySet[AuditEvent]:
    """The connection's own audit trail, newest first (index audit_org_target)."""
    return AuditEvent.objects.filter(
        organization_id=connection.organization_id, target_type="connection", target_id=str(connection.pk)
    ).select_related("actor_user")[:limit]


# --- the connection page ----------------------------------------------------------------------


def live_context(connection: Connection) -> dict[str, Any]:
    """What _live.html shows: status and why, consent requests, grants, credentials, checks
    (the member's connection page, and support's read-only view of it)."""
    required = {(p.kind, p.name) for p in permissions.graph_permissions(connection.features)}
    grants = list(connection.grants.filter(provider=Provider.MICROSOFT).select_related("requested_by"))
    for grant in grants:
        grant.required = (grant.kind, grant.name) in required  # type: ignore[attr-defined]
    consent_requests = list(connection.consent_requests.select_related("created_by")[:10])
    # The callback URL a consent came back to is kept on its grants; shown once per consent.
    callbacks = {g.consent_request_id: (g.redirect_uri, g.cloud) for g in grants if g.redirect_uri}
    for cr in consent_requests:
        cr.callback_uri, cr.callback_cloud = callbacks.get(cr.pk, ("", ""))  # type: ignore[attr-defined]
    return {
        "connection": connection,
        "grants": grants,
        "missing": missing_permissions(connection),
        "consent_requests": consent_requests,
        "app_access_proof": consent_proof.app_access_proof(connection),
        "feature_list": permissions.features(connection.features),
        **health_context(connection),
    }


def health_context(connection: Connection) -> dict[str, Any]:
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


def jobs_context(connection: Connection, *, schedule_refused: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the Jobs section and its live part show: recent runs, the schedules (with what was
    typed into a refused one, and its errors by field), the Teams directory."""
    runs = list(connection.sync_runs.select_related("requested_by")[:RECENT_RUNS])
    teams = list(TeamsTeam.objects.filter(connection=connection, removed_at=None).prefetch_related("channels"))
    for team in teams:
        team.live_channels = [c for c in team.channels.all() if c.removed_at is None]  # type: ignore[attr-defined]
    job_schedules = schedules.schedules_for(connection)
    for schedule in job_schedules if schedule_refused else ():
        assert schedule_refused is not None
        if schedule.kind == schedule_refused["kind"]:
            # Show what was typed, not what is stored, with the errors by their fields.
            values = schedule_refused["values"]
            schedule.full_every_minutes = values["full_every_minutes"]
            schedule.incremental_every_minutes = values["incremental_every_minutes"]
            schedule.enabled = schedule_refused["enabled"]
            schedule.refused = schedule_refused["errors"]
    return {
        "connection": connection,
        "runs": runs,
        # Microsoft Search's jobs are started and scheduled in its own section (its six steps).
        "job_kinds": [(k, label) for k, label in SyncRun.Kind.choices if not k.startswith("search_")],
        "job_modes": SyncRun.Mode.choices,
        "schedules": job_schedules,
        "teams_directory": teams,
        "removed_channels": TeamsChannel.objects.filter(connection=connection).exclude(removed_at=None).count(),
    }


def scope_object(organization: Organization, *, site_id: int | None = None,
                 tenant_id: int | None = None) -> object | None:
    """The organization's site or tenant a list is narrowed to, for its heading (None: all)."""
    if site_id is not None:
        return organization.sites.filter(pk=site_id).first()
    if tenant_id is not None:
        return organization.tenants.filter(pk=tenant_id).first()
    return None
