"""An organization's trail exported as CSV and JSON Lines, streamed, with the page's filters."""

import csv
import io
import json

from django.test import Client
from django.urls import reverse

from tenants import services
from tenants.audit import audit_record
from tenants.models import AuditAction, AuditEvent
from tests.factories import enrol_totp, sign_in


def _body(response):
    assert response.streaming
    return b"".join(response.streaming_content).decode()


def _trail(acme, globex):
    services.site_register(organization=acme.organization, url="https://a.atlassian.net", name="a",
                           products=["jira"], acting_user=acme.admin)
    services.tenant_remove(tenant=acme.tenant, acting_user=acme.admin)
    audit_record(organization=acme.organization, action=AuditAction.SITE_REGISTERED, actor=acme.admin,
                 target_label="=HYPERLINK(\"https://evil.example\")", details={"note": "+1"})
    services.site_register(organization=globex.organization, url="https://g.atlassian.net", name="g",
                           products=["jira"], acting_user=globex.admin)


def test_an_admin_exports_the_trail_as_csv_with_the_filters_applied(admin_client, acme, globex):
    _trail(acme, globex)
    response = admin_client.get(reverse("tenants:audit_export"), {"format": "csv", "action": "site.registered"})
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="audit-' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(_body(response))))
    assert [r["action"] for r in rows] == ["site.registered", "site.registered"]
    assert rows[0]["target"] == "a" and rows[0]["actor"] == acme.admin.email
    assert "https://a.atlassian.net" in json.loads(rows[0]["details"]).values()
    assert rows[1]["target"].startswith("'=HYPERLINK")  # no formula runs when the file is opened
    assert json.loads(rows[1]["details"]) == {"note": "+1"}
    assert int(rows[1]["chain_seq"]) > int(rows[0]["chain_seq"]) and len(rows[0]["chain_hash"]) == 64
    assert "g.atlassian.net" not in _body(admin_client.get(reverse("tenants:audit_export"), {"format": "csv"}))
    exported = AuditEvent.objects.filter(action="audit.exported", organization=acme.organization).first()
    assert exported is not None and exported.details["format"] == "csv"


def test_an_admin_exports_json_lines_and_a_bad_format_is_refused(admin_client, acme, globex):
    _trail(acme, globex)
    response = admin_client.get(reverse("tenants:audit_export"), {"format": "jsonl", "action": "tenant.removed"})
    assert response["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in _body(response).splitlines()]
    assert [(e["action"], e["organization"]) for e in lines] == [("tenant.removed", "Acme")]
    event = AuditEvent.objects.get(action="tenant.removed")
    assert lines[0]["chain_seq"] == event.chain_seq and lines[0]["chain_hash"] == event.chain_hash
    assert admin_client.get(reverse("tenants:audit_export"), {"format": "xlsx"}).status_code == 400
    viewer = Client()
    viewer.force_login(acme.viewer)
    assert viewer.get(reverse("tenants:audit_export"), {"format": "csv"}).status_code == 403


def test_support_exports_an_organizations_trail_under_an_access(client, staff_user, acme, globex):
    _trail(acme, globex)
    sign_in(client, staff_user, enrol_totp(staff_user))
    url = reverse("support:audit_export")
    assert client.get(url, {"format": "csv"}).status_code == 400  # which organization?
    assert client.get(url, {"format": "csv", "organization": globex.organization.pk}).status_code == 302
    client.post(reverse("support:access_open", args=[globex.organization.pk]),
                {"ticket": "SUP-1", "reason": "Globex asked for its trail for an audit."})
    response = client.get(url, {"format": "jsonl", "organization": globex.organization.pk})
    lines = [json.loads(line) for line in _body(response).splitlines()]
    assert lines and {e["organization"] for e in lines} == {"Globex"}
    assert "a.atlassian.net" not in json.dumps(lines)
    exported = AuditEvent.objects.get(action="audit.exported", organization=globex.organization)
    assert exported.actor_user == staff_user and exported.details["ticket"] == "SUP-1"
