"""Reads for the pages that show an organization's sites, tenants and connections together
(the dashboard, support staff's pages). Each query is bounded: a count, a GROUP BY or a LIMIT,
never one row per connection of a large organization."""

from typing import Any

from django.db import models
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from connections import selectors as connection_selectors
from connections.models import Connection
from tenants.models import AtlassianSite, MicrosoftTenant, Organization

# The dashboard lists this many sites and tenants and draws the matrix for at most this many of
# each; a search narrows it to the ones someone is looking for.
DASHBOARD_LIST = 10
MATRIX_SIZE = 10
PROBLEMS_SHOWN = 10


def _count(model: type[models.Model], **filters: Any) -> Coalesce:
    """A correlated COUNT(*) of `model`'s rows per organization (no join multiplying rows)."""
    rows = model._default_manager.filter(organization=OuterRef("pk"), **filters).order_by().values("organization")
    return Coalesce(Subquery(rows.annotate(n=Count("pk")).values("n"), output_field=IntegerField()), 0)


def matrix(organization: Organization, *, site_query: str = "", tenant_query: str = "") -> dict[str, Any]:
    """The sites × tenants matrix for at most MATRIX_SIZE sites and tenants (those matching the
    searches, by name or address), with each pair's connection or None."""
    sites_qs = organization.sites.all()
    if site_query:
        sites_qs = sites_qs.filter(Q(name__icontains=site_query) | Q(url__icontains=site_query))
    tenants_qs = organization.tenants.all()
    if tenant_query:
        tenants_qs = tenants_qs.filter(
            Q(display_name__icontains=tenant_query) | Q(tenant_id__icontains=tenant_query)
        )
    sites = list(sites_qs[: MATRIX_SIZE + 1])
    tenants = list(tenants_qs[: MATRIX_SIZE + 1])
    more_sites, more_tenants = len(sites) > MATRIX_SIZE, len(tenants) > MATRIX_SIZE
    sites, tenants = sites[:MATRIX_SIZE], tenants[:MATRIX_SIZE]
    pairs = {
        (c.site_id, c.tenant_id): c
        # A cell shows the pair's status and links to it: nothing else is read.
        for c in Connection.objects.filter(organization=organization, site__in=sites, tenant__in=tenants).only(
            "id", "site_id", "tenant_id", "status"
        )
    }
    return {
        "matrix": [(site, [(tenant, pairs.get((site.id, tenant.id))) for tenant in tenants]) for site in sites],
        "matrix_tenants": tenants,
        "matrix_more_sites": more_sites,
        "matrix_more_tenants": more_tenants,
    }


def dashboard(organization: Organization, *, site_query: str = "", tenant_query: str = "") -> dict[str, Any]:
    """The dashboard: counts by status (the problems first), the connections that need attention,
    the first sites and tenants, the matrix for a chosen subset, the latest events."""
    counts = connection_selectors.status_counts(organization)
    sites = list(organization.sites.all()[:DASHBOARD_LIST])
    tenants = list(organization.tenants.all()[:DASHBOARD_LIST])
    site_count = organization.sites.count()
    tenant_count = organization.tenants.count()
    return {
        "sites": sites,
        "tenants": tenants,
        "site_count": site_count,
        "tenant_count": tenant_count,
        "status_counts": counts,
        "connection_count": sum(row["count"] for row in counts),
        "problem_count": sum(row["count"] for row in counts if row["problem"]),
        "problems": connection_selectors.problem_connections(organization, limit=PROBLEMS_SHOWN),
        "site_query": site_query,
        "tenant_query": tenant_query,
        **(matrix(organization, site_query=site_query, tenant_query=tenant_query) if sites and tenants else {}),
        "events": organization.audit_events.select_related("actor_user")[:10],
    }


# --- support staff ----------------------------------------------------------------------------


def organizations_for_support(query: str = "") -> QuerySet[Organization]:
    """Every organization with its numbers of sites, tenants and connections, each counted by its
    own subquery; a search matches the name, a site's address, a tenant's name or domain."""
    orgs = Organization.objects.annotate(
        site_count=_count(AtlassianSite),
        tenant_count=_count(MicrosoftTenant),
        connection_count=_count(Connection),
    ).order_by("name", "pk")
    if query:
        orgs = orgs.filter(
            Q(name__icontains=query)
            | Exists(AtlassianSite.objects.filter(organization=OuterRef("pk"), url__icontains=query))
            | Exists(
                MicrosoftTenant.objects.filter(organization=OuterRef("pk")).filter(
                    Q(display_name__icontains=query) | Q(domains__icontains=query)
                )
            )
        )
    return orgs


SUPPORT_LIST = 50


def organization_for_support(organization: Organization) -> dict[str, Any]:
    """Support's look at one organization: members, counts by status, the first sites and tenants
    (with how many there are), recent events. Its connections are a searchable list of their own."""
    counts = connection_selectors.status_counts(organization)
    sites = list(organization.sites.all()[: SUPPORT_LIST + 1])
    tenants = list(organization.tenants.all()[: SUPPORT_LIST + 1])
    return {
        "org": organization,
        "memberships": organization.memberships.select_related("user"),
        "status_counts": counts,
        "connection_count": sum(row["count"] for row in counts),
        "sites": sites[:SUPPORT_LIST],
        "more_sites": organization.sites.count() if len(sites) > SUPPORT_LIST else 0,
        "tenants": tenants[:SUPPORT_LIST],
        "more_tenants": organization.tenants.count() if len(tenants) > SUPPORT_LIST else 0,
        "events": organization.audit_events.select_related("actor_user")[:20],
    }
