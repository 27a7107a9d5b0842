"""Disconnect says what will happen, then does exactly that; reconnect asks for consent
again only when the tenant no longer grants what the features need."""

from django.db import transaction
from django.urls import reverse

from connections.microsoft.consent import consent_request_create
from connections.models import Connection, ConsentRequest, Credential, SyncRun
from portal.demo_connect import _consent as consent_as_admin
from sandbox.testing import tenant_infos
from tenants.models import AuditEvent


def _events(connection, action):
    return AuditEvent.objects.filter(target_type="connection", target_id=str(connection.pk), action=action)


def test_disconnect_deletes_tokens_stops_jobs_and_keeps_the_configuration(acme_live, client):
    connection = acme_live.jira
    link = consent_request_create(connection=connection, acting_user=acme_live.admin)[0]
    queued = SyncRun.objects.create(organization=connection.organization, connection=connection,
                                    kind=SyncRun.Kind.USER_MATCHING)
    running = SyncRun.objects.create(organization=connection.organization, connection=connection,
                                     kind=SyncRun.Kind.TEAMS_DIRECTORY, state=SyncRun.State.RUNNING)
    assert Credential.objects.filter(connection=connection, kind="microsoft_delegated").exists()
    features = list(connection.features)
    client.force_login(acme_live.admin)

    page = client.get(reverse("connections:connection_disconnect", args=[connection.pk])).content.decode()
    assert "deletes its Microsoft token" in page
    assert "Nothing is deleted in Microsoft Teams or in the Atlassian site" in page
    assert "Enterprise applications" in page and "Connected apps" in page
    assert "2 jobs running or queued now stop at their next step" in page
    assert "1 open consent link stops working" in page

    response = client.post(reverse("connections:connection_disconnect", args=[connection.pk]), follow=True)
    assert "is disconnected" in response.content.decode()
    connection.refresh_from_db()
    assert connection.status == Connection.Status.DISCONNECTED
    assert connection.disconnected_by == acme_live.admin and connection.disconnected_at
    assert not connection.credentials.exists()
    # The site's authorization belongs to the site (acme-support's connection is another site;
    # acme itself stays authorized for a reconnect or other tenants).
    assert Credential.objects.filter(site=connection.site).exists()
    assert connection.features == features
    link.refresh_from_db()
    queued.refresh_from_db()
    running.refresh_from_db()
    assert link.state == ConsentRequest.State.REVOKED
    assert queued.state == SyncRun.State.CANCELLED
    assert running.cancel_requested and running.state == SyncRun.State.RUNNING  # stops at its next step
    event = _events(connection, "connection.disconnected").get()
    assert event.actor_user == acme_live.admin
    assert event.details["credentials_deleted"] == ["microsoft_delegated"]
    assert event.details["consent_links_revoked"] == [link.pk]
    assert sorted(event.details["runs_stopped"]) == sorted([queued.pk, running.pk])

    page = client.get(reverse("connections:connection_detail", args=[connection.pk])).content.decode()
    assert "Disconnected" in page and "Reconnect" in page and "Disconnect…" not in page
    assert "Give permission" not in page and "Consent is asked for again when you reconnect" in page
    # The way back is in the status section, first on the page; nothing offers to start a job.
    status_card = page.split('id="live"', 1)[1].split("</section>", 1)[0]
    assert "data-reconnect" in status_card and "data-job-start" not in page
    assert "No job runs while the connection is disconnected" in page

    # A second click (another tab, another admin) changes nothing.
    again = client.post(reverse("connections:connection_disconnect", args=[connection.pk]), follow=True)
    assert "already disconnected" in again.content.decode()
    assert _events(connection, "connection.disconnected").count() == 1


def test_reconnect_needs_no_consent_while_the_tenant_still_grants_everything(acme_live, client):
    connection = acme_live.jira
    connection.features = ["user_mapping", "channel_knowledge"]  # application permissions only
    connection.save(update_fields=["features"])
    client.force_login(acme_live.admin)
    client.post(reverse("connections:connection_disconnect", args=[connection.pk]))
    links_before = connection.consent_requests.count()

    response = client.post(reverse("connections:connection_reconnect", args=[connection.pk]), follow=True)

    assert "still grants everything it needs" in response.content.decode()
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE
    assert connection.disconnected_at is None and connection.disconnected_by is None
    assert connection.consent_requests.count() == links_before
    event = _events(connection, "connection.reconnected").get()
    assert event.details["missing"] == [] and "User.Read.All" in event.details["roles"]


