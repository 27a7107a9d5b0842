"""auth.atlassian.com: authorize (sign-in, site choice, consent) and the token endpoint.

The browser pages may be served on another port of the same host as the portal, so they use
neither Django sessions nor CSRF cookies: the flow travels in a signed hidden field and the
signed-in account in the sandbox's own signed cookie `sbx_atl`.
"""

import base64
import hmac
import json
import uuid
from urllib.parse import parse_qs, urlencode

from django.core import signing
from django.http import HttpResponse, HttpResponseRedirect
from django.template.loader import get_template
from django.views.decorators.csrf import csrf_exempt

from sandbox import clock
from sandbox import faults as _faults
from sandbox.db import atomic

from .apps_registry import redirect_uri_allowed
from .auth import digest, json_response, new_secret
from .models import AccessToken, Account, App, AuthCode, Grant, RefreshToken, Site

COOKIE = "sbx_atl"
FLOW_SALT = "sandbox.atlassian.flow"
COOKIE_SALT = "sandbox.atlassian.signin"
FLOW_AGE = 1800
CODE_AGE = 600
# Rotating refresh tokens, as Atlassian documents them: access tokens live an hour; each refresh
# returns a new refresh token and invalidates the one sent, which may still be used again within
# a 10-minute reuse interval (a client whose response was lost can retry); a reuse after that
# revokes every refresh token of the family and the user must consent again; a refresh token
# expires after 90 days without use, and every token of a family 365 days after the first.
# Reference: https://developer.atlassian.com/cloud/oauth/getting-started/refresh-tokens
# Reference: https://community.developer.atlassian.com/t/updated-31-january-2022-action-required-deprecating-persistent-refresh-tokens/54172
ACCESS_LIFETIME = 3600
REUSE_INTERVAL = 600
INACTIVITY_EXPIRY = 90 * 86400
ABSOLUTE_EXPIRY = 365 * 86400


