"""Demo data for `manage.py demo`: idempotent, so a second run changes nothing."""

from allauth.account.models import EmailAddress
from django.db import transaction

from tenants import services
from tenants.models import AtlassianSite, MicrosoftTenant, Organization, Role, User

DEMO_EMAIL = "admin@demo.example"
DEMO_PASSWORD = "demo-portal-2026"
STAFF_EMAIL = "support@demo.example"


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
    if globex is None:
        globex = services.organization_create(name="Globex", acting_user=admin)
        # In Globex the demo admin is only a viewer, to show what viewers see.
        other = _user("owner@globex.example", DEMO_PASSWORD)
        membership = globex.memberships.get(user=admin)
        globex.memberships.create(user=other, role=Role.ADMIN)
        services.membership_set_role(membership=membership, role=Role.VIEWER, acting_user=other)
    for site in sites:
        if not AtlassianSite.objects.filter(organization=acme, url=site["url"]).exists():
            services.site_register(organization=acme, acting_user=admin, **site)
    for tenant in tenants:
        if not MicrosoftTenant.objects.filter(organization=acme, tenant_id=tenant["tenant_id"]).exists():
            services.tenant_register(organization=acme, acting_user=admin, **tenant)
    return admin
