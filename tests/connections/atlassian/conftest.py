"""An admin of Acme and a way to walk the OAuth 2.0 (3LO) flow across the portal (Django's
test client) and the sandbox's Atlassian pages (driven with requests, like a browser)."""

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from sandbox.testing import atlassian_consent
from tenants.models import Role
from tests.factories import MembershipFactory

PORTAL = "http://testserver"

@dataclass
class ConnectWorld:
    sandbox: object
    client: object
    admin: object
    organization: object

    def start(self, features=("teams_notifications",)):
        response = self.client.post(reverse("connections:atlassian:connect"), {"features": list(features)})
        assert response.status_code == 302, response.content[:500]
        return response.url

    def back_to_portal(self, url):
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == PORTAL, url
        return self.client.get(parts.path + ("?" + parts.query if parts.query else ""))

    def authorize(self, url, *, sites=None, decision="accept", user=None):
        account = user or self.account
        return atlassian_consent(url, user=account[0], password=account[1], sites=sites, decision=decision)

    @property
    def account(self):
        admin = self.sandbox.atlassian["admin"]  # Ada Admin: a member of every sandbox site
        return admin["email"], admin["password"]

    def site_url(self, name):
        from django.conf import settings

        return settings.ATLASSIAN_EXTRA_SITE_PREFIXES[0] + name

    @property
    def site_names(self):
        return [s["name"] for s in self.sandbox.atlassian.get("sites", [])]

    def connect(self, *, sites, choose, features=("teams_notifications",)):
        """The whole flow: start, grant `sites` at Atlassian, choose `choose` in the portal."""
        back = self.authorize(self.start(features), sites=sites)
        response = self.back_to_portal(back)
        assert response.status_code == 302 and "/connect/atlassian/choose/" in response.url, response.content[:2000]
        page = self.client.get(response.url)
        pending = parse_qs(urlsplit(response.url).query)["pending"][0]
        cloud_id = re.search(
            rf'value="([^"]+)">\s*<strong>{re.escape(choose)}</strong>', page.content.decode()
        ).group(1)
        done = self.client.post(reverse("connections:atlassian:choose"), {"pending": pending, "cloud_id": cloud_id})
        assert done.status_code == 302, done.content[:2000]
        return page, done


@pytest.fixture
def world(sandbox, settings, client):
    from sandbox.atlassian.apps_registry import register_redirect_uri

    settings.SITE_URL = PORTAL
    register_redirect_uri(settings.ATLASSIAN_CLIENT_ID, PORTAL + "/connect/atlassian/callback")
    membership = MembershipFactory(role=Role.ADMIN, organization__name="Acme")
    client.force_login(membership.user)
    return ConnectWorld(sandbox, client, membership.user, membership.organization)
