"""The organization's own pages that need nothing of connections: creating and switching
organizations, registering sites and tenants, the audit trail. (The dashboard and the site and
tenant pages show connections too: they live above both apps, in support/.)"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from . import audit_export as audit_export_module
from . import selectors, services
from .access import admin_required
from .audit import audit_record
from .forms import AuditFilterForm, OrganizationForm, OrganizationRemoveForm, SiteForm, TenantForm
from .middleware import SESSION_KEY
from .models import AuditAction, Membership


@login_required
def organization_new(request):
    form = OrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            org = services.organization_create(name=form.cleaned_data["name"], acting_user=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            request.session[SESSION_KEY] = org.pk
            messages.success(request, f"{org} is ready. Register an Atlassian site and a Microsoft tenant next.")
            return redirect("tenants:dashboard")
    return render(request, "tenants/organization_new.html", {"form": form})


@login_required
@require_POST
def organization_switch(request, organization_id):
    membership = get_object_or_404(Membership, user=request.user, organization_id=organization_id)
    request.session[SESSION_KEY] = membership.organization_id
    messages.info(request, f"You are now working in {membership.organization}.")
    return redirect("tenants:dashboard")


# --- sites ----------------------------------------------------------------------------------


@admin_required
def site_new(request):
    form = SiteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            site = services.site_register(
                organization=request.organization, acting_user=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Site {site} registered.")
            return redirect("tenants:site_detail", site_id=site.pk)
    return render(request, "tenants/site_form.html", {"form": form})


# --- tenants --------------------------------------------------------------------------------


# What a Microsoft sign-in found ("Connect new tenant" without knowing the id): set by the
# sign-in's callback, read here to fill in the form; its verified domains are Microsoft's word.
FOUND_TENANT_SESSION = "found_microsoft_tenant"


@admin_required
def tenant_new(request):
    found = request.session.get(FOUND_TENANT_SESSION)
    initial = {}
    if found and request.method != "POST":
        initial = {"tenant_id": found["tenant_id"], "display_name": found["display_name"],
                   "domains": ", ".join(found["domains"]), "cloud": found["cloud"]}
    form = TenantForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        verified = []
        if found and str(found["tenant_id"]).lower() == str(form.cleaned_data["tenant_id"]).lower():
            verified = found["domains"]
        try:
            tenant = services.tenant_register(
                organization=request.organization, acting_user=request.user, verified=verified, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            request.session.pop(FOUND_TENANT_SESSION, None)
            messages.success(request, f"Tenant {tenant} registered.")
            return redirect("tenants:tenant_detail", tenant_id=tenant.pk)
    return render(request, "tenants/tenant_form.html", {"form": form, "found": found})


@admin_required
def organization_remove(request):
    """Remove the current organization: everything of it is deleted but its audit trail."""
    org = request.organization
    form = OrganizationRemoveForm(request.POST or None, organization=org)
    if request.method == "POST":
        if form.is_valid():
            services.organization_remove(organization=org, acting_user=request.user)
            request.session.pop(SESSION_KEY, None)
            messages.success(request, f"{org.name} was removed. Its audit trail is kept for "
                             f"{settings.AUDIT_RETENTION_DAYS} days.")
            return redirect("tenants:dashboard")
        status = 400
    else:
        status = 200
    return render(request, "tenants/organization_remove.html", {
        "form": form, "org": org, "audit_days": settings.AUDIT_RETENTION_DAYS,
        "log_days": settings.LOG_RETENTION_DAYS,
    }, status=status)


# --- audit ----------------------------------------------------------------------------------


@admin_required
def audit_list(request):
    form = AuditFilterForm(request.GET or None)
    events = form.filter(request.organization.audit_events.select_related("actor_user"))
    page = selectors.audit_page(events, after=request.GET.get("after"), before=request.GET.get("before"))
    return render(request, "tenants/audit_list.html", {
        "form": form, "page": page, "query": request.GET.urlencode(),
        # Which support person looked inside the organization, when, and why.
        "support_visits": selectors.support_visits(organization=request.organization),
    })


@admin_required
def audit_export(request):
    """The organization's trail, filtered as on the page, as CSV or JSON Lines (streamed)."""
    fmt = request.GET.get("format", "csv")
    if fmt not in audit_export_module.FORMATS:
        return HttpResponseBadRequest("Choose a format: csv or jsonl.")
    form = AuditFilterForm(request.GET or None)
    events = form.filter(request.organization.audit_events.all())
    filters = {k: str(v) for k, v in (form.cleaned_data.items() if form.is_bound else []) if v}
    audit_record(organization=request.organization, action=AuditAction.AUDIT_EXPORTED, actor=request.user,
                 target_label="audit trail", details={"format": fmt, **filters})
    return audit_export_module.response(events, fmt, request.organization)
