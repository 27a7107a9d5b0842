"""A connected world, made through the real flows against the sandbox (as the demo does):
acme ↔ Contoso (user matching, Teams notifications, channel knowledge) and
acme-support ↔ Contoso (incident chats, user matching), the sites authorized with OAuth 2.0
and Contoso's admin consent given through the portal's "Give permission"."""

import json
from dataclasses import dataclass
from io import StringIO

import pytest
from django.core.management import call_command

from connections.models import Connection
from portal.demo_connect import _authorize_site, _client, _consent, connect_demo_pairs
from portal.demo_data import DEMO_EMAIL, seed_demo
from portal.management.commands.demo import _sandbox_records
from tenants.models import Organization, User

PORTAL = "http://testserver"


@dataclass
class Connected:
    sandbox: object
    info: dict
    organization: object
    admin: object
    notifications: Connection  # acme ↔ Contoso
    chatops: Connection  # acme-support ↔ Contoso

    def reauthorize_site(self, site, features=("teams_notifications",)):
        _authorize_site(_client(self.admin), site, list(features), self.info["atlassian"]["admin"])

    def consent_again(self, connection):
        _consent(_client(self.admin), connection, self.sandbox.tenants[_tenant_name(self, connection)].admin)


def _tenant_name(world, connection):
    return next(n for n, t in world.sandbox.tenants.items() if str(t.id) == str(connection.tenant.tenant_id))


@pytest.fixture
def connected(sandbox, settings):
    from connections.microsoft import graph
    from sandbox.atlassian.apps_registry import register_redirect_uri

    graph.forget_tokens()  # app-only tokens cached by an earlier test carry that test's roles
    settings.SITE_URL = PORTAL
    sandbox.register_portal(PORTAL)
    register_redirect_uri(settings.ATLASSIAN_CLIENT_ID, PORTAL + "/connect/atlassian/callback")
    out = StringIO()
    call_command("sandbox", "info", "--json", stdout=out)
    info = json.loads(out.getvalue())
    seed_demo(**_sandbox_records(info))
    acme, admin = Organization.objects.get(slug="acme"), User.objects.get(email=DEMO_EMAIL)
    made = {c.site.name: c for c in connect_demo_pairs(organization=acme, admin=admin,
                                                        atlassian_admin=info["atlassian"]["admin"])}
    yield Connected(sandbox, info, acme, admin, made["acme"], made["acme-support"])
    graph.forget_tokens()
