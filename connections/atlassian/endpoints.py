"""Every Atlassian endpoint the portal calls: one typed function each, its declaration beside it.

The transport is connections.atlassian.client: plain HTTPS (`client.call`) for Atlassian's own
OAuth and identity endpoints, and atlassian-python-api clients (`client.jira`, `client.confluence`
and their API-token twins, built in connections.atlassian.refresh) for Jira and Confluence. The
functions here say which path, which query and which fields; the clients add the base URL, the
credentials, timeouts and errors.

Jira and Confluence paths are declared as they are on a site (`/rest/api/3/...`,
`/wiki/api/v2/...`): with OAuth 2.0 the API gateway serves them under
`/ex/jira/{cloud_id}` and `/ex/confluence/{cloud_id}`, with an API token the site itself does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from atlassian import ConfluenceV2, Jira
from django.conf import settings

from .. import http
from ..endpoints import JSM, declare
from . import client

# --- OAuth 2.0 (3LO) ----------------------------------------------------------------------------

AUTHORIZE = declare(
    "atlassian.authorize",
    "GET",
    "/authorize",
    permissions=(),
    reads=("code", "state"),
    keeps=(),
    # Reference: https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/#1--direct-the-user-to-the-authorization-url-to-get-an-authorization-code
    reference="https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/#1--direct-the-user-to-the-authorization-url-to-get-an-authorization-code",
    purpose="The browser is sent here to authorize a site; it comes back with a code.",
)


def authorize_url(*, scopes: list[str] | tuple[str, ...], state: str, redirect_uri: str) -> str:
    """Where the admin's browser authorizes the portal for the scopes (never fetched by the portal)."""
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
    base = getattr(settings, "ATLASSIAN_AUTHORIZE_URL", "") or f"{settings.ATLASSIAN_AUTH_URL}{AUTHORIZE.path}"
    return f"{base}?{urlencode(query)}"


OAUTH_TOKEN = declare(
    "atlassian.oauth_token",
    "POST",
    "/oauth/token",
    permissions=("offline_access",),  # the refresh grant; the code exchange needs no scope
    reads=("access_token", "refresh_token", "expires_in", "scope"),
    keeps=("access_token", "refresh_token", "expires_in", "scope"),  # encrypted at rest
    # Reference: https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/#2--exchange-authorization-code-for-access-token
    reference="https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/#2--exchange-authorization-code-for-access-token",
    purpose="Exchanging the authorization code, and refreshing the access token (which rotates the refresh token).",
)


def exchange_code(*, code: str, redirect_uri: str) -> client.Tokens:
    """Trade the authorization code for the grant's tokens."""
    what = "Exchanging the authorization code"
    body = client.call(
        "POST",
        f"{settings.ATLASSIAN_AUTH_URL}{OAUTH_TOKEN.path}",
        what,
        json={
            "grant_type": "authorization_code",
            "client_id": settings.ATLASSIAN_CLIENT_ID,
            "client_secret": settings.ATLASSIAN_CLIENT_SECRET,
            "code": code,
            "redirect_uri": redirect_uri,
        },
    )
    return client.tokens_from(body, what)


def refresh(*, refresh_token: str) -> client.Tokens:
    """Trade a refresh token for new tokens. Atlassian rotates them: the old one stays usable only
    for a short reuse interval."""
    # Reference: https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/#how-do-i-get-a-new-access-token--if-my-access-token-expires-or-is-revoked-
    what = "Refreshing the access token"
    body = client.call(
        "POST",
        f"{settings.ATLASSIAN_AUTH_URL}{OAUTH_TOKEN.path}",
        what,
        json={
            "grant_type": "refresh_token",
            "client_id": settings.ATLASSIAN_CLIENT_ID,
            "client_secret": settings.ATLASSIAN_CLIENT_SECRET,
            "refresh_token": refresh_token,
        },
    )
    return client.tokens_from(body, what)


ACCESSIBLE_RESOURCES = declare(
    "atlassian.accessible_resources",
    "GET",
    "/oauth/token/accessible-resources",
    permissions=(),
    reads=("id", "name", "url", "scopes", "avatarUrl"),
    keeps=("id", "name", "url", "scopes", "avatarUrl"),
    # Reference: https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/#3-1-get-the-cloudid-for-your-site
    reference="https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/#3-1-get-the-cloudid-for-your-site",
    purpose="Every site the grant covers, with its scopes: the admin picks one.",
)


