"""Support staff read a connection's Teams notification deliveries (sent, failed with the reason,
retrying with the attempts), only under a support access, and every look is in the
organization's audit trail."""

from django.urls import reverse
from django.utils import timezone

from connections.models import NotificationDelivery, NotificationTarget
from tenants.models import AuditAction, AuditEvent
from tests.factories import enrol_totp, sign_in


def _delivery(connection, subject, **fields):
    return NotificationDelivery.objects.create(
        organization=connection.organization, connection=connection, event_key=subject, event="jira:issue_updated",
        subject=subject, channel_id="19:abc@thread.tacv2", channel_name="Incidents", **fields)


def test_support_reads_the_delivery_log_under_an_access_and_the_look_is_audited(client, staff_user, acme, globex):
    connection = acme.connection
    NotificationTarget.objects.create(organization=connection.organization, connection=connection,
                                      source="jira_project", source_id="10000", source_key="ENG", source_name="Eng",
                                      team_id="t", team_name="Service Desk", channel_id="19:abc@thread.tacv2",
                                      channel_name="Incidents")
    _delivery(connection, "ENG-1 Printer on fire", status="sent", attempts=1, sent_at=timezone.now())
    _delivery(connection, "ENG-2 Disk full", status="failed", attempts=5,
              last_error="The Bot Framework answered HTTP 503.")
    _delivery(connection, "ENG-3 Slow", status="retrying", attempts=2,
              last_error="The Bot Framework answered HTTP 429.")
    _delivery(globex.connection, "OPS-9 Not theirs", status="sent", attempts=1)
    sign_in(client, staff_user, enrol_totp(staff_user))
    url = reverse("support:connection_notifications", args=[connection.pk])
    # Without an access, the page asks for the ticket and the reason first.
    first = client.get(url)
    assert first.status_code == 302 and reverse("support:access_open", args=[acme.organization.pk]) in first.url
    client.post(reverse("support:access_open", args=[acme.organization.pk]),
                {"ticket": "SUP-7", "reason": "Notifications do not arrive in Teams."})
    page = client.get(url).content.decode()
    assert "ENG-1 Printer on fire" in page and 'data-delivery="sent"' in page
    assert "ENG-2 Disk full" in page and "HTTP 503" in page and 'data-delivery="failed"' in page
    assert "ENG-3 Slow" in page and "Retrying" in page and "HTTP 429" in page
    assert "OPS-9" not in page  # another connection's log
    assert "ENG → Service Desk / Incidents" in page
    look = AuditEvent.objects.filter(organization=acme.organization, action=AuditAction.SUPPORT_VIEWED,
                                     actor_user=staff_user).order_by("-pk").first()
    assert look.details["page"] == "notification deliveries" and look.details["ticket"] == "SUP-7"
    # The connection's support page links to it.
    detail = client.get(reverse("support:connection_detail", args=[connection.pk])).content.decode()
    assert url in detail


def test_members_do_not_reach_the_support_page(admin_client, acme):
    url = reverse("support:connection_notifications", args=[acme.connection.pk])
    assert admin_client.get(url).status_code == 404
