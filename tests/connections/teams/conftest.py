"""A connection to the sandbox's Fabrikam tenant (consented) and a way to run the Teams jobs
the way a worker does: start through the service, then the runner."""

from dataclasses import dataclass

import pytest

from connections import throttle
from connections.microsoft import graph
from connections.models import Connection, SyncRun
from connections.sync import runner, services
from tenants.models import Role
from tests.factories import ConnectionFactory, MembershipFactory, TenantFactory


@dataclass
class TeamsWorld:
    sandbox: object
    organization: object
    admin: object
    viewer: object
    connection: object

    def run(self, kind, mode="full"):
        run = services.sync_run_start(connection=self.connection, kind=kind, mode=mode, acting_user=self.admin)
        runner.run_execute(run.pk)
        run.refresh_from_db()
        return run

    def directory(self, mode="full"):
        return self.run(SyncRun.Kind.TEAMS_DIRECTORY, mode)

    def messages(self, mode="incremental"):
        return self.run(SyncRun.Kind.CHANNEL_MESSAGES, mode)

    @property
    def ms_tenant(self):
        return self.sandbox.tenant("fabrikam")


@pytest.fixture
def teams_world(sandbox):
    throttle.reset_default_store()
    throttle.default_store().clear()
    graph.forget_tokens()
    admin_membership = MembershipFactory(role=Role.ADMIN, organization__name="Fabrikam fans")
    org = admin_membership.organization
    viewer = MembershipFactory(role=Role.VIEWER, organization=org).user
    connection = ConnectionFactory(
        organization=org,
        tenant=TenantFactory(organization=org, tenant_id=sandbox.tenants["fabrikam"].id, display_name="Fabrikam"),
        status=Connection.Status.ACTIVE,
        features=["teams_notifications"],
    )
    yield TeamsWorld(sandbox, org, admin_membership.user, viewer, connection)
    throttle.default_store().clear()
