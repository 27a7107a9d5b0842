"""All of the portal's outbound calls to Atlassian Cloud, in one place.

OAuth 2.0 (3LO) token calls and the two identity calls (accessible-resources, /me) are
plain HTTPS requests; Jira and Confluence are reached with atlassian-python-api, built
from a fresh token every time because it never refreshes one itself.

Nothing here logs or puts a token into an exception's message: errors carry the HTTP
status and Atlassian's error code only.
"""

import logging
from dataclasses import dataclass, field
from urllib.parse import urlencode

import requests
from atlassian import ConfluenceV2, Jira
from django.conf import settings

from ..endpoints import JSM, declare

logger = logging.getLogger(__name__)
# At DEBUG, atlassian-python-api logs every response body (people's names and email
# addresses); the portal keeps personal data out of its logs whatever LOG_LEVEL says.
logging.getLogger("atlassian").setLevel(max(logging.getLogger("atlassian").level, logging.INFO))

TIMEOUT = 20  # seconds: a provider that hangs must not hold a web request or a worker


class AtlassianError(Exception):
    """A call to Atlassian failed. `status` is the HTTP status (0: no answer), `error` the
    OAuth error code or Atlassian's message when it sent one."""

    def __init__(self, message, *, status=0, error=""):
        super().__init__(message)
        self.status = status
        self.error = error


class InvalidGrant(AtlassianError):
    """The code or refresh token is dead (used, expired, rotated away, or revoked)."""


class Unauthorized(AtlassianError):
    """Atlassian refused the credentials (401/403): wrong token, wrong site, or a scope missing."""


class Unavailable(AtlassianError):
    """No usable answer (network, 5xx, 429): worth trying again later; nothing is wrong with the grant."""


@dataclass(frozen=True)
class Tokens:
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: int
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class Resource:
    """One site an OAuth grant covers (from accessible-resources)."""

    cloud_id: str
    name: str
    url: str
    scopes: tuple[str, ...]
    avatar_url: str = ""

    @property
    def products(self):
        return products_from_scopes(self.scopes)


@dataclass(frozen=True)
class Account:
    account_id: str
    name: str
    email: str


def products_from_scopes(scopes):
    """Which products a grant reaches, read from its scope names (read:jira-work, read:page:confluence)."""
    products = []
    if any("jira" in s or "servicedesk" in s or "servicemanagement" in s for s in scopes):
        products.append("jira")
    if any("confluence" in s for s in scopes):
        products.append("confluence")
    return products


def _session():
    session = requests.Session()
    if settings.HTTP_CA_BUNDLE:
        # Trust exactly this bundle: with trust_env, REQUESTS_CA_BUNDLE would override `verify`.
        session.trust_env = False
        session.verify = settings.HTTP_CA_BUNDLE
    session.headers["User-Agent"] = "connections-portal"
    return session


def _json(response):
    try:
        return response.json()
    except ValueError:
        return None


def _raise_for(response, what):
    body = _json(response)
    error = ""
    if isinstance(body, dict):
        error = str(body.get("error") or body.get("message") or "")
    status = response.status_code
    if status in (429,) or status >= 500:
        raise Unavailable(f"{what}: Atlassian answered HTTP {status}.", status=status, error=error)
    if error == "invalid_grant":
        raise InvalidGrant(f"{what}: the grant is no longer valid ({error}).", status=status, error=error)
    if status in (401, 403):
        raise Unauthorized(f"{what}: Atlassian refused the credentials (HTTP {status}).", status=status, error=error)
    raise AtlassianError(f"{what}: Atlassian answered HTTP {status}.", status=status, error=error)


def _call(method, url, what, **kwargs):
    try:
        with _session() as session:
            response = session.request(method, url, timeout=TIMEOUT, **kwargs)
    except requests.RequestException as exc:
        # The exception's text may hold the URL, never a token (tokens travel in bodies/headers).
        raise Unavailable(f"{what}: Atlassian could not be reached ({type(exc).__name__}).") from None
    if response.status_code >= 400:
        _raise_for(response, what)
    body = _json(response)
    if body is None:
        raise Unavailable(f"{what}: Atlassian's answer was not JSON.", status=response.status_code)
    return body


# --- OAuth 2.0 (3LO) ------------------------------------------------------------------------


