"""The record of every request the sandbox served, so tests can assert what the portal used.

Views that know the calling app (from a token, a form body, Basic auth) put it into
`request.META["sandbox.client_id"]` and the tenant or site into `request.META["sandbox.target"]`;
WSGIRequest.META is the WSGI environ itself, so the server wrapper sees both afterwards.
"""

from urllib.parse import parse_qs

from .models import RequestLog

KEEP = 10_000
_PRUNE_EVERY = 500


def note(request, *, client_id=None, target=None):
    """Called by views: tell the log which app and which tenant/site a request concerned."""
    if client_id:
        request.META["sandbox.client_id"] = str(client_id)
    if target:
        request.META["sandbox.target"] = str(target)


def record(environ, status, seconds):
    query = environ.get("QUERY_STRING", "")
    client_id = environ.get("sandbox.client_id") or (parse_qs(query).get("client_id") or [""])[0]
    row = RequestLog.objects.create(
        port=environ.get("sandbox.port", ""),
        method=environ.get("REQUEST_METHOD", "")[:8],
        path=environ.get("PATH_INFO", "")[:2000],
        query=query,
        client_id=client_id[:200],
        target=environ.get("sandbox.target", "")[:200],
        status=status,
        duration_ms=int(seconds * 1000),
    )
    if row.pk % _PRUNE_EVERY == 0:
        RequestLog.objects.filter(pk__lte=row.pk - KEEP).delete()


def entries(*, path_startswith=None, path_contains=None, method=None, client_id=None, since_id=0):
    """The recorded requests, oldest first, filtered."""
    rows = RequestLog.objects.filter(pk__gt=since_id)
    if path_startswith:
        rows = rows.filter(path__startswith=path_startswith)
    if path_contains:
        rows = rows.filter(path__contains=path_contains)
    if method:
        rows = rows.filter(method=method.upper())
    if client_id:
        rows = rows.filter(client_id=client_id)
    return list(rows.order_by("pk"))
