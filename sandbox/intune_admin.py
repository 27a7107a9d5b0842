"""The sandbox admin page's controls for Intune and Atlassian's mobile apps: what happens on
people's phones and in admin centres the portal cannot reach (a first sign-in from the Jira or
Confluence app, an Intune licence bought, a grant revoked, an organization API key expired)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404

from .atlassian import admin_api
from .atlassian.models import AdminOrg
from .microsoft import atlassian_apps
from .microsoft.models import IntuneLicence, ManagedAppProtection, ServicePrincipal, Tenant

ACTIONS = ("mobile_sign_in", "intune_licence", "revoke_tenant_consent", "remove_app", "expire_org_key")


def act(request, action):
    if action == "expire_org_key":
        org = get_object_or_404(AdminOrg, pk=request.POST.get("org"))
        admin_api.expire_keys(org.pk)
        messages.success(request, f"Every API key of {org.name} has expired.")
        return
    tenant = get_object_or_404(Tenant, pk=request.POST.get("tenant"))
    if action == "intune_licence":
        licensed = request.POST.get("licensed") == "1"
        atlassian_apps.set_licensed(tenant, licensed)
        messages.success(request, f"Intune licence {'on' if licensed else 'off'} in {tenant.display_name}.")
        return
    client_id = request.POST.get("app", "")
    if client_id not in atlassian_apps.APPS:
        messages.error(request, "Choose Jira Cloud or Confluence Cloud.")
        return
    name = atlassian_apps.APPS[client_id]
    if action == "mobile_sign_in":
        atlassian_apps.mobile_sign_in(tenant, client_id)
        messages.success(request, f"Someone of {tenant.display_name} signed in from {name}: it is in Entra now.")
    elif action == "revoke_tenant_consent":
        atlassian_apps.revoke_tenant_consent(tenant, client_id)
        messages.success(request, f"Tenant-wide consent for {name} revoked in {tenant.display_name}.")
    else:
        atlassian_apps.remove_app(tenant, client_id)
        messages.success(request, f"{name} deleted from {tenant.display_name}.")


def context():
    tenants = []
    for tenant in Tenant.objects.order_by("display_name"):
        licence = IntuneLicence.objects.filter(tenant=tenant).first()
        present = set(ServicePrincipal.objects.filter(tenant=tenant, app_id__in=atlassian_apps.APPS)
                      .values_list("app_id", flat=True))
        apps = []
        for client_id, name in atlassian_apps.APPS.items():
            tenant_wide = ServicePrincipal.objects.filter(
                tenant=tenant, app_id=client_id, grants__principal__isnull=True).exists()
            apps.append({"id": client_id, "name": name, "present": client_id in present, "tenant_wide": tenant_wide})
        tenants.append({"tenant": tenant, "licensed": bool(licence and licence.licensed), "apps": apps,
                        "policies": ManagedAppProtection.objects.filter(tenant=tenant).order_by("created")})
    return {"intune_tenants": tenants, "atlassian_orgs": AdminOrg.objects.prefetch_related("domains", "api_keys")}
