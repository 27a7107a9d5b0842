"""A read-only or unreachable database: every write gets the maintenance page (503 with
Retry-After, saying what is wrong and that nothing was saved), never the generic 500 page,
and /healthz answers 503 with the reason. On the test's own PostgreSQL cluster, which it
turns read-only and stops."""

import psycopg
import pytest
from django.core.management import call_command
from django.db import connections
from django.test import Client
from django.urls import reverse

from connections.microsoft import consent
from tenants.models import Organization, Role
from tests.factories import PASSWORD, ConnectionFactory, MembershipFactory, UserFactory
from tests.processes import PostgresCluster


@pytest.fixture
def own_database(django_db_blocker):
    """The portal's default database moved to a cluster of the test's own, migrated."""
    cluster = PostgresCluster().start()
    admin_dsn = f"host=127.0.0.1 port={cluster.port} user=postgres dbname=postgres"
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute("CREATE DATABASE portal")
    connection = connections["default"]
    saved = dict(connection.settings_dict)
    with django_db_blocker.unblock():
        connection.close()
        connection.settings_dict.update(cluster.settings_dict(saved))
        call_command("migrate", interactive=False, verbosity=0)
        cluster.admin_dsn = admin_dsn
        try:
            yield cluster
        finally:
            connection.close()
            connection.settings_dict.clear()
            connection.settings_dict.update(saved)
            cluster.remove()


def _make_read_only(cluster):
    with psycopg.connect(cluster.admin_dsn, autocommit=True) as admin:
        admin.execute("ALTER DATABASE portal SET default_transaction_read_only = on")
    connections["default"].close()  # the setting applies to new sessions


def _count(table):
    with connections["default"].cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed table names
        return cursor.fetchone()[0]


def _assert_maintenance(response, what):
    body = response.content.decode()
    assert response.status_code == 503, body[:2000]
    assert response["Retry-After"] == "120"
    assert f"The portal's database is {what}" in body or "cannot reach its database" in body, body
    assert "Nothing you entered was saved." in body
    assert "Something went wrong on our side" not in body


def test_a_read_only_database_gets_the_maintenance_page_and_healthz_says_why(own_database):
    member = MembershipFactory(user=UserFactory(email="reader@example.com"), role=Role.ADMIN)
    connection = ConnectionFactory(organization=member.organization, features=["teams_notifications"])
    _, link_token = consent.consent_request_create(connection=connection, acting_user=member.user)
    signed_in = Client(raise_request_exception=False)
    signed_in.force_login(member.user)
    organizations, sessions = _count("tenants_organization"), _count("django_session")
    links, events = _count("connections_consentrequest"), _count("tenants_auditevent")
    assert Client().get(reverse("healthz")).status_code == 200

    _make_read_only(own_database)
    browser = Client(raise_request_exception=False)

    # Sign-in: the password is right, but the session and last_login cannot be written.
    response = browser.post(reverse("account_login"), {"login": "reader@example.com", "password": PASSWORD})
    _assert_maintenance(response, "read-only")
    # A form: a new organization.
    response = signed_in.post(reverse("tenants:organization_new"), {"name": "Never saved"})
    _assert_maintenance(response, "read-only")
    # The tenant admin's consent link, and an admin making a new one.
    _assert_maintenance(browser.get(reverse("connections:microsoft:consent_link", args=[link_token])), "read-only")
    response = signed_in.post(reverse("connections:microsoft:link_create", args=[connection.pk]))
    _assert_maintenance(response, "read-only")
    # Reading still works: the dashboard shows.
    assert signed_in.get(reverse("tenants:dashboard")).status_code == 200

    response = browser.get(reverse("healthz"))
    assert response.status_code == 503
    database = response.json()["checks"]["database"]
    assert database["ok"] is False
    assert database["reason"] == "read-only"
    assert "read-only transaction" in database["error"]

    assert _count("tenants_organization") == organizations
    assert _count("django_session") == sessions
    assert _count("connections_consentrequest") == links
    assert _count("tenants_auditevent") == events
    assert not Organization.objects.filter(name="Never saved").exists()


def test_an_unreachable_database_gets_the_maintenance_page(own_database):
    MembershipFactory(user=UserFactory(email="reader@example.com"))
    connections["default"].close()
    own_database.stop()
    browser = Client(raise_request_exception=False)

    response = browser.post(reverse("account_login"), {"login": "reader@example.com", "password": PASSWORD})
    _assert_maintenance(response, "unreachable")
    assert "cannot reach its database" in response.content.decode()

    response = browser.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["reason"] == "unreachable"
