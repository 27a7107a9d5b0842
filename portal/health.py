"""Reachability checks for /healthz: each returns ok or the error, never raises."""

import time

from django.conf import settings
from django.db import connection


def _timed(check):
    started = time.monotonic()
    try:
        check()
    except Exception as exc:  # reported, not raised: health must answer even when sick
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _broker():
    from kombu import Connection

    # A fresh connection (not Celery's pool), so a broker that went away is noticed.
    with Connection(settings.CELERY_BROKER_URL, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
                    connect_timeout=2) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def check_all():
    from . import app_secrets

    checks = {"database": _timed(_database), "broker": _timed(_broker), "credentials": app_secrets.health()}
    if not all(c["ok"] for c in checks.values()):
        status = "error"
    else:
        # A secret expiring soon is worth a look, not an outage: still 200.
        status = "warning" if checks["credentials"]["status"] == app_secrets.WARNING else "ok"
    return {"status": status, "checks": checks}
