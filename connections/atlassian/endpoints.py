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


# --- Confluence for Microsoft Search (connections.search.confluence) ----------------------------
# Each returns the raw response (advanced mode) so connections.throttle sees 429s and
# Retry-After. `cursor` is Confluence's own opaque cursor, taken whole from a `next` link.

def _wiki(path: str) -> str:
    """A declared /wiki/... path relative to the Confluence client's base URL (which ends in /wiki)."""
    return path.removeprefix("/wiki/")


def _raw(confluence: ConfluenceV2, path: str, params: dict[str, Any]) -> requests.Response:
    response: requests.Response = confluence.get(_wiki(path), params=params, advanced_mode=True)
    return response


def _paged(params: dict[str, Any], cursor: str | None) -> dict[str, Any]:
    return {**params, "cursor": cursor} if cursor else params


CONFLUENCE_SPACE_PAGES = declare(
    "confluence.space_pages",
    "GET",
    "/wiki/api/v2/spaces/{space_id}/pages",
    permissions=("read:page:confluence",),
    reads=("id", "status", "title", "parentId", "authorId", "createdAt", "version", "body", "_links"),
    keeps=("id", "title", "version"),  # the body and people go to Microsoft Search, not into the portal
    # Reference: https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-page/#api-spaces-id-pages-get
    reference="https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-page/#api-spaces-id-pages-get",
    purpose="Microsoft Search: every page of a space in scope, with its content, to index it.",
)


def confluence_space_pages(
    confluence: ConfluenceV2, *, space_id: str, cursor: str | None = None, limit: int = 250, status: str = "current"
) -> requests.Response:
    path = CONFLUENCE_SPACE_PAGES.path.format(space_id=space_id)
    params = {"limit": limit, "body-format": "storage", "status": status}
    return _raw(confluence, path, _paged(params, cursor))


CONFLUENCE_SPACE_BLOGPOSTS = declare(
    "confluence.space_blogposts",
    "GET",
    "/wiki/api/v2/spaces/{space_id}/blogposts",
    permissions=("read:blogpost:confluence",),
    reads=("id", "status", "title", "authorId", "createdAt", "version", "body", "_links"),
    keeps=("id", "title", "version"),
    # Reference: https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-blog-post/#api-spaces-id-blogposts-get
    reference="https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-blog-post/#api-spaces-id-blogposts-get",
    purpose="Microsoft Search: every blog post of a space in scope, with its content, to index it.",
)


def confluence_space_blogposts(
    confluence: ConfluenceV2, *, space_id: str, cursor: str | None = None, limit: int = 250, status: str = "current"
) -> requests.Response:
    path = CONFLUENCE_SPACE_BLOGPOSTS.path.format(space_id=space_id)
    params = {"limit": limit, "body-format": "storage", "status": status}
    return _raw(confluence, path, _paged(params, cursor))


CONFLUENCE_SPACES_BY_KEY = declare(
    "confluence.spaces_in_scope",
    "GET",
    "/wiki/api/v2/spaces",
    permissions=("read:space:confluence",),
    reads=("id", "key", "name", "_links"),
    keeps=("id", "key", "name"),
    # Reference: https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-space/#api-spaces-get
    reference="https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-space/#api-spaces-get",
    purpose="Microsoft Search: the spaces chosen for the index (or every space).",
)


def confluence_spaces_page(
    confluence: ConfluenceV2, *, keys: tuple[str, ...] = (), cursor: str | None = None, limit: int = 250
) -> requests.Response:
    params: dict[str, Any] = {"limit": limit}
    if keys:
        params["keys"] = ",".join(keys)
    return _raw(confluence, CONFLUENCE_SPACES_BY_KEY.path, _paged(params, cursor))


CONFLUENCE_PAGE_ANCESTORS = declare(
    "confluence.page_ancestors",
    "GET",
    "/wiki/api/v2/pages/{page_id}/ancestors",
    permissions=("read:page:confluence",),
    reads=("id", "type"),
    keeps=(),
    # Reference: https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-ancestors/#api-pages-id-ancestors-get
    reference="https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-ancestors/#api-pages-id-ancestors-get",
    purpose="Microsoft Search: a page's parents, whose restrictions also apply to it.",
)


def confluence_page_ancestors(confluence: ConfluenceV2, *, page_id: str, limit: int = 250) -> requests.Response:
    return _raw(confluence, CONFLUENCE_PAGE_ANCESTORS.path.format(page_id=page_id), {"limit": limit})


