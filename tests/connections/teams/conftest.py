"""A connection to the sandbox's Fabrikam tenant (consented) and a way to run the Teams jobs
the way a worker does: start through the service, then the runner."""

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection as db

from connections import throttle
from connections.microsoft import graph
from connections.models import Connection, SyncRun
from connections.sync import runner, services
from tenants.models import Role
from tests.factories import ConnectionFactory, MembershipFactory, TenantFactory, own_consent
from tests.processes import celery_workers

ROOT = Path(__file__).resolve().parents[3]


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
    own_consent(connection, by=admin_membership.user)
    yield TeamsWorld(sandbox, org, admin_membership.user, viewer, connection)
    throttle.default_store().clear()


@pytest.fixture
def start_worker(sandbox):
    """Start real Celery worker processes (Redis broker, the test database, this sandbox);
    tasks queued by this process go to them while the fixture is active."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings_test",
            "DATABASE_URL": "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(**db.settings_dict),
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "MICROSOFT_AUTHORITY_HOST": sandbox.authority_host,
            "MICROSOFT_GRAPH_URL": sandbox.graph_url,
            "HTTP_CA_BUNDLE": sandbox.ca_bundle,
            "SYNC_STUCK_AFTER": "2",
        }
    )
    env.pop("REQUESTS_CA_BUNDLE", None)
    env.pop("CURL_CA_BUNDLE", None)
    with celery_workers(env) as start:
        yield start