def accessible_resources(*, access_token: str) -> list[client.Resource]:
    """Every site the grant covers: the admin picks one; never assume the first."""
    body = client.call(
        "GET",
        f"{settings.ATLASSIAN_API_URL}{ACCESSIBLE_RESOURCES.path}",
        "Listing the sites the grant covers",
        headers=client.bearer_headers(access_token),
    )
    return [
        client.Resource(
            cloud_id=str(r.get("id", "")),
            name=r.get("name", ""),
            url=(r.get("url") or "").rstrip("/"),
            scopes=tuple(sorted(r.get("scopes") or ())),
            avatar_url=r.get("avatarUrl", ""),
        )
        for r in body or ()
        if isinstance(r, dict) and r.get("id")
    ]


ME = declare(
    "atlassian.me",
    "GET",
    "/me",
    permissions=("read:me",),
    reads=("account_id", "name", "email"),
    keeps=("account_id", "name", "email"),
    # Reference: https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/#how-do-i-retrieve-the-public-immutable-profile-data-for-an-atlassian-account-
    reference="https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/#how-do-i-retrieve-the-public-immutable-profile-data-for-an-atlassian-account-",
    purpose="Who authorized: recorded with the site's grant.",
)


def me(*, access_token: str) -> client.Account:
    """Who authorized: the Atlassian account behind the grant."""
    body = client.call(
        "GET", f"{settings.ATLASSIAN_API_URL}{ME.path}", "Reading who authorized",
        headers=client.bearer_headers(access_token),
    )
    return client.Account(
        account_id=str(body.get("account_id", "")), name=body.get("name", ""), email=body.get("email", "")
    )


TENANT_INFO = declare(
    "atlassian.tenant_info",
    "GET",
    "/_edge/tenant_info",
    permissions=(),  # a site publishes it without authentication
    reads=("cloudId",),
    keeps=("cloudId",),
    # Reference: https://support.atlassian.com/jira/kb/retrieve-my-atlassian-sites-cloud-id
    reference="https://support.atlassian.com/jira/kb/retrieve-my-atlassian-sites-cloud-id",
    purpose="The cloud id of a site connected with an API token.",
)


def tenant_info(*, site_url: str) -> str:
    """The site's cloud id, which a site publishes without authentication (best effort)."""
    try:
        with http.session() as session:
            response = session.get(f"{site_url.rstrip('/')}{TENANT_INFO.path}", timeout=client.TIMEOUT)
        if response.ok:
            return str((client.json_or_none(response) or {}).get("cloudId", ""))
    except requests.RequestException:
        pass
    return ""


# --- Jira ---------------------------------------------------------------------------------------


def _relative(path: str) -> str:
    """atlassian-python-api takes paths relative to the client's base URL."""
    return path.lstrip("/")


JIRA_MYSELF = declare(
    "jira.myself",
    "GET",
    "/rest/api/3/myself",
    permissions=("read:jira-user",),
    reads=("accountId", "displayName", "emailAddress"),
    keeps=("accountId", "displayName", "emailAddress"),
    # Reference: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-myself/#api-rest-api-3-myself-get
    reference="https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-myself/#api-rest-api-3-myself-get",
    purpose="Checking an API token: whom it belongs to.",
)


def jira_myself(jira: Jira) -> Any:
    """The account the client's credentials belong to."""
    return jira.get(_relative(JIRA_MYSELF.path))


JIRA_PROJECT_SEARCH = declare(
    "jira.project_search",
    "GET",
    "/rest/api/3/project/search",
    permissions=("read:jira-work",),
    reads=("id", "key", "name", "total", "isLast"),
    keeps=("id", "key", "name"),
    # Reference: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-projects/#api-rest-api-3-project-search-get
    reference="https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-projects/#api-rest-api-3-project-search-get",
    purpose="Health checks (one project), and the service projects of a Jira Service Management site.",
)


def jira_project_search(
    jira: Jira, *, max_results: int, start_at: int | None = None, type_key: str | None = None
) -> Any:
    """One page of the site's projects (`type_key="service_desk"`: service projects only)."""
    params: dict[str, Any] = {}
    if type_key is not None:
        params["typeKey"] = type_key
    if start_at is not None:
        params["startAt"] = start_at
    params["maxResults"] = max_results
    return jira.get(_relative(JIRA_PROJECT_SEARCH.path), params=params)


JIRA_USERS_SEARCH = declare(
    "jira.users_search",
    "GET",
    "/rest/api/3/users/search",
    permissions=("read:jira-user",),
    reads=("accountId", "displayName", "emailAddress", "active", "accountType"),
    # Email addresses only as keyed digests, unless the organization stores them.
    keeps=("accountId", "displayName", "active", "accountType"),
    # Reference: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-users/#api-rest-api-3-users-search-get
    reference="https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-users/#api-rest-api-3-users-search-get",
    purpose="User matching: every account of the site, paged by startAt.",
)


def jira_users_search(jira: Jira, *, max_results: int) -> Any:
    """The first page of the site's accounts (a health check)."""
    return jira.get(_relative(JIRA_USERS_SEARCH.path), params={"maxResults": max_results})


