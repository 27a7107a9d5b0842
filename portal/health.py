"""Reachability checks for /healthz: each returns ok or the error, never raises."""

import time

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from . import maintenance


def _timed(check):
    started = time.monotonic()
    try:
        extra = check() or {}
    except Exception as exc:  # reported, not raised: health must answer even when sick
        report = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        reason = maintenance.database_reason(exc) if isinstance(exc, DatabaseError) else None
        if reason:
            report["reason"] = reason
        return report
    return {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1), **extra}


class _RolledBack(Exception):
    pass


def _database():
    """A write, not just a read: a read-only database (a standby after failover, a disk
    protection, default_transaction_read_only) answers SELECT 1 but fails every form."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            # A TEMP table is the session's own: no lock on, and no row in, the portal's tables.
            # PostgreSQL refuses every CREATE in a read-only transaction (SQLSTATE 25006):
            # https://www.postgresql.org/docs/current/sql-set-transaction.html
            cursor.execute("CREATE TEMPORARY TABLE portal_health_write (n integer)")
            cursor.execute("INSERT INTO portal_health_write (n) VALUES (1)")
            raise _RolledBack
    except _RolledBack:
        pass


def _broker():
    from kombu import Connection

    # A fresh connection (not Celery's pool), so a broker that went away is noticed.
    with Connection(settings.CELERY_BROKER_URL, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
                    connect_timeout=2) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


class NoWorker(Exception):
    pass


def _workers():
    """Whether a Celery worker answers a ping: without one no job, schedule or health check runs."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"answered": [], "eager": True}  # tasks run in the web process itself
    from .celery import app

    # The app's own broker: kombu's mailbox publishes through the app's producer pool even
    # when handed another connection. Only asked once the broker check passed.
    replies = app.control.ping(timeout=settings.HEALTH_WORKER_PING_TIMEOUT)
    names = sorted(name for reply in replies for name in reply)
    if not names:
        raise NoWorker(
            f"no Celery worker answered within {settings.HEALTH_WORKER_PING_TIMEOUT:g} s: sync jobs, "
            "schedules and health checks wait until one runs"
        )
    return {"answered": names}


def check_all():
    from . import app_secrets

    checks = {"database": _timed(_database), "broker": _timed(_broker)}
    # Without a broker no worker can answer; the broker entry already says so.
    checks["workers"] = _timed(_workers) if checks["broker"]["ok"] else {"ok": False, "error": "broker down"}
    checks["credentials"] = app_secrets.health()
    if not all(checks[name]["ok"] for name in ("database", "broker", "credentials")):
        status = "error"
    elif not checks["workers"]["ok"] or checks["credentials"]["status"] == app_secrets.WARNING:
        # A missing worker stops background jobs, not the pages: restarting or unrouting
        # this web process (what a 503 here triggers) would not bring a worker back.
        # A secret expiring soon is worth a look, not an outage. Both: 200, "warning".
        status = "warning"
    else:
        status = "ok"
    return {"status": status, "checks": checks}
