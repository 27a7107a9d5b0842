"""'Give permission': the site admin is the tenant's admin and grants directly."""

from django.db import connection as db
from django.urls import reverse

from connections.models import Connection, Credential
from tenants.models import AuditEvent


def _give(world):
    return world.client.post(reverse("connections:microsoft:give_permission", args=[world.connection.pk]))


def test_give_permission_signs_in_grants_and_verifies_with_tokens(world):
    start = _give(world)
    assert start.status_code == 302 and "/oauth2/v2.0/authorize" in start.url
    assert "code_challenge_method=S256" in start.url and "nonce=" in start.url
    admin_upn, password = world.sandbox.tenants["contoso"].admin
    final = world.walk(start, admin_upn, password)
    assert final.status_code == 302
    assert final.url == reverse("connections:connection_detail", args=[world.connection.pk])

    world.connection.refresh_from_db()
    assert world.connection.status == Connection.Status.ACTIVE
    grants = {(g.kind, g.name): g for g in world.connection.grants.all()}
    assert all(g.observed for g in grants.values()), grants
    app_grant = grants[("application", "User.Read.All")]
    assert app_grant.granted_by_upn.lower() == admin_upn.lower()
    assert app_grant.granted_by_oid and app_grant.cloud == "public"
    assert app_grant.redirect_uri == "http://testserver/connect/microsoft/adminconsent/callback"
    # The proof is on the record: the admin's role, read from the verified id_token's `wids`.
    assert app_grant.granted_by_role_name == "Global Administrator"
    proof = world.connection.consent_requests.get()
    assert proof.granted_by_role_name == "Global Administrator" and proof.admin_consent_at is not None

    # The delegated token is kept, encrypted: no trace of it in plain text in the table.
    credential = Credential.objects.get(connection=world.connection)
    assert credential.refresh_token and credential.principal.lower() == admin_upn.lower()
    with db.cursor() as cursor:
        cursor.execute("SELECT refresh_token FROM connections_credential WHERE id = %s", [credential.pk])
        stored = cursor.fetchone()[0]
    assert credential.refresh_token not in stored

    granted = AuditEvent.objects.get(action="consent.granted")
    assert granted.actor_type == "external" and admin_upn.lower() in granted.actor_label.lower()
    assert "refresh_token" not in str(granted.details)

    page = world.client.get(reverse("connections:connection_detail", args=[world.connection.pk])).content.decode()
    assert "Active" in page and "✓ in token" in page
    assert "data-app-access-proof" in page and f"Global Administrator of {world.connection.tenant.display_name}" in page
    assert "returned to <span class=\"mono\">http://testserver/connect/microsoft/adminconsent/callback" in page


def test_a_non_admin_cannot_grant_and_is_told_who_can(world):
    # Only features whose delegated scopes a member may consent to: then the portal's own admin
    # check refuses (Teams notifications' TeamsAppInstallation.ReadWriteSelfForTeam needs an admin,
    # so Microsoft's page would stop a member before the portal ever sees them).
    Connection.objects.filter(pk=world.connection.pk).update(features=["user_mapping"])
    user, password = world.sandbox.tenants["contoso"].user
    final = world.walk(_give(world), user, password)
    assert final.status_code == 403
    body = final.content.decode()
    assert "Global Administrator" in body and "Sign in with another account" in body
    world.connection.refresh_from_db()
    assert world.connection.status == Connection.Status.PENDING_CONSENT
    # Never recorded as the admin who granted, and the request stays usable for one who can.
    request = world.connection.consent_requests.get()
    assert request.is_usable and not request.granted_by_upn
    assert not world.connection.grants.filter(granted_at__isnull=False).exists()
    refused = AuditEvent.objects.get(action="consent.failed")
    assert "not an admin" in refused.actor_label and refused.details["error_code"] == "not_an_admin"
    assert not Credential.objects.filter(connection=world.connection).exists()


def test_declining_at_microsoft_is_recorded_in_words(world):
    admin_upn, password = world.sandbox.tenants["contoso"].admin
    final = world.walk(_give(world), admin_upn, password, consent="cancel")
    assert final.status_code == 400
    assert "declined" in final.content.decode()
    request = world.connection.consent_requests.get()
    assert request.state == "declined"
    assert AuditEvent.objects.filter(action="consent.declined").exists()
    page = world.client.get(reverse("connections:connection_detail", args=[world.connection.pk])).content.decode()
    assert "Declined" in page and "declined to grant" in page


def test_giving_permission_with_an_account_of_another_tenant_leads_back_to_the_connection(world):
    other_admin, password = world.sandbox.tenants["fabrikam"].admin
    final = world.walk(_give(world), other_admin, password)
    assert final.status_code == 403
    body = final.content.decode()
    assert "an account of another Microsoft 365 tenant" in body
    # Consent-link wording is for tenant admins with a link; the site admin is led back instead.
    assert "The link still works" not in body and "try again from the connection page" in body
    assert reverse("connections:connection_detail", args=[world.connection.pk]) in body
    assert "Sign in with another account" in body
    world.connection.refresh_from_db()
    assert world.connection.status == Connection.Status.PENDING_CONSENT
