"""An organization's access to a tenant rests on its own consent, given by a verified admin of
that tenant: another organization registering a tenant that someone else consented sees
nothing of it, whatever it clicks, until that tenant's admin consents for it."""

import time

import requests
from django.test import Client
from django.urls import reverse

from connections import lifecycle
from connections.health.services import health_checks_run
from connections.models import Connection, SyncRun, TeamsTeam, UserMatch
from connections.services import grants_request
from connections.sync import runner, services
from connections.sync.schedules import kickoff
from tenants.models import AuditEvent, Role
from tests.factories import ConnectionFactory, MembershipFactory, SiteFactory, TenantFactory


def _give(world, connection=None, client=None):
    connection = connection or world.connection
    return (client or world.client).post(reverse("connections:microsoft:give_permission", args=[connection.pk]))


def _intruder(world):
    """Organization B registers the tenant GUID organization A connected."""
    membership = MembershipFactory(role=Role.ADMIN, organization__name="Intruder")
    org = membership.organization
    tenant = world.sandbox.tenants["contoso"]
    connection = ConnectionFactory(
        organization=org,
        site=SiteFactory(organization=org, name="intruder-jira", authorized=True),
        tenant=TenantFactory(organization=org, tenant_id=tenant.id, display_name="Contoso"),
        features=["user_mapping", "teams_notifications"],
    )
    grants_request(connection=connection, acting_user=membership.user)
    client = Client()
    client.force_login(membership.user)
    return connection, membership.user, client


def _microsoft_calls(world, since):
    """Token requests for Contoso and Graph calls made since `since`."""
    contoso = str(world.sandbox.tenants["contoso"].id)
    return [
        r for r in world.sandbox.requests(since_id=since)
        if (contoso in r.path and r.path.endswith("/token")) or r.path.startswith(("/v1.0/", "/beta/"))
    ]


def _last(world):
    """The newest logged request, once the log has settled: the sandbox records a request just
    after answering it, so organization A's last token request may land a moment later."""
    last, deadline = None, time.monotonic() + 5
    while time.monotonic() < deadline:
        rows = world.sandbox.requests()
        now = rows[-1].pk if rows else 0
        if now == last:
            return now
        last = now
        time.sleep(0.3)
    return last


def test_another_organization_sees_nothing_of_a_consented_tenant_until_its_admin_consents(world):
    admin_upn, password = world.sandbox.tenants["contoso"].admin
    world.walk(_give(world), admin_upn, password)
    world.connection.refresh_from_db()
    assert world.connection.status == Connection.Status.ACTIVE  # organization A, on its own consent

    connection, intruder, client = _intruder(world)
    kickoff()  # organization A's first scheduled runs: its traffic, before B's starts
    since = _last(world)

    # "Check grants now": told why, nothing counted as granted.
    response = client.post(reverse("connections:connection_verify", args=[connection.pk]), follow=True)
    assert "No administrator of Contoso has given consent for this connection yet" in response.content.decode()
    # Health checks: the app-only check fails with the consent remedy; nothing else is read.
    results = {f"{r.feature}/{r.check_name}": r for r in health_checks_run(connection=connection)}
    app = results["credentials/microsoft_app_token"]
    assert app.outcome == "failed" and "consent link" in app.remedy
    assert all(r.outcome != "passed" for k, r in results.items() if r.side == "microsoft")
    # The scheduler starts nothing, and a job started by hand is refused.
    kickoff()
    assert not SyncRun.objects.filter(connection=connection).exists()
    connection.refresh_from_db()
    assert connection.status == Connection.Status.PENDING_CONSENT
    Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.DEGRADED)  # even if it were runnable
    run = services.sync_run_start(connection=connection, kind=SyncRun.Kind.TEAMS_DIRECTORY, mode="full",
                                  acting_user=intruder)
    runner.run_execute(run.pk)
    run.refresh_from_db()
    assert run.state == SyncRun.State.FAILED and "consent link" in run.remedy
    # Disconnect and reconnect: still nothing.
    lifecycle.connection_disconnect(connection=connection, acting_user=intruder)
    connection.refresh_from_db()
    outcome = lifecycle.connection_reconnect(connection=connection, acting_user=intruder)
    connection.refresh_from_db()
    assert connection.status == Connection.Status.PENDING_CONSENT, outcome.message

    assert not connection.grants.filter(observed=True).exists()
    assert not TeamsTeam.objects.filter(connection=connection).exists()
    assert not UserMatch.objects.filter(connection=connection).exists()
    # Not even a token was asked for on B's behalf, and Graph was never called.
    assert _microsoft_calls(world, since) == []
    page = client.get(reverse("connections:connection_detail", args=[connection.pk])).content.decode()
    assert "Pending consent" in page and "data-app-access-proof" not in page

    # Contoso's admin consents for organization B: from then on B's connection works.
    link = client.post(reverse("connections:microsoft:link_create", args=[connection.pk]), follow=True)
    path = "/consent/" + link.content.decode().split("/consent/", 1)[1].split("/", 1)[0] + "/"
    tenant_admin = Client()
    world.walk(tenant_admin.post(path + "start/"), admin_upn, password, client=tenant_admin,
               browser=requests.Session())
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE
    proof = connection.consent_requests.get(state="consented")
    assert proof.granted_by_upn.lower() == admin_upn.lower() and proof.granted_by_role_name == "Global Administrator"
    run = services.sync_run_start(connection=connection, kind=SyncRun.Kind.TEAMS_DIRECTORY, mode="full",
                                  acting_user=intruder)
    runner.run_execute(run.pk)
    run.refresh_from_db()
    assert run.state == SyncRun.State.SUCCEEDED and TeamsTeam.objects.filter(connection=connection).exists()


def test_an_application_administrator_cannot_grant_application_permissions(world):
    """Cloud Application and Application Administrators grant delegated permissions only."""
    tenant = world.sandbox.tenants["contoso"]
    user, password = tenant.user
    world.sandbox.update_user("contoso", user, directory_roles=["9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"])
    final = world.walk(_give(world), user, password)
    assert final.status_code == 403
    assert "Global Administrator or Privileged Role Administrator" in final.content.decode()
    world.connection.refresh_from_db()
    assert world.connection.status == Connection.Status.PENDING_CONSENT
    assert not world.connection.grants.filter(granted_at__isnull=False).exists()
    assert world.connection.consent_requests.get().is_usable


def test_an_application_administrator_can_grant_delegated_permissions_and_is_recorded_as_such(world):
    tenant = world.sandbox.tenants["contoso"]
    user, password = tenant.user
    world.sandbox.update_user("contoso", user, directory_roles=["158c047a-c907-4556-b7ef-446551a6b5f7"])
    # Teams notifications need delegated permissions only.
    Connection.objects.filter(pk=world.connection.pk).update(features=["teams_notifications"])
    world.connection.refresh_from_db()
    grants_request(connection=world.connection, acting_user=world.admin)
    final = world.walk(_give(world), user, password)
    assert final.status_code == 302, final.content.decode()[:500]
    request = world.connection.consent_requests.get()
    assert request.state == "consented" and request.granted_by_role_name == "Cloud Application Administrator"
    assert request.admin_consent_at is None  # no admin-consent round: no app-only access either
    granted = AuditEvent.objects.get(action="consent.granted")
    assert granted.details["admin_role"] == "Cloud Application Administrator"
