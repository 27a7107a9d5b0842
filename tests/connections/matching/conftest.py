"""A connection between the sandbox's Atlassian site `acme` (API token of Ada Admin) and the
Microsoft tenant Fabrikam (consented), plus directory entries that make every matching case
happen, and a way to run the user matching job."""

import logging
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.db import transaction

from connections.models import Connection, Credential
from tenants.models import Role
from tenants.models.directory import SiteAuthMode, SiteAuthStatus
from tests.factories import MembershipFactory, SiteFactory, TenantFactory, own_consent


class Killed(Exception):
    """A worker dying between two batches."""


class FakeContext:
    """What the sync core's RunContext offers a job, recorded; `kill_after` checkpoints it dies."""

    def __init__(self, connection, mode="full", checkpoint=None, kill_after=None):
        self.run = None
        self.connection = connection
        self.organization = connection.organization
        self.mode = mode
        self.checkpoint = dict(checkpoint or {})
        self.counts = Counter()
        self.saves = 0
        self.kill_after = kill_after
        self.logger = logging.getLogger("tests.matching")

    def save_checkpoint(self, checkpoint, *, done=None, total=None, **counts):
        self.checkpoint = dict(checkpoint)
        self.counts.update({k: v for k, v in counts.items() if v})
        self.saves += 1

    def add_counts(self, **counts):
        self.counts.update(counts)

    def progress(self, done=None, total=None):
        pass

    def check(self):
        if self.kill_after is not None and self.saves >= self.kill_after:
            raise Killed()

    @contextmanager
    def batch(self):
        # As RunContext.batch: one transaction, the run checked before the batch's writes.
        with transaction.atomic():
            self.check()
            yield


@dataclass
class MatchingWorld:
    sandbox: object
    organization: object
    admin: object
    viewer: object
    connection: object

    @property
    def tenant(self):
        return self.sandbox.tenant("fabrikam")

    def add_ms_user(self, upn, mail=None, proxies=()):
        from sandbox.microsoft import directory
        from sandbox.microsoft.models import DirectoryUser

        user = DirectoryUser(
            tenant=self.tenant, user_principal_name=upn, mail=mail, display_name=upn, proxy_addresses=list(proxies)
        )
        user.change_seq = directory.next_change(self.tenant.pk)
        user.save()
        return str(user.pk)

    def ms_id(self, upn):
        return str(self.sandbox.user("fabrikam", upn).pk)

    def add_account(self, email, name=None, visible=True):
        import uuid

        from sandbox.atlassian.models import Account, Site

        account = Account.objects.create(
            account_id=f"557058:{uuid.uuid4()}", email=email, display_name=name or email, email_visible=visible
        )
        account.sites.add(Site.objects.get(name="acme"))
        return account.account_id

    def account_id(self, email):
        from sandbox.atlassian.models import Account

        return Account.objects.get(email=email, sites__name="acme").account_id

    def run(self, mode="full"):
        """A real run through the sync core's runner (in this process); returns it, finished."""
        from connections.models import SyncRun
        from connections.sync.runner import run_execute

        run = SyncRun.objects.create(
            organization=self.organization, connection=self.connection, kind=SyncRun.Kind.USER_MATCHING, mode=mode
        )
        run_execute(run.pk)
        run.refresh_from_db()
        assert run.state == SyncRun.State.SUCCEEDED, (run.state, run.error)
        return run

    def run_fake(self, **kwargs):
        """The job alone with a recording context (to kill it between batches)."""
        from connections.matching.job import match_users

        ctx = FakeContext(self.connection, **kwargs)
        match_users(ctx)
        return ctx


@pytest.fixture
def matching(sandbox):
    from connections.microsoft.graph import forget_tokens

    # Graph tokens are cached per tenant in the process; each test's sandbox grants afresh.
    forget_tokens()
    membership = MembershipFactory(role=Role.ADMIN, organization__name="Acme")
    org = membership.organization
    viewer = MembershipFactory(role=Role.VIEWER, organization=org).user
    ada = sandbox.atlassian["admin"]
    site = SiteFactory(
        organization=org,
        name="acme",
        url=settings.ATLASSIAN_EXTRA_SITE_PREFIXES[0] + "acme",
        auth_mode=SiteAuthMode.API_TOKEN,
        auth_status=SiteAuthStatus.AUTHORIZED,
    )
    credential = Credential(
        organization=org, site=site, kind=Credential.Kind.ATLASSIAN_API_TOKEN, principal=ada["email"]
    )
    credential.access_token = ada["api_token"]
    credential.save()
    fabrikam = sandbox.tenants["fabrikam"]
    tenant = TenantFactory(organization=org, tenant_id=fabrikam.id, display_name="Fabrikam")
    connection = Connection.objects.create(
        organization=org, site=site, tenant=tenant, status=Connection.Status.ACTIVE, features=["user_mapping"]
    )
    own_consent(connection, by=membership.user)
    return MatchingWorld(sandbox, org, membership.user, viewer, connection)
