"""Error answers on the sandbox's origins, in the shape of the service the path belongs to, and
never one of the portal's pages (whose templates link to portal URLs that do not exist in the
sandbox's URLconf). sandbox.middleware turns any HTML error (Django's 404 and 500 pages, the
405 of require_GET) on these origins into one of these."""

import datetime
import json
import uuid

from django.http import HttpResponse


def _json(status, body, headers=None):
    response = HttpResponse(json.dumps(body), status=status, content_type="application/json")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _graph(request, status, code, message):
    # Reference: https://learn.microsoft.com/graph/errors (the error resource)
    return _json(
        status,
        {
            "error": {
                "code": code,
                "message": message,
                "innerError": {
                    "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                    "request-id": str(uuid.uuid4()),
                    "client-request-id": request.headers.get("client-request-id") or str(uuid.uuid4()),
                },
            }
        },
    )


def provider_error(request, status, allow=""):
    """The JSON error the real service would send for an unknown path (404), a method the path
    does not take (405) or a failure (500), by the service the path belongs to."""
    path = request.path
    headers = {"Allow": allow} if allow else {}
    if path.startswith("/graph/"):
        if status == 404:
            # Graph answers an unknown path with 400 and the segment it could not resolve.
            segment = path.rstrip("/").rsplit("/", 1)[-1]
            return _graph(request, 400, "BadRequest", f"Resource not found for the segment '{segment}'.")
        if status == 405:
            response = _graph(
                request, 405, "Request_BadRequest", f"The HTTP method '{request.method}' is not allowed here."
            )
            if allow:
                response["Allow"] = allow
            return response
        return _graph(request, 500, "InternalServerError", "The sandbox failed; see the server's log.")
    if path.startswith("/atlassian-auth/"):
        error = {404: "not_found", 405: "invalid_request"}.get(status, "server_error")
        return _json(status, {"error": error, "error_description": _reason(status, request)}, headers)
    if path.startswith(("/atlassian-api/", "/sites/")):
        return _json(status, {"code": status, "message": _reason(status, request)}, headers)
    # The Microsoft identity platform.
    error = {404: "invalid_request", 405: "invalid_request"}.get(status, "server_error")
    return _json(status, {"error": error, "error_description": _reason(status, request)}, headers)


def _reason(status, request):
    if status == 404:
        return f"No such endpoint: {request.path}."
    if status == 405:
        return f"The endpoint does not accept {request.method} requests."
    return "The sandbox failed; see the server's log."


def not_found(request, exception=None):
    return provider_error(request, 404)


def server_error(request):
    return provider_error(request, 500)


def bad_request(request, exception=None):
    return _json(400, {"error": {"code": "BadRequest", "message": "Bad request."}})


def permission_denied(request, exception=None):
    return _json(403, {"error": {"code": "Forbidden", "message": "Forbidden."}})