def _page(name, status=200, **context):
    html = get_template(f"sandbox_atlassian/{name}.html").render(context)
    response = HttpResponse(html, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _error_page(message, status=400):
    return _page("error", status=status, message=message)


def _signed_in(request):
    try:
        account_id = signing.loads(request.COOKIES.get(COOKIE, ""), salt=COOKIE_SALT, max_age=86400)
    except signing.BadSignature:
        return None
    return Account.objects.filter(account_id=account_id, active=True).first()


def _redirect_back(flow, **params):
    params["state"] = flow.get("state", "")
    separator = "&" if "?" in flow["redirect_uri"] else "?"
    return HttpResponseRedirect(flow["redirect_uri"] + separator + urlencode(params))


def _sites_page(flow, account):
    sites = list(account.sites.order_by("name"))
    return _page(
        "sites",
        flow=signing.dumps(flow, salt=FLOW_SALT),
        account=account,
        sites=sites,
        app=App.objects.get(client_id=flow["client_id"]),
    )


def authorize(request):
    q = request.GET
    app = App.objects.filter(client_id=q.get("client_id", "")).first()
    if app is None:
        return _error_page("Unknown client_id: this app is not registered.")
    redirect_uri = q.get("redirect_uri", "")
    if not redirect_uri_allowed(app, redirect_uri):
        return _error_page("The redirect_uri does not match any callback URL registered for this app.")
    audience = q.get("audience")
    if audience and audience != "api.atlassian.com":
        return _error_page("Unknown audience.")
    flow = {"client_id": app.client_id, "redirect_uri": redirect_uri, "state": q.get("state", "")}
    if q.get("response_type") != "code":
        return _redirect_back(flow, error="unsupported_response_type", error_description="response_type must be code")
    scopes = [s for s in q.get("scope", "").split() if s]
    if not scopes:
        return _redirect_back(flow, error="invalid_scope", error_description="scope is required")
    flow["scopes"] = scopes
    account = _signed_in(request)
    if account is None:
        return _page("signin", flow=signing.dumps(flow, salt=FLOW_SALT), app=app)
    flow["account"] = account.account_id
    return _sites_page(flow, account)


def _flow(request):
    try:
        return signing.loads(request.POST.get("flow", ""), salt=FLOW_SALT, max_age=FLOW_AGE)
    except signing.BadSignature:
        return None


@csrf_exempt
def signin(request):
    if request.method != "POST":
        return _error_page("Start from the app's authorize link.", 405)
    flow = _flow(request)
    if flow is None:
        return _error_page("This sign-in form expired. Start again from the app.")
    email, password = request.POST.get("email", "").strip(), request.POST.get("password", "")
    account = next(
        (
            a
            for a in Account.objects.filter(email__iexact=email, active=True, account_type="atlassian")
            if a.password and a.password == password
        ),
        None,
    )
    if account is None:
        return _page(
            "signin",
            status=200,
            flow=request.POST["flow"],
            error="Incorrect email address and / or password.",
            app=App.objects.get(client_id=flow["client_id"]),
            email=email,
        )
    flow["account"] = account.account_id
    response = _sites_page(flow, account)
    response.set_cookie(COOKIE, signing.dumps(account.account_id, salt=COOKIE_SALT), httponly=True, samesite="Lax")
    return response


def request_declined_by_fault(site_names):
    return any(_faults.consent_declined(f"site:{name}") for name in site_names) or _faults.consent_declined("*")


@csrf_exempt
def choose_sites(request):
    flow = _flow(request) if request.method == "POST" else None
    if flow is None or "account" not in flow:
        return _error_page("This form expired. Start again from the app.")
    if request.POST.get("decision") == "cancel":
        return _redirect_back(flow, error="access_denied", error_description="User did not authorize the request")
    account = Account.objects.get(account_id=flow["account"])
    chosen = set(request.POST.getlist("site"))
    sites = [s for s in account.sites.order_by("name") if s.cloud_id in chosen]
    if not sites:
        response = _sites_page(flow, account)
        response.content = response.content.replace(b"<!--error-->", b'<p class="error">Choose at least one site.</p>')
        return response
    flow["sites"] = [s.cloud_id for s in sites]
    app = App.objects.get(client_id=flow["client_id"])
    return _page(
        "consent",
        flow=signing.dumps(flow, salt=FLOW_SALT),
        app=app,
        account=account,
        sites=sites,
        scopes=flow["scopes"],
    )


@csrf_exempt
def consent(request):
    flow = _flow(request) if request.method == "POST" else None
    if flow is None or "sites" not in flow:
        return _error_page("This consent form expired. Start again from the app.")
    sites = list(Site.objects.filter(cloud_id__in=flow["sites"]))
    if request.POST.get("decision") != "accept" or request_declined_by_fault([s.name for s in sites]):
        return _redirect_back(flow, error="access_denied", error_description="User did not authorize the request")
    account = Account.objects.get(account_id=flow["account"])
    app = App.objects.get(client_id=flow["client_id"])
    with atomic():
        grant, _ = Grant.objects.select_for_update().get_or_create(account=account, app=app)
        # Consent replaces the scopes and adds the chosen sites to those already covered.
        grant.scopes, grant.revoked = list(dict.fromkeys(flow["scopes"])), False
        grant.save()
        grant.sites.add(*sites)
        code = new_secret(24)
        AuthCode.objects.create(
            code_hash=digest(code),
            grant=grant,
            redirect_uri=flow["redirect_uri"],
            scopes=grant.scopes,
            expires_at=clock.now() + CODE_AGE,
        )
    return _redirect_back(flow, code=code)


# ---------------------------------------------------------------- token endpoint


def _token_error(status, error, description):
    return json_response({"error": error, "error_description": description}, status)


def _body(request):
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            return None
        return {k: str(v) for k, v in data.items()} if isinstance(data, dict) else None
    return {k: v[-1] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items()}


def _client(request, data):
    client_id, secret = data.get("client_id", ""), data.get("client_secret", "")
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header.lower().startswith("basic "):
        try:
            client_id, _, secret = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
    app = App.objects.filter(client_id=client_id).first()
    if app is None or not secret or not _equal(app.client_secret, secret):
        return None
    return app


def _equal(a, b):
    return hmac.compare_digest(a.encode(), b.encode())


def _issue(grant, scopes, *, family=None, family_started_at=None):
    """An access token, and a refresh token of `family` (a new family for a code exchange)."""
    now = clock.now()
    first = grant.sites.order_by("name").first()
    lifetime = _faults.token_lifetime(f"site:{first.name}" if first else "*", ACCESS_LIFETIME)
    access = new_secret(48)
    AccessToken.objects.create(token_hash=digest(access), grant=grant, scopes=scopes, expires_at=now + lifetime)
    body = {"access_token": access, "expires_in": lifetime, "scope": " ".join(scopes), "token_type": "Bearer"}
    if "offline_access" in scopes:
        refresh = new_secret(48)
        RefreshToken.objects.create(
            token_hash=digest(refresh),
            grant=grant,
            scopes=scopes,
            created_at=now,
            family=family or str(uuid.uuid4()),
            family_started_at=now if family_started_at is None else family_started_at,
        )
        body["refresh_token"] = refresh
    return body


_INVALID_REFRESH = "Unknown or invalid refresh token."


def _refresh(old):
    """The answer to a refresh with `old` (locked): new tokens, or invalid_grant."""
    now = clock.now()
    if old.revoked or old.grant.revoked:
        return _token_error(403, "invalid_grant", _INVALID_REFRESH)
    if now - old.family_started_at > ABSOLUTE_EXPIRY or now - old.created_at > INACTIVITY_EXPIRY:
        return _token_error(403, "invalid_grant", _INVALID_REFRESH)
    successor = {"family": old.family, "family_started_at": old.family_started_at}
    if old.used:
        if old.used_at is not None and now - old.used_at <= REUSE_INTERVAL:
            # Within the reuse interval: answered again (the first answer may never have arrived).
            return json_response(_issue(old.grant, old.scopes, **successor))
        # A rotated-away token replayed: every refresh token of its family dies.
        RefreshToken.objects.filter(family=old.family).update(revoked=True)
        return _token_error(403, "invalid_grant", _INVALID_REFRESH)
    old.used, old.used_at = True, now
    old.save(update_fields=["used", "used_at"])
    return json_response(_issue(old.grant, old.scopes, **successor))


@csrf_exempt
def token(request):
    if request.method != "POST":
        return json_response({"error": "invalid_request", "error_description": "POST only"}, 405)
    data = _body(request)
    if data is None:
        return _token_error(400, "invalid_request", "The request body could not be parsed.")
    app = _client(request, data)
    try:
        from sandbox.requestlog import note

        note(request, client_id=data.get("client_id") or (app.client_id if app else ""))
    except ImportError:  # pragma: no cover
        pass
    if app is None:
        return _token_error(401, "access_denied", "Unauthorized")
    grant_type = data.get("grant_type", "")
    with atomic():
        if grant_type == "authorization_code":
            code = (
                AuthCode.objects.select_for_update()
                .select_related("grant")
                .filter(code_hash=digest(data.get("code", "")), grant__app=app)
                .first()
            )
            if code is None or code.used or code.expires_at < clock.now():
                return _token_error(403, "invalid_grant", "Invalid authorization code")
            code.used = True
            code.save(update_fields=["used"])
            if data.get("redirect_uri") != code.redirect_uri:
                return _token_error(403, "invalid_grant", "redirect_uri does not match the authorization request")
            return json_response(_issue(code.grant, code.scopes))
        if grant_type == "refresh_token":
            # Row lock: of two refreshers racing with one token, one rotates it and the other is
            # answered within the reuse interval; neither sees a half-done rotation.
            old = (
                RefreshToken.objects.select_for_update()
                .select_related("grant")
                .filter(token_hash=digest(data.get("refresh_token", "")), grant__app=app)
                .first()
            )
            if old is None:
                return _token_error(403, "invalid_grant", _INVALID_REFRESH)
            return _refresh(old)
    return _token_error(400, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
