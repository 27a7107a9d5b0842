"""All of the portal's outbound calls to the Microsoft identity platform, in one place.

msal does the OAuth work (auth code + PKCE + nonce, client credentials). What msal leaves
to us, we do here: msal decodes the id_token without checking its signature, so
`verify_id_token` checks it against the tenant's JWKS before the portal believes who
signed in; and roles are read only from tokens the portal fetched itself over TLS.
"""

import logging
import ssl
import threading
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import jwt
import msal
import requests
from django.conf import settings
from django.utils import timezone
from msal.exceptions import MsalServiceError

from .. import http
from ..endpoints import IDENTITY, declare
from .errors import code_from_description

logger = logging.getLogger(__name__)

GRAPH_DEFAULT_SCOPE = "https://graph.microsoft.com/.default"
# Hosts msal knows; any other authority host (the sandbox) needs instance_discovery=False,
# or msal asks login.microsoftonline.com about it from its constructor.
_MICROSOFT_HOSTS = {"login.microsoftonline.com", "login.microsoftonline.us", "login.partner.microsoftonline.cn"}
# The real login host per national cloud; the setting overrides the public one (sandbox).
_CLOUD_HOSTS = {"usgov": "https://login.microsoftonline.us"}


class MicrosoftError(Exception):
    """A call to Microsoft failed; `code` is the AADSTS code (or an OAuth error) when known."""

    def __init__(self, message, *, code="", error=""):
        super().__init__(message)
        self.code = code
        self.error = error


class Throttled(MicrosoftError):
    """Microsoft's token endpoint is throttling the portal (HTTP 429 with Retry-After, or
    AADSTS50196 on a refresh): busy, never a refused consent. `retry_at` is when asking again
    makes sense."""

    def __init__(self, message, *, retry_after, code="", error=""):
        super().__init__(message, code=code, error=error)
        self.retry_after = retry_after
        self.retry_at = timezone.now() + timedelta(seconds=retry_after)


class WrongTenant(MicrosoftError):
    """Someone from another tenant signed in (verified); `admin` says who."""

    def __init__(self, message, *, admin):
        super().__init__(message, error="wrong_tenant")
        self.admin = admin


@dataclass(frozen=True)
class SignedInAdmin:
    """Who signed in, from an id_token whose signature the portal checked."""

    tenant_id: str
    object_id: str
    name: str
    upn: str
    # Directory role template ids from the `wids` claim (connections.microsoft.roles).
    roles: tuple[str, ...] = ()

    def as_list(self):
        """For the session, between sign-in and admin consent."""
        return [self.tenant_id, self.object_id, self.name, self.upn, list(self.roles)]

    @classmethod
    def from_list(cls, values):
        return cls(*values[:4], roles=tuple(values[4]) if len(values) > 4 else ())


# --- the identity platform's endpoints ---------------------------------------------------------
# Paths under the authority host (MICROSOFT_AUTHORITY_HOST, or a national cloud's login host);
# `{tenant}` is a tenant id or `organizations`. msal calls the token and authorize endpoints the
# discovery document names; the portal builds the discovery and admin consent URLs itself, and
# fetches the signing keys from the document's jwks_uri.

DISCOVERY = declare(
    "identity.discovery",
    "GET",
    "/{tenant}/v2.0/.well-known/openid-configuration",
    provider=IDENTITY,
    permissions=(),
    reads=("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"),
    keeps=(),
    # Reference: https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc#find-your-apps-openid-configuration-document-uri
    reference="https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc",
    purpose="Where the tenant's authorize, token and signing-key endpoints are, and the issuer to check.",
)

AUTHORIZE = declare(
    "identity.authorize",
    "GET",
    "/{tenant}/oauth2/v2.0/authorize",
    provider=IDENTITY,
    permissions=(),
    reads=("code", "state", "error", "error_description"),
    keeps=(),
    # Reference: https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#request-an-authorization-code
    reference="https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow",
    purpose="The admin's sign-in (auth code + PKCE + nonce), in the browser; built by msal.",
)

