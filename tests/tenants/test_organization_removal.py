"""Removing an organization deletes its credentials and matched-user data; its audit trail stays."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from connections.models import Connection, Credential, UserMatch
from tenants import services
from tenants.audit import audit_record
from tenants.audit_chain import verify_chain
from tenants.models import AtlassianSite, AuditAction, AuditEvent, Membership, MicrosoftTenant, Organization


def _credential_and_match(acme):
    Credential.objects.create(organization=acme.organization, connection=acme.connection,
                              kind="microsoft_delegated", principal="admin@contoso.example")
    UserMatch.objects.create(connection=acme.connection, account_id="a-1", email="ada@acme.example",
                             outcome="matched", method="email", microsoft_user_id="m-1")


def test_an_admin_removes_the_organization_and_only_its_trail_is_kept(admin_client, acme, globex):
    org = acme.organization
    _credential_and_match(acme)
    assert Credential.objects.filter(organization=org).exists()
    url = reverse("tenants:organization_remove")
    assert "Remove Acme" in admin_client.get(url).content.decode()
    refused = admin_client.post(url, {"name": "Acne"})
    assert refused.status_code == 400 and Organization.objects.get(pk=org.pk).removed_at is None

    response = admin_client.post(url, {"name": "Acme"})
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.removed_at is not None
    for model in (Connection, AtlassianSite, MicrosoftTenant, Membership, Credential):
        assert not model.objects.filter(organization=org).exists(), model
    assert not UserMatch.objects.filter(connection__organization=org).exists()
    # The other organization is untouched.
    assert Connection.objects.filter(organization=globex.organization).exists()
    # The trail stays, chained, with the removal in it.
    removal = AuditEvent.objects.get(organization=org, action="organization.removed")
    assert removal.actor_user == acme.admin
    assert verify_chain(org).ok
    # Its former admin now belongs to no organization.
    assert admin_client.get(reverse("tenants:dashboard")).url == reverse("tenants:organization_new")


def test_a_viewer_cannot_remove_the_organization(viewer_client, acme):
    assert viewer_client.post(reverse("tenants:organization_remove"), {"name": "Acme"}).status_code == 403
    acme.organization.refresh_from_db()
    assert acme.organization.removed_at is None


def test_a_removed_organizations_trail_is_kept_for_its_period_then_purged(acme, settings):
    settings.AUDIT_RETENTION_DAYS = 30
    services.organization_remove(organization=acme.organization, acting_user=acme.admin)
    org_id = acme.organization.pk
    events = AuditEvent.objects.filter(organization_id=org_id).count()
    assert events >= 1

    call_command("audit", "purge", stdout=StringIO())
    assert AuditEvent.objects.filter(organization_id=org_id).count() == events  # within its period

    Organization.objects.filter(pk=org_id).update(removed_at=timezone.now() - timedelta(days=31))
    out = StringIO()
    call_command("audit", "purge", stdout=out)
    assert f"Acme: {events} audit events deleted" in out.getvalue()
    assert not AuditEvent.objects.filter(organization_id=org_id).exists()
    assert not Organization.objects.filter(pk=org_id).exists()
    purge = AuditEvent.objects.get(action="audit.retention_purged")
    assert purge.organization is None and purge.details["events"] == events
    assert verify_chain(None).ok


def test_the_trigger_refuses_the_purge_of_a_live_organizations_trail(acme):
    event = audit_record(organization=acme.organization, action=AuditAction.SITE_REGISTERED, target_label="x")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL portal.audit_retention_purge = 'on'")
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()
