"""The status rule: disconnected > needs re-authorization > pending consent > degraded > active,
each from the facts that say so; and the beat's kickoff fans out one run per connection."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from connections import tasks
from connections.atlassian.needs import scopes_for
from connections.models import Connection, Credential, HealthCheckResult, PermissionGrant, Provider
from connections.services import grants_request
from connections.status import connection_status_evaluate, connection_status_refresh
from tenants.models.directory import SiteAuthMode, SiteAuthStatus
from tests.factories import ConnectionFactory


def _granted(connection, *, except_=()):
    grants_request(connection=connection, acting_user=None)
    now = timezone.now()
    PermissionGrant.objects.filter(connection=connection, provider=Provider.MICROSOFT).exclude(
        name__in=except_
    ).update(granted_at=now, observed=True, observed_at=now)


def _authorize_site(connection, *, except_=()):
    site = connection.site
    site.auth_mode, site.auth_status = SiteAuthMode.OAUTH, SiteAuthStatus.AUTHORIZED
    site.granted_scopes = [s for s in scopes_for(connection.features) if s not in except_]
    site.save()


def _pass(connection, check_name="read_one_user", outcome="passed", message="Read one user."):
    return HealthCheckResult.objects.create(connection=connection, feature="user_mapping", check_name=check_name,
                                            side="microsoft", outcome=outcome, message=message)


def _fail(connection, cause=""):
    return HealthCheckResult.objects.create(
        connection=connection, feature="user_mapping", check_name="read_one_user", side="microsoft",
        outcome="failed", cause=cause, message="Graph refused.", remedy="Ask a Global Administrator.",
    )


def _refresh(connection):
    connection_status_refresh(connection=connection)
    connection.refresh_from_db()
    return connection.status


@pytest.fixture
def connection(db):
    connection = ConnectionFactory(features=["user_mapping"])
    _authorize_site(connection)
    return connection


def test_nothing_granted_is_pending_consent(connection):
    grants_request(connection=connection, acting_user=None)
    assert _refresh(connection) == Connection.Status.PENDING_CONSENT
    assert "a tenant admin has to give permission" in connection_status_evaluate(connection).reasons[0]


def test_everything_granted_and_no_failing_check_is_active(connection):
    _granted(connection)
    assert _refresh(connection) == Connection.Status.ACTIVE


def test_a_site_never_authorized_is_pending_consent_with_what_to_do(db):
    connection = ConnectionFactory(features=["user_mapping"])  # the site was registered, never authorized
    _granted(connection)  # the Microsoft side is all there
    # Its Atlassian checks were skipped: that is no pass.
    _pass(connection, check_name="jira_users", outcome="skipped",
          message=f"The Atlassian site {connection.site.name} is not authorized yet: authorize it first.")
    assert _refresh(connection) == Connection.Status.PENDING_CONSENT
    name = connection.site.name
    assert connection_status_evaluate(connection).reasons == (
        f"The Atlassian site {name} has not been authorized yet. Authorize {name} from its page.",
    )
    _authorize_site(connection)
    _pass(connection)
    assert _refresh(connection) == Connection.Status.ACTIVE


def test_a_site_lacking_a_scope_the_features_need_is_degraded(connection):
    _granted(connection)
    _authorize_site(connection, except_=["read:jira-user"])
    assert _refresh(connection) == Connection.Status.DEGRADED
    name = connection.site.name
    assert connection_status_evaluate(connection).reasons == (
        f"Not granted on the Atlassian site {name}: read:jira-user. Authorize {name} again from its page.",
    )


def test_active_says_checks_passed_only_when_they_ran_and_passed(connection):
    _granted(connection)
    assert _refresh(connection) == Connection.Status.ACTIVE
    assert connection_status_evaluate(connection).reasons == (
        "Every permission is granted. No health check has run yet.",
    )
    skipped = _pass(connection, check_name="jira_users", outcome="skipped", message="This site runs no Jira.")
    assert connection_status_evaluate(connection).reasons == (
        "Every permission is granted. No health check has run yet.",
    )
    _pass(connection)
    assert connection_status_evaluate(connection).reasons == (
        "Every permission is granted and the checks that ran passed.",
        "Not checked: This site runs no Jira.",
    )
    skipped.delete()
    assert connection_status_evaluate(connection).reasons == (
        "Every permission is granted and the last checks passed.",
    )


def test_a_missing_permission_or_a_failing_check_is_degraded_and_passing_again_is_active(connection):
    _granted(connection, except_=["User.Read.All"])
    assert _refresh(connection) == Connection.Status.DEGRADED
    assert connection_status_evaluate(connection).reasons == (
        f"Not granted in {connection.tenant}: User.Read.All (application).",
    )
    _granted(connection)
    failure = _fail(connection, cause="permission")
    assert _refresh(connection) == Connection.Status.DEGRADED
    failure.is_latest = False
    failure.save()
    HealthCheckResult.objects.create(connection=connection, feature="user_mapping", check_name="read_one_user",
                                     side="microsoft", outcome="passed", message="Read one user.")
    assert _refresh(connection) == Connection.Status.ACTIVE


def test_needs_reauthorization_wins_over_pending_and_degraded(connection):
    grants_request(connection=connection, acting_user=None)  # nothing granted: would be pending
    _fail(connection)  # and a failing check: would be degraded
    connection.site.auth_status = SiteAuthStatus.NEEDS_REAUTH
    connection.site.save()
    assert _refresh(connection) == Connection.Status.NEEDS_REAUTH
    assert connection_status_evaluate(connection).reasons[0] == (
        f"The Atlassian site {connection.site.name} needs re-authorization: authorize it again."
    )


def test_a_refused_delegated_refresh_or_no_app_token_needs_reauthorization(connection):
    _granted(connection)
    credential = Credential.objects.create(
        organization=connection.organization, connection=connection, kind=Credential.Kind.MICROSOFT_DELEGATED,
        principal="admin@contoso.com", last_refreshed_at=timezone.now() - timedelta(hours=2),
        last_error="invalid_grant: AADSTS700082", last_error_at=timezone.now(),
    )
    assert _refresh(connection) == Connection.Status.NEEDS_REAUTH
    credential.last_refreshed_at = timezone.now()  # renewed after the error
    credential.save()
    assert _refresh(connection) == Connection.Status.ACTIVE
    _fail(connection, cause="needs_reauth")  # the app-only token could not be obtained
    assert _refresh(connection) == Connection.Status.NEEDS_REAUTH


def test_a_disconnected_connection_is_left_alone(connection):
    _granted(connection)
    connection.status = Connection.Status.DISCONNECTED
    connection.save()
    connection.site.auth_status = SiteAuthStatus.NEEDS_REAUTH
    connection.site.save()
    assert _refresh(connection) == Connection.Status.DISCONNECTED


def test_kickoff_queues_one_run_per_connection_worth_checking(db, monkeypatch):
    by_status = {status: ConnectionFactory(status=status) for status in Connection.Status.values}
    queued = []
    monkeypatch.setattr(tasks.health_checks_run, "delay", lambda **kwargs: queued.append(kwargs))

    assert tasks.health_checks_kickoff() == 3

    assert sorted(q["connection_id"] for q in queued) == sorted(
        by_status[s].pk for s in ("active", "degraded", "needs_reauth")
    )
    entry = settings.CELERY_BEAT_SCHEDULE["connections.health_checks_kickoff"]
    assert entry == {"task": "connections.health_checks_kickoff", "schedule": settings.HEALTH_CHECK_INTERVAL}
