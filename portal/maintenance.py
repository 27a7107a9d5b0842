"""The maintenance page: shown instead of the generic 500 page when the portal's own
database refuses writes (read-only) or cannot be reached."""

import logging

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpResponse
from django.template import loader

logger = logging.getLogger(__name__)

READ_ONLY = "read-only"
UNREACHABLE = "unreachable"
RETRY_AFTER_SECONDS = 120

# SQLSTATE 25006 read_only_sql_transaction: a read-only transaction, default_transaction_read_only,
# or a hot standby. https://www.postgresql.org/docs/current/errcodes-appendix.html
_READ_ONLY_SQLSTATES = {"25006"}


def _sqlstate(exc):
    for error in (exc, exc.__cause__, exc.__context__):
        state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if state:
            return state
    return None


def database_reason(exc):
    """READ_ONLY, UNREACHABLE, or None when `exc` is not the database being unavailable."""
    if not isinstance(exc, DatabaseError):
        return None
    if _sqlstate(exc) in _READ_ONLY_SQLSTATES or "readonly database" in str(exc):  # SQLite's wording
        return READ_ONLY
    if isinstance(exc, OperationalError | InterfaceError):
        return UNREACHABLE
    return None


def response(reason):
    # A plain template without context processors: they would query the same database.
    body = loader.get_template("503.html").render({"read_only": reason == READ_ONLY})
    resp = HttpResponse(body, status=503)
    resp["Retry-After"] = str(RETRY_AFTER_SECONDS)
    resp["Cache-Control"] = "no-store"
    return resp


def response_for(exc):
    """The maintenance page for a database outage, else None (a real bug: the 500 page)."""
    reason = database_reason(exc)
    if reason is None:
        return None
    logger.error("The portal's database is %s: %s: %s", reason, type(exc).__name__, exc)
    return response(reason)


class DatabaseUnavailableMiddleware:
    """Turns a database outage raised by a view into the maintenance page (503 + Retry-After).
    Errors raised after the view (a session save in SessionMiddleware) reach handler500,
    portal.views.server_error, which gives the same page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        return response_for(exception)
