"""An organization's pages that show its sites, tenants and connections together: the dashboard
and the site and tenant pages. They sit above both apps (tenants knows nothing of connections)."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from connections import selectors as connection_selectors
from connections.atlassian.needs import site_authorization
from connections.intune import selectors as intune_selectors
from portal import app_secrets
from tenants import selectors as tenant_selectors
from tenants import services
from tenants.access import admin_required, member_required, scoped
from tenants.forms import SearchForm
from tenants.models import AtlassianSite, MicrosoftTenant, User

from . import selectors

LIST_PAGE_SIZE = 50
# A site's or tenant's page lists this many of its connections, then links to the rest.
DETAIL_CONNECTIONS = 50


@member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    org = request.organization  # type: ignore[attr-defined]
    form = SearchForm(request.GET or None, fields=("site", "tenant"))
    context = selectors.dashboard(org, site_query=form.text("site"), tenant_query=form.text("tenant"))
    return render(request, "tenants/dashboard.html", {
        **context,
        "matrix_form": form,
        # The portal's own client secrets, expiring or expired: only admins can act on it.
        "secret_warnings": [*app_secrets.warnings(), *intune_selectors.key_warnings(org)]
        if request.membership.is_admin else [],  # type: ignore[attr-defined]
    })


@member_required
def site_list(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    sites = tenant_selectors.site_search(request.organization, query=form.text("q"))  # type: ignore[attr-defined]
    page = Paginator(sites, LIST_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "tenants/site_list.html", {
        "form": form, "page": page, "sites": page.object_list, "filtered": bool(form.text("q")),
    })


@member_required
def site_detail(request: HttpRequest, site_id: int) -> HttpResponse:
    site = scoped(request, AtlassianSite, pk=site_id)
    connections = connection_selectors.connection_search(site.organization, site_id=site.pk)
    context = {
        "site": site,
        "connections": connections[:DETAIL_CONNECTIONS],
        "connection_total": connections.count(),
        "connections_url": reverse("connections:connection_list") + f"?site={site.pk}",
        **site_authorization(site),
    }
    return render(request, "tenants/site_detail.html", context)


@admin_required
def site_remove(request: HttpRequest, site_id: int) -> HttpResponse:
    site = scoped(request, AtlassianSite, pk=site_id)
    if request.method == "POST":
        assert isinstance(request.user, User)  # admin_required: signed in
        services.site_remove(site=site, acting_user=request.user)
        messages.success(request, f"Site {site} removed.")
        return redirect("tenants:site_list")
    connections = connection_selectors.connection_search(site.organization, site_id=site.pk)
    return render(request, "tenants/confirm_remove.html", {
        "object": site, "connections": connections[:DETAIL_CONNECTIONS], "connection_total": connections.count(),
        "disconnect_url": reverse("connections:site_disconnect", args=[site.pk]),
    })


@member_required
def tenant_list(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    tenants = tenant_selectors.tenant_search(request.organization, query=form.text("q"))  # type: ignore[attr-defined]
    page = Paginator(tenants, LIST_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "tenants/tenant_list.html", {
        "form": form, "page": page, "tenants": page.object_list, "filtered": bool(form.text("q")),
    })


@member_required
def tenant_detail(request: HttpRequest, tenant_id: int) -> HttpResponse:
    tenant = scoped(request, MicrosoftTenant, pk=tenant_id)
    connections = connection_selectors.connection_search(tenant.organization, tenant_id=tenant.pk)
    return render(request, "tenants/tenant_detail.html", {
        "tenant": tenant,
        "connections": connections[:DETAIL_CONNECTIONS],
        "connection_total": connections.count(),
        "connections_url": reverse("connections:connection_list") + f"?tenant={tenant.pk}",
    })


@admin_required
def tenant_remove(request: HttpRequest, tenant_id: int) -> HttpResponse:
    tenant = scoped(request, MicrosoftTenant, pk=tenant_id)
    if request.method == "POST":
        assert isinstance(request.user, User)  # admin_required: signed in
        services.tenant_remove(tenant=tenant, acting_user=request.user)
        messages.success(request, f"Tenant {tenant} removed.")
        return redirect("tenants:tenant_list")
    connections = connection_selectors.connection_search(tenant.organization, tenant_id=tenant.pk)
    return render(request, "tenants/confirm_remove.html", {
        "object": tenant, "connections": connections[:DETAIL_CONNECTIONS], "connection_total": connections.count(),
        "disconnect_url": reverse("connections:tenant_disconnect", args=[tenant.pk]),
    })