def authorize_url(*, scopes, state, redirect_uri):
    # Reference: https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/#1--direct-the-user-to-the-authorization-url-to-get-an-authorization-code
    query = {
        "audience": "api.atlassian.com",
        "client_id": settings.ATLASSIAN_CLIENT_ID,
        "scope": " ".join(scopes),
        "redirect_uri": redirect_uri,
        "state": state,
        "response_type": "code",
        # Always show the consent screen, so the scopes asked for now are the ones granted.
        "prompt": "consent",
    }
    # Only the browser opens this URL: a deployment may serve it elsewhere than the token
    # endpoint (the sandbox's plain-http page port, so a demo shows no certificate warning).
    base = getattr(settings, "ATLASSIAN_AUTHORIZE_URL", "") or f"{settings.ATLASSIAN_AUTH_URL}/authorize"
    return f"{base}?{urlencode(query)}"


def _tokens(body, what):
    if not isinstance(body, dict) or not body.get("access_token"):
        raise AtlassianError(f"{what}: the answer held no access token.")
    return Tokens(
        access_token=body["access_token"],
        refresh_token=body.get("refresh_token", ""),
        expires_in=int(body.get("expires_in") or 3600),
        scopes=tuple(sorted((body.get("scope") or "").split())),
    )


def exchange_code(*, code, redirect_uri):
    # Reference: https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/#2--exchange-authorization-code-for-access-token
    body = _call(
        "POST",
        f"{settings.ATLASSIAN_AUTH_URL}/oauth/token",
        "Exchanging the authorization code",
        json={
            "grant_type": "authorization_code",
            "client_id": settings.ATLASSIAN_CLIENT_ID,
            "client_secret": settings.ATLASSIAN_CLIENT_SECRET,
            "code": code,
            "redirect_uri": redirect_uri,
        },
    )
    return _tokens(body, "Exchanging the authorization code")


def refresh(*, refresh_token):
    """Trade a refresh token for new tokens. Atlassian rotates: the old refresh token dies."""
    # Reference: https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/#how-do-i-get-a-new-access-token--if-my-access-token-expires-or-is-revoked-
    body = _call(
        "POST",
        f"{settings.ATLASSIAN_AUTH_URL}/oauth/token",
        "Refreshing the access token",
        json={
            "grant_type": "refresh_token",
            "client_id": settings.ATLASSIAN_CLIENT_ID,
            "client_secret": settings.ATLASSIAN_CLIENT_SECRET,
            "refresh_token": refresh_token,
        },
    )
    return _tokens(body, "Refreshing the access token")


def _bearer(access_token):
    return {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}


def accessible_resources(*, access_token):
    """Every site the grant covers: the admin picks one; never assume the first."""
    # Reference: https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/#3-1-get-the-cloudid-for-your-site
    body = _call(
        "GET",
        f"{settings.ATLASSIAN_API_URL}/oauth/token/accessible-resources",
        "Listing the sites the grant covers",
        headers=_bearer(access_token),
    )
    return [
        Resource(
            cloud_id=str(r.get("id", "")),
            name=r.get("name", ""),
            url=(r.get("url") or "").rstrip("/"),
            scopes=tuple(sorted(r.get("scopes") or ())),
            avatar_url=r.get("avatarUrl", ""),
        )
        for r in body or ()
        if isinstance(r, dict) and r.get("id")
    ]


def me(*, access_token):
    """Who authorized: the Atlassian account behind the grant."""
    # Reference: https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/#how-do-i-retrieve-the-public-immutable-profile-data-for-an-atlassian-account-
    body = _call("GET", f"{settings.ATLASSIAN_API_URL}/me", "Reading who authorized", headers=_bearer(access_token))
    return Account(
        account_id=str(body.get("account_id", "")), name=body.get("name", ""), email=body.get("email", "")
    )


# --- Jira and Confluence through atlassian-python-api ---------------------------------------


def _oauth2(access_token):
    return {"client_id": settings.ATLASSIAN_CLIENT_ID, "token": {"access_token": access_token, "token_type": "Bearer"}}


def confluence(*, cloud_id, access_token):
    """Confluence REST v2 through the API gateway, for one site (OAuth 2.0)."""
    # Reference: https://developer.atlassian.com/cloud/confluence/rest/v2/intro/
    return ConfluenceV2(
        url=f"{settings.ATLASSIAN_API_URL}/ex/confluence/{cloud_id}/wiki",
        oauth2=_oauth2(access_token),
        session=_session(),
        timeout=TIMEOUT,
    )


def jira(*, cloud_id, access_token):
    """Jira REST v3 through the API gateway, for one site (OAuth 2.0)."""
    # Reference: https://developer.atlassian.com/cloud/jira/platform/rest/v3/intro/
    return Jira(
        url=f"{settings.ATLASSIAN_API_URL}/ex/jira/{cloud_id}",
        oauth2=_oauth2(access_token),
        cloud=True,
        api_version="3",
        session=_session(),
        timeout=TIMEOUT,
    )


