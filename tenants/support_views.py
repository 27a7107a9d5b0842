"""Support staff: read-only views across every organization. Each look is audited."""

from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, render

from connections.models import Connection

from .access import staff_required
from .audit import audit_record
from .forms import AuditFilterForm
from .models import AuditAction, AuditEvent, Organization


@staff_required
def organization_list(request):
    query = request.GET.get("q", "").strip()
    orgs = Organization.objects.annotate(
        site_count=Count("sites", distinct=True),
        tenant_count=Count("tenants", distinct=True),
        connection_count=Count("connections", distinct=True),
    )
    if query:
        orgs = orgs.filter(
            Q(name__icontains=query)
            | Q(sites__url__icontains=query)
            | Q(tenants__display_name__icontains=query)
            | Q(tenants__domains__icontains=query)
        ).distinct()
    audit_record(
        organization=None,
        action=AuditAction.SUPPORT_VIEWED,
        actor=request.user,
        target_label="organization list",
        details={"query": query} if query else {},
    )
    return render(request, "support/organization_list.html", {"organizations": orgs, "q": query})


@staff_required
def organization_detail(request, organization_id):
    org = get_object_or_404(Organization, pk=organization_id)
    audit_record(organization=org, action=AuditAction.SUPPORT_VIEWED, actor=request.user, target=org)
    return render(
        request,
        "support/organization_detail.html",
        {
            "org": org,
            "memberships": org.memberships.select_related("user"),
            "sites": org.sites.all(),
            "tenants": org.tenants.all(),
            "connections": Connection.objects.filter(organization=org).select_related("site", "tenant"),
            "events": org.audit_events.select_related("actor_user")[:20],
        },
    )


@staff_required
def connection_detail(request, connection_id):
    """One connection as its members see it, read-only: status and why, every grant with who
    gave it and the callback URL, credentials, checks, jobs, projects, and its whole trail."""
    from connections.sync.views import jobs_context
    from connections.views import live_context

    connection = get_object_or_404(Connection.objects.select_related("organization", "site", "tenant"),
                                   pk=connection_id)
    audit_record(organization=connection.organization, action=AuditAction.SUPPORT_VIEWED, actor=request.user,
                 target=connection)
    events = AuditEvent.objects.filter(
        organization=connection.organization, target_type="connection", target_id=str(connection.pk)
    ).select_related("actor_user")
    return render(
        request,
        "support/connection_detail.html",
        {
            **jobs_context(connection),
            **live_context(connection),
            "org": connection.organization,
            "page": Paginator(events, 50).get_page(request.GET.get("page")),
            # Staff may be members of some organization; nothing here offers a member's action.
            "current_membership": None,
        },
    )


@staff_required
def audit_list(request):
    form = AuditFilterForm(request.GET or None, with_organization=True)
    events = form.filter(AuditEvent.objects.select_related("organization", "actor_user"))
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    audit_record(
        organization=form.cleaned_data.get("organization") if form.is_valid() else None,
        action=AuditAction.SUPPORT_VIEWED,
        actor=request.user,
        target_label="audit trail",
        details={k: str(v) for k, v in (form.cleaned_data.items() if form.is_valid() else []) if v},
    )
    return render(request, "support/audit_list.html", {"form": form, "page": page})
