"""The transport of the portal's calls to Atlassian Cloud: sessions, errors, clients.

Atlassian's own OAuth 2.0 (3LO) and identity endpoints are plain HTTPS requests (`call`);
Jira and Confluence are reached with atlassian-python-api, built from a fresh token every
time because it never refreshes one itself. Which endpoints are called, with which scope and
fields, is written in one function each in connections.atlassian.endpoints.

Nothing here logs or puts a token into an exception's message: errors carry the HTTP
status and Atlassian's error code only.
"""

import logging
from dataclasses import dataclass, field
from typing import Any

import requests
from atlassian import ConfluenceV2, Jira
from django.conf import settings

from .. import http

logger = logging.getLogger(__name__)
# At DEBUG, atlassian-python-api logs every response body (people's names and email
# addresses); the portal keeps personal data out of its logs whatever LOG_LEVEL says.
logging.getLogger("atlassian").setLevel(max(logging.getLogger("atlassian").level, logging.INFO))

TIMEOUT = http.DEFAULT_TIMEOUT  # seconds: a provider that hangs must not hold a web request or a worker


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


def json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _raise_for(response, what):
    body = json_or_none(response)
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


def call(method: str, url: str, what: str, **kwargs: Any) -> Any:
    """One plain HTTPS call to Atlassian; the parsed JSON body, or an AtlassianError."""
    try:
        with http.session() as http_session:
            response = http_session.request(method, url, timeout=TIMEOUT, **kwargs)
    except requests.RequestException as exc:
        # The exception's text may hold the URL, never a token (tokens travel in bodies/headers).
        raise Unavailable(f"{what}: Atlassian could not be reached ({type(exc).__name__}).") from None
    if response.status_code >= 400:
        _raise_for(response, what)
    body = json_or_none(response)
    if body is None:
        raise Unavailable(f"{what}: Atlassian's answer was not JSON.", status=response.status_code)
    return body


def tokens_from(body: Any, what: str) -> Tokens:
    """The tokens of a token endpoint's answer."""
    if not isinstance(body, dict) or not body.get("access_token"):
        raise AtlassianError(f"{what}: the answer held no access token.")
    return Tokens(
        access_token=body["access_token"],
        refresh_token=body.get("refresh_token", ""),
        expires_in=int(body.get("expires_in") or 3600),
        scopes=tuple(sorted((body.get("scope") or "").split())),
    )


def bearer_headers(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}


# --- Jira and Confluence through atlassian-python-api ---------------------------------------


def _oauth2(access_token):
    return {"client_id": settings.ATLASSIAN_CLIENT_ID, "token": {"access_token": access_token, "token_type": "Bearer"}}


# --- base URLs: the one place they are built ---------------------------------------------------
# The endpoint paths (connections.atlassian.endpoints) are the products' own REST paths; these
# are the bases they hang from.


def jira_gateway_url(cloud_id: str) -> str:
    """Jira's REST APIs with an OAuth 2.0 (3LO) token: through the API gateway, per site."""
    # Reference: https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/
    # ("Make calls to the API using the access token": https://api.atlassian.com/ex/jira/{cloudid}/{api})
    return f"{settings.ATLASSIAN_API_URL}/ex/jira/{cloud_id}"


def confluence_gateway_url(cloud_id: str) -> str:
    """Confluence's REST APIs with an OAuth 2.0 (3LO) token: the gateway's site prefix plus
    /wiki, under which the v2 paths (/wiki/api/v2/...) sit."""
    # Reference: https://developer.atlassian.com/cloud/confluence/oauth-2-3lo-apps/
    # ("Make calls to the API using the access token": https://api.atlassian.com/ex/confluence/{cloudid}/{api})
    # and https://developer.atlassian.com/cloud/confluence/rest/v2/intro/
    return f"{settings.ATLASSIAN_API_URL}/ex/confluence/{cloud_id}/wiki"


def confluence_site_url(site_url: str) -> str:
    """Confluence's REST APIs with an API token (basic auth): the site itself, under /wiki."""
    # Reference: https://developer.atlassian.com/cloud/confluence/basic-auth-for-rest-apis/
    return f"{site_url.rstrip('/')}/wiki"


def jira_site_url(site_url: str) -> str:
    """Jira's REST APIs with an API token (basic auth): the site itself."""
    # Reference: https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/
    return site_url.rstrip("/")


def confluence(*, cloud_id, access_token):
    """Confluence REST v2 through the API gateway, for one site (OAuth 2.0)."""
    return ConfluenceV2(
        url=confluence_gateway_url(cloud_id),
        oauth2=_oauth2(access_token),
        session=http.session(),
        timeout=TIMEOUT,
    )


def jira(*, cloud_id, access_token, session=None):
    """Jira REST v3 through the API gateway, for one site (OAuth 2.0). `session`: an HTTP
    session to reuse (its pooled connection), else a new one."""
    # Reference: https://developer.atlassian.com/cloud/jira/platform/rest/v3/intro/
    return Jira(
        url=jira_gateway_url(cloud_id),
        oauth2=_oauth2(access_token),
        cloud=True,
        api_version="3",
        session=session or http.session(),
        timeout=TIMEOUT,
    )


def confluence_basic(*, site_url, email, api_token):
    return ConfluenceV2(
        url=confluence_site_url(site_url), username=email, password=api_token, session=http.session(), timeout=TIMEOUT
    )


def jira_basic(*, site_url, email, api_token, session=None):
    return Jira(
        url=jira_site_url(site_url),
        username=email,
        password=api_token,
        cloud=True,
        api_version="3",
        session=session or http.session(),
        timeout=TIMEOUT,
    )