def test_reconnect_says_the_delegated_sign_in_is_gone_and_signing_in_again_restores_it(acme_live, client):
    connection = acme_live.jira  # Teams notifications act as a signed-in admin
    client.force_login(acme_live.admin)
    client.post(reverse("connections:connection_disconnect", args=[connection.pk]))

    response = client.post(reverse("connections:connection_reconnect", args=[connection.pk]), follow=True)

    page = response.content.decode()
    connection.refresh_from_db()
    assert connection.status == Connection.Status.DEGRADED
    assert "still grants everything" not in page
    assert "No delegated sign-in of an admin of Contoso is stored" in page
    assert "Teams notifications from Jira and Confluence cannot work" in page
    status_card = page.split('id="live"', 1)[1].split("</section>", 1)[0]
    assert "Sign in with Microsoft again to restore delegated features" in status_card
    assert "data-restore-delegated" in status_card

    # The button signs Contoso's admin in again: the delegated sign-in is back, and so is Active.
    consent_as_admin(client, connection, tenant_infos()["contoso"].admin)
    connection.refresh_from_db()
    assert Credential.objects.filter(connection=connection, kind="microsoft_delegated").exists()
    assert connection.status == Connection.Status.ACTIVE


def test_reconnect_asks_for_consent_when_the_tenant_withdrew_a_permission(acme_live, client):
    connection = acme_live.jira
    client.force_login(acme_live.admin)
    client.post(reverse("connections:connection_disconnect", args=[connection.pk]))
    acme_live.sandbox.revoke("contoso", "ChannelMessage.Read.All", delegated=False)

    response = client.post(reverse("connections:connection_reconnect", args=[connection.pk]), follow=True)

    page = response.content.decode()
    assert "needs consent again: ChannelMessage.Read.All (application)" in page
    connection.refresh_from_db()
    assert connection.status == Connection.Status.DEGRADED
    assert "Give permission" in page


def test_reconnect_after_the_app_was_removed_from_the_tenant_starts_consent_over(acme_live, client):
    connection = acme_live.jira
    client.force_login(acme_live.admin)
    client.post(reverse("connections:connection_disconnect", args=[connection.pk]))
    acme_live.sandbox.revoke("contoso")  # every grant, as deleting the enterprise application does

    client.post(reverse("connections:connection_reconnect", args=[connection.pk]))

    connection.refresh_from_db()
    assert connection.status in (Connection.Status.PENDING_CONSENT, Connection.Status.DEGRADED)
    assert not connection.grants.filter(provider="microsoft", kind="application", observed=True).exists()


def test_viewers_cannot_disconnect_or_reconnect(acme_live, client):
    client.force_login(acme_live.viewer)
    url = reverse("connections:connection_disconnect", args=[acme_live.jira.pk])
    assert client.get(url).status_code == 403
    assert client.post(url).status_code == 403
    acme_live.jira.refresh_from_db()
    assert acme_live.jira.status == Connection.Status.ACTIVE


def test_disconnecting_a_tenant_disconnects_all_its_connections_in_one_step(acme_live, client):
    client.force_login(acme_live.admin)
    url = reverse("connections:tenant_disconnect", args=[acme_live.tenant.pk])
    page = client.get(url).content.decode()
    assert "These 2 connections will be disconnected in one step" in page
    assert "acme ↔ Contoso" in page and "acme-support ↔ Contoso" in page

    response = client.post(url, follow=True)

    assert "2 connections disconnected" in response.content.decode()
    assert set(Connection.objects.filter(tenant=acme_live.tenant).values_list("status", flat=True)) == {
        "disconnected"
    }
    assert AuditEvent.objects.filter(action="connection.disconnected").count() == 2
    tenant_event = AuditEvent.objects.get(action="tenant.disconnected")
    assert sorted(tenant_event.details["connections"]) == sorted([acme_live.jira.pk, acme_live.jsm.pk])
    # The tenant stays registered; each connection can come back on its own.
    client.post(reverse("connections:connection_reconnect", args=[acme_live.jsm.pk]))
    acme_live.jsm.refresh_from_db()
    # Back, but not active: incident chats need an admin's delegated sign-in, deleted on disconnect.
    assert acme_live.jsm.status == Connection.Status.DEGRADED


def test_reconnect_while_the_site_needs_reauthorization_says_so(acme_live, client):
    from connections.atlassian.services import site_mark_needs_reauth

    connection = acme_live.jira
    client.force_login(acme_live.admin)
    client.post(reverse("connections:connection_disconnect", args=[connection.pk]))
    with transaction.atomic():  # as the refresher calls it, holding the credential's row
        site_mark_needs_reauth(site=connection.site, error="invalid_grant")

    response = client.post(reverse("connections:connection_reconnect", args=[connection.pk]), follow=True)

    connection.refresh_from_db()
    assert connection.status == Connection.Status.NEEDS_REAUTH
    assert "is reconnected and needs re-authorization" in response.content.decode()
    assert "authorize it again" in response.content.decode()
