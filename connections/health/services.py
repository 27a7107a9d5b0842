"""Running a connection's health checks and keeping their results.

    health_checks_request(connection=..., acting_user=...)   # the page's button: audited, queued
    health_checks_run(connection=...)                        # the task: checks, results, status

The checks talk to Microsoft and Atlassian outside any transaction; only the results are
written in one (with the connection's row locked, so two runs of the same connection do
not interleave their "latest" rows).
"""

import logging
import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from portal import outbox
from tenants.audit import audit_record
from tenants.models import AuditAction
from tenants.services import require_admin

from .. import permissions
from ..models import Connection, HealthCheckResult
from ..status import connection_status_refresh
from .checks import FAILED, FEATURE_CHECKS, OTHER, Result
from .credentials import Probe

logger = logging.getLogger(__name__)

# Queued by name (connections/tasks.py registers it): services never import the task modules.
HEALTH_CHECKS_TASK = "connections.health_checks_run"

# Result rows kept per connection (the latest run plus history for the page).
HISTORY_ROWS = 200
CREDENTIALS = "credentials"


def _timed(feature, check, side, run):
    started = time.monotonic()
    try:
        result = run()
    except Exception as exc:  # one broken check must not hide the others' results
        logger.exception("health check %s/%s crashed", feature, check)
        result = Result(FAILED, f"The check could not run ({type(exc).__name__}).",
                        "Try again; if it persists, contact support.", OTHER)
    return HealthCheckResult(
        feature=feature,
        check_name=check,
        side=side,
        outcome=result.outcome,
        cause=result.cause if result.outcome == FAILED else "",
        message=result.message[:500],
        remedy=result.remedy[:500],
        duration_ms=round((time.monotonic() - started) * 1000),
    )


def health_checks_run(*, connection, acting_user=None):
    """Run every check of the connection's features; store the results; set its status.
    Returns the results (nothing for a disconnected connection)."""
    connection = Connection.objects.select_related("site", "tenant", "organization").get(pk=connection.pk)
    if connection.status == Connection.Status.DISCONNECTED:
        return []
    probe = Probe(connection)
    results = [_timed(CREDENTIALS, "microsoft_app_token", "microsoft", probe.load_app_roles)]
    if probe.throttled is None:
        results.append(_timed(CREDENTIALS, "microsoft_delegated", "microsoft", probe.renew_delegated))
    if probe.throttled is None:
        results.append(_timed(CREDENTIALS, "atlassian_site", "atlassian", probe.atlassian_site))
        for feature in connection.features:
            for check in FEATURE_CHECKS.get(feature, ()):
                results.append(_timed(feature, check.key, check.side, lambda check=check: check.run(probe)))
    if probe.throttled is not None:
        return _postpone(connection.pk, probe.throttled, acting_user)
    return _record(connection.pk, results, acting_user)


@transaction.atomic
def _postpone(connection_id, throttled, acting_user):
    """Microsoft throttled a token request: nothing was learnt about the grants, so the last
    results and the status stay as they are, and the checks run again once Retry-After passed."""
    connection = Connection.objects.select_for_update().select_related("organization").get(pk=connection_id)
    audit_record(
        organization=connection.organization,
        action=AuditAction.HEALTH_CHECKS_RAN,
        actor=acting_user,
        target=connection,
        details={
            "postponed": str(throttled)[:300],
            "retry_at": throttled.retry_at.isoformat(),
            "status_from": connection.status,
            "status_to": connection.status,
        },
    )
    if not settings.CELERY_TASK_ALWAYS_EAGER:  # eager runs would run it right away: a loop
        # The relay sends it once Retry-After passed: no long eta message in the broker
        # (Redis hands an unacknowledged one to a second worker after its visibility timeout).
        outbox.enqueue(HEALTH_CHECKS_TASK, not_before=throttled.retry_at, connection_id=connection.pk)
    return []


@transaction.atomic
def _record(connection_id, results, acting_user):
    connection = Connection.objects.select_for_update().select_related("site", "tenant", "organization").get(
        pk=connection_id
    )
    if connection.status == Connection.Status.DISCONNECTED:
        return []  # disconnected while the checks ran: write nothing
    before = connection.status
    now = timezone.now()
    HealthCheckResult.objects.filter(connection=connection, is_latest=True).update(is_latest=False)
    for row in results:
        row.connection, row.checked_at, row.is_latest = connection, now, True
    HealthCheckResult.objects.bulk_create(results)
    old = HealthCheckResult.objects.filter(connection=connection).order_by("-checked_at", "-id")
    stale = list(old.values_list("id", flat=True)[HISTORY_ROWS:])
    if stale:
        HealthCheckResult.objects.filter(id__in=stale).delete()
    after = connection_status_refresh(connection=connection)
    if acting_user is not None or after != before:
        counts = {o: sum(r.outcome == o for r in results) for o in HealthCheckResult.Outcome.values}
        audit_record(
            organization=connection.organization,
            action=AuditAction.HEALTH_CHECKS_RAN,
            actor=acting_user,
            target=connection,
            details={
                **counts,
                "status_from": before,
                "status_to": after,
                "failed": [f"{r.feature}/{r.check_name}" for r in results if r.outcome == FAILED],
            },
        )
    return results


@transaction.atomic
def health_checks_request(*, connection, acting_user):
    """An admin asked for the checks now: audited, then run by a worker."""
    require_admin(connection.organization, acting_user)
    connection = Connection.objects.select_for_update().get(pk=connection.pk)
    if connection.status == Connection.Status.DISCONNECTED:
        raise ValidationError("This connection is disconnected: reconnect it before checking it.")
    audit_record(
        organization=connection.organization,
        action=AuditAction.HEALTH_CHECKS_REQUESTED,
        actor=acting_user,
        target=connection,
        details={"features": connection.features},
    )
    outbox.enqueue(HEALTH_CHECKS_TASK, connection_id=connection.pk, acting_user_id=acting_user.pk)
    return connection


CHECK_TITLES = {
    "microsoft_app_token": "Microsoft app-only token",
    "microsoft_delegated": "Microsoft delegated sign-in",
    "atlassian_site": "Atlassian site authorization",
    **{check.key: check.title for checks in FEATURE_CHECKS.values() for check in checks},
}


def latest_results(connection):
    """The latest result of each check, credentials first, then by feature; with titles in words."""
    rows = list(HealthCheckResult.objects.filter(connection=connection, is_latest=True))
    order = [CREDENTIALS, *connection.features]
    for row in rows:
        feature = permissions.FEATURES.get(row.feature)
        row.feature_title = feature.title if feature else "Credentials"
        row.check_title = CHECK_TITLES.get(row.check_name, row.check_name)
    return sorted(rows, key=lambda r: (order.index(r.feature) if r.feature in order else len(order), r.id))


def earlier_runs(connection, limit=5):
    """The runs before the latest one, newest first: when, and how many checks passed/failed/skipped."""
    return list(
        HealthCheckResult.objects.filter(connection=connection, is_latest=False)
        .values("checked_at")
        .annotate(
            passed=Count("id", filter=Q(outcome="passed")),
            failed=Count("id", filter=Q(outcome="failed")),
            skipped=Count("id", filter=Q(outcome="skipped")),
        )
        .order_by("-checked_at")[:limit]
    )
