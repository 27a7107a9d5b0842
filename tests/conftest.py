"""Common fixtures. Every test world has two organizations, so each view can be tried
with the other organization's ids."""

from dataclasses import dataclass

import pytest

from tenants.models import Role

from .factories import ConnectionFactory, MembershipFactory, OrganizationFactory, UserFactory

pytest_plugins = ["sandbox.pytest_plugin"]


@dataclass
class OrgWorld:
    organization: object
    admin: object
    viewer: object
    site: object
    tenant: object
    connection: object


def _world(name):
    org = OrganizationFactory(name=name)
    admin = MembershipFactory(organization=org, role=Role.ADMIN).user
    viewer = MembershipFactory(organization=org, role=Role.VIEWER).user
    connection = ConnectionFactory(organization=org)
    return OrgWorld(org, admin, viewer, connection.site, connection.tenant, connection)


@pytest.fixture
def acme(db):
    return _world("Acme")


@pytest.fixture
def globex(db):
    return _world("Globex")


@pytest.fixture
def admin_client(client, acme):
    client.force_login(acme.admin)
    return client


@pytest.fixture
def viewer_client(client, acme):
    client.force_login(acme.viewer)
    return client


@pytest.fixture
def staff_user(db):
    return UserFactory(is_staff=True, email="support@portal.example")


@pytest.fixture
def private_stack(transactional_db, tmp_path):
    """This test on a PostgreSQL and a Redis of its own (tests.processes.PrivateStack), with
    real Celery workers from `private_stack.worker()`. Ask for it before the fixtures that
    write data (sandbox, worlds), so they write there."""
    from .processes import PostgresCluster, PrivateStack

    if not PostgresCluster.available():
        pytest.fail("needs PostgreSQL's initdb and pg_ctl (and a postgres user when run as root)")
    stack = PrivateStack(tmp_path)
    try:
        yield stack.start()
    finally:
        stack.stop()


@pytest.fixture
def private_redis(tmp_path):
    """A Redis of the test's own (tests.processes.RedisServer), stopped afterwards."""
    from .processes import RedisServer

    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def private_postgres():
    """A PostgreSQL cluster of the test's own (tests.processes.PostgresCluster), removed afterwards."""
    from .processes import PostgresCluster

    if not PostgresCluster.available():
        pytest.fail("needs PostgreSQL's initdb and pg_ctl (and a postgres user when run as root)")
    server = PostgresCluster().start()
    yield server
    server.remove()
