"""Atlassian's mobile apps in the simulated directory, and Intune licences.

Jira Cloud by Atlassian and Confluence Cloud by Atlassian are multi-tenant apps registered by
Atlassian. An app appears in a tenant (a service principal) only once someone signs in to it,
from the mobile app, or once an admin grants tenant-wide consent through the admin-consent URL,
which provisions it too. A user's own sign-in leaves a grant for that user only
(consentType "Principal"); tenant-wide admin consent is an "AllPrincipals" grant.

Reference: https://support.atlassian.com/security-and-access-policies/docs/integrate-intune-security-in-a-mobile-app-policy
Reference: https://learn.microsoft.com/entra/identity/enterprise-apps/grant-admin-consent
Reference: https://learn.microsoft.com/graph/api/resources/oauth2permissiongrant
"""

from sandbox.db import atomic

from . import directory
from .models import App, DelegatedGrant, DirectoryUser, IntuneLicence, RedirectUri, ServicePrincipal, Tenant

JIRA_CLOUD = "def4cf53-d350-4ec9-b39e-96cd612c301e"
CONFLUENCE_CLOUD = "6337eee3-da0f-4c22-a340-9b72146c78ff"
APPS = {JIRA_CLOUD: "Jira Cloud by Atlassian", CONFLUENCE_CLOUD: "Confluence Cloud by Atlassian"}
# Which delegated scopes Atlassian's apps ask for is not published; the sandbox's apps ask to
# sign the user in (Graph's User.Read), which is what a tenant-wide grant then covers.
SCOPES = ["User.Read"]
# Atlassian's reply page after admin consent, on the sandbox's Atlassian side.
REPLY_PATH = "/atlassian-auth/mobile/admin-consent-done"

# Which seeded tenants have an Intune licence (by initial-domain label).
LICENSED = {"contoso": True, "fabrikam": True, "northwind": False}


def ensure_apps(browser_origin: str) -> None:
    """Atlassian's two registrations, each with its one reply URL on `browser_origin`."""
    for client_id, name in APPS.items():
        App.objects.update_or_create(
            client_id=client_id,
            defaults={"display_name": name, "client_secret": "atlassian-owned", "application_permissions": [],
                      "delegated_scopes": SCOPES},
        )
        RedirectUri.objects.filter(app_id=client_id).delete()
        RedirectUri.objects.create(app_id=client_id, uri=browser_origin.rstrip("/") + REPLY_PATH)


def seed_licences() -> None:
    for tenant in Tenant.objects.prefetch_related("domains"):
        initial = next((d.name for d in tenant.domains.all() if d.is_initial), "")
        IntuneLicence.objects.update_or_create(
            tenant=tenant, defaults={"licensed": LICENSED.get(initial.split(".")[0], False)}
        )


def set_licensed(tenant: Tenant, licensed: bool) -> None:
    IntuneLicence.objects.update_or_create(tenant=tenant, defaults={"licensed": licensed})


@atomic()
def mobile_sign_in(tenant: Tenant, client_id: str, user: DirectoryUser | None = None) -> ServicePrincipal:
    """Someone of the tenant signs in once from the mobile app: the enterprise app appears, with
    that user's own consent (not tenant-wide)."""
    app = App.objects.get(pk=client_id)
    members = tenant.users.filter(deleted=False, account_enabled=True, is_admin=False)
    user = user or members.order_by("change_seq").first()
    sp = directory.service_principal(tenant, app)
    if user is not None:
        directory.grant_delegated(sp=sp, principal=user, scopes=app.delegated_scopes, granted_by=user)
    return sp


@atomic()
def revoke_tenant_consent(tenant: Tenant, client_id: str) -> int:
    """An admin removes the tenant-wide grant (Entra › Enterprise apps › Permissions › Revoke)."""
    return DelegatedGrant.objects.filter(
        service_principal__tenant=tenant, service_principal__app_id=client_id, principal__isnull=True
    ).delete()[0]


@atomic()
def remove_app(tenant: Tenant, client_id: str) -> int:
    """An admin deletes the enterprise app from the tenant: its grants go with it."""
    return ServicePrincipal.objects.filter(tenant=tenant, app_id=client_id).delete()[0]
