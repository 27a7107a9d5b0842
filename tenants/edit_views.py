"""Changing what was registered: a site's name and products, a tenant's name and domains, the
organization's name; leaving the organization (it asks first and says what goes)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse

from . import services
from .access import admin_required, member_required, scoped
from .forms import OrganizationForm, SiteEditForm, TenantEditForm
from .middleware import SESSION_KEY
from .models import AtlassianSite, MicrosoftTenant


def _saved_or_errors(form, save):
    try:
        save()
    except ValidationError as exc:
        form.add_error(None, exc)
        return False
    return True


@admin_required
def site_edit(request, site_id):
    site = scoped(request, AtlassianSite, pk=site_id)
    form = SiteEditForm(request.POST or None, initial={"name": site.name, "products": site.products})
    if request.method == "POST" and form.is_valid() and _saved_or_errors(
        form, lambda: services.site_update(site=site, acting_user=request.user, **form.cleaned_data)
    ):
        messages.success(request, f"Site {form.cleaned_data['name']} saved.")
        return redirect("tenants:site_detail", site_id=site.pk)
    return render(request, "tenants/edit_form.html", {"form": form, "title": f"Change {site}",
                                                      "cancel": reverse("tenants:site_detail", args=[site.pk])},
                  status=400 if form.errors else 200)


@admin_required
def tenant_edit(request, tenant_id):
    tenant = scoped(request, MicrosoftTenant, pk=tenant_id)
    form = TenantEditForm(
        request.POST or None,
        initial={"display_name": tenant.display_name, "domains": ", ".join(d["name"] for d in tenant.domains or [])},
    )
    if request.method == "POST" and form.is_valid() and _saved_or_errors(
        form, lambda: services.tenant_update(tenant=tenant, acting_user=request.user, **form.cleaned_data)
    ):
        messages.success(request, f"Tenant {form.cleaned_data['display_name']} saved.")
        return redirect("tenants:tenant_detail", tenant_id=tenant.pk)
    return render(request, "tenants/edit_form.html", {"form": form, "title": f"Change {tenant}",
                                                      "cancel": reverse("tenants:tenant_detail", args=[tenant.pk])},
                  status=400 if form.errors else 200)


@member_required
def organization_settings(request):
    """Rename (admins), leave, or delete (admins) the current organization."""
    organization = request.organization
    form = OrganizationForm(request.POST or None, initial={"name": organization.name})
    if request.method == "POST":
        if not request.membership.is_admin:
            return redirect("tenants:organization_settings")
        if form.is_valid() and _saved_or_errors(
            form, lambda: services.organization_rename(organization=organization, name=form.cleaned_data["name"],
                                                       acting_user=request.user)
        ):
            messages.success(request, f"The organization is now called {form.cleaned_data['name']}.")
            return redirect("tenants:organization_settings")
    return render(request, "tenants/organization_settings.html", {"form": form},
                  status=400 if form.errors else 200)


@member_required
def organization_leave(request):
    organization = request.organization
    if request.method == "POST":
        try:
            services.organization_leave(organization=organization, acting_user=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("tenants:organization_settings")
        request.session.pop(SESSION_KEY, None)
        messages.success(request, f"You left {organization}.")
        return redirect("home")
    return render(request, "tenants/organization_leave_confirm.html", {})
