"""Reading both directories, a page at a time (nothing here holds a whole directory).

Microsoft, full runs: first a deltaLink for this moment (users/delta with `$deltatoken=latest`,
Graph's "sync from now" for directory objects), then every user from `/users` with `$select`
and `$top=999`. The deltaLink is the starting point of the next incremental run: what changes
while the list is read comes back then (replacing a user's keys is idempotent). The first round
of users/delta would give the same users at most 200 to a page, five times the requests.
Reference: https://learn.microsoft.com/graph/delta-query-overview
Reference: https://learn.microsoft.com/graph/api/user-list (`$top` 1 to 999)
Incremental runs: the deltaLink's rounds return only what changed (incl. `@removed`).

Atlassian: Jira's `users/search` (every account of the site, paged by startAt). Jira has no
change feed for users, so accounts are re-read on full runs only; incremental runs follow
Microsoft's changes (see job.py).
"""

from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings

from ..atlassian import client as atlassian
from ..atlassian import endpoints as atlassian_endpoints
from ..atlassian import refresh
from ..atlassian.client import AtlassianError
from ..microsoft import endpoints as graph_endpoints
from ..microsoft.graph import DeltaExpired, Forbidden, Graph, GraphError  # noqa: F401
from ..throttle import Throttle, Throttled

# Only what matching needs (seed 003: declare what is read). Nothing else is requested.
GRAPH_USER_FIELDS = graph_endpoints.USER_FIELDS
GRAPH_PAGE_SIZE = 999
JIRA_PAGE_SIZE = 1000


@dataclass
class GraphPage:
    users: list  # [{"id", "mail", "userPrincipalName", "proxyAddresses"}] or {"id", "@removed"}
    next_link: str = ""
    delta_link: str = ""


def graph_for(connection: Any) -> Graph:
    return Graph(connection)


def delta_now_url() -> str:
    """Where a full run asks for its deltaLink (for callers that send the request themselves)."""
    return f"{settings.MICROSOFT_GRAPH_URL}{graph_endpoints.USERS_DELTA.path}"


def delta_now_params():
    return {"$select": ",".join(GRAPH_USER_FIELDS), "$deltatoken": "latest"}


def users_start_url() -> str:
    """Where a full run's listing of users starts (for callers that send the request themselves)."""
    return f"{settings.MICROSOFT_GRAPH_URL}{graph_endpoints.USERS_DIRECTORY.path}"


def users_start_params():
    return {"$select": ",".join(GRAPH_USER_FIELDS), "$top": str(GRAPH_PAGE_SIZE)}


def graph_delta_now(graph: Graph) -> str:
    """The deltaLink from this moment on (no users)."""
    body = graph_endpoints.users_delta_now(graph)
    link = body.get("@odata.deltaLink", "")
    if not link:
        raise GraphError(200, "noDeltaLink", "users/delta with $deltatoken=latest answered without a deltaLink.")
    return link


def graph_users_page(graph: Graph, link: str | None = None) -> GraphPage:
    """One page of a full run's listing: the first (no link) or the one a nextLink names. (A
    run resumed from a checkpoint written while full runs read users/delta goes on with a
    delta nextLink: its last page carries the deltaLink.)"""
    if link and "/users/delta" in link:
        return graph_page(graph, link)
    body = graph_endpoints.users_page(graph, top=GRAPH_PAGE_SIZE, link=link)
    return GraphPage(users=body.get("value") or [], next_link=body.get("@odata.nextLink", ""))


def graph_page(graph: Graph, link: str) -> GraphPage:
    """The page of users/delta a nextLink/deltaLink names."""
    body = graph_endpoints.users_delta_page(graph, link)
    return GraphPage(
        users=body.get("value") or [],
        next_link=body.get("@odata.nextLink", ""),
        delta_link=body.get("@odata.deltaLink", ""),
    )


class JiraUnavailable(Exception):
    """The site could not be read; the message says why in plain words. `transient`: Jira
    was unreachable or busy (no answer, 5xx, 429), not refusing the portal's authorization."""

    def __init__(self, message, *, transient=False):
        super().__init__(message)
        self.transient = transient


def _busy(status):
    return status == 0 or status == 429 or status >= 500


def jira_page(site, start_at, limit=None, *, throttle=None):
    """One page of the site's accounts: [{accountId, displayName, emailAddress?, active, accountType}].

    Sent through connections.throttle (key per site): Atlassian's 429 Retry-After is honoured
    exactly and the site's request budget is shared with every other job and worker."""
    return send_jira_page(jira_client(site), site, start_at, limit, throttle=throttle)


def jira_client(site, *, session=None):
    """The site's Jira client with a fresh token (it may read and refresh the stored
    credential: call it in the run's thread). `session`: the HTTP session of the pages before
    (one connection for a whole listing, not a TLS handshake per page)."""
    try:
        return refresh.jira_for(site, session=session)
    except refresh.NotAuthorized as exc:
        raise JiraUnavailable(str(exc)) from None


def send_jira_page(jira, site, start_at, limit=None, *, throttle=None):
    """One page of the site's accounts with a client from jira_client (touches no database:
    it may run in a helper thread)."""
    key = f"atlassian:{site.cloud_id or site.url}"
    return _send_jira_page(jira, key, start_at, limit or JIRA_PAGE_SIZE, throttle or Throttle())


def _send_jira_page(jira, key, start_at, limit, throttle):
    try:
        response = throttle.send(
            key, lambda: atlassian_endpoints.jira_users_search_response(jira, start_at=start_at, max_results=limit)
        )
    except Throttled as exc:
        raise JiraUnavailable(f"Jira asked the portal to wait ({exc}).", transient=True) from None
    except AtlassianError as exc:
        # Unauthorized / InvalidGrant need a person; Unavailable (network, 5xx, 429) does not.
        transient = isinstance(exc, atlassian.Unavailable) or (
            not isinstance(exc, (atlassian.Unauthorized, atlassian.InvalidGrant)) and _busy(exc.status)
        )
        raise JiraUnavailable(f"Jira could not be reached ({type(exc).__name__}).", transient=transient) from None
    except requests.RequestException as exc:
        status = exc.response.status_code if exc.response is not None else 0
        raise JiraUnavailable(f"Jira could not be reached ({type(exc).__name__}).", transient=_busy(status)) from None
    if response.status_code >= 400:
        raise JiraUnavailable(
            f"Jira refused to list the site's users (HTTP {response.status_code}).",
            transient=_busy(response.status_code),
        )
    try:
        page = response.json()
    except ValueError:
        page = None
    if not isinstance(page, list):
        raise JiraUnavailable("Jira's answer to the user listing was not a list.")
    return page
