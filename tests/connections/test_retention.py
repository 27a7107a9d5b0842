"""Records that carry tenant or site URLs live at most LOG_RETENTION_DAYS, purged daily."""

import os
import time
from datetime import timedelta

from django.core.checks import run_checks
from django.utils import timezone

from connections.models import HealthCheckResult, SyncRun
from connections.retention import REMOVED
from connections.tasks import retention_purge


def _result(connection, days_ago, *, latest=False):
    return HealthCheckResult.objects.create(
        connection=connection, feature="credentials", check_name=f"c{days_ago}", side="microsoft",
        outcome="failed", message=f"https://{connection.site.url} said no", remedy="Try again",
        checked_at=timezone.now() - timedelta(days=days_ago, minutes=1), is_latest=latest,
    )


def _run(connection, days_ago, kind):
    finished = timezone.now() - timedelta(days=days_ago, minutes=1)
    return SyncRun.objects.create(
        organization=connection.organization, connection=connection, kind=kind, state="failed",
        error=f"GET https://{connection.site.url}/rest/api/3/users failed", remedy="Ask the site admin",
        queued_at=finished, finished_at=finished,
    )


def _logs(tmp_path, *ages_in_days):
    paths = []
    for days in ages_in_days:
        path = tmp_path / f"portal.log.{days}"
        path.write_text(f"GET https://tenant.example/{days}\n")
        stamp = time.time() - days * 86400 - 60
        os.utime(path, (stamp, stamp))
        paths.append(path)
    return paths


def test_the_daily_purge_removes_records_older_than_five_days(acme, settings, tmp_path):
    assert settings.LOG_RETENTION_DAYS == 5  # the default, as the statement promises
    settings.LOG_DIR = str(tmp_path)
    old, recent = _result(acme.connection, 6), _result(acme.connection, 4, latest=True)
    old_run, recent_run = _run(acme.connection, 6, "user_matching"), _run(acme.connection, 4, "teams_directory")
    old_log, recent_log = _logs(tmp_path, 6, 4)

    assert retention_purge() == {"health_results": 1, "sync_run_errors": 1, "log_files": 1}

    assert not HealthCheckResult.objects.filter(pk=old.pk).exists()
    assert HealthCheckResult.objects.filter(pk=recent.pk).exists()
    old_run.refresh_from_db()
    recent_run.refresh_from_db()
    assert (old_run.error, old_run.remedy, old_run.state) == (REMOVED, "", "failed")
    assert acme.connection.site.url in recent_run.error
    assert not old_log.exists() and recent_log.exists()
    # Nothing left to remove the next day.
    assert retention_purge() == {"health_results": 0, "sync_run_errors": 0, "log_files": 0}


def test_the_purge_follows_another_setting(acme, settings, tmp_path):
    settings.LOG_RETENTION_DAYS = 2
    settings.LOG_DIR = str(tmp_path)
    kept, gone = _result(acme.connection, 1), _result(acme.connection, 3)
    run = _run(acme.connection, 3, "user_matching")
    (log,) = _logs(tmp_path, 3)
    retention_purge()
    assert list(HealthCheckResult.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not HealthCheckResult.objects.filter(pk=gone.pk).exists()
    run.refresh_from_db()
    assert run.error == REMOVED and not log.exists()


def test_the_deploy_check_warns_above_five_days(settings):
    settings.LOG_RETENTION_DAYS = 6
    warnings = [m for m in run_checks(include_deployment_checks=True) if m.id == "portal.W001"]
    assert warnings and "LOG_RETENTION_DAYS is 6" in warnings[0].msg
    settings.LOG_RETENTION_DAYS = 5
    assert not [m for m in run_checks(include_deployment_checks=True) if m.id == "portal.W001"]
