"""Support staff: read-only views across every organization. Each look is audited."""

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from connections import selectors as connection_selectors
from connections.forms import ConnectionFilterForm
from connections.models import Connection
from tenants import selectors as tenant_selectors
from tenants.access import staff_required
from tenants.audit import audit_record
from tenants.forms import AuditFilterForm, SearchForm
from tenants.models import AuditAction, AuditEvent, Organization

from . import selectors

PAGE_SIZE = 50


@staff_required
def organization_list(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    query = form.text("q")
    page = Paginator(selectors.organizations_for_support(query), PAGE_SIZE).get_page(request.GET.get("page"))
    audit_record(
        organization=None,
        action=AuditAction.SUPPORT_VIEWED,
        actor=request.user,
        target_label="organization list",
        details={"query": query} if query else {},
    )
    return render(request, "support/organization_list.html",
                  {"organizations": page.object_list, "page": page, "q": query, "form": form})


@staff_required
def organization_detail(request: HttpRequest, organization_id: int) -> HttpResponse:
    org = get_object_or_404(Organization, pk=organization_id)
    audit_record(organization=org, action=AuditAction.SUPPORT_VIEWED, actor=request.user, target=org)
    form = ConnectionFilterForm(request.GET or None)
    query, status = form.values()
    connections = connection_selectors.connection_search(org, query=query, status=status)
    page = Paginator(connections, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "support/organization_detail.html", {
        **selectors.organization_for_support(org),
        "form": form,
        "page": page,
        "connections": page.object_list,
        "filtered": bool(query or status),
        "status": status,
    })


@staff_required
def connection_detail(request: HttpRequest, connection_id: int) -> HttpResponse:
    """One connection as its members see it, read-only: status and why, every grant with who
    gave it and the callback URL, credentials, checks, jobs, projects, and its whole trail."""
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
            **connection_selectors.jobs_context(connection),
            **connection_selectors.live_context(connection),
            "org": connection.organization,
            "page": tenant_selectors.audit_page(
                events, after=request.GET.get("after"), before=request.GET.get("before")
            ),
            # Staff may be members of some organization; nothing here offers a member's action.
            "current_membership": None,
        },
    )


@staff_required
def audit_list(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None, with_organization=True)
    events = form.filter(AuditEvent.objects.select_related("organization", "actor_user"))
    page = tenant_selectors.audit_page(events, after=request.GET.get("after"), before=request.GET.get("before"))
    audit_record(
        organization=form.cleaned_data.get("organization") if form.is_valid() else None,
        action=AuditAction.SUPPORT_VIEWED,
        actor=request.user,
        target_label="audit trail",
        details={k: str(v) for k, v in (form.cleaned_data.items() if form.is_valid() else []) if v},
    )
    return render(request, "support/audit_list.html", {"form": form, "page": page})