TOKEN = declare(
    "identity.token",
    "POST",
    "/{tenant}/oauth2/v2.0/token",
    provider=IDENTITY,
    permissions=(),
    reads=("access_token", "refresh_token", "id_token", "expires_in", "scope"),
    keeps=("refresh_token",),  # encrypted; access tokens stay in memory (msal's cache)
    # Reference: https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#redeem-a-code-for-an-access-token
    # and https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow#get-a-token
    reference="https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow",
    purpose="Redeem the sign-in's code, refresh delegated tokens, get app-only tokens; called by msal.",
)

ADMIN_CONSENT = declare(
    "identity.admin_consent",
    "GET",
    "/{tenant}/v2.0/adminconsent",
    provider=IDENTITY,
    permissions=(),
    reads=("admin_consent", "tenant", "state", "error", "error_description"),
    keeps=(),
    # Reference: https://learn.microsoft.com/entra/identity-platform/v2-admin-consent
    reference="https://learn.microsoft.com/entra/identity-platform/v2-admin-consent",
    purpose="The tenant admin grants the application permissions, in the browser.",
)

JWKS = declare(
    "identity.jwks",
    "GET",
    "/{tenant}/discovery/v2.0/keys",
    provider=IDENTITY,
    permissions=(),
    reads=("keys",),
    keeps=(),
    # Reference: https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc#validate-the-id-token
    # (the keys' URL is the discovery document's jwks_uri; it is fetched from there, never built)
    reference="https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc",
    purpose="The keys that sign id_tokens, to check who signed in.",
)


def _under_tenant(endpoint_path: str) -> str:
    """An identity endpoint's path after its `/{tenant}` segment."""
    return endpoint_path.removeprefix("/{tenant}")


def authority_host(cloud="public"):
    if cloud in _CLOUD_HOSTS and settings.MICROSOFT_AUTHORITY_HOST == "https://login.microsoftonline.com":
        return _CLOUD_HOSTS[cloud]
    return settings.MICROSOFT_AUTHORITY_HOST


def authority(tenant_id, cloud="public"):
    return f"{authority_host(cloud)}/{tenant_id}"


def _app(tenant_id, cloud, session=None, token_cache=None):
    host = urlsplit(authority_host(cloud)).hostname
    # Reference: https://learn.microsoft.com/entra/msal/python/ (ConfidentialClientApplication)
    return msal.ConfidentialClientApplication(
        settings.MICROSOFT_CLIENT_ID,
        client_credential=settings.MICROSOFT_CLIENT_SECRET,
        authority=authority(tenant_id, cloud),
        instance_discovery=host in _MICROSOFT_HOSTS,
        # Our own session: msal then uses exactly our CA bundle and timeouts.
        http_client=session or http.session(),
        # None: a token cache of this app alone, gone with it (sign-ins, refreshes, role checks
        # ask Microsoft every time). App-only tokens for Graph keep one per tenant (below).
        token_cache=token_cache,
    )


# Sign-in goes through `organizations`, not the tenant itself: an admin of another tenant
# then comes back to the portal, which checks the verified `tid` and says so in its own
# words (and keeps the link usable for the right admin), instead of stranding them on
# Microsoft's error page.
SIGN_IN_AUTHORITY = "organizations"


def start_sign_in(*, tenant_id, cloud, scopes, redirect_uri, login_hint=None):
    """Begin auth code + PKCE + nonce. Returns (flow to keep in the session, URL to send the admin to)."""
    try:
        flow = _app(SIGN_IN_AUTHORITY, cloud).initiate_auth_code_flow(
            scopes=scopes,
            redirect_uri=redirect_uri,
            login_hint=login_hint,
            prompt="select_account",
        )
    except (ValueError, requests.RequestException) as exc:
        raise MicrosoftError(f"Could not reach Microsoft's sign-in service: {exc}") from exc
    return flow, flow["auth_uri"]


