"""Support staff: read-only views across every organization. Each look is audited.

An organization's own pages open only under a support access: a ticket reference and a
sentence, valid for SUPPORT_ACCESS_MINUTES. Each look inside names that access in the
audit trail, where the organization's admins read who looked, when and why.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from connections import selectors as connection_selectors
from connections.forms import ConnectionFilterForm
from connections.models import Connection
from tenants import audit_export as audit_export_module
from tenants import selectors as tenant_selectors
from tenants import services as tenant_services
from tenants.access import staff_required
from tenants.audit import audit_record
from tenants.forms import AuditFilterForm, SearchForm, SupportAccessForm
from tenants.models import AuditAction, AuditEvent, Organization, SupportAccess, User

from . import selectors

PAGE_SIZE = 50


def _access_or_redirect(request: HttpRequest, org: Organization) -> tuple[SupportAccess | None, HttpResponse | None]:
    """The staff member's open access to `org`, or a redirect to the page that asks for a reason."""
    assert isinstance(request.user, User)  # staff_required: signed in
    access = tenant_selectors.active_support_access(staff=request.user, organization=org)
    if access is not None:
        return access, None
    url = reverse("support:access_open", args=[org.pk]) + "?" + urlencode({"next": request.get_full_path()})
    return None, redirect(url)


def _look(access: SupportAccess, **details) -> dict:
    return {"access": access.pk, "ticket": access.ticket, **details}


@staff_required
def access_open(request, organization_id):
    """Ask for the ticket and the reason before an organization's pages open."""
    org = get_object_or_404(Organization, pk=organization_id)
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = ""
    form = SupportAccessForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        tenant_services.support_access_open(organization=org, ticket=form.cleaned_data["ticket"],
                                            reason=form.cleaned_data["reason"], acting_user=request.user)
        return redirect(next_url or reverse("support:organization_detail", args=[org.pk]))
    last = tenant_selectors.last_support_access(staff=request.user, organization=org)
    return render(request, "support/access_open.html", {
        "org": org, "form": form, "next": next_url, "minutes": settings.SUPPORT_ACCESS_MINUTES,
        "expired": last if last is not None and not last.is_active else None,
    })


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
    access, refused = _access_or_redirect(request, org)
    if refused:
        return refused
    assert access is not None
    audit_record(organization=org, action=AuditAction.SUPPORT_VIEWED, actor=request.user, target=org,
                 details=_look(access))
    form = ConnectionFilterForm(request.GET or None)
    query, status = form.values()
    connections = connection_selectors.connection_search(org, query=query, status=status)
    context = selectors.organization_for_support(org)
    page = connection_selectors.connection_page(connections, request.GET.get("page"), size=PAGE_SIZE,
                                                counts=None if query else context["status_counts"], status=status)
    return render(request, "support/organization_detail.html", {
        **context,
        "access": access,
        "chain_check": tenant_selectors.chain_check(org),
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
    access, refused = _access_or_redirect(request, connection.organization)
    if refused:
        return refused
    assert access is not None
    audit_record(organization=connection.organization, action=AuditAction.SUPPORT_VIEWED, actor=request.user,
                 target=connection, details=_look(access))
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
            "access": access,
            "page": tenant_selectors.audit_page(
                events, after=request.GET.get("after"), before=request.GET.get("before")
            ),
            # Staff may be members of some organization; nothing here offers a member's action.
            "current_membership": None,
        },
    )


@staff_required
def audit_list(request: HttpRequest) -> HttpResponse:
    """The trail of one organization (under an access to it), or of every organization support
    has an open access to, together with the events that belong to no organization."""
    assert isinstance(request.user, User)
    form = AuditFilterForm(request.GET or None, with_organization=True)
    events = form.filter(AuditEvent.objects.select_related("organization", "actor_user"))
    org = form.cleaned_data.get("organization") if form.is_bound and form.is_valid() else None
    access = None
    if org is not None:
        access, refused = _access_or_redirect(request, org)
        if refused:
            return refused
    else:
        events = events.filter(
            Q(organization__isnull=True)
            | Q(organization__in=tenant_selectors.organizations_with_support_access(staff=request.user))
        )
    page = tenant_selectors.audit_page(events, after=request.GET.get("after"), before=request.GET.get("before"))
    filters = {k: str(v) for k, v in (form.cleaned_data.items() if form.is_bound and form.is_valid() else []) if v}
    audit_record(
        organization=org,
        action=AuditAction.SUPPORT_VIEWED,
        actor=request.user,
        target_label="audit trail",
        details=_look(access, **filters) if access else filters,
    )
    return render(request, "support/audit_list.html", {
        "form": form, "page": page, "org": org, "access": access,
        "chain_check": tenant_selectors.chain_check(org) if org else None,
        "query": request.GET.urlencode(),
    })


@staff_required
def audit_export(request: HttpRequest) -> HttpResponseBase:
    """One organization's trail, filtered as on the page, as CSV or JSON Lines (streamed)."""
    fmt = request.GET.get("format", "csv")
    form = AuditFilterForm(request.GET or None, with_organization=True)
    events = form.filter(AuditEvent.objects.all())
    org = form.cleaned_data.get("organization") if form.is_bound and form.is_valid() else None
    if fmt not in audit_export_module.FORMATS or org is None:
        return HttpResponseBadRequest("Choose an organization, and a format: csv or jsonl.")
    access, refused = _access_or_redirect(request, org)
    if refused:
        return refused
    assert access is not None
    filters = {k: str(v) for k, v in form.cleaned_data.items() if v}
    audit_record(organization=org, action=AuditAction.AUDIT_EXPORTED, actor=request.user, target_label="audit trail",
                 details=_look(access, format=fmt, **filters))
    return audit_export_module.response(events, fmt, org)
