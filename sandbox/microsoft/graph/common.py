"""What every Graph endpoint shares: the bearer check, permission check, faults, error bodies,
OData query parsing and absolute links."""

import datetime
import functools
import json
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

from django.core import signing
from django.http import HttpResponse

from ... import faults, requestlog
from ...origins import graph_base
from .. import tokens
from ..models import DirectoryUser, Tenant


def error(status, code, message, headers=None, request=None):
    """Graph's error body: {"error": {"code", "message", "innerError": {...}}}."""
    client_request_id = request.headers.get("client-request-id", "") if request is not None else ""
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": str(uuid.uuid4()),
                "client-request-id": client_request_id or str(uuid.uuid4()),
            },
        }
    }
    response = HttpResponse(json.dumps(body), status=status, content_type="application/json")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def ok(body, status=200):
    return HttpResponse(
        json.dumps(body),
        status=status,
        content_type="application/json;odata.metadata=minimal;odata.streaming=true",
    )


@dataclass
class Caller:
    claims: dict
    tenant: Tenant
    app_id: str
    user: DirectoryUser | None  # None for app-only tokens

    @property
    def is_app(self):
        return self.user is None

    @property
    def permissions(self):
        if self.is_app:
            return set(self.claims.get("roles", []))
        return set(self.claims.get("scp", "").split())


def authenticate(request):
    """(Caller, None) or (None, 401 response)."""
    auth = request.headers.get("Authorization", "")
    if not auth.lower().startswith("bearer "):
        return None, error(401, "InvalidAuthenticationToken", "Access token is empty.", request=request)
    try:
        claims = tokens.verify_graph_token(auth[7:].strip())
    except tokens.InvalidToken as bad:
        return None, error(401, "InvalidAuthenticationToken", str(bad), request=request)
    tenant = Tenant.objects.filter(pk=claims.get("tid")).first()
    if tenant is None:
        return None, error(401, "InvalidAuthenticationToken", "Access token validation failure.", request=request)
    user = None
    if claims.get("idtyp") == "user":
        user = DirectoryUser.objects.filter(pk=claims.get("oid"), tenant=tenant, deleted=False).first()
        if user is None:
            return None, error(401, "InvalidAuthenticationToken", "The user no longer exists.", request=request)
    requestlog.note(request, client_id=claims.get("appid"), target=faults.tenant_target(tenant.pk))
    return Caller(claims=claims, tenant=tenant, app_id=claims.get("appid", ""), user=user), None


# How Graph refuses a token that lacks the permission, by the workload behind the endpoint.
# Directory objects (users, domains, organization, service principals, grants) answer
# Authorization_RequestDenied with a fixed sentence that names no permission.
# Reference: https://learn.microsoft.com/graph/resolve-auth-errors
DIRECTORY = "directory"
# Teams (teams, channels, messages, chats) answer Forbidden with their own wording, which lists
# what the API accepts and what the token carries.
# Reference: https://learn.microsoft.com/graph/errors (403 Forbidden; code and message are the workload's)
TEAMS = "teams"
# Other workloads: Graph's generic accessDenied.
# Reference: https://learn.microsoft.com/graph/errors#code-property
GENERIC = "generic"

INSUFFICIENT_PRIVILEGES = "Insufficient privileges to complete the operation."


def forbidden(request, caller, allowed, workload):
    """Graph's 403 for a token without any of `allowed`, in the shape of the endpoint's workload."""
    if workload == DIRECTORY:
        return error(403, "Authorization_RequestDenied", INSUFFICIENT_PRIVILEGES, request=request)
    if workload == TEAMS:
        held = ", ".join(sorted(caller.permissions))
        kind, what = ("role", "Roles") if caller.is_app else ("scope", "Scopes")
        message = (
            f"Missing {kind} permissions on the request. API requires one of '{', '.join(allowed)}'. "
            f"{what} on the request '{held}'."
        )
        return error(403, "Forbidden", message, request=request)
    message = "Either the signed-in user or the app is not allowed to do this."
    return error(403, "accessDenied", message, request=request)


def graph_endpoint(*, application=(), delegated=(), delegated_only=False, app_only_message=None, workload=DIRECTORY):
    """Decorate a Graph view: bearer, faults, then one of the listed permissions is required.

    The view receives (request, caller, **kwargs). A token without any of them gets the 403 of
    the endpoint's `workload` (see `forbidden`).
    """

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            caller, failure = authenticate(request)
            if failure:
                return failure
            fault = faults.apply(
                request,
                faults.tenant_target(caller.tenant.pk),
                lambda s, c, m, h=None: error(s, c, m, h, request),
            )
            if fault:
                return fault
            if caller.is_app and delegated_only:
                return error(
                    400,
                    "BadRequest",
                    app_only_message or "/me request is only valid with delegated authentication flow.",
                    request=request,
                )
            allowed = tuple(application if caller.is_app else delegated)
            if allowed and not (set(allowed) & caller.permissions):
                return forbidden(request, caller, allowed, workload)
            return view(request, caller, *args, **kwargs)

        return wrapper

    return decorate


def link(request, path, **params):
    """An absolute Graph URL on the origin the caller used (nextLink, deltaLink), spelling the
    parameter names as Graph does (`$skiptoken=`, `$deltatoken=`, not `%24skiptoken=`).
    Reference: https://learn.microsoft.com/graph/paging"""
    return f"{graph_base(request)}{path}?{urlencode(params, safe='$')}"


def context_url(request, version, fragment):
    return f"{graph_base(request)}/{version}/$metadata#{fragment}"


_SKIP_SALT = "sandbox.graph.skiptoken"


def pack(state) -> str:
    """An opaque, tamper-proof paging token (skiptoken / deltatoken)."""
    return signing.dumps(state, salt=_SKIP_SALT, compress=True)


def unpack(token, max_age=None):
    return signing.loads(token, salt=_SKIP_SALT, max_age=max_age)


def parse_top(request, maximum, default):
    """($top, error response)."""
    raw = request.GET.get("$top")
    if raw is None:
        return default, None
    try:
        top = int(raw)
    except ValueError:
        top = -1
    if not 1 <= top <= maximum:
        return None, error(
            400,
            "Request_UnsupportedQuery" if maximum == 999 else "BadRequest",
            f"Invalid page size specified: '{raw}'. Must be between 1 and {maximum} inclusive.",
            request=request,
        )
    return top, None