def finish_sign_in(*, tenant_id, cloud, flow, params):
    """Redeem the code (msal checks state and nonce). Returns (admin, delegated scopes granted)."""
    try:
        result = _app(SIGN_IN_AUTHORITY, cloud).acquire_token_by_auth_code_flow(flow, params)
    except ValueError as exc:
        # msal: "state mismatch: <ours> vs <theirs>". The words stay generic: states are
        # secrets of the flow and never reach a page or the audit trail.
        raise MicrosoftError("The answer does not belong to a sign-in started here.", error="invalid_state") from exc
    except RuntimeError as exc:
        # msal raises RuntimeError (IdTokenError is one) when the id_token's nonce is not the
        # flow's, or the token is malformed: a replayed or injected sign-in. Its message
        # quotes the nonce and the token, so it is not passed on.
        # Reference: msal/oauth2cli/oidc.py, Client.obtain_token_by_auth_code_flow
        raise MicrosoftError("The sign-in could not be verified.", error="unverified_sign_in") from exc
    except requests.RequestException as exc:
        raise MicrosoftError(f"Could not reach Microsoft's token service: {exc}") from exc
    if "error" in result:
        raise MicrosoftError(
            result.get("error_description", result["error"]),
            code=_aadsts(result),
            error=result["error"],
        )
    admin = verify_id_token(result["id_token"], tenant_id=tenant_id, cloud=cloud, nonce=flow.get("nonce"))
    return admin, result


def _aadsts(result):
    codes = result.get("error_codes") or []
    if codes and str(codes[0]).isdigit():
        return f"AADSTS{codes[0]}"[:64]
    return code_from_description(result.get("error_description", ""))


def _jwks_client(jwks_uri, ca_bundle):
    # A fresh client per verification: consents are rare, and a long-lived key cache would
    # have to handle keys replaced under the same kid.
    context = ssl.create_default_context(cafile=ca_bundle or None)
    return jwt.PyJWKClient(jwks_uri, cache_keys=False, ssl_context=context)


def _discovery(tenant_id, cloud):
    url = f"{authority(tenant_id, cloud)}{_under_tenant(DISCOVERY.path)}"
    response = http.session().get(url)
    response.raise_for_status()
    return response.json()


def verify_id_token(id_token, *, tenant_id, cloud, nonce=None):
    """Check the id_token's signature, audience, issuer, expiry and tenant (`tenant_id` None: any
    tenant, when the sign-in is what finds the tenant); return who it names."""
    try:
        discovery = _discovery(SIGN_IN_AUTHORITY, cloud)
        key = _jwks_client(discovery["jwks_uri"], settings.HTTP_CA_BUNDLE).get_signing_key_from_jwt(id_token)
        # The multi-tenant issuer is a template; fill it with the token's own tenant, then
        # check the signature, and only then compare that tenant with the one expected.
        token_tid = jwt.decode(id_token, options={"verify_signature": False}).get("tid", "")
        claims = jwt.decode(
            id_token,
            key.key,
            algorithms=["RS256"],
            audience=settings.MICROSOFT_CLIENT_ID,
            issuer=discovery["issuer"].replace("{tenantid}", token_tid),
            options={"require": ["exp", "iat", "aud", "iss", "tid", "oid"]},
        )
    except (jwt.PyJWTError, requests.RequestException, KeyError) as exc:
        raise MicrosoftError(f"The sign-in could not be verified: {exc}", error="invalid_id_token") from exc
    admin = SignedInAdmin(
        tenant_id=claims["tid"],
        object_id=claims["oid"],
        name=claims.get("name", ""),
        upn=claims.get("preferred_username", ""),
        roles=_wids(claims),
    )
    if tenant_id is not None and claims["tid"].lower() != str(tenant_id).lower():
        raise WrongTenant(f"{admin.upn} belongs to tenant {claims['tid']}, not {tenant_id}.", admin=admin)
    return admin


