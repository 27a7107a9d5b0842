"""State changes and look-ups on the simulated directory: tenants, apps, consent grants."""

import uuid

from django.conf import settings
from django.db.models import F

from sandbox.db import atomic

from .. import defaults
from .models import App, DelegatedGrant, DirectoryUser, Domain, RedirectUri, ServicePrincipal, Tenant
from .permissions import PORTAL_APPLICATION_PERMISSIONS, PORTAL_DELEGATED_SCOPES

# Tenant path segments that are not a single tenant.
MULTI_TENANT_SEGMENTS = ("organizations", "common")


def resolve_tenant(segment):
    """A tenant from a GUID or one of its domains; None for unknown (and for multi-tenant words)."""
    try:
        return Tenant.objects.filter(pk=uuid.UUID(segment)).first()
    except ValueError:
        # Only a verified domain names its tenant: discovery of an unverified one fails like an unknown one.
        # Reference: https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc#find-your-apps-openid-configuration-document-uri
        domain = Domain.objects.select_related("tenant").filter(name=segment.lower(), is_verified=True).first()
        return domain.tenant if domain else None


def find_user(tenant, username):
    """A signed-in-able user by UPN (case-insensitive), within `tenant` or any tenant."""
    users = DirectoryUser.objects.select_related("tenant").filter(
        user_principal_name__iexact=username.strip(), deleted=False
    )
    if tenant is not None:
        users = users.filter(tenant=tenant)
    return users.first()


def ensure_portal_app() -> App:
    """The portal's registration with its fixed client id and the portal's exact redirect URIs."""
    app, _ = App.objects.update_or_create(
        client_id=defaults.MICROSOFT_CLIENT_ID,
        defaults={
            "display_name": "Connections portal",
            "client_secret": defaults.MICROSOFT_CLIENT_SECRET,
            "application_permissions": PORTAL_APPLICATION_PERMISSIONS,
            "delegated_scopes": PORTAL_DELEGATED_SCOPES,
            # The portal reads the signed-in admin's directory roles from `wids` (README: the
            # app registration's "groupMembershipClaims": "DirectoryRole").
            "group_membership_claims": "DirectoryRole",
        },
    )
    for path in defaults.MICROSOFT_REDIRECT_PATHS:
        register_redirect_uri(app.client_id, settings.SITE_URL + path)
    return app


def register_redirect_uri(client_id, uri):
    """Add an exact redirect URI to an app (tests: the live server's random port)."""
    RedirectUri.objects.get_or_create(app_id=client_id, uri=uri)


def service_principal(tenant, app) -> ServicePrincipal:
    sp, _ = ServicePrincipal.objects.get_or_create(tenant=tenant, app=app)
    return sp


@atomic()
def grant_admin_consent(*, tenant, app, admin, application_permissions=None, delegated_scopes=None):
    """Tenant-wide consent: app roles plus delegated scopes for all principals."""
    sp = service_principal(tenant, app)
    roles = app.application_permissions if application_permissions is None else application_permissions
    sp.application_permissions = sorted(set(sp.application_permissions) | set(roles))
    sp.granted_by = admin
    sp.save()
    scopes = app.delegated_scopes if delegated_scopes is None else delegated_scopes
    grant_delegated(sp=sp, principal=None, scopes=scopes, granted_by=admin)
    return sp


def grant_delegated(*, sp, principal, scopes, granted_by):
    grant, _ = DelegatedGrant.objects.get_or_create(
        service_principal=sp, principal=principal, defaults={"granted_by": granted_by}
    )
    grant.scopes = sorted(set(grant.scopes) | set(scopes))
    grant.granted_by = granted_by
    grant.save()
    return grant


def delegated_scopes_for(tenant, app, user):
    """Scopes consented for this user: tenant-wide grants plus the user's own."""
    grants = DelegatedGrant.objects.filter(service_principal__tenant=tenant, service_principal__app=app)
    scopes = set()
    for grant in grants:
        if grant.principal_id in (None, user.pk):
            scopes |= set(grant.scopes)
    return scopes


def application_permissions_for(tenant, app):
    sp = ServicePrincipal.objects.filter(tenant=tenant, app=app).first()
    return None if sp is None else list(sp.application_permissions)


@atomic()
def revoke(*, tenant, app, permission=None, delegated=True, application=True):
    """Remove a granted permission (or all of them); the next token carries what remains."""
    sp = ServicePrincipal.objects.select_for_update().filter(tenant=tenant, app=app).first()
    if sp is None:
        return 0
    removed = 0
    if application:
        kept = [p for p in sp.application_permissions if permission and p != permission]
        removed += len(sp.application_permissions) - len(kept)
        sp.application_permissions = kept
        sp.save()
    if delegated:
        for grant in sp.grants.all():
            kept = [s for s in grant.scopes if permission and s != permission]
            removed += len(grant.scopes) - len(kept)
            if kept:
                grant.scopes = kept
                grant.save()
            else:
                grant.delete()
    return removed


@atomic()
def next_change(tenant_id) -> int:
    """A new change number in the tenant's directory (for users/delta)."""
    Tenant.objects.filter(pk=tenant_id).update(change_seq=F("change_seq") + 1)
    return Tenant.objects.values_list("change_seq", flat=True).get(pk=tenant_id)


def update_user(user, **fields):
    """Change a user as the directory would, so users/delta reports it."""
    for name, value in fields.items():
        setattr(user, name, value)
    user.change_seq = next_change(user.tenant_id)
    user.save()
    return user


def delete_user(user, permanently=False):
    """Soft delete (delta: reason "changed", restorable for 30 days) or permanent ("deleted")."""
    return update_user(user, deleted=True, purged=permanently)