def confluence_basic(*, site_url, email, api_token):
    # Reference: https://developer.atlassian.com/cloud/confluence/basic-auth-for-rest-apis/
    return ConfluenceV2(
        url=f"{site_url.rstrip('/')}/wiki", username=email, password=api_token, session=_session(), timeout=TIMEOUT
    )


def jira_basic(*, site_url, email, api_token):
    # Reference: https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/
    return Jira(
        url=site_url.rstrip("/"),
        username=email,
        password=api_token,
        cloud=True,
        api_version="3",
        session=_session(),
        timeout=TIMEOUT,
    )


def _status_of(exc):
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", 0) or 0


def _probe(what, call):
    """Run one harmless call; (ok, status) with transport trouble raised as Unavailable."""
    try:
        return call(), 200
    except requests.HTTPError as exc:
        status = _status_of(exc)
        if status == 429 or status >= 500:
            raise Unavailable(f"{what}: Atlassian answered HTTP {status}.", status=status) from None
        return None, status
    except requests.RequestException as exc:
        raise Unavailable(f"{what}: the site could not be reached ({type(exc).__name__}).") from None


SERVICE_MANAGEMENT_INFO = declare(
    "jsm.info", "GET", "/rest/servicedeskapi/info",
    permissions=(), reads=("isLicensedForUse",), keeps=(),
    reference="https://developer.atlassian.com/cloud/jira/service-desk/rest/api-group-info/",
    purpose="Whether the site runs Jira Service Management (its products are saved on the site).",
    provider=JSM,
)


def runs_service_management(jira):
    """Whether the site behind this Jira client runs Jira Service Management.

    Neither accessible-resources nor Jira's own answers say so (a Jira Service Management site
    answers Jira's APIs like any Jira site): its servicedeskapi/info does, and needs no permission;
    a site without it has no such resource (404)."""
    # Reference: https://developer.atlassian.com/cloud/jira/service-desk/rest/api-group-info/
    try:
        body = jira.get("rest/servicedeskapi/info")
    except requests.HTTPError as exc:
        if getattr(exc.response, "status_code", 0) == 404:
            return False
        raise
    return isinstance(body, dict) and body.get("isLicensedForUse", True) is not False


@dataclass(frozen=True)
class ApiTokenCheck:
    account: Account | None
    products: tuple[str, ...]
    statuses: dict  # product -> HTTP status of its probe (200 when it worked)


def check_api_token(*, site_url, email, api_token):
    """Prove an email + API token work on this site with one real call per product.

    Jira: GET /rest/api/3/myself (who the token belongs to); Confluence: the first page of
    /wiki/api/v2/spaces. A site may run only one of the two, so one success is enough.
    """
    myself, jira_status = _probe(
        "Checking the API token with Jira",
        lambda: jira_basic(site_url=site_url, email=email, api_token=api_token).myself(),
    )
    spaces, confluence_status = _probe(
        "Checking the API token with Confluence",
        lambda: confluence_basic(site_url=site_url, email=email, api_token=api_token).get(
            "api/v2/spaces", params={"limit": 1}
        ),
    )
    products = []
    account = None
    if isinstance(myself, dict) and myself.get("accountId"):
        products.append("jira")
        account = Account(
            account_id=myself["accountId"],
            name=myself.get("displayName", ""),
            email=myself.get("emailAddress") or email,
        )
    if account is not None:
        try:  # best effort: the site's admin can correct its products on its page
            jsm, _status = _probe(
                "Checking whether the site runs Jira Service Management",
                lambda: runs_service_management(jira_basic(site_url=site_url, email=email, api_token=api_token)),
            )
        except Unavailable:
            jsm = None
        if jsm is True:
            products.append("jsm")
    if isinstance(spaces, dict) and "results" in spaces:
        products.append("confluence")
    return ApiTokenCheck(
        account=account, products=tuple(products), statuses={"jira": jira_status, "confluence": confluence_status}
    )


def tenant_info(*, site_url):
    """The site's cloud id, which a site publishes without authentication (best effort)."""
    try:
        with _session() as session:
            response = session.get(f"{site_url.rstrip('/')}/_edge/tenant_info", timeout=TIMEOUT)
        if response.ok:
            return str((_json(response) or {}).get("cloudId", ""))
    except requests.RequestException:
        pass
    return ""
