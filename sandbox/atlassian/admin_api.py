"""Atlassian's Organizations REST API (api.atlassian.com/admin/v1): the organizations an
organization API key reaches and their claimed domains, a page at a time by cursor.

Reference: https://developer.atlassian.com/cloud/admin/organization/rest/api-group-domains/
Reference: https://support.atlassian.com/organization-administration/docs/manage-an-organization-with-the-admin-apis/
"""

import datetime
import secrets

from django.core import signing
from django.http import HttpResponse
from django.utils import timezone
from django.utils.html import escape
from django.views.decorators.http import require_GET

from sandbox import clock
from sandbox.db import atomic
from sandbox.origins import origin

from .auth import digest, json_response
from .models import AdminApiKey, AdminDomain

# Domains per page. Atlassian does not publish its page size; a small one makes every client
# follow `links.next` (the sandbox's choice).
DOMAIN_PAGE_SIZE = 2
# Requests per key and minute before a 429. The admin APIs answer with X-RateLimit-Limit,
# X-RateLimit-Remaining and X-RateLimit-Reset, and 429 with Retry-After once the limit is hit.
# Reference: https://developer.atlassian.com/cloud/admin/api-access/rest/intro/#rate-limits
RATE_LIMIT = 100
WINDOW_SECONDS = 60
# An organization API key expires after one week by default, and after at most one year.
# Reference: https://support.atlassian.com/organization-administration/docs/manage-an-organization-with-the-admin-apis/
DEFAULT_KEY_DAYS = 7
MAX_KEY_DAYS = 365
_CURSOR_SALT = "sandbox.atlassian.admin.cursor"


def create_key(org, *, name="Portal", days=DEFAULT_KEY_DAYS, scopes=(), raw=None, keep=False):
    """A new organization API key (the secret is shown once, as in admin.atlassian.com; `keep`
    keeps it for the demo's `sandbox info`)."""
    days = max(1, min(MAX_KEY_DAYS, int(days)))
    raw = raw or "ATCTT3x" + secrets.token_urlsafe(40)
    expires = datetime.datetime.fromtimestamp(clock.now(), datetime.UTC) + datetime.timedelta(days=days)
    AdminApiKey.objects.create(key_hash=digest(raw), org=org, name=name, scopes=list(scopes), expires_at=expires,
                               secret=raw if keep else "")
    return raw, expires


def _error(status, message, headers=None):
    return json_response({"code": status, "message": message}, status, headers)


def _rate_headers(key):
    reset = datetime.datetime.fromtimestamp(key.window_start + WINDOW_SECONDS, datetime.UTC)
    return {
        "X-RateLimit-Limit": str(RATE_LIMIT),
        "X-RateLimit-Remaining": str(max(0, RATE_LIMIT - key.window_used)),
        "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _authenticate(request, scope):
    """(key, None) or (None, error response): a Bearer organization API key, not expired, with
    the scope (a key without scopes reaches every admin API), counted against its rate limit."""
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer "):
        return None, _error(401, "Unauthorized")
    with atomic():
        key = (AdminApiKey.objects.select_for_update().select_related("org")
               .filter(key_hash=digest(auth[7:].strip())).first())
        if key is None:
            return None, _error(401, "Unauthorized")
        now = clock.now()
        if key.expires_at.timestamp() <= now:
            # An expired key is refused like an unknown one.
            return None, _error(401, "Unauthorized: the API key has expired")
        if now >= key.window_start + WINDOW_SECONDS:
            key.window_start, key.window_used = int(now), 0
        key.window_used += 1
        key.save(update_fields=["window_start", "window_used"])
    headers = _rate_headers(key)
    if key.window_used > RATE_LIMIT:
        retry = max(1, int(key.window_start + WINDOW_SECONDS - now))
        return None, _error(429, "Too many requests", {**headers, "Retry-After": str(retry)})
    if key.scopes and scope not in key.scopes:
        return None, _error(403, "Forbidden: the API key does not have the scope " + scope, headers)
    request.admin_rate_headers = headers
    return key, None


def _base(request):
    return f"{origin(request)}/atlassian-api/admin/v1"


@require_GET
def orgs(request):
    """The organizations the key reaches: an organization API key reaches its own only."""
    # Reference: https://developer.atlassian.com/cloud/admin/organization/rest/api-group-orgs/#api-v1-orgs-get
    key, failure = _authenticate(request, "read:orgs:admin")
    if failure:
        return failure
    org = key.org
    body = {
        "data": [{"id": org.id, "type": "orgs", "attributes": {"name": org.name},
                  "links": {"self": f"{_base(request)}/orgs/{org.id}"}}],
        "links": {"next": None},
    }
    return json_response(body, headers=request.admin_rate_headers)


def _org_for(key, org_id):
    return key.org if key.org_id == org_id else None


@require_GET
def domains(request, org_id):
    """The organization's domains, DOMAIN_PAGE_SIZE a page; `links.next` carries the cursor."""
    # Reference: https://developer.atlassian.com/cloud/admin/organization/rest/api-group-domains/#api-v1-orgs-orgid-domains-get
    key, failure = _authenticate(request, "read:domains:admin")
    if failure:
        return failure
    org = _org_for(key, org_id)
    if org is None:
        # A key reaches its own organization only; another one is not found.
        return _error(404, "Organization not found", request.admin_rate_headers)
    start = 0
    cursor = request.GET.get("cursor")
    if cursor:
        try:
            start = int(signing.loads(cursor, salt=_CURSOR_SALT))
        except (signing.BadSignature, ValueError, TypeError):
            return _error(400, "Invalid cursor", request.admin_rate_headers)
    rows = list(AdminDomain.objects.filter(org=org)[start:start + DOMAIN_PAGE_SIZE + 1])
    more = len(rows) > DOMAIN_PAGE_SIZE
    base = f"{_base(request)}/orgs/{org.id}/domains"
    body = {
        "data": [
            {"id": d.id, "type": "domains",
             "attributes": {"name": d.name, "claim": {"type": d.claim_type, "status": d.claim_status}},
             "links": {"self": f"{base}/{d.id}"}}
            for d in rows[:DOMAIN_PAGE_SIZE]
        ],
        "links": {
            "self": f"{base}?cursor={cursor}" if cursor else base,
            "prev": None,
            "next": f"{base}?cursor={signing.dumps(start + DOMAIN_PAGE_SIZE, salt=_CURSOR_SALT)}" if more else None,
        },
    }
    return json_response(body, headers=request.admin_rate_headers)


@require_GET
def admin_consent_done(request):
    """Atlassian's reply page for its mobile apps' admin consent (their registered reply URL)."""
    granted = request.GET.get("admin_consent") == "True" and not request.GET.get("error")
    text = ("Atlassian: the permissions were granted for your organization. You can close this window and go back "
            "to the portal, then choose “Check again”." if granted else
            "Atlassian: the permissions were not granted (" + request.GET.get("error", "no answer")[:80] + ").")
    return HttpResponse(f"<!doctype html><title>Atlassian</title><p id='result'>{escape(text)}</p>")


def expire_keys(org_id):
    """Sandbox control: every key of the organization expires now."""
    return AdminApiKey.objects.filter(org_id=org_id).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