def jira_users_search_response(jira: Jira, *, start_at: int, max_results: int) -> requests.Response:
    """One page of the site's accounts as the raw response (what Jira.users_get_all calls), so a
    throttle can read its status and Retry-After."""
    response: requests.Response = jira.get(
        _relative(JIRA_USERS_SEARCH.path), params={"startAt": start_at, "maxResults": max_results},
        advanced_mode=True,
    )
    return response


# --- Confluence ---------------------------------------------------------------------------------

CONFLUENCE_SPACES = declare(
    "confluence.spaces",
    "GET",
    "/wiki/api/v2/spaces",
    permissions=("read:space:confluence",),
    reads=("id", "key", "name"),
    keeps=(),
    # Reference: https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-space/#api-spaces-get
    reference="https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-space/#api-spaces-get",
    purpose="Health checks and API-token checks: the first page of spaces.",
)


def confluence_spaces(confluence: ConfluenceV2, *, limit: int) -> Any:
    """The first page of the site's spaces (the client's base URL ends in /wiki)."""
    return confluence.get(CONFLUENCE_SPACES.path.removeprefix("/wiki/"), params={"limit": limit})


@dataclass(frozen=True)
class ApiTokenCheck:
    account: client.Account | None
    products: tuple[str, ...]
    statuses: dict[str, int]  # product -> HTTP status of its probe (200 when it worked)


SERVICE_MANAGEMENT_INFO = declare(
    "jsm.info",
    "GET",
    "/rest/servicedeskapi/info",
    permissions=(),
    reads=("isLicensedForUse",),
    keeps=(),
    # Reference: https://developer.atlassian.com/cloud/jira/service-desk/rest/api-group-info/
    reference="https://developer.atlassian.com/cloud/jira/service-desk/rest/api-group-info/",
    purpose="Whether the site runs Jira Service Management (its products are saved on the site).",
    provider=JSM,
)


def runs_service_management(jira: Jira) -> bool:
    """Whether the site behind this Jira client runs Jira Service Management.

    Neither accessible-resources nor Jira's own answers say so (a Jira Service Management site
    answers Jira's APIs like any Jira site): its servicedeskapi/info does, and needs no permission
    ("Permissions required: None"); a site without it has no such resource (404)."""
    try:
        body = jira.get(_relative(SERVICE_MANAGEMENT_INFO.path))
    except requests.HTTPError as exc:
        if _status_of(exc) == 404:
            return False
        raise
    return isinstance(body, dict) and body.get("isLicensedForUse", True) is not False


def _status_of(exc: BaseException) -> int:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", 0) or 0


def _probe(what: str, call: Any) -> tuple[Any, int]:
    """Run one harmless call; (answer, status) with transport trouble raised as Unavailable."""
    try:
        return call(), 200
    except requests.HTTPError as exc:
        status = _status_of(exc)
        if status == 429 or status >= 500:
            raise client.Unavailable(f"{what}: Atlassian answered HTTP {status}.", status=status) from None
        return None, status
    except requests.RequestException as exc:
        raise client.Unavailable(f"{what}: the site could not be reached ({type(exc).__name__}).") from None


def check_api_token(*, site_url: str, email: str, api_token: str) -> ApiTokenCheck:
    """Prove an email + API token work on this site with one real call per product: Jira's
    myself (who the token belongs to) and Confluence's first page of spaces. A site may run only
    one of the two, so one success is enough."""
    myself, jira_status = _probe(
        "Checking the API token with Jira",
        lambda: jira_myself(client.jira_basic(site_url=site_url, email=email, api_token=api_token)),
    )
    spaces, confluence_status = _probe(
        "Checking the API token with Confluence",
        lambda: confluence_spaces(
            client.confluence_basic(site_url=site_url, email=email, api_token=api_token), limit=1
        ),
    )
    products = []
    account = None
    if isinstance(myself, dict) and myself.get("accountId"):
        products.append("jira")
        account = client.Account(
            account_id=myself["accountId"],
            name=myself.get("displayName", ""),
            email=myself.get("emailAddress") or email,
        )
    if account is not None:
        try:  # best effort: the site's admin can correct its products on its page
            jsm, _status = _probe(
                "Checking whether the site runs Jira Service Management",
                lambda: runs_service_management(client.jira_basic(site_url=site_url, email=email, api_token=api_token)),
            )
        except client.Unavailable:
            jsm = None
        if jsm is True:
            products.append("jsm")
    if isinstance(spaces, dict) and "results" in spaces:
        products.append("confluence")
    return ApiTokenCheck(
        account=account, products=tuple(products), statuses={"jira": jira_status, "confluence": confluence_status}
    )

# The Organizations REST API (an organization API key) registers its declarations with these.
from ..atlassian_admin import endpoints as _admin_endpoints  # noqa: E402,F401
