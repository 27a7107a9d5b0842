"""A site admin, a connection to the sandbox's Contoso tenant, and a way to walk a consent
flow across the portal (Django's test client) and the sandbox's Microsoft pages."""

from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import requests

from tenants.models import Role
from tests.factories import ConnectionFactory, MembershipFactory, SiteFactory, TenantFactory

PORTAL = "http://testserver"


@dataclass
class ConsentWorld:
    sandbox: object
    client: object
    admin: object
    connection: object

    def portal_get(self, url, client=None):
        """Follow a redirect that came back from the sandbox to the portal."""
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == PORTAL, url
        return (client or self.client).get(parts.path + ("?" + parts.query if parts.query else ""))

    def walk(self, start, username, password, *, consent="accept", client=None, browser=None):
        """From the portal's redirect to Microsoft, through sign-in (and admin consent when
        the portal asks for it), back to the portal's final answer."""
        browser = browser or requests.Session()
        response = start
        for _ in range(3):
            if response.status_code != 302 or response.url.startswith("/"):
                return response
            back = self.sandbox.sign_in(
                response.url, username, password, consent=consent, for_organization=True, session=browser
            )
            response = self.portal_get(back, client)
        return response


@pytest.fixture
def world(sandbox, settings, client):
    settings.SITE_URL = PORTAL
    sandbox.register_portal(PORTAL)
    contoso = sandbox.tenants["contoso"]
    membership = MembershipFactory(role=Role.ADMIN, organization__name="Acme")
    org = membership.organization
    features = ["user_mapping", "teams_notifications"]
    # The Atlassian side is authorized already: what these tests settle is the Microsoft side.
    site = SiteFactory(organization=org, name="acme-jira", authorized=True)
    connection = ConnectionFactory(
        organization=org,
        site=site,
        tenant=TenantFactory(organization=org, tenant_id=contoso.id, display_name="Contoso"),
        features=features,
    )
    from connections.services import grants_request

    grants_request(connection=connection, acting_user=membership.user)
    client.force_login(membership.user)
    return ConsentWorld(sandbox, client, membership.user, connection)
