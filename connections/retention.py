"""Log retention: records that carry tenant or site URLs live at most LOG_RETENTION_DAYS.

The daily beat (`connections.retention_purge`) deletes health-check results older than that
(their messages name the tenant and the site), removes the error text and remedy of sync runs
that finished before it (the run's counts and outcome stay), and deletes application log files
in LOG_DIR last written before it (the file handler itself keeps LOG_RETENTION_DAYS days).
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from .models import HealthCheckResult, SyncRun

logger = logging.getLogger(__name__)

REMOVED = "(details removed after the log retention period)"


@dataclass(frozen=True)
class Purged:
    health_results: int
    sync_run_errors: int
    log_files: int


def cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=settings.LOG_RETENTION_DAYS)


def purge(now: datetime | None = None) -> Purged:
    before = cutoff(now)
    health, _ = HealthCheckResult.objects.filter(checked_at__lt=before).delete()
    runs = (
        SyncRun.objects.filter(finished_at__lt=before)
        .exclude(error__in=["", REMOVED], remedy="")
        .update(error=REMOVED, remedy="")
    )
    files = _purge_log_files(before)
    logger.info("Log retention (%s days): %s health results, %s sync run errors, %s log files removed",
                settings.LOG_RETENTION_DAYS, health, runs, files)
    return Purged(health, runs, files)


def _purge_log_files(before: datetime) -> int:
    if not settings.LOG_DIR:
        return 0
    removed = 0
    for path in Path(settings.LOG_DIR).glob("*.log*"):
        if path.is_file() and path.stat().st_mtime < before.timestamp():
            path.unlink(missing_ok=True)
            removed += 1
    return removed