def _wids(claims):
    # Reference: https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference#payload-claims
    # (wids: the user's tenant-wide role template ids, when the app asks for directory roles)
    wids = claims.get("wids") or []
    if not isinstance(wids, list):
        return ()
    return tuple(str(w).lower()[:64] for w in wids if isinstance(w, str))


def admin_consent_url(*, tenant_id, cloud, redirect_uri, state):
    """Where a tenant admin grants the app's application permissions (v2 admin consent).

    Built beside the tenant's advertised authorization endpoint (the browser-facing host),
    as Microsoft serves both from the same place.
    """
    # Reference: https://learn.microsoft.com/entra/identity-platform/v2-admin-consent
    try:
        authorize = _discovery(tenant_id, cloud)["authorization_endpoint"]
    except (requests.RequestException, KeyError) as exc:
        raise MicrosoftError(f"Could not reach Microsoft's sign-in service: {exc}") from exc
    # The advertised authorize URL is {host}/{tenant}/oauth2/v2.0/authorize: admin consent sits
    # at {host}/{tenant}/v2.0/adminconsent.
    base = authorize.split(_under_tenant(AUTHORIZE.path), 1)[0]
    query = urlencode(
        {
            "client_id": settings.MICROSOFT_CLIENT_ID,
            "scope": GRAPH_DEFAULT_SCOPE,
            "redirect_uri": redirect_uri,
            "state": state,
        }
    )
    return f"{base}{_under_tenant(ADMIN_CONSENT.path)}?{query}"


# Without a usable Retry-After, wait this long (msal's own default is 5 s; Microsoft sends 60
# for client credentials: https://learn.microsoft.com/entra/msal/dotnet/advanced/client-and-server-throttling).
DEFAULT_RETRY_AFTER = 60
# "The server terminated an operation because it encountered a client request loop": how the
# token endpoint throttles a refresh (400 invalid_grant), per the page above.
_THROTTLED_CODES = {"AADSTS50196"}


# The Retry-After of the last 429 the token endpoint sent to this thread's request, if any.
_last_429 = threading.local()


def _remember_retry_after(response, *args, **kwargs):
    if response.status_code == 429:
        _last_429.retry_after = response.headers.get("Retry-After") or ""


def _watched_session():
    """A session that remembers a 429's Retry-After (for the thread that sent the request):
    msal hands the portal only the JSON body of a 429 (it raises MsalServiceError on a 5xx,
    and answers from its own copy of an error for Retry-After, within one msal app)."""
    session = http.session()
    session.hooks["response"].append(_remember_retry_after)
    return session


def _retry_after(value):
    try:
        return max(1, min(3600, int(value)))
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER


def _throttled(tenant_id, retry_after, code, error):
    seconds = _retry_after(retry_after)
    at = (timezone.now() + timedelta(seconds=seconds)).strftime("%H:%M:%S UTC")
    return Throttled(
        f"Microsoft is throttling the portal's token requests for tenant {tenant_id} ({code or error}): "
        f"retrying at {at}.",
        retry_after=seconds, code=code, error=error,
    )


def acquire_token(*, tenant_id, cloud, acquire, app=None):
    """Run `acquire(msal_app)` against the tenant's token endpoint; the token result, or
    Throttled (a 429 or AADSTS50196: try again at `retry_at`), or MicrosoftError (with the
    AADSTS code when refused; without `error` when the service was not reached or failed).

    `app` builds the msal app to use (default: a new one for this call)."""
    _last_429.retry_after = None
    try:
        result = acquire(app() if app else _app(tenant_id, cloud, session=_watched_session()))
    except (requests.RequestException, MsalServiceError) as exc:
        # msal raises MsalServiceError on a 5xx from the token endpoint: unavailable, not refused.
        raise MicrosoftError(f"Could not reach Microsoft's token service: {exc}") from exc
    if "error" in result:
        code = _aadsts(result)
        retry_after = _last_429.retry_after
        if retry_after is not None or code in _THROTTLED_CODES:
            raise _throttled(tenant_id, retry_after, code, result["error"])
        raise MicrosoftError(result.get("error_description", result["error"]), code=code, error=result["error"])
    return result


