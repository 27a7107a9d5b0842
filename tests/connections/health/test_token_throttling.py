"""Microsoft's token endpoint answering 429 (Retry-After, AADSTS body) during a health check
is throttling, never a consent problem: the connection keeps its status and its last results,
the stored delegated sign-in is not marked dead, and the run says when it retries. On a
PostgreSQL and a Redis of the test's own."""

from datetime import timedelta

from django.utils import timezone

from connections.health.credentials import Probe
from connections.health.services import health_checks_run
from connections.models import Connection, Credential, HealthCheckResult
from connections.status import connection_status_evaluate
from tenants.models import AuditAction, AuditEvent


def _status(connection):
    connection.refresh_from_db()
    return connection.status


def test_a_throttled_token_endpoint_keeps_the_status_and_says_when_the_checks_retry(private_stack, connected):
    connection = connected.notifications
    health_checks_run(connection=connection)
    assert _status(connection) == Connection.Status.ACTIVE
    latest = set(HealthCheckResult.objects.filter(connection=connection, is_latest=True).values_list("id", flat=True))
    events = AuditEvent.objects.filter(action=AuditAction.HEALTH_CHECKS_RAN).count()

    connected.sandbox.set_fault("token_throttled", "contoso", retry_after=120)
    before = timezone.now()
    assert health_checks_run(connection=connection) == []

    assert _status(connection) == Connection.Status.ACTIVE  # Start, Retry and schedules stay open
    assert set(HealthCheckResult.objects.filter(connection=connection, is_latest=True)
               .values_list("id", flat=True)) == latest
    assert Credential.objects.filter(connection=connection, kind=Credential.Kind.MICROSOFT_DELEGATED).exclude(
        last_error="").count() == 0
    assert AuditEvent.objects.filter(action=AuditAction.HEALTH_CHECKS_RAN).count() == events + 1
    event = AuditEvent.objects.filter(action=AuditAction.HEALTH_CHECKS_RAN).latest("id")
    assert "Microsoft is throttling the portal's token requests" in event.details["postponed"]
    assert "retrying at" in event.details["postponed"]
    assert "consent" not in event.details["postponed"].lower()
    retry_at = timezone.datetime.fromisoformat(event.details["retry_at"])
    assert before + timedelta(seconds=119) <= retry_at <= timezone.now() + timedelta(seconds=121)
    assert event.details["status_from"] == event.details["status_to"] == Connection.Status.ACTIVE
    # The sandbox really answered 429 with Retry-After: Microsoft's shape.
    answered = connected.sandbox.requests(path_contains="/oauth2/v2.0/token", method="POST")
    assert answered and answered[-1].status == 429

    connected.sandbox.clear_faults()
    health_checks_run(connection=connection)
    assert _status(connection) == Connection.Status.ACTIVE
    assert not set(HealthCheckResult.objects.filter(connection=connection, is_latest=True)
                   .values_list("id", flat=True)) & latest


def test_a_throttled_refresh_of_the_delegated_sign_in_is_not_a_dead_credential(private_stack, connected):
    connection = connected.notifications
    connected.sandbox.set_fault("token_throttled", "contoso", retry_after=30)

    probe = Probe(connection)
    result = probe.renew_delegated()

    assert result.outcome == "skipped"
    assert "Microsoft is throttling" in result.message and "retrying at" in result.message
    assert probe.throttled is not None
    credential = Credential.objects.get(connection=connection, kind=Credential.Kind.MICROSOFT_DELEGATED)
    assert credential.last_error == "" and credential.last_error_at is None
    assert connection_status_evaluate(connection).status != Connection.Status.NEEDS_REAUTH
