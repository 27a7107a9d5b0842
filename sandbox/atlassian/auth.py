"""Who is calling an Atlassian API: an OAuth bearer token through the gateway
(`/ex/{product}/{cloudId}/...`) or email + API token (Basic) at a site's own URL. Both resolve
to a Caller, so the Confluence and Jira views are written once."""

import base64
import datetime
import functools
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from django.http import HttpResponse

from sandbox import clock
from sandbox import faults as _faults
from sandbox.requestlog import note as _note

from .models import AccessToken, Account, ApiToken, Site


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_secret(nbytes=32) -> str:
    return secrets.token_urlsafe(nbytes)


def json_response(body, status=200, headers=None):
    response = HttpResponse(json.dumps(body), status=status, content_type="application/json")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def gateway_error(status, code, message, headers=None):
    """Atlassian's error body shape for the fault hooks; 429 also gets X-RateLimit-* headers."""
    headers = dict(headers or {})
    if status == 429:
        # X-RateLimit-Reset is an ISO 8601 timestamp (yyyy-MM-ddTHH:mmZ): the request's time plus
        # Retry-After; RateLimit-Reason says which limit was hit.
        # Reference: https://developer.atlassian.com/cloud/jira/platform/rate-limiting/
        reset = datetime.datetime.fromtimestamp(
            clock.now() + int(headers.get("Retry-After", "1") or 1), datetime.UTC
        ).strftime("%Y-%m-%dT%H:%MZ")
        headers.setdefault("X-RateLimit-Limit", "100")
        headers.setdefault("X-RateLimit-Remaining", "0")
        headers.setdefault("X-RateLimit-Reset", reset)
        headers.setdefault("X-RateLimit-NearLimit", "true")
        headers.setdefault("RateLimit-Reason", "jira-burst-based")
    return json_response({"code": status, "message": message}, status, headers)


def unauthorized(message="Unauthorized"):
    return json_response({"code": 401, "message": message}, 401)


def scope_mismatch():
    return unauthorized("Unauthorized; scope does not match")


def apply_faults(request, site):
    target = f"site:{site.name}"
    _note(request, target=target)
    return _faults.apply(request, target, error=gateway_error)


@dataclass
class Caller:
    account: Account
    site: Site
    scopes: frozenset | None  # None: Basic auth (an API token acts with the account's rights)
    client_id: str = ""

    def allows(self, alternatives):
        return self.scopes is None or any(s in self.scopes for s in alternatives)


def bearer_grant(request):
    """The live AccessToken of an Authorization: Bearer header, or None."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header.lower().startswith("bearer "):
        return None
    token = (
        AccessToken.objects.select_related("grant__account", "grant__app")
        .filter(token_hash=digest(header[7:].strip()), expires_at__gt=clock.now(), grant__revoked=False)
        .first()
    )
    return token


def _basic(request):
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header.lower().startswith("basic "):
        return None, None
    try:
        user, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None, None
    return user, password


def resolve(request, *, cloud_id=None, site_name=None):
    """(Caller, None) or (None, error response)."""
    if cloud_id is not None:
        site = Site.objects.filter(cloud_id=cloud_id).first()
        token = bearer_grant(request)
        if token is None:
            return None, unauthorized()
        _note(request, client_id=token.grant.app.client_id)
        if site is None or not token.grant.sites.filter(pk=site.pk).exists():
            # The real gateway answers 401 for a cloud id the grant does not cover.
            return None, unauthorized()
        return Caller(token.grant.account, site, frozenset(token.scopes), token.grant.app.client_id), None
    site = Site.objects.filter(name=site_name).first()
    if site is None:
        return None, json_response({"message": "Site not found"}, 404)
    email, password = _basic(request)
    if not email:
        return None, unauthorized("Client must be authenticated to access this resource.")
    for api_token in ApiToken.objects.select_related("account").filter(account__email__iexact=email):
        if hmac.compare_digest(api_token.token.encode(), password.encode()):
            account = api_token.account
            if account.active and account.sites.filter(pk=site.pk).exists():
                return Caller(account, site, None), None
    return None, unauthorized("Client must be authenticated to access this resource.")


def api_view(product, *scopes):
    """Resolve the caller, run faults, require the product on the site and one of `scopes`."""

    def wrap(view):
        @functools.wraps(view)
        def inner(request, *args, cloud_id=None, site_name=None, **kwargs):
            caller, error = resolve(request, cloud_id=cloud_id, site_name=site_name)
            if error:
                return error
            fault = apply_faults(request, caller.site)
            if fault is not None:
                return fault
            if product == "confluence" and not caller.site.has_confluence:
                return json_response({"message": "Confluence is not installed on this site"}, 404)
            if product == "jira" and not caller.site.has_jira:
                return json_response({"errorMessages": ["Jira is not installed on this site"]}, 404)
            if scopes and not caller.allows(scopes):
                return scope_mismatch()
            return view(request, caller, *args, **kwargs)

        return inner

    return wrap


def site_url(request, site):
    """The site's own URL on whatever origin the request came to (real: https://{name}.atlassian.net)."""
    path = request.path
    marker = "/atlassian-api/" if "/atlassian-api/" in path else f"/sites/{site.name}/"
    mount = path[: path.index(marker)] if marker in path else ""
    return request.build_absolute_uri(f"{mount}/sites/{site.name}")