# --- app-only tokens for Graph, kept in msal's token cache -----------------------------------

# One msal app per tenant and cloud, each with its own token cache: acquire_token_for_client
# answers from the cache until a token has less than five minutes left, then asks Microsoft.
_app_only_apps: dict[tuple[str, str], msal.ConfidentialClientApplication] = {}
_app_only_lock = threading.Lock()


def _app_only_key(tenant_id: object, cloud: str) -> tuple[str, str]:
    return (str(tenant_id).lower(), cloud)


def _app_only_app(tenant_id: object, cloud: str) -> msal.ConfidentialClientApplication:
    key = _app_only_key(tenant_id, cloud)
    with _app_only_lock:
        app = _app_only_apps.get(key)
    if app is None:
        app = _app(tenant_id, cloud, session=_watched_session(), token_cache=msal.TokenCache())
        with _app_only_lock:
            app = _app_only_apps.setdefault(key, app)
    return app


def app_only_token(*, tenant_id: object, cloud: str, fresh: bool = False) -> str:
    """An app-only access token for Microsoft Graph, from msal's token cache when it holds a
    valid one (`fresh`: forget the cached one and ask Microsoft). Raises like acquire_token."""
    # Reference: https://learn.microsoft.com/python/api/msal/msal.application.confidentialclientapplication
    # (acquire_token_for_client looks in the app's token cache first, since msal 1.23)
    if fresh:
        forget_app_only_tokens(tenant_id)
    try:
        result = acquire_token(
            tenant_id=tenant_id, cloud=cloud,
            acquire=lambda app: app.acquire_token_for_client(scopes=[GRAPH_DEFAULT_SCOPE]),
            app=lambda: _app_only_app(tenant_id, cloud),
        )
    except Exception:
        # msal keeps an error answer in its app for a while (60 s, or Retry-After): the next
        # request builds a new app, so it asks Microsoft again and sees today's answer.
        forget_app_only_tokens(tenant_id)
        raise
    token: str = result["access_token"]
    return token


def forget_app_only_tokens(tenant_id: object = None) -> None:
    """Drop the cached app-only tokens (of one tenant): the next one carries today's roles."""
    with _app_only_lock:
        if tenant_id is None:
            _app_only_apps.clear()
        else:
            for key in [k for k in _app_only_apps if k[0] == str(tenant_id).lower()]:
                del _app_only_apps[key]


def application_roles(*, tenant_id, cloud):
    """The application permissions the tenant has granted the portal, from an app-only token.

    The token comes from the token endpoint over TLS, to us: its claims can be read
    without a signature check (and a consent callback's word is never taken instead).
    """
    result = acquire_token(
        tenant_id=tenant_id, cloud=cloud, acquire=lambda app: app.acquire_token_for_client(scopes=[GRAPH_DEFAULT_SCOPE])
    )
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    if claims.get("tid", "").lower() != str(tenant_id).lower():
        raise MicrosoftError("The token belongs to another tenant.", error="wrong_tenant")
    return sorted(claims.get("roles", []))


def delegated_scopes(token_result):
    """Delegated permissions from a token response: the `scp` claim of its access token."""
    claims = jwt.decode(token_result["access_token"], options={"verify_signature": False})
    return sorted(claims.get("scp", "").split())


def refresh_delegated(*, tenant_id, cloud, refresh_token, scopes):
    """A new delegated token from a stored refresh token (Microsoft's refresh tokens do not
    die on use, but the new one is kept anyway). Raises MicrosoftError with the AADSTS code."""
    # Reference: https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#refresh-the-access-token
    return acquire_token(
        tenant_id=tenant_id, cloud=cloud,
        acquire=lambda app: app.acquire_token_by_refresh_token(refresh_token, scopes=list(scopes)),
    )
