"""A world for Intune app protection: the demo's Acme connected for real to Contoso and to
Fabrikam with the Intune feature (consented by each tenant's admin through the real flow), and
the sandbox's Atlassian organization (its domains: contoso.com, acme.example, fabrikam.com,
fabrikam.de verified; acme-new.example not)."""

from types import SimpleNamespace

import pytest
from django.test import Client

from connections.intune import services
from connections.services import connection_create
from portal.demo_connect import _client, _consent, enable_intune
from tenants.models import AtlassianSite, MicrosoftTenant, Role
from tests.connected import connect_acme
from tests.factories import MembershipFactory


@pytest.fixture
def intune(sandbox, settings):
    return build_world(sandbox, settings)


def build_world(sandbox, settings):
    world = connect_acme(sandbox, settings)
    contoso = enable_intune(organization=world.organization, admin=world.admin)
    site = AtlassianSite.objects.get(organization=world.organization, name="acme")
    fabrikam_tenant = MicrosoftTenant.objects.get(organization=world.organization,
                                                  tenant_id=sandbox.tenants["fabrikam"].id)
    fabrikam = connection_create(site=site, tenant=fabrikam_tenant, features=["intune_mobile_policy"],
                                 acting_user=world.admin)
    _consent(_client(world.admin), fabrikam, sandbox.tenants["fabrikam"].admin)
    org = sandbox.atlassian_organization()
    admin_client, viewer_client = Client(), Client()
    admin_client.force_login(world.admin)
    viewer_client.force_login(world.viewer)
    other = MembershipFactory(role=Role.ADMIN)
    other_client = Client()
    other_client.force_login(other.user)
    return SimpleNamespace(world=world, organization=world.organization, admin=world.admin, contoso=contoso,
                           fabrikam=fabrikam, org=org, sandbox=sandbox, admin_client=admin_client,
                           viewer_client=viewer_client, other_client=other_client, other=other)


def register(intune, **overrides):
    """Register the sandbox's Atlassian organization with its key, and check it."""
    from datetime import datetime

    atl_org = services.organization_register(
        organization=intune.organization, acting_user=intune.admin, org_id=intune.org["id"], name="Acme",
        api_key=intune.org["api_key"],
        key_expires_at=overrides.get("key_expires_at") or datetime.fromisoformat(intune.org["api_key_expires_at"]))
    return services.organization_check(atl_org=atl_org, acting_user=intune.admin)
