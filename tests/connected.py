"""A world connected for real: the demo organization Acme with acme ↔ Contoso and
acme-support (JSM) ↔ Contoso, authorized and consented through the real flows against the
sandbox (portal.demo_connect). Slower than factories (a few seconds); use it where the
test needs real grants and tokens."""

import json
from io import StringIO
from types import SimpleNamespace

from django.core.management import call_command

from portal.demo_connect import connect_demo_pairs
from portal.demo_data import DEMO_EMAIL, seed_demo
from portal.management.commands.demo import _sandbox_records
from tenants.models import Membership, Organization, Role, User
from tests.factories import UserFactory


def connect_acme(sandbox, settings):
    from sandbox.atlassian.apps_registry import register_redirect_uri

    settings.SITE_URL = "http://testserver"
    sandbox.register_portal(settings.SITE_URL)
    register_redirect_uri(settings.ATLASSIAN_CLIENT_ID, settings.SITE_URL + "/connect/atlassian/callback")
    out = StringIO()
    call_command("sandbox", "info", "--json", stdout=out)
    info = json.loads(out.getvalue())
    seed_demo(**_sandbox_records(info))
    organization, admin = Organization.objects.get(slug="acme"), User.objects.get(email=DEMO_EMAIL)
    jira, jsm = connect_demo_pairs(organization=organization, admin=admin, atlassian_admin=info["atlassian"]["admin"])
    viewer = UserFactory()
    Membership.objects.create(organization=organization, user=viewer, role=Role.VIEWER)
    return SimpleNamespace(organization=organization, admin=admin, viewer=viewer, jira=jira, jsm=jsm,
                           tenant=jira.tenant, sandbox=sandbox)