CONFLUENCE_READ_RESTRICTIONS = declare(
    "confluence.read_restrictions",
    "GET",
    "/wiki/rest/api/content/{content_id}/restriction/byOperation/read",
    permissions=("read:content-details:confluence",),
    reads=("restrictions.user.results.accountId", "restrictions.group.results.id", "restrictions.group.results.name"),
    keeps=(),
    # Reference: https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-content-restrictions/#api-wiki-rest-api-content-id-restriction-byoperation-operationkey-get
    reference="https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-content-restrictions/#api-wiki-rest-api-content-id-restriction-byoperation-operationkey-get",
    purpose="Microsoft Search: who may view a page (its view restrictions), so results respect them.",
)


def confluence_read_restrictions(confluence: ConfluenceV2, *, content_id: str) -> requests.Response:
    return _raw(confluence, CONFLUENCE_READ_RESTRICTIONS.path.format(content_id=content_id), {})


CONFLUENCE_SPACE_PERMISSIONS = declare(
    "confluence.space_permissions",
    "GET",
    "/wiki/api/v2/spaces/{space_id}/permissions",
    permissions=("read:permission:confluence",),
    reads=("principal.type", "principal.id", "operation.key", "operation.targetType"),
    keeps=(),
    # Reference: https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-space-permissions/#api-spaces-id-permissions-get
    reference="https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-space-permissions/#api-spaces-id-permissions-get",
    purpose="Microsoft Search: who may view a space's content.",
)


def confluence_space_permissions(
    confluence: ConfluenceV2, *, space_id: str, cursor: str | None = None, limit: int = 250
) -> requests.Response:
    path = CONFLUENCE_SPACE_PERMISSIONS.path.format(space_id=space_id)
    return _raw(confluence, path, _paged({"limit": limit}, cursor))


CONFLUENCE_SPACE_V1 = declare(
    "confluence.space_v1_permissions",
    "GET",
    "/wiki/rest/api/space/{space_key}",
    permissions=("read:space:confluence",),
    # `expand=permissions` asks for the space's permissions: their operation, subjects, anonymousAccess.
    reads=("permissions", "permissions.operation", "permissions.subjects", "permissions.anonymousAccess"),
    keeps=(),
    # Reference: https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-space/#api-wiki-rest-api-space-spacekey-get
    reference="https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-space/#api-wiki-rest-api-space-spacekey-get",
    purpose="Microsoft Search: whether a space is open to anonymous users (then everyone in the tenant may find it).",
)


def confluence_space_v1_permissions(confluence: ConfluenceV2, *, space_key: str) -> requests.Response:
    return _raw(confluence, CONFLUENCE_SPACE_V1.path.format(space_key=space_key), {"expand": "permissions"})


CONFLUENCE_GROUPS = declare(
    "confluence.groups",
    "GET",
    "/wiki/rest/api/group",
    permissions=("read:group:confluence",),
    reads=("id", "name"),
    keeps=("id", "name"),
    # Reference: https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-group/#api-wiki-rest-api-group-get
    reference="https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-group/#api-wiki-rest-api-group-get",
    purpose="Microsoft Search: the groups permissions name, made into the index's groups.",
)


def confluence_groups(confluence: ConfluenceV2, *, start: int = 0, limit: int = 200) -> requests.Response:
    return _raw(confluence, CONFLUENCE_GROUPS.path, {"start": start, "limit": limit})


CONFLUENCE_GROUP_MEMBERS = declare(
    "confluence.group_members",
    "GET",
    "/wiki/rest/api/group/{group_id}/membersByGroupId",
    permissions=("read:group:confluence",),
    reads=("accountId",),
    keeps=("accountId",),
    # Reference: https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-group/#api-wiki-rest-api-group-groupid-membersbygroupid-get
    reference="https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-group/#api-wiki-rest-api-group-groupid-membersbygroupid-get",
    purpose="Microsoft Search: each group's members (200 a page), mapped to Microsoft 365 users.",
)


def confluence_group_members(
    confluence: ConfluenceV2, *, group_id: str, start: int = 0, limit: int = 200
) -> requests.Response:
    path = CONFLUENCE_GROUP_MEMBERS.path.format(group_id=group_id)
    return _raw(confluence, path, {"start": start, "limit": limit})


