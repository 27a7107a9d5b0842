"""The sandbox's Confluence site `acme` registered with Ada Admin's API token (or authorized
with OAuth for the scope tests), a connection to Fabrikam, and a reader over it."""

from dataclasses import dataclass

import pytest
from django.conf import settings

from connections.models import Connection, Credential
from connections.search.confluence import ConfluenceReader
from connections.throttle import MemoryStore, Throttle
from tenants.models import Role
from tenants.models.directory import SiteAuthMode, SiteAuthStatus
from tests.factories import MembershipFactory, SiteFactory, TenantFactory, own_consent


class FakeClock:
    """Time that moves only when someone sleeps; `on_sleep` runs at each sleep (to end a fault)."""

    def __init__(self, on_sleep=None):
        import time

        self.t = time.time()
        self.slept = []
        self.on_sleep = on_sleep

    def now(self):
        return self.t

    def sleep(self, seconds):
        if seconds > 0:
            self.slept.append(seconds)
            self.t += seconds
            if self.on_sleep:
                self.on_sleep()


@dataclass
class SearchWorld:
    sandbox: object
    organization: object
    admin: object
    connection: object

    def reader(self, **throttle):
        # A fast, private budget: the tests measure behaviour, not Atlassian's rate.
        throttle.setdefault("rate", 1000)
        throttle.setdefault("burst", 1000)
        throttle.setdefault("store", MemoryStore())
        return ConfluenceReader(self.connection.site, throttle=Throttle(**throttle))

    def account(self, email):
        from sandbox.atlassian.models import Account

        return Account.objects.get(email=email, sites__name="acme").account_id

    def page(self, title):
        from sandbox.atlassian.models import Page

        return Page.objects.get(title=title, site__name="acme")


@pytest.fixture
def search_world(sandbox):
    membership = MembershipFactory(role=Role.ADMIN, organization__name="Acme")
    org = membership.organization
    ada = sandbox.atlassian["admin"]
    site = SiteFactory(
        organization=org,
        name="acme",
        url=settings.ATLASSIAN_EXTRA_SITE_PREFIXES[0] + "acme",
        auth_mode=SiteAuthMode.API_TOKEN,
        auth_status=SiteAuthStatus.AUTHORIZED,
        products=["confluence"],
    )
    credential = Credential(
        organization=org, site=site, kind=Credential.Kind.ATLASSIAN_API_TOKEN, principal=ada["email"]
    )
    credential.access_token = ada["api_token"]
    credential.save()
    fabrikam = sandbox.tenants["fabrikam"]
    tenant = TenantFactory(organization=org, tenant_id=fabrikam.id, display_name="Fabrikam")
    connection = Connection.objects.create(
        organization=org, site=site, tenant=tenant, status=Connection.Status.ACTIVE,
        features=["confluence_search", "user_mapping"],
    )
    own_consent(connection, by=membership.user)
    return SearchWorld(sandbox, org, membership.user, connection)
