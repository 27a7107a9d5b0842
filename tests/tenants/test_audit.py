"""The audit trail: written with the change, append-only in PostgreSQL, filterable."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from tenants import services
from tenants.audit import audit_record
from tenants.models import AtlassianSite, AuditAction, AuditEvent


def _one_event(org):
    return audit_record(organization=org, action=AuditAction.SITE_REGISTERED, target_label="x")


def test_postgresql_refuses_to_update_an_audit_row(acme):
    assert connection.vendor == "postgresql"
    event = _one_event(acme.organization)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(actor_label="someone else")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE tenants_auditevent SET details = '{}' WHERE id = %s", [event.pk])
    event.refresh_from_db()
    assert event.actor_label == "system"


def test_postgresql_refuses_to_delete_an_audit_row(acme):
    event = _one_event(acme.organization)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_a_failed_change_leaves_no_event(acme, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(AtlassianSite.objects, "create", explode)
    with pytest.raises(RuntimeError):
        services.site_register(
            organization=acme.organization,
            url="https://new.atlassian.net",
            name="new",
            products=["jira"],
            acting_user=acme.admin,
        )
    assert not AuditEvent.objects.filter(action="site.registered").exists()


def test_secrets_never_reach_audit_details(acme):
    event = audit_record(
        organization=acme.organization,
        action=AuditAction.SITE_REGISTERED,
        details={"refresh_token": "r-123", "nested": [{"access_token": "a-456", "scope": "read"}]},
    )
    assert "r-123" not in str(event.details) and "a-456" not in str(event.details)
    assert event.details["nested"][0]["scope"] == "read"


def test_an_event_carrying_nul_bytes_is_still_written_on_postgresql(acme):
    """What an attacker typed reaches the trail as details; PostgreSQL refuses NUL in text and
    jsonb, and the event must not be lost with the request."""
    from tenants.audit import ExternalActor, RequestOrigin, _origin

    token = _origin.set(RequestOrigin("not-an-ip\x00", "curl\x00/8"))
    try:
        event = audit_record(
            organization=acme.organization,
            action=AuditAction.CONSENT_CALLBACK_REJECTED,
            actor=ExternalActor("some\x00one"),
            target_label="unknown\x00 consent",
            details={"reason": "unknown\x00 state", "k\x00ey": ["a\x00", {"b": "\ud800c\x00"}]},
        )
    finally:
        _origin.reset(token)
    event.refresh_from_db()
    assert event.details == {"reason": "unknown state", "key": ["a", {"b": "c"}]}
    assert (event.actor_label, event.target_label) == ("someone", "unknown consent")
    assert (event.ip_address, event.user_agent) == (None, "curl/8")


def test_events_record_ip_and_user_agent(admin_client, acme):
    admin_client.post(
        reverse("tenants:site_new"),
        {"url": "https://ua.atlassian.net", "products": ["jira"]},
        HTTP_USER_AGENT="Firefox/140",
        REMOTE_ADDR="203.0.113.9",
    )
    event = AuditEvent.objects.get(action="site.registered")
    assert (event.ip_address, event.user_agent) == ("203.0.113.9", "Firefox/140")


def test_admins_see_and_filter_their_own_trail_only(admin_client, acme, globex):
    services.site_register(
        organization=globex.organization, url="https://g.atlassian.net", name="g", products=["jira"],
        acting_user=globex.admin,
    )
    services.tenant_remove(tenant=acme.tenant, acting_user=acme.admin)
    services.site_register(
        organization=acme.organization, url="https://a.atlassian.net", name="a", products=["jira"],
        acting_user=acme.admin,
    )
    page = admin_client.get(reverse("tenants:audit_list")).content.decode()
    assert "https://g.atlassian.net" not in page and globex.admin.email not in page
    filtered = admin_client.get(reverse("tenants:audit_list"), {"action": "tenant.removed"})
    events = list(filtered.context["page"].object_list)
    assert [e.action for e in events] == ["tenant.removed"]


def test_an_invalid_date_filter_is_said_and_the_other_filters_still_apply(admin_client, acme):
    services.tenant_remove(tenant=acme.tenant, acting_user=acme.admin)
    services.site_register(
        organization=acme.organization, url="https://a.atlassian.net", name="a", products=["jira"],
        acting_user=acme.admin,
    )
    response = admin_client.get(reverse("tenants:audit_list"), {"action": "tenant.removed", "date_from": "31/02/x"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Some filters were not applied" in page and "Enter a valid date" in page
    assert [e.action for e in response.context["page"].object_list] == ["tenant.removed"]


def test_viewers_do_not_see_the_audit_trail(viewer_client):
    assert viewer_client.get(reverse("tenants:audit_list")).status_code == 403