CONFLUENCE_SEARCH_USER = declare(
    "confluence.search_user",
    "GET",
    "/wiki/rest/api/search/user",
    permissions=("read:user:confluence",),
    reads=("user.accountId", "user.displayName", "user.email", "user.accountType"),
    keeps=("user.accountId", "user.displayName"),  # emails only to derive the Microsoft sign-in name
    # Reference: https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-search/#api-wiki-rest-api-search-user-get
    reference="https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-search/#api-wiki-rest-api-search-user-get",
    purpose="Microsoft Search: the site's people, to map them to Microsoft 365 users (hidden emails stay hidden).",
)


def confluence_search_user(confluence: ConfluenceV2, *, start: int = 0, limit: int = 200) -> requests.Response:
    return _raw(confluence, CONFLUENCE_SEARCH_USER.path, {"cql": "type = user", "start": start, "limit": limit})


CONFLUENCE_USERS_BULK = declare(
    "confluence.users_bulk",
    "POST",
    "/wiki/api/v2/users-bulk",
    permissions=("read:user:confluence",),
    reads=("accountId", "displayName", "email"),
    keeps=("accountId", "displayName"),
    # Reference: https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-user/#api-users-bulk-post
    reference="https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-user/#api-users-bulk-post",
    purpose="Microsoft Search: the names of a page's author and last editor.",
)


def confluence_users_bulk(confluence: ConfluenceV2, *, account_ids: list[str]) -> requests.Response:
    response: requests.Response = confluence.post(
        _wiki(CONFLUENCE_USERS_BULK.path), data=None, json={"accountIds": account_ids}, advanced_mode=True
    )
    return response


CONFLUENCE_CQL_SEARCH = declare(
    "confluence.cql_search",
    "GET",
    "/wiki/rest/api/search",
    permissions=("search:confluence",),
    reads=("content.id", "content.type", "content.version", "totalSize", "_links.next"),
    keeps=("content.id", "content.version"),
    # Reference: https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-search/#api-wiki-rest-api-search-get
    reference="https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-search/#api-wiki-rest-api-search-get",
    purpose="Microsoft Search: the admin's CQL filter, its preview, and what changed since the last crawl.",
)


def confluence_cql_search(
    confluence: ConfluenceV2, *, cql: str, cursor: str | None = None, limit: int = 100
) -> requests.Response:
    """One page of a CQL search. Paging is by cursor only: the next page is asked for with the
    cursor of `_links.next` (there is no `start`)."""
    # Reference: https://developer.atlassian.com/cloud/confluence/change-notice-moderize-search-rest-apis/
    return _raw(confluence, CONFLUENCE_CQL_SEARCH.path, _paged({"cql": cql, "limit": limit}, cursor))


CONFLUENCE_PAGE = declare(
    "confluence.page",
    "GET",
    "/wiki/api/v2/pages/{page_id}",
    permissions=("read:page:confluence",),
    reads=("id", "status", "title", "spaceId", "parentId", "authorId", "createdAt", "version", "body", "_links"),
    keeps=("id", "title", "version"),
    # Reference: https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-page/#api-pages-id-get
    reference="https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-page/#api-pages-id-get",
    purpose="Microsoft Search: a changed page, with its content, for an incremental crawl or the preview.",
)


def confluence_page(confluence: ConfluenceV2, *, page_id: str) -> requests.Response:
    return _raw(confluence, CONFLUENCE_PAGE.path.format(page_id=page_id), {"body-format": "storage"})


CONFLUENCE_BLOGPOST = declare(
    "confluence.blogpost",
    "GET",
    "/wiki/api/v2/blogposts/{blogpost_id}",
    permissions=("read:blogpost:confluence",),
    reads=("id", "status", "title", "spaceId", "authorId", "createdAt", "version", "body", "_links"),
    keeps=("id", "title", "version"),
    # Reference: https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-blog-post/#api-blogposts-id-get
    reference="https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-blog-post/#api-blogposts-id-get",
    purpose="Microsoft Search: a changed blog post, with its content, for an incremental crawl or the preview.",
)


def confluence_blogpost(confluence: ConfluenceV2, *, blogpost_id: str) -> requests.Response:
    return _raw(confluence, CONFLUENCE_BLOGPOST.path.format(blogpost_id=blogpost_id), {"body-format": "storage"})

# The Organizations REST API (an organization API key) registers its declarations with these.
from ..atlassian_admin import endpoints as _admin_endpoints  # noqa: E402,F401

# Incident chats and meetings declare their Jira and Jira Service Management endpoints in a
# module of their own.
from . import incidents as _incidents  # noqa: E402,F401
