"""Error answers on the sandbox's origins: plain JSON, never the portal's pages (whose
templates link to portal URLs that do not exist in the sandbox's URLconf)."""

import json

from django.http import HttpResponse


def _json(status, code, message):
    body = {"error": {"code": code, "message": message}}
    return HttpResponse(json.dumps(body), status=status, content_type="application/json")


def not_found(request, exception=None):
    return _json(404, "NotFound", f"No sandbox endpoint at {request.path}.")


def server_error(request):
    return _json(500, "InternalServerError", "The sandbox failed; see the server's log.")


def bad_request(request, exception=None):
    return _json(400, "BadRequest", "Bad request.")


def permission_denied(request, exception=None):
    return _json(403, "Forbidden", "Forbidden.")
