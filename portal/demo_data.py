"""Demo data for `manage.py demo`: idempotent, so a second run changes nothing."""

from allauth.account.models import EmailAddress
from django.db import transaction

from tenants import services
from tenants.models import AtlassianSite, MicrosoftTenant, Organization, Role, User

DEMO_EMAIL = "admin@demo.example"
DEMO_PASSWORD = "demo-portal-2026"
STAFF_EMAIL = "support@demo.example"
GLOBEX_OWNER_EMAIL = "owner@globex.example"
GLOBEX_TENANT = "Northwind"


def _user(email, password, **extra):
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(username=email, email=email, password=password, **extra)
        EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


@transaction.atomic
def seed_demo(*, sites=(), tenants=()):
    """The demo admin in two organizations, plus the given sites and tenants in the first.

    `sites` are dicts (url, name, products, cloud_id); `tenants` are dicts (tenant_id,
    display_name, domains). The sandbox supplies them so the demo can connect for real.
    """
    admin = _user(DEMO_EMAIL, DEMO_PASSWORD)
    _user(STAFF_EMAIL, DEMO_PASSWORD, is_staff=True)
    acme = Organization.objects.filter(slug="acme").first() or services.organization_create(
        name="Acme", acting_user=admin
    )
    globex = Organization.objects.filter(slug="globex").first()
    owner = _user(GLOBEX_OWNER_EMAIL, DEMO_PASSWORD)
    if globex is None:
        globex = services.organization_create(name="Globex", acting_user=admin)
        # In Globex the demo admin is only a viewer, to show what viewers see.
        membership = globex.memberships.get(user=admin)
        globex.memberships.create(user=owner, role=Role.ADMIN)
        services.membership_set_role(membership=membership, role=Role.VIEWER, acting_user=owner)
    for site in sites:
        # Globex's own site is Globex's; every other site is Acme's.
        org, by = (globex, owner) if site["name"].startswith("globex") else (acme, admin)
        if not AtlassianSite.objects.filter(organization=org, url=site["url"]).exists():
            services.site_register(organization=org, acting_user=by, **site)
    for tenant in tenants:
        if not MicrosoftTenant.objects.filter(organization=acme, tenant_id=tenant["tenant_id"]).exists():
            services.tenant_register(organization=acme, acting_user=admin, **tenant)
        # Northwind is Globex's tenant too: Globex's connection to it rests on Globex's own consent.
        if tenant["display_name"].startswith(GLOBEX_TENANT) and not MicrosoftTenant.objects.filter(
            organization=globex, tenant_id=tenant["tenant_id"]
        ).exists():
            services.tenant_register(organization=globex, acting_user=owner, **tenant)
    return admin
